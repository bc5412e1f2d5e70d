package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

const (
	minWatermark int64 = math.MinInt64
	maxWatermark int64 = math.MaxInt64
)

// sourceRT runs one source: a goroutine reads and decodes batches; the
// engine goroutine tracks the per-partition watermark.
type sourceRT struct {
	stage *stageRT
	src   sdk.Source
	dec   *schema.Decoder
	acker sdk.Acker // nil when the source does not take acknowledgements
	done  bool
	// resume holds the positions restored from a checkpoint, handed to
	// the source at Open.
	resume []sdk.Position

	caughtUp bool // the last chunk the engine took said the source was caught up

	instance   string   // Options.Instance, for the source's Settings
	partitions []string // Options.Partitions
	// Options.TimeRange as [lo, hi) when ranged; outside counts the
	// records dropped for lying outside it (timerange.go).
	ranged  bool
	lo, hi  int64
	outside atomic.Int64

	parts   map[string]*partition
	last    *partition // the partition of the previous record, to skip the map lookup
	minPart *partition // the active partition with the smallest max event time
}

type partition struct {
	name     string
	maxT     int64 // largest event time seen
	active   bool  // seen within the idle timeout
	waiting  bool  // declared by the source, no record yet: holds the watermark
	lastSeen int64 // processing time of its last record, Unix ns
	pos      sdk.Position
}

func newSourceRT(s *stageRT) *sourceRT {
	return &sourceRT{stage: s, parts: map[string]*partition{}}
}

func (s *sourceRT) open(ctx context.Context, pipeline string, bounded bool) error {
	st := s.stage.st
	// A schemaless decoder grows the layout the plan compiled expressions
	// and sinks against.
	dec, err := schema.NewDecoderLayout(st.Schema, st.Format, st.Out.Dyn)
	if err != nil {
		return fmt.Errorf("source %s: %w", st.Name, err)
	}
	s.dec = dec
	s.src = st.Plugin.NewSource()
	s.acker, _ = s.src.(sdk.Acker)
	err = s.src.Open(ctx, sdk.OpenRequest{
		Config: st.Config.JSON, Format: st.Format, Resume: s.resume, Bounded: bounded, Partitions: s.partitions,
		Settings: sdk.Settings{Name: st.Name, Pipeline: pipeline, Instance: s.instance},
	})
	if err != nil {
		return fmt.Errorf("source %s: open: %w", st.Name, err)
	}
	return nil
}

func (s *sourceRT) close(ctx context.Context) {
	if s.src != nil {
		_ = s.src.Close(ctx)
	}
}

// read runs in its own goroutine: it reads batches, decodes them and hands
// them to the engine, until the source ends or ctx is cancelled.
func (s *sourceRT) read(ctx context.Context, now func() time.Time, out chan<- *chunk, cancel context.CancelCauseFunc) {
	st := s.stage.st
	var width int
	for {
		b, err := s.src.Read(ctx)
		end := errors.Is(err, sdk.ErrEndOfInput)
		if err != nil && !end {
			if ctx.Err() == nil {
				cancel(fmt.Errorf("source %s: read: %w", st.Name, err))
			}
			return
		}
		c := &chunk{src: s, last: end, caughtUp: b.CaughtUp, readAt: now().UnixNano(), known: b.Partitions}
		if n := len(b.Messages); n > 0 {
			if st.Out.Dyn == nil {
				width = len(st.Out.Names)
			} else {
				width = max(width, len(s.dec.Layout().Names))
			}
			slab := make([]any, n*width)
			c.recs = make([]record.Record, 0, n)
			for i := range b.Messages {
				m := &b.Messages[i]
				if m.Reject != "" {
					c.bad = append(c.bad, rejected{raw: string(m.Payload), reason: m.Reject, pos: m.Position})
					continue
				}
				vals, err := s.dec.Decode(m, slab[i*width:i*width:(i+1)*width])
				if err != nil {
					c.bad = append(c.bad, rejected{raw: rawOf(m), reason: err.Error(), pos: m.Position})
					continue
				}
				r := record.Record{Values: vals, Time: record.NoTime, Source: int32(st.SourceIndex), Pos: m.Position, Meta: m.Meta}
				if st.EventTime != nil {
					t, err := st.EventTime.EvalTime(&r)
					r.Time = t
					if err != nil {
						c.bad = append(c.bad, rejected{raw: rawOf(m), reason: "event_time: " + err.Error(), pos: m.Position})
						continue
					}
				} else if !m.Time.IsZero() {
					r.Time = m.Time.UnixNano()
				}
				if !s.keep(r.Time) {
					continue
				}
				c.recs = append(c.recs, r)
			}
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
		if end {
			return
		}
	}
}

// partition returns the state of a partition, marking it active and seen
// at now (processing time, Unix ns).
func (s *sourceRT) partition(name string, now int64) *partition {
	p := s.last
	if p == nil || p.name != name {
		p = s.parts[name]
		if p == nil {
			p = &partition{name: name, maxT: math.MinInt64}
			s.parts[name] = p
		}
		s.last = p
	}
	p.lastSeen = now
	p.waiting = false
	if !p.active {
		p.active = true
		s.minPart = nil // a partition back from idle may hold the minimum
	}
	return p
}

// declare adds the partitions a source named before they delivered a
// record (sdk.Batch.Partitions): each holds the watermark back until its
// first record or its idle timeout.
func (s *sourceRT) declare(names []string, now int64) {
	for _, name := range names {
		if _, ok := s.parts[name]; ok {
			continue
		}
		s.parts[name] = &partition{name: name, maxT: math.MinInt64, active: true, waiting: true, lastSeen: now}
		s.minPart = nil
	}
}

// part returns the state of a partition without marking it seen.
func (s *sourceRT) part(name string) *partition {
	p := s.parts[name]
	if p == nil {
		p = &partition{name: name, maxT: math.MinInt64}
		s.parts[name] = p
	}
	return p
}

// watermark is the minimum over active partitions of max event time minus
// lateness, or minWatermark while no active partition has an event time.
func (s *sourceRT) watermark() int64 {
	wm := int64(math.MaxInt64)
	s.minPart = nil
	for _, p := range s.parts {
		if p.active && p.waiting {
			// Nothing from it yet: the watermark waits for it (or for
			// its idle timeout). Only its first record can move it.
			s.minPart = p
			return minWatermark
		}
		if p.active && p.maxT != math.MinInt64 && p.maxT < wm {
			wm, s.minPart = p.maxT, p
		}
	}
	if wm == math.MaxInt64 {
		return minWatermark
	}
	lat := s.stage.st.Lateness
	if wm < math.MinInt64+lat {
		return minWatermark
	}
	return wm - lat
}

// expireIdle marks partitions silent for the source's idle timeout as
// inactive, so they stop holding the watermark back. It reports whether
// anything changed.
func (s *sourceRT) expireIdle(now int64) bool {
	timeout := s.stage.st.IdleTimeout
	if timeout <= 0 {
		return false
	}
	changed, active := false, 0
	for _, p := range s.parts {
		if p.active && now-p.lastSeen >= timeout {
			p.active = false
			changed = true
		}
		if p.active {
			active++
		}
	}
	if active == 0 && len(s.parts) > 0 && !s.stage.idle {
		s.stage.idle = true
		changed = true
	}
	return changed
}

// positions returns the latest position per partition, for Ack.
func (s *sourceRT) positions() []sdk.Position {
	out := make([]sdk.Position, 0, len(s.parts))
	for _, p := range s.parts {
		if p.pos.Partition != "" {
			out = append(out, p.pos)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}
