package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// kafkaPipeline reads bids from a Kafka topic, sums them per auction in
// tumbling windows and writes each window's rows to another topic with
// the kafka sink; {{…}} are replaced by kafkaYAML.
const kafkaPipeline = `version: 1
name: bench_kafka
mode: stream
checkpoint: {dir: "{{checkpoints}}", every: {{every}}}
sources:
  - name: bids
    plugin: kafka
    config: {brokers: ["{{brokers}}"], topics: ["{{in}}"], bounded: {{bounded}}}
    format: json
    schema: "{{schema}}"
    event_time: date_time
    watermark: {lateness: {{lateness}}}
transforms:
  - name: per_window
    from: bids
    window: {tumbling: {{window}}}
    group_by: [auction]
    aggregate: {volume: sum(price), bids: count()}
sinks:
  - name: out
    from: per_window
    plugin: kafka
    key: [window_start, auction]
    config: {brokers: ["{{brokers}}"], topic: "{{out}}", transactional: {{transactional}}, transactional_id: "{{out}}"}
`

// Kafka describes a Kafka benchmark: bids in a topic of one partition →
// a tumbling sum per auction (1000 auctions) → the kafka sink. (One
// partition because, read as a backlog, the records of partitions the
// engine has not seen yet would be late: see
// pipelines/kafka_test.go, TestKafkaUnreadPartitionsHoldWatermark.)
type Kafka struct {
	Brokers       string        // a seed broker, host:port
	Mode          config.Mode   // stream or micro-batch (100k records a trigger)
	Window        time.Duration // the tumbling window
	Lateness      time.Duration // the source's watermark lateness
	Every         time.Duration // checkpoint interval: how often transactions commit
	Transactional bool          // exactly-once sink; else idempotent producer, at-least-once
}

// name describes the benchmark in one line.
func (k Kafka) name() string {
	delivery := "at-least-once"
	if k.Transactional {
		delivery = "exactly-once"
	}
	return fmt.Sprintf("kafka %s %s window, %s, checkpoint every %s", k.Mode, k.Window, delivery, k.Every)
}

// topics is a pair of fresh topics of one run, deleted by drop.
type topics struct {
	adm     *kadm.Client
	in, out string
}

// newTopics creates an input and an output topic of one partition, with
// names of their own, so that runs against a real broker do not mix.
func newTopics(ctx context.Context, adm *kadm.Client) (topics, error) {
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	t := topics{adm: adm, in: "flowctl_bench_bids_" + suffix, out: "flowctl_bench_out_" + suffix}
	resp, err := adm.CreateTopics(ctx, 1, -1, nil, t.in, t.out)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return t, fmt.Errorf("create the benchmark topics: %w", err)
	}
	return t, nil
}

// drop deletes the topics.
func (t topics) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = t.adm.DeleteTopics(ctx, t.in, t.out)
}

// kafkaYAML renders the pipeline of k over the topics t, with its
// checkpoints and the bid schema in dir.
func kafkaYAML(k Kafka, t topics, dir string, bounded bool) string {
	return replace(kafkaPipeline, map[string]string{
		"{{checkpoints}}":   filepath.Join(dir, "checkpoints-"+t.out),
		"{{every}}":         k.Every.String(),
		"{{brokers}}":       k.Brokers,
		"{{in}}":            t.in,
		"{{out}}":           t.out,
		"{{bounded}}":       strconv.FormatBool(bounded),
		"{{schema}}":        filepath.Join(dir, "bid.yaml"),
		"{{lateness}}":      k.Lateness.String(),
		"{{window}}":        k.Window.String(),
		"{{transactional}}": strconv.FormatBool(k.Transactional),
	})
}

// compileKafka compiles the pipeline of k.
func compileKafka(cat *catalog.Catalog, k Kafka, t topics, dir string, bounded bool) (*plan.Plan, error) {
	if err := os.WriteFile(filepath.Join(dir, "bid.yaml"), []byte(Schema), 0o644); err != nil {
		return nil, err
	}
	var sets []string
	if k.Mode == config.MicroBatch {
		sets = []string{"trigger.every=1ms", "trigger.max_records=100000"}
	}
	p, ds := config.LoadWith(filepath.Join(dir, "kafka.yaml"), []byte(kafkaYAML(k, t, dir, bounded)), config.Options{Sets: sets})
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	pl, ds := plan.Compile(p, cat, k.Mode)
	if ds.HasErrors() {
		return nil, ds.Err()
	}
	return pl, nil
}

// appendBid appends one bid as JSON, like Generate's, at event time at.
func appendBid(buf []byte, r *rand.Rand, at time.Time) []byte {
	buf = append(buf, `{"auction":`...)
	buf = strconv.AppendInt(buf, int64(1000+r.IntN(1000)), 10)
	buf = append(buf, `,"bidder":`...)
	buf = strconv.AppendInt(buf, int64(r.IntN(100000)), 10)
	buf = append(buf, `,"price":`...)
	buf = strconv.AppendInt(buf, int64(r.IntN(10000)), 10)
	buf = append(buf, `,"channel":"google","url":"https://www.google.com/item?id=`...)
	buf = strconv.AppendInt(buf, int64(r.IntN(1e6)), 10)
	buf = append(buf, `","date_time":"`...)
	buf = at.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, `","extra":""}`...)
}

// produceBids writes n bids to topic, event times 1ms apart from a fixed
// instant, and waits until the broker has them all.
func produceBids(ctx context.Context, cl *kgo.Client, topic string, n int) error {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	var (
		mu    sync.Mutex
		first error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			first = cmp.Or(first, err)
			mu.Unlock()
		}
	}
	for i := range n {
		v := appendBid(nil, r, start.Add(time.Duration(i)*time.Millisecond))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return first
}

// RunKafka measures throughput: it produces n bids into a fresh topic,
// then runs the pipeline of k bounded, from open to its final commit,
// and reports the records read and the time taken. dir holds the bid
// schema and the checkpoints.
func RunKafka(ctx context.Context, cat *catalog.Catalog, dir string, k Kafka, n int) (Result, error) {
	if k.Brokers == "" {
		return Result{}, errNoBroker
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers))
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	t, err := newTopics(ctx, kadm.NewClient(cl))
	if err != nil {
		return Result{}, err
	}
	defer t.drop()
	if err := produceBids(ctx, cl, t.in, n); err != nil {
		return Result{}, fmt.Errorf("produce the bids: %w", err)
	}
	pl, err := compileKafka(cat, k, t, dir, true)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	sum, err := exec.Run(ctx, pl, exec.Options{Stderr: io.Discard, Checkpoints: checkpoint.NewDir(pl.CheckpointDir())})
	if err != nil {
		return Result{}, err
	}
	return Result{Case: k.name(), Events: sum.Read, Elapsed: time.Since(start)}, nil
}

// KafkaLatency is the distribution of a Kafka pipeline's row latencies:
// from the moment a window could close (its end plus the lateness,
// when the bid that moves the watermark past it is made) to the moment a
// read_committed consumer receives the window's row.
type KafkaLatency struct {
	Kafka
	Rate          int
	Events        int64
	Rows          int
	P50, P99, Max time.Duration
}

func (l KafkaLatency) String() string {
	return fmt.Sprintf("%s, at %d events/s: %d events, %d rows, latency p50 %s, p99 %s, max %s",
		l.name(), l.Rate, l.Events, l.Rows, l.P50.Round(time.Millisecond), l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond))
}

// RunKafkaLatency runs the pipeline of k unbounded while bids made at
// rate events/s for d, each stamped with the wall clock as its event time,
// are produced into its input, and measures each row's latency as a
// read_committed consumer of its output sees it. Windows ending in the
// first second are the warm-up and are not measured.
func RunKafkaLatency(ctx context.Context, cat *catalog.Catalog, dir string, k Kafka, rate int, d time.Duration) (KafkaLatency, error) {
	l := KafkaLatency{Kafka: k, Rate: rate}
	if k.Brokers == "" {
		return l, errNoBroker
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers), kgo.ProducerLinger(0))
	if err != nil {
		return l, err
	}
	defer cl.Close()
	t, err := newTopics(ctx, kadm.NewClient(cl))
	if err != nil {
		return l, err
	}
	defer t.drop()
	pl, err := compileKafka(cat, k, t, dir, false)
	if err != nil {
		return l, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() {
		sum, err := exec.Run(runCtx, pl, exec.Options{Stderr: io.Discard, Checkpoints: checkpoint.NewDir(pl.CheckpointDir())})
		l.Events = sum.Read
		ran <- err
	}()
	rows := make(chan []rowLatency, 1)
	go func() { rows <- consumeLatencies(runCtx, k, t.out) }()

	start := time.Now()
	last, err := producePaced(runCtx, cl, t.in, rate, d)
	if err != nil {
		stop()
		<-ran
		return l, err
	}
	// Rows of the windows that closed reach the consumer within a
	// checkpoint interval, give or take; then stop.
	select {
	case <-time.After(2*k.Every + time.Second):
	case err := <-ran:
		return l, fmt.Errorf("the pipeline ended early: %v", err)
	}
	stop()
	if err := <-ran; err != nil {
		return l, err
	}
	warm := start.Add(time.Second)
	var measured []time.Duration
	for _, r := range <-rows {
		if !r.end.Before(warm) && !r.end.After(last) {
			measured = append(measured, r.latency)
		}
	}
	slices.Sort(measured)
	if n := len(measured); n > 0 {
		l.Rows, l.P50, l.P99, l.Max = n, measured[n/2], measured[n*99/100], measured[n-1]
	}
	return l, nil
}

// producePaced produces bids at rate events/s for d, each with the
// wall-clock time it is made as its event time, and returns the last
// event time.
func producePaced(ctx context.Context, cl *kgo.Client, topic string, rate int, d time.Duration) (time.Time, error) {
	r := rand.New(rand.NewPCG(3, 4))
	start := time.Now()
	var (
		mu    sync.Mutex
		first error
		last  time.Time
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			first = cmp.Or(first, err)
			mu.Unlock()
		}
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		now := time.Now()
		if now.Sub(start) >= d {
			break
		}
		due := int(now.Sub(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			last = time.Now()
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: appendBid(nil, r, last.UTC())}, done)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return last, err
	}
	mu.Lock()
	defer mu.Unlock()
	return last, first
}

// rowLatency is when a row's window ended and how long after that end
// plus the lateness the row was received.
type rowLatency struct {
	end     time.Time
	latency time.Duration
}

// consumeLatencies reads topic as a read_committed consumer until ctx
// ends, and returns the latency of each row.
func consumeLatencies(ctx context.Context, k Kafka, topic string) []rowLatency {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil
	}
	defer cl.Close()
	var out []rowLatency
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			var row struct {
				End time.Time `json:"window_end"`
			}
			if json.Unmarshal(r.Value, &row) == nil {
				out = append(out, rowLatency{row.End, now.Sub(row.End.Add(k.Lateness))})
			}
		})
	}
	return out
}

// errNoBroker is returned when no broker address was given.
var errNoBroker = errors.New("no Kafka broker: give one as host:port")
