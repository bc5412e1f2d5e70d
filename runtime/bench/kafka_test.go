package bench

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	kafkasink "github.com/flowctl/flowctl/plugins/sinks/kafka"
	kafkasource "github.com/flowctl/flowctl/plugins/sources/kafka"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
)

// kafkaBroker starts a one-broker kfake cluster on 127.0.0.1 and returns
// its address and a catalog of the kafka plugins.
func kafkaBroker(t testing.TB) (string, *catalog.Catalog) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cat, err := catalog.New(kafkasource.Plugin(), kafkasink.Plugin())
	if err != nil {
		t.Fatal(err)
	}
	return c.ListenAddrs()[0], cat
}

// BenchmarkKafka measures Kafka → tumbling 1m sum per auction →
// transactional Kafka against kfake on 127.0.0.1: events/s over 1M bids
// produced up front, in stream and micro-batch mode; and, in stream mode
// at 100k bids/s made in real time for 10s with 250ms windows (about 36
// windows of about 1000 rows are measured), the latency from a window's
// end to its rows reaching a read_committed consumer, with checkpoints
// (and so transactions) every 100ms and 1s, and without transactions. Run: go test -run '^$' -bench Kafka -benchtime 1x ./runtime/bench
func BenchmarkKafka(b *testing.B) {
	addr, cat := kafkaBroker(b)
	for _, mode := range []config.Mode{config.Stream, config.MicroBatch} {
		b.Run("throughput/"+string(mode), func(b *testing.B) {
			k := Kafka{Brokers: addr, Mode: mode, Window: time.Minute, Every: time.Second, Transactional: true}
			var events int64
			var elapsed time.Duration
			for b.Loop() {
				r, err := RunKafka(context.Background(), cat, b.TempDir(), k, 1_000_000)
				if err != nil {
					b.Fatal(err)
				}
				events, elapsed = events+r.Events, elapsed+r.Elapsed
				b.Log(r)
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
	for _, k := range []Kafka{
		{Every: 100 * time.Millisecond, Transactional: true},
		{Every: time.Second, Transactional: true},
		{Every: 100 * time.Millisecond, Transactional: false},
	} {
		k.Brokers, k.Mode, k.Window = addr, config.Stream, 250*time.Millisecond
		b.Run(k.name(), func(b *testing.B) {
			for b.Loop() {
				l, err := RunKafkaLatency(context.Background(), cat, b.TempDir(), k, 100_000, 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				b.Log(l)
				b.ReportMetric(float64(l.P50)/1e6, "p50-ms")
				b.ReportMetric(float64(l.P99)/1e6, "p99-ms")
				b.ReportMetric(float64(l.Events)/10, "events/s")
			}
		})
	}
}

// TestKafka runs the Kafka benchmarks small: every bid is read in both
// modes, and a short latency run measures rows of the windows that
// closed, each within a few checkpoint intervals.
func TestKafka(t *testing.T) {
	addr, cat := kafkaBroker(t)
	const n = 5000
	for _, mode := range []config.Mode{config.Stream, config.MicroBatch} {
		k := Kafka{Brokers: addr, Mode: mode, Window: time.Second, Every: 50 * time.Millisecond, Transactional: true}
		r, err := RunKafka(t.Context(), cat, t.TempDir(), k, n)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if r.Events != n {
			t.Errorf("%s: read %d events, want %d", mode, r.Events, n)
		}
	}
	k := Kafka{Brokers: addr, Mode: config.Stream, Window: 200 * time.Millisecond, Every: 50 * time.Millisecond, Transactional: true}
	l, err := RunKafkaLatency(t.Context(), cat, t.TempDir(), k, 2000, 1600*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(l)
	if l.Events < 2000 || l.Rows == 0 || l.P50 < 0 || l.Max < l.P99 || l.Max > 5*time.Second {
		t.Errorf("latency run %+v: want at least 2000 events, and rows received a little after their windows closed", l)
	}
	if _, err := RunKafka(t.Context(), cat, t.TempDir(), Kafka{}, 1); err != errNoBroker {
		t.Errorf("RunKafka without a broker = %v, want %v", err, errNoBroker)
	}
}
