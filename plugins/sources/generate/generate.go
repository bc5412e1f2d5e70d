// Package generate is flowctl's built-in source of synthetic events, so
// that a pipeline can be tried in any mode with no servers. Each event's
// fields are expressions over the event number and seeded random helpers;
// events can be paced in processing time, spread over partitions and
// shuffled in event time by a bounded amount.
//
// Generation is deterministic: event i has the same fields and time for a
// given config whenever it is generated, which is what makes a resumed run
// give the same events as an uninterrupted one.
package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

const (
	// maxBatch is the most messages one Read returns.
	maxBatch = 1024
	// maxSkips bounds the resumed events one Read passes over, so that a
	// Read returns (maybe empty) in bounded time.
	maxSkips = 1 << 20
	// lastUnix is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
	lastUnix = 253402300799
)

// Plugin returns the generate source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "generate",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Generates synthetic events from field expressions with seeded random helpers, optionally paced, partitioned and out of order.",
			Times:   true,
			Fields: []sdk.FieldSpec{
				{
					Name: "fields", Type: sdk.TypeObject, Required: true,
					Doc: "The fields of each event, `name: expression`, evaluated per event with " +
						"the variables `i` (event number), `event_time` and `partition` and the random helpers " +
						"(see below). Fields come out in alphabetical order of their names.",
				},
				{
					Name: "rate", Type: sdk.TypeFloat, Default: float64(0),
					Doc: "Events per second of processing time; 0 generates them as fast as they are read.",
				},
				{
					Name: "count", Type: sdk.TypeInt, Default: int64(0),
					Doc: "Number of events, after which the source ends; 0 is unbounded.",
				},
				{
					Name: "seed", Type: sdk.TypeInt, Default: int64(defaultSeed),
					Doc: "Seed of the random helpers and of the disorder: the same seed gives the same events.",
				},
				{
					Name: "partitions", Type: sdk.TypeInt, Default: int64(defaultPartitions),
					Doc: "Number of partitions, 1 to 65536: event `i` is on partition `i % partitions`, " +
						"named `generate-<p>`.",
				},
				{
					Name: "start", Type: sdk.TypeString, Default: defaultStart,
					Doc: "Event time of event 0, RFC 3339.",
				},
				{
					Name: "interval", Type: sdk.TypeDuration,
					Doc: "Event-time spacing of consecutive events: event `i` has the base time " +
						"`start + i*interval`. Defaults to `1s/rate` with a rate, else `1ms`.",
				},
				{
					Name: "disorder", Type: sdk.TypeDuration, Default: defaultDisorder,
					Doc: "Each event's time is its base time minus a random amount in `[0, disorder)`, " +
						"so events arrive out of event-time order by less than this.",
				},
			},
		},
		NewSource: func() sdk.Source { return newSource() },
		Validate:  validate,
	}
}

var _ sdk.Source = (*Source)(nil)

// Source generates events. Event i (0, 1, 2, ...) is a message with:
//
//   - Fields: one per configured field, in alphabetical order of name,
//     the value of its expression: an int64, float64, string, bool,
//     time.Time (UTC), time.Duration, nil, or a list or map of those;
//   - Time: the event time, start + i*interval minus the disorder;
//   - Position: Partition "generate-<i % partitions>", Offset i, Line 0.
//
// Events are generated in order of i. On resume, the position of each
// partition is the last event delivered from it: generation restarts at
// the smallest event number after a partition's position (a partition
// without a position restarts at event 0), and skips every event at or
// before its own partition's position, so each partition continues right
// after its last delivered event.
type Source struct {
	p      *plan
	parts  []string // partition names
	last   []int64  // per partition, the last event delivered before a resume, or -1
	next   int64    // the event number to generate next
	err    error    // returned by every Read from now on
	maxBat int      // maxBatch, lowered by tests

	startSec, startNsec int64
	maxSec              uint64 // seconds after start where event times stop
	disorderKey         uint64

	// Pacing with a rate: the k-th message returned since the first Read
	// (k from 0) is due at t0 + k/rate.
	t0      time.Time
	emitted int64
	timer   *time.Timer
}

func newSource() *Source { return &Source{maxBat: maxBatch} }

// Open checks and compiles the config and applies the resume positions.
// Positions that name no partition of this config, or whose offset is not
// an event of that partition, are ignored and logged. The source's format
// is not used: messages carry structured fields.
func (s *Source) Open(_ context.Context, req sdk.OpenRequest) error {
	p, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	s.p = p
	s.parts = make([]string, p.partitions)
	s.last = make([]int64, p.partitions)
	for i := range s.parts {
		s.parts[i] = "generate-" + strconv.Itoa(i)
		s.last[i] = -1
	}
	for _, pos := range req.Resume {
		n, ok := s.partition(pos.Partition)
		switch {
		case !ok:
			s.logf(req.Settings, "resume position %s ignored: no such partition with %d partitions", pos, p.partitions)
		case pos.Offset < 0 || pos.Offset%p.partitions != n:
			s.logf(req.Settings, "resume position %s ignored: event %d is not on that partition", pos, pos.Offset)
		default:
			s.last[n] = max(s.last[n], pos.Offset)
		}
	}
	s.next = math.MaxInt64
	for _, l := range s.last {
		s.next = min(s.next, l+1)
	}
	s.startSec, s.startNsec = p.start.Unix(), int64(p.start.Nanosecond())
	s.maxSec = uint64(lastUnix - s.startSec)
	s.disorderKey = disorderKey(p.seed)
	return nil
}

// partition parses a partition name of this source.
func (s *Source) partition(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, "generate-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || n >= s.p.partitions || strconv.FormatInt(n, 10) != digits {
		return 0, false
	}
	return n, true
}

func (s *Source) logf(set sdk.Settings, format string, args ...any) {
	if set.Logger != nil {
		set.Logger.Printf(format, args...)
	}
}

// ended reports whether every event was generated.
func (s *Source) ended() bool { return s.p.count > 0 && s.next >= s.p.count }

// Read returns the next events, up to 1024. Without a rate it never
// waits. With one, it returns the events that are due, waiting for the
// next one if none is: it never holds back an event that is due. With a
// count, the last events come with sdk.ErrEndOfInput. An expression that
// fails at run time (randint(0)) fails the Read, naming the field and the
// event, after the events before it were delivered.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if s.p == nil {
		return sdk.Batch{}, errors.New("generate: Read before Open")
	}
	if s.err != nil {
		return sdk.Batch{}, s.err
	}
	if s.ended() {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	limit := int64(s.maxBat)
	caughtUp := false
	if s.p.rate > 0 {
		due, err := s.wait(ctx)
		if err != nil {
			return sdk.Batch{}, err
		}
		// Everything due is in this batch: the next Read waits for the rate.
		caughtUp = due <= limit
		limit = min(limit, due)
	}
	if s.p.count > 0 {
		limit = min(limit, s.p.count-s.next)
	}
	nf := len(s.p.progs)
	msgs := make([]sdk.Message, 0, limit)
	fields := make([]sdk.Field, int(limit)*nf)
	for skips := 0; int64(len(msgs)) < limit && !s.ended() && skips < maxSkips; {
		i := s.next
		s.next++
		part := i % s.p.partitions
		if i <= s.last[part] {
			skips++
			continue
		}
		n := len(msgs)
		msgs = msgs[:n+1]
		if err := s.event(&msgs[n], i, part, fields[n*nf:(n+1)*nf:(n+1)*nf]); err != nil {
			s.err = err
			msgs = msgs[:n]
			s.emitted += int64(n)
			if n > 0 {
				return sdk.Batch{Messages: msgs}, nil
			}
			return sdk.Batch{}, err
		}
	}
	s.emitted += int64(len(msgs))
	out := sdk.Batch{Messages: msgs, CaughtUp: caughtUp}
	if s.ended() {
		return out, sdk.ErrEndOfInput
	}
	return out, nil
}

// event fills m with event i of partition part, its fields in fs.
func (s *Source) event(m *sdk.Message, i, part int64, fs []sdk.Field) error {
	t, err := s.eventTime(i)
	if err != nil {
		return err
	}
	st := s.p.gen
	st.env.I, st.env.Partition, st.env.EventTime = i, part, t
	for k, prog := range s.p.progs {
		v, err := st.eval(prog)
		if err != nil {
			return fmt.Errorf("fields.%s: event %d: %s", prog.name, i, compileMsg(err))
		}
		fs[k].Name, fs[k].Value = prog.name, v
	}
	m.Fields = fs
	m.Time = t
	m.Position.Partition = s.parts[part]
	m.Position.Offset = i
	return nil
}

// eventTime returns the time of event i: start + i*interval, less the
// disorder drawn for it.
func (s *Source) eventTime(i int64) (time.Time, error) {
	hi, lo := bits.Mul64(uint64(i), uint64(s.p.interval))
	if hi >= 1e9 {
		return time.Time{}, fmt.Errorf("event %d: event time is past the year 9999", i)
	}
	sec, nsec := bits.Div64(hi, lo, 1e9)
	if sec > s.maxSec {
		return time.Time{}, fmt.Errorf("event %d: event time is past the year 9999", i)
	}
	t := time.Unix(s.startSec+int64(sec), s.startNsec+int64(nsec)).UTC()
	if d := s.p.disorder; d > 0 {
		r := &s.p.gen.rng
		r.seed(s.disorderKey, uint64(i))
		t = t.Add(-time.Duration(r.uint64n(uint64(d))))
	}
	return t, nil
}

// wait returns how many messages are due, at least 1, waiting until the
// next one is if none is.
func (s *Source) wait(ctx context.Context) (int64, error) {
	now := time.Now()
	if s.t0.IsZero() {
		s.t0 = now
	}
	for {
		// Messages 0 to k are due when k/rate seconds have passed.
		k := now.Sub(s.t0).Seconds() * s.p.rate
		if k >= 1<<62 {
			return math.MaxInt64, nil
		}
		if due := int64(k) + 1 - s.emitted; due > 0 {
			return due, nil
		}
		at := s.t0.Add(time.Duration(math.Ceil(float64(s.emitted) / s.p.rate * 1e9)))
		d := at.Sub(now)
		if d <= 0 {
			return 1, nil
		}
		if s.timer == nil {
			s.timer = time.NewTimer(d)
		} else {
			s.timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			s.timer.Stop()
			return 0, ctx.Err()
		case <-s.timer.C:
		}
		now = time.Now()
	}
}

// Close stops the pacing timer.
func (s *Source) Close(context.Context) error {
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}
