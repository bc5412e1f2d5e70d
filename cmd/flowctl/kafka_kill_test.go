package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaKillAndResume is the delivery contract end to end through
// Kafka: the Kafka example (pipelines/kafka_hourly_revenue.yaml: payments
// → hourly revenue per store → a transactional Kafka sink) runs in stream
// mode as a flowctl process, with its plugins out of process, against a
// kfake broker in this test. It is killed with SIGKILL at random moments
// and restarted until it has read the whole topic; what read_committed
// consumers then see in hourly_revenue.v1 must be the revenue computed by
// brute force from the input, every row exactly once.
func TestKafkaKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts real processes")
	}
	flowctl, err := exec.LookPath("flowctl") // the test binary, as set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := filepath.Abs("../../pipelines/kafka_hourly_revenue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// payments.v1 has one partition: with several, the engine calls
	// records of partitions it has not read yet late (see
	// pipelines/kafka_test.go, TestKafkaUnreadPartitionsHoldWatermark).
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "payments.v1"), kfake.SeedTopics(3, "hourly_revenue.v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	const n = 120_000
	want := produceKillPayments(t, addr, rng, n)

	dir := t.TempDir()
	run := func() *exec.Cmd {
		cmd := exec.Command(flowctl, "run", pipeline,
			"--set", "sources.payments.config.bounded=true",
			"--set", "checkpoint.dir="+filepath.Join(dir, "checkpoints"),
			"--set", "checkpoint.every=50ms",
			"--set", "dead_letter.config.path="+filepath.Join(dir, "dead.jsonl"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KAFKA_BROKERS="+addr)
		cmd.Stderr = &bytes.Buffer{}
		return cmd
	}
	// Kill once at a random moment of the first start, then each time
	// the pipeline has checkpointed past a random point of the input
	// (the source commits its offsets to its group after each
	// checkpoint), a random moment later: during reading, a
	// transaction, a checkpoint or its commit.
	adm := kadm.NewClient(newKafkaClient(t, addr))
	targets := make([]int64, 5)
	for i := range targets {
		targets[i] = rng.Int64N(int64(n) * 4 / 5)
	}
	slices.Sort(targets)
	kills, finished := 0, false
	for attempt := 0; attempt < 20 && !finished; attempt++ {
		cmd := run()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var killAt time.Time
		if attempt == 0 {
			killAt = time.Now().Add(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		tick := time.NewTicker(5 * time.Millisecond)
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d: %v\n%s", attempt, err, cmd.Stderr)
				}
				finished = true
				break wait
			case <-tick.C:
			}
			switch {
			case killAt.IsZero() && len(targets) > 0 && groupProgress(t, adm) >= targets[0]:
				targets = targets[1:]
				killAt = time.Now().Add(time.Duration(rng.IntN(50)) * time.Millisecond)
			case !killAt.IsZero() && time.Now().After(killAt):
				t.Logf("kill %d: %d of %d records checkpointed", kills+1, groupProgress(t, adm), n)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				break wait
			}
		}
		tick.Stop()
	}
	if !finished {
		t.Fatal("the run never finished")
	}
	if kills < 3 {
		t.Fatalf("the run was killed %d times; want at least 3", kills)
	}
	got := committedRevenue(t, addr)
	if !slices.Equal(got, want) {
		t.Errorf("after %d kills read_committed consumers see %d rows, the reference has %d;\n%s", kills, len(got), len(want), lineDiff(want, got))
	}
	t.Logf("%d kills, %d rows", kills, len(got))
}

// produceKillPayments writes n payments of 8 stores to payments.v1, 1.5
// seconds of event time apart and up to 3 minutes out of order (within
// the pipeline's 5-minute lateness), and returns the rows the pipeline
// must write, rendered by revenueRowLine and sorted.
func produceKillPayments(t *testing.T, addr string, rng *rand.Rand, n int) []string {
	t.Helper()
	type key struct {
		hour  time.Time
		store string
	}
	sums, counts := map[key]decimal.Decimal{}, map[key]int64{}
	start := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		store := fmt.Sprintf("s%02d", rng.IntN(8))
		amount := decimal.New(int64(1+rng.IntN(50000)), -2)
		at := start.Add(time.Duration(i)*1500*time.Millisecond - time.Duration(rng.IntN(180))*time.Second)
		k := key{at.Truncate(time.Hour), "S" + store[1:]}
		sums[k] = sums[k].Add(amount)
		counts[k]++
		v := fmt.Sprintf(`{"payment_id":"p-%06d","amount":%s,"store_id":%q,"card_id":"c-%d","event_time":%q,"tags":[],"device":{"os":"ios"}}`,
			i, amount.StringFixed(2), store, rng.IntN(1000), at.Format(time.RFC3339))
		recs[i] = &kgo.Record{Topic: "payments.v1", Key: []byte(store), Value: []byte(v)}
	}
	cl := newKafkaClient(t, addr)
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	var want []string
	for k, sum := range sums {
		avg := sum.DivRound(decimal.NewFromInt(counts[k]), 8) // avg keeps the scale plus 6 digits
		want = append(want, revenueRowLine(k.hour, k.hour.Add(time.Hour), k.store, sum, counts[k], avg))
	}
	slices.Sort(want)
	return want
}

func revenueRowLine(start, end time.Time, store string, revenue decimal.Decimal, orders int64, avg decimal.Decimal) string {
	return fmt.Sprintf("%s %s %s revenue=%s orders=%d avg=%s", start.Format(time.RFC3339), end.Format(time.RFC3339), store, revenue, orders, avg)
}

// newKafkaClient returns a franz-go client of the broker at addr, closed
// when t ends.
func newKafkaClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// groupProgress returns the offset the pipeline's source committed to its
// consumer group for payments.v1 (one partition): how many records its
// checkpoints cover.
func groupProgress(t *testing.T, adm *kadm.Client) int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(t.Context(), "kafka_hourly_revenue")
	if err != nil {
		return 0 // not committed yet, or the broker is busy: ask again
	}
	o, _ := resp.Lookup("payments.v1", 0)
	return o.At
}

// committedRevenue reads hourly_revenue.v1 as a read_committed consumer
// sees it, up to its last stable offsets, and renders each row by
// revenueRowLine, sorted.
func committedRevenue(t *testing.T, addr string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cl := newKafkaClient(t, addr, kgo.ConsumeTopics("hourly_revenue.v1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, "hourly_revenue.v1")
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("last stable offsets: %v", err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	var out []string
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading hourly_revenue.v1: %v; %d rows read, still to read up to %v", ctx.Err(), len(out), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, revenueRecordLine(t, r))
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	slices.Sort(out)
	return out
}

// revenueRecordLine renders a record of hourly_revenue.v1 by
// revenueRowLine.
func revenueRecordLine(t *testing.T, r *kgo.Record) string {
	t.Helper()
	var row struct {
		WindowStart time.Time       `json:"window_start"`
		WindowEnd   time.Time       `json:"window_end"`
		Store       string          `json:"store"`
		Revenue     decimal.Decimal `json:"revenue"`
		Orders      int64           `json:"orders"`
		AvgTicket   decimal.Decimal `json:"avg_ticket"`
	}
	if err := json.Unmarshal(r.Value, &row); err != nil {
		t.Fatalf("hourly_revenue.v1/%d@%d: %v: %s", r.Partition, r.Offset, err, r.Value)
	}
	return revenueRowLine(row.WindowStart, row.WindowEnd, row.Store, row.Revenue, row.Orders, row.AvgTicket)
}
