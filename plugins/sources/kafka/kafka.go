// Package kafka is flowctl's built-in Kafka source. It reads every
// partition of its topics itself (direct assignment, no consumer group
// protocol), from the positions the checkpoint holds or else from its
// start position, and commits the offsets the host acknowledges to a
// consumer group so that lag tools see progress. Bounded, it reads up to
// the end offsets found when it opens and then ends.
//
// Each partition is one partition of the pipeline, named "topic/N":
// watermarks are kept per partition, and positions are Kafka offsets.
//
// Scaled out (sdk.Rebalancer, group.go), several processes share the
// partitions through a consumer group: each opens one instance with
// sdk.OpenRequest.Coordinate, which joins the group and reads nothing,
// and for each partition assigned an instance with
// sdk.OpenRequest.Partitions, which reads that partition directly as
// above. The same names key the state each process restores for the
// partitions it is assigned.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// maxBatch bounds the messages of one Read.
const maxBatch = 4096

// The names of a message's metadata fields, in order.
const (
	metaKey       = "key"
	metaTopic     = "topic"
	metaPartition = "partition"
	metaOffset    = "offset"
	metaTimestamp = "timestamp"
	metaHeaders   = "headers"
	metaFields    = 6
)

// Plugin returns the kafka source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:     "kafka",
			Kind:     sdk.KindSource,
			Version:  "0.1.0",
			Summary:  "Reads Kafka topics, one partition per topic partition; positions live in the checkpoint.",
			Fields:   fields(),
			Times:    true,
			ScaleOut: true,
		},
		NewSource: func() sdk.Source { return &Source{} },
		Validate:  validate,
	}
}

var (
	_ sdk.Source     = (*Source)(nil)
	_ sdk.Acker      = (*Source)(nil)
	_ sdk.Rebalancer = (*Source)(nil)
)

// Source reads Kafka topics. A message's Payload is the record's value,
// decoded by the pipeline's format; its Meta holds the record's key,
// topic, partition, offset, timestamp and headers; its Time is the
// record's timestamp; its Position is {Partition: "topic/N", Offset: the
// offset after the record}, which is where reading resumes and the offset
// committed to the group. A record with a null value (a tombstone) is
// rejected with that reason.
//
// Ack may be called concurrently with Read: it uses only what Open set up.
//
// Opened with Partitions, it reads those partitions only, and Ack
// commits nothing (a commit from outside the group would be refused
// while the group is active): the host acknowledges the positions to
// the instance opened with Coordinate, which commits them as the
// group's member. That instance reads nothing.
type Source struct {
	cfg     Config
	logger  sdk.Logger
	admin   *kgo.Client // metadata, offsets and group commits
	adm     *kadm.Client
	cl      *kgo.Client // the consumer; nil when nothing is to be read
	grp     *group      // opened with Coordinate: the membership of the group
	partial bool        // opened with Partitions: Ack commits nothing

	parts    map[topicPartition]*partition
	retrying map[string]string // the retriable error last logged per partition
	left     int               // bounded: partitions not yet at their end
	told     bool              // the last batch said CaughtUp
	err      error             // returned by every Read from now on
	declared bool              // the partitions with records to read were named to the host
}

// topicPartition identifies a partition.
type topicPartition struct {
	topic string
	p     int32
}

// partition is the reading state of one partition.
type partition struct {
	name string // "topic/N", the pipeline's partition
	next int64  // offset of the next record to read
	// end is, bounded, the offset to stop at; unbounded, the last known
	// high watermark (last stable offset under read_committed).
	end  int64
	done bool // bounded: read up to end
}

// partitionName names a partition as the pipeline does.
func partitionName(topic string, p int32) string {
	return topic + "/" + strconv.Itoa(int(p))
}

// parsePartition splits a partition name made by partitionName.
func parsePartition(name string) (topicPartition, bool) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return topicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return topicPartition{}, false
	}
	return topicPartition{name[:i], int32(p)}, true
}

// Open finds the topics and partitions, decides where each partition is
// read from and starts the consumer. It fails if a topic does not exist,
// the regular expression matches none, or the brokers do not answer
// within connect_timeout.
func (s *Source) Open(ctx context.Context, req sdk.OpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		return configError(diags)
	}
	cfg.Bounded = cfg.Bounded || req.Bounded // a batch run reads what is there
	s.cfg, s.logger, s.retrying = cfg, req.Settings.Logger, make(map[string]string)
	base, err := cfg.ClientOpts()
	if err != nil {
		return err
	}
	if s.admin, err = kgo.NewClient(base...); err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	s.adm = kadm.NewClient(s.admin)
	octx, cancel := context.WithTimeout(ctx, cfg.Timeout())
	defer cancel()
	if req.Coordinate {
		err = s.join(octx, base, req)
	} else {
		s.partial = req.Partitions != nil
		if err = s.plan(octx, req.Resume, req.Partitions); err == nil {
			err = s.startConsumer(base)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("brokers %s: no answer within connect_timeout %s: %w", strings.Join(cfg.Brokers, ","), cfg.Timeout(), err)
	}
	return err
}

// configError turns diagnostics into the error Open returns.
func configError(diags []sdk.Diagnostic) error {
	errs := make([]error, len(diags))
	for i, d := range diags {
		errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
	}
	return errors.Join(errs...)
}

// startConsumer starts consuming the partitions that have something to
// read at their next offsets.
func (s *Source) startConsumer(base []kgo.Opt) error {
	assign := make(map[string]map[int32]kgo.Offset)
	for tp, p := range s.parts {
		if p.done {
			continue
		}
		if assign[tp.topic] == nil {
			assign[tp.topic] = make(map[int32]kgo.Offset)
		}
		assign[tp.topic][tp.p] = kgo.NewOffset().At(p.next)
	}
	if len(assign) == 0 {
		return nil
	}
	isolation := kgo.ReadUncommitted()
	if s.cfg.readCommitted() {
		isolation = kgo.ReadCommitted()
	}
	opts := append(slices.Clip(base),
		kgo.ConsumePartitions(assign),
		// An offset deleted by retention, or beyond the end of a topic
		// that was recreated, is read from the start, as logged by
		// take (franz-go reports it as ErrDataLoss).
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation),
		// Control records (transaction markers) take offsets too; seen,
		// they tell a partition has been read up to its end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(int32(s.cfg.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(s.cfg.FetchMaxPartitionBytes)),
		kgo.FetchMaxWait(s.cfg.fetchMaxWait()),
	)
	var err error
	if s.cl, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	return nil
}

// Read returns the records fetched since the last Read, up to maxBatch,
// waiting for some if there are none. Unbounded, a batch says CaughtUp
// when every partition has been read up to its high watermark; a source
// that is caught up when Read is called says so at once, with an empty
// batch, before it waits. Bounded, Read returns sdk.ErrEndOfInput with the
// batch that reaches the last end offset.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	// The first batch names the partitions that have records to read,
	// so that each holds the watermark back until its first record:
	// reading a backlog one partition after another then makes no other
	// partition's records late.
	var toRead []string
	if !s.declared {
		for _, p := range s.parts {
			if p.next < p.end {
				toRead = append(toRead, p.name)
			}
		}
		slices.Sort(toRead)
	}
	b, err := s.read(ctx)
	if !s.declared && (err == nil || errors.Is(err, sdk.ErrEndOfInput)) {
		s.declared = true
		b.Partitions = toRead
	}
	return b, err
}

func (s *Source) read(ctx context.Context) (sdk.Batch, error) {
	if s.grp != nil {
		return sdk.Batch{}, fmt.Errorf("the source was opened to coordinate consumer group %s, and reads nothing: "+
			"the instances opened with Partitions read", s.grp.name)
	}
	if s.err != nil {
		return sdk.Batch{}, s.err
	}
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if s.cfg.Bounded && s.left == 0 {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	if !s.cfg.Bounded && !s.told && s.caughtUp() {
		s.told = true
		return sdk.Batch{CaughtUp: true}, nil
	}
	if s.cl == nil { // unbounded without partitions
		<-ctx.Done()
		return sdk.Batch{}, ctx.Err()
	}
	for {
		msgs, err := s.take(s.cl.PollRecords(ctx, maxBatch))
		switch {
		case err != nil && len(msgs) == 0:
			return sdk.Batch{}, err
		case err != nil:
			s.err = err // delivered after what was read
			return sdk.Batch{Messages: msgs}, nil
		case s.cfg.Bounded && s.left == 0:
			return sdk.Batch{Messages: msgs}, sdk.ErrEndOfInput
		}
		caught := !s.cfg.Bounded && s.caughtUp()
		if len(msgs) > 0 || caught && !s.told {
			s.told = caught
			return sdk.Batch{Messages: msgs, CaughtUp: caught}, nil
		}
		if ctx.Err() != nil {
			return sdk.Batch{}, ctx.Err()
		}
		// Only transaction markers or records past a bounded end.
	}
}

// caughtUp reports whether every partition has been read up to its last
// known end.
func (s *Source) caughtUp() bool {
	for _, p := range s.parts {
		if p.next < p.end {
			return false
		}
	}
	return true
}

// take turns fetched records into messages and moves the partitions on.
// A cancelled poll is no error here; retriable broker errors,
// which the client retries by itself, and data loss, which it recovers
// from by reading from the start, are logged.
func (s *Source) take(fs kgo.Fetches) ([]sdk.Message, error) {
	n := fs.NumRecords()
	msgs := make([]sdk.Message, 0, n)
	meta := make([]sdk.Field, 0, n*metaFields)
	var errs []error
	for _, f := range fs {
		for _, ft := range f.Topics {
			for i := range ft.Partitions {
				fp := &ft.Partitions[i]
				if fp.Err != nil {
					if err := s.fetchError(ft.Topic, fp.Partition, fp.Err); err != nil {
						errs = append(errs, err)
					}
				}
				p := s.parts[topicPartition{ft.Topic, fp.Partition}]
				if p == nil {
					continue
				}
				msgs, meta = s.takePartition(ft.Topic, fp, p, msgs, meta)
			}
		}
	}
	return msgs, errors.Join(errs...)
}

// fetchError returns the error a partition's fetch error fails the read
// with, or nil for one that is only logged.
func (s *Source) fetchError(topic string, p int32, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil // Read returns the context's error if it read nothing
	}
	if _, ok := errors.AsType[*kgo.ErrDataLoss](err); ok {
		s.logf("%s: %v", partitionName(topic, p), err)
		return nil
	}
	if kerr.IsRetriable(err) {
		// The client retries by itself and may report the error at
		// every poll: it is logged when it changes.
		name := partitionName(topic, p)
		if msg := err.Error(); s.retrying[name] != msg {
			s.retrying[name] = msg
			s.logf("%s: %v (retrying)", name, err)
		}
		return nil
	}
	if topic == "" {
		return fmt.Errorf("kafka fetch: %w", err)
	}
	return fmt.Errorf("kafka fetch %s: %w", partitionName(topic, p), err)
}

// takePartition appends the messages of one fetched partition.
func (s *Source) takePartition(topic string, fp *kgo.FetchPartition, p *partition, msgs []sdk.Message, meta []sdk.Field) ([]sdk.Message, []sdk.Field) {
	if !s.cfg.Bounded {
		end := fp.HighWatermark
		if s.cfg.readCommitted() {
			end = fp.LastStableOffset
		}
		if end >= 0 {
			p.end = end
		}
	}
	for _, r := range fp.Records {
		if p.done || r.Offset < p.next {
			continue // past a bounded end, or read before
		}
		if s.cfg.Bounded && r.Offset >= p.end {
			s.finish(topic, fp.Partition, p)
			continue
		}
		p.next = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		start := len(meta)
		meta = appendMeta(meta, r)
		msgs = append(msgs, message(r, p, meta[start:len(meta):len(meta)]))
	}
	if s.cfg.Bounded && !p.done && p.next >= p.end {
		s.finish(topic, fp.Partition, p)
	}
	return msgs, meta
}

// finish marks a bounded partition read to its end and stops fetching it.
func (s *Source) finish(topic string, part int32, p *partition) {
	p.done = true
	s.left--
	s.cl.PauseFetchPartitions(map[string][]int32{topic: {part}})
}

// message builds the message of a record.
func message(r *kgo.Record, p *partition, meta []sdk.Field) sdk.Message {
	m := sdk.Message{
		Payload:  r.Value,
		Meta:     meta,
		Time:     r.Timestamp.UTC(),
		Position: sdk.Position{Partition: p.name, Offset: r.Offset + 1},
	}
	if r.Value == nil {
		m.Reject = "the record's value is null (a tombstone)"
	}
	return m
}

// appendMeta appends the metadata fields of a record.
func appendMeta(meta []sdk.Field, r *kgo.Record) []sdk.Field {
	var headers any
	if len(r.Headers) > 0 {
		h := make(map[string]any, len(r.Headers))
		for _, kv := range r.Headers {
			h[kv.Key] = text(kv.Value)
		}
		headers = h
	}
	return append(meta,
		sdk.Field{Name: metaKey, Value: text(r.Key)},
		sdk.Field{Name: metaTopic, Value: r.Topic},
		sdk.Field{Name: metaPartition, Value: int64(r.Partition)},
		sdk.Field{Name: metaOffset, Value: r.Offset},
		sdk.Field{Name: metaTimestamp, Value: r.Timestamp.UTC()},
		sdk.Field{Name: metaHeaders, Value: headers},
	)
}

// text returns bytes as a string if they are UTF-8, as bytes otherwise,
// and nil for nil.
func text(b []byte) any {
	switch {
	case b == nil:
		return nil
	case utf8.Valid(b):
		return string(b)
	default:
		return b
	}
}

// Ack commits the acknowledged positions to the consumer group, if the
// source has one. The offsets there are for people and lag tools only
// (the checkpoint is what the source resumes from), so a commit that
// fails is logged and does not fail the run; the next Ack commits newer
// offsets. Opened with Coordinate, it commits as the group's member, the
// offsets of the partitions the member owns only, within
// connect_timeout; opened with Partitions, it commits nothing.
func (s *Source) Ack(ctx context.Context, positions []sdk.Position) error {
	if s.partial || s.adm == nil || s.grp == nil && s.cfg.Group == "" {
		return nil
	}
	at := make(map[topicPartition]int64, len(positions))
	for _, pos := range positions {
		tp, ok := parsePartition(pos.Partition)
		if !ok {
			return fmt.Errorf("ack: %q is not a kafka partition (topic/N)", pos.Partition)
		}
		at[tp] = pos.Offset
	}
	if s.grp != nil {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout())
		defer cancel()
		s.grp.commit(ctx, at)
		return nil
	}
	offsets := make(kadm.Offsets)
	for tp, o := range at {
		offsets.Add(kadm.Offset{Topic: tp.topic, Partition: tp.p, At: o, LeaderEpoch: -1})
	}
	resp, err := s.adm.CommitOffsets(ctx, s.cfg.Group, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		s.logf("committing offsets to group %s: %v", s.cfg.Group, err)
	}
	return nil
}

// Close stops the consumer and closes the connections. Opened with
// Coordinate, it leaves the group, after waking a revoke that waits for
// the host to release partitions.
func (s *Source) Close(context.Context) error {
	if s.grp != nil {
		s.grp.close()
	}
	if s.cl != nil {
		s.cl.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	return nil
}

// logf logs through the host's logger, if there is one.
func (s *Source) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf(format, args...)
	}
}
