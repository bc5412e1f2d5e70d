// Package kafka is flowctl's built-in Kafka sink. It writes each row as
// one record whose value is the row as a JSON object, with an idempotent
// producer by default. It takes part in the host's checkpoints (see
// commit.go): with `transactional: true` the rows of each checkpoint are
// written in one Kafka transaction, committed together with a marker
// record naming the checkpoint, which gives exactly-once delivery to
// read_committed consumers.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/internal/kafkaconn"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// maxInFlight bounds the records written but not yet acknowledged by the
// brokers; Write waits for room, heeding its context.
const maxInFlight = 16 << 10

// Plugin returns the kafka sink's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "kafka",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Writes rows to Kafka as JSON records; exactly once with transactions tied to the checkpoints.",
			Fields:  fields(),
			// Each instance has an identity of its own (sinkID): its own
			// transactional id and marker.
			Instances: true,
		},
		NewSink:  func() sdk.Sink { return &Sink{} },
		Validate: validate,
		Delivery: delivery,
	}
}

var (
	_ sdk.Sink      = (*Sink)(nil)
	_ sdk.Flusher   = (*Sink)(nil)
	_ sdk.Committer = (*Sink)(nil)
)

// Sink writes rows to Kafka. Each row is one record: its value is the row
// as a JSON object (sdk.AppendJSONObject, every column in order), its key
// the key column's text (several key columns: a JSON object of them), its
// headers the header columns' text. Records are written asynchronously;
// Flush, Prepare and Close wait for the brokers' acknowledgements, and a
// record the brokers refused fails every later call.
type Sink struct {
	cfg      Config
	logger   sdk.Logger
	id       string // transactional id and marker key
	name     string // the sink's and pipeline's names, for the markers
	pipeline string
	keys     []string
	cl       *kgo.Client
	adm      *kadm.Client
	lay      *layout         // the columns of the last rows written
	slots    chan struct{}   // one per record in flight
	mu       sync.Mutex      // guards err, set by the producer's promises
	err      error           // the first record the brokers refused
	size     int             // bytes per record of the last Write, to size the next
	commit   commitState     // the commit protocol's state (commit.go)
	topics   map[string]bool // topic_column values known to be valid names
}

// Open checks the config, connects, and checks that the topic exists.
// Transactional, it also fences any earlier producer with the same
// transactional id, which aborts the transaction that producer left open.
func (s *Sink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		return configError(diags)
	}
	s.cfg, s.logger, s.keys = cfg, req.Settings.Logger, req.Key
	s.name, s.pipeline = req.Settings.Name, req.Settings.Pipeline
	if cfg.KeyColumn != "" {
		s.keys = []string{cfg.KeyColumn}
	}
	id, err := sinkID(cfg, req.Settings)
	if err != nil {
		return err
	}
	s.id = id
	if req.Columns != nil {
		if s.lay, err = s.newLayout(req.Columns); err != nil {
			return err
		}
	}
	opts, err := cfg.ClientOpts()
	if err != nil {
		return err
	}
	if s.cl, err = kgo.NewClient(append(opts, s.producerOpts()...)...); err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	s.adm = kadm.NewClient(s.cl)
	s.slots = make(chan struct{}, maxInFlight)
	s.topics = make(map[string]bool)
	octx, cancel := context.WithTimeout(ctx, cfg.Timeout())
	defer cancel()
	if err := s.connect(octx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("brokers %s: no answer within connect_timeout %s: %w", strings.Join(cfg.Brokers, ","), cfg.Timeout(), err)
		}
		return err
	}
	return nil
}

// connect checks the topic and, transactional, fences earlier producers.
func (s *Sink) connect(ctx context.Context) error {
	if s.cfg.Topic != "" {
		if err := s.checkTopicExists(ctx, s.cfg.Topic); err != nil {
			return err
		}
	}
	if s.cfg.Transactional {
		return s.fence(ctx)
	}
	return nil
}

// checkTopicExists fails if topic does not exist.
func (s *Sink) checkTopicExists(ctx context.Context, topic string) error {
	details, err := s.adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	if err := details.Error(); err != nil || !details.Has(topic) {
		return fmt.Errorf("topic %q does not exist", topic)
	}
	return nil
}

// sinkID returns the sink's identity: its transactional id and the key of
// its markers. It is transactional_id, or flowctl.PIPELINE.SINK, followed
// by "." and the instance if the host runs the sink as one of several
// (sdk.Settings.Instance: the partition "payments.v1/3" of a scaled-out
// pipeline, a backfill slice), so that each instance has its own: the
// instances do not fence each other, and the run that takes an instance
// over fences the one that had it.
func sinkID(cfg Config, set sdk.Settings) (string, error) {
	id := cfg.TransactionalID
	if id == "" {
		if cfg.Transactional && set.Pipeline == "" {
			return "", &sdk.ConfigError{Path: "transactional_id",
				Msg: "the host gave no pipeline name to derive the transactional id from; set transactional_id"}
		}
		parts := []string{"flowctl"}
		for _, p := range []string{set.Pipeline, set.Name} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		id = strings.Join(parts, ".")
	}
	if set.Instance != "" {
		id += "." + set.Instance
	}
	return id, nil
}

// producerOpts returns the franz-go producer options of the config.
func (s *Sink) producerOpts() []kgo.Opt {
	c := &s.cfg
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(compressions[c.Compression]),
		// Write bounds what is in flight by itself, heeding its context.
		kgo.MaxBufferedRecords(2 * maxInFlight),
	}
	switch c.Acks {
	case acksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case acksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !c.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if c.Transactional {
		opts = append(opts, kgo.TransactionalID(s.id), kgo.TransactionTimeout(c.transactionTimeout()))
	}
	return opts
}

// configError turns diagnostics into the error Open returns.
func configError(diags []sdk.Diagnostic) error {
	errs := make([]error, len(diags))
	for i, d := range diags {
		errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
	}
	return errors.Join(errs...)
}

// layout is where the columns the sink uses are in a row.
type layout struct {
	columns []string
	topic   int      // index of topic_column; -1 for the fixed topic
	key     []int    // indexes of the key columns
	keyJSON [][]byte // `"name":` of each key column, for a JSON object key
	headers []int    // indexes of the header columns
}

// newLayout finds the columns of the config among columns.
func (s *Sink) newLayout(columns []string) (*layout, error) {
	lay := &layout{columns: columns, topic: -1}
	find := func(what, name string) (int, error) {
		i := slices.Index(columns, name)
		if i < 0 {
			return 0, fmt.Errorf("%s %q is not among the columns %s", what, name, strings.Join(columns, ", "))
		}
		return i, nil
	}
	var err error
	if s.cfg.TopicColumn != "" {
		if lay.topic, err = find("topic_column", s.cfg.TopicColumn); err != nil {
			return nil, err
		}
	}
	what := "key column"
	if s.cfg.KeyColumn != "" {
		what = "key_column"
	}
	for _, k := range s.keys {
		i, err := find(what, k)
		if err != nil {
			return nil, err
		}
		lay.key = append(lay.key, i)
		lay.keyJSON = append(lay.keyJSON, append(sdk.AppendJSON(nil, k), ':'))
	}
	for _, h := range s.cfg.HeaderColumns {
		i, err := find("header column", h)
		if err != nil {
			return nil, err
		}
		lay.headers = append(lay.headers, i)
	}
	return lay, nil
}

// Write produces a record for each row. It returns once the records are
// handed to the producer, waiting only if too many are in flight; a
// cancelled Write returns the context's error, and the rows not yet
// handed over are not written.
func (s *Sink) Write(ctx context.Context, rows sdk.Rows) error {
	if err := s.failed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.lay == nil || !slices.Equal(s.lay.columns, rows.Columns) {
		lay, err := s.newLayout(rows.Columns)
		if err != nil {
			return err
		}
		s.lay = lay
	}
	recs := make([]kgo.Record, len(rows.Rows))
	buf := make([]byte, 0, len(rows.Rows)*max(s.size, 64))
	for i, row := range rows.Rows {
		var err error
		if buf, err = s.record(&recs[i], row, buf); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
		if err := s.send(ctx, &recs[i]); err != nil {
			return err
		}
	}
	if n := len(rows.Rows); n > 0 {
		s.size = len(buf)/n + 1
	}
	return nil
}

// record fills r from row, appending its bytes to buf.
func (s *Sink) record(r *kgo.Record, row []any, buf []byte) ([]byte, error) {
	lay := s.lay
	r.Topic = s.cfg.Topic
	if lay.topic >= 0 {
		topic, err := s.rowTopic(row[lay.topic])
		if err != nil {
			return buf, err
		}
		r.Topic = topic
	}
	start := len(buf)
	switch {
	case len(lay.key) == 1 && present(row[lay.key[0]]):
		buf = appendText(buf, row[lay.key[0]])
		r.Key = buf[start:len(buf):len(buf)]
	case len(lay.key) > 1:
		buf = append(buf, '{')
		for j, k := range lay.key {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, lay.keyJSON[j]...)
			buf = sdk.AppendJSON(buf, row[k])
		}
		buf = append(buf, '}')
		r.Key = buf[start:len(buf):len(buf)]
	}
	for _, h := range lay.headers {
		if v := row[h]; present(v) {
			start = len(buf)
			buf = appendText(buf, v)
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: lay.columns[h], Value: buf[start:len(buf):len(buf)]})
		}
	}
	start = len(buf)
	buf = sdk.AppendJSONObject(buf, lay.columns, row, nil)
	r.Value = buf[start:len(buf):len(buf)]
	return buf, nil
}

// rowTopic returns the topic a row's topic_column value names.
func (s *Sink) rowTopic(v any) (string, error) {
	topic, ok := v.(string)
	if !ok || !present(v) {
		return "", fmt.Errorf("topic_column %q is %s, want a topic name", s.cfg.TopicColumn, describe(v))
	}
	if !s.topics[topic] {
		if msg := kafkaconn.CheckTopic(topic); msg != "" {
			return "", fmt.Errorf("topic_column %q: %s", s.cfg.TopicColumn, msg)
		}
		if len(s.topics) < 1024 {
			s.topics[topic] = true
		}
	}
	return topic, nil
}

// describe names a value for an error message.
func describe(v any) string {
	if !present(v) {
		return "null"
	}
	return fmt.Sprintf("%T %s", v, sdk.AppendJSON(nil, v))
}

// present reports whether v is a value, not null or absent.
func present(v any) bool { return v != nil && v != sdk.Absent }

// appendText appends v as text: a string or bytes as they are, anything
// else as sdk.FormatText writes it.
func appendText(buf []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return append(buf, v...)
	case []byte:
		return append(buf, v...)
	}
	return append(buf, sdk.FormatText(v)...)
}

// send hands a record to the producer once there is room for it.
// Transactional, it goes into the open transaction, which is begun if
// need be, or, if the open one has been prepared, waits for the next.
func (s *Sink) send(ctx context.Context, r *kgo.Record) error {
	if s.cfg.Transactional {
		if s.commit.prepared != 0 {
			s.commit.held = append(s.commit.held, r)
			return nil
		}
		if err := s.begin(); err != nil {
			return err
		}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The record outlives the call: it must not be cancelled with it.
	s.cl.Produce(context.WithoutCancel(ctx), r, s.promise)
	return nil
}

// promise is called by the producer once a record is acknowledged or
// has failed.
func (s *Sink) promise(r *kgo.Record, err error) {
	<-s.slots
	if err == nil || errors.Is(err, kgo.ErrAborting) {
		return // written, or aborted with its transaction on purpose
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fmt.Errorf("write to topic %s: %w", r.Topic, err)
	}
}

// failed returns the error of the first record the brokers refused.
func (s *Sink) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Flush waits until every record written so far is acknowledged by the
// brokers. Transactional, they are then durable but not yet visible.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return s.failed()
}

// Close flushes what is written and closes the connection; an open
// transaction is aborted, its rows never become visible.
func (s *Sink) Close(ctx context.Context) error {
	if s.cl == nil {
		return nil
	}
	defer s.cl.Close()
	if s.commit.inTxn {
		return s.abort(ctx)
	}
	return s.Flush(ctx)
}

// logf logs through the host's logger, if there is one.
func (s *Sink) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf(format, args...)
	}
}
