package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scaleOutPartitions is how many partitions payments.v1 has in
// TestKafkaScaleOut.
const scaleOutPartitions = 6

// TestKafkaScaleOut is scale-out end to end: three flowctl processes run
// pipelines/kafka_revenue_scale_out.yaml (payments → hourly revenue per
// store → a transactional Kafka sink) against a kfake broker while the
// test produces payments. One process is SIGKILLed mid-run: the group
// gives its partitions to the other two, which restore them from the
// shared checkpoint folder. Then a fourth process joins, and partitions
// move to it through a clean handoff (revoke, final checkpoint, release).
// What read_committed consumers see in hourly_revenue.v1 must be the
// revenue computed by brute force from the input: every row exactly once.
func TestKafkaScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes")
	}
	flowctl, err := exec.LookPath("flowctl") // the test binary, as set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := filepath.Abs("../../pipelines/kafka_revenue_scale_out.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(scaleOutPartitions, "payments.v1"), kfake.SeedTopics(3, "hourly_revenue.v1"), kfake.SeedTopics(1, "payments.dead_letter"),
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	in := newScaleOutInput(rng, 60_000)

	dir := t.TempDir()
	var procs []*scaleOutProc
	start := func() *scaleOutProc {
		p := startScaleOutProc(t, flowctl, pipeline, dir, addr, len(procs)+1)
		procs = append(procs, p)
		return p
	}
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()

	// The input goes in over a few seconds, in chunks, while the
	// processes run; the kill and the join happen in between.
	cl := newKafkaClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(recs []*kgo.Record) {
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	for range 3 {
		start()
	}
	adm := kadm.NewClient(newKafkaClient(t, addr))
	chunks := in.chunks(40)
	for i, chunk := range chunks {
		produce(chunk)
		time.Sleep(100 * time.Millisecond)
		switch i {
		case 15:
			// Kill a process once every partition has checkpointed
			// something (the coordinators commit the positions of the
			// checkpoints to the group), at a random moment after.
			waitFor(t, 60*time.Second, "every partition to checkpoint", func() bool { return committedPartitions(t, adm) == scaleOutPartitions })
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			victim := procs[rng.IntN(3)]
			t.Logf("killing process %d", victim.n)
			victim.kill()
		case 28:
			start()
		}
	}
	produce(in.closing())
	want := in.want()
	var got []string
	waitFor(t, 120*time.Second, fmt.Sprintf("%d revenue rows", len(want)), func() bool {
		got = committedRevenue(t, addr)
		return len(got) >= len(want)
	})
	for _, p := range procs {
		p.stop(t)
	}
	got = committedRevenue(t, addr)
	if !slices.Equal(got, want) {
		t.Errorf("read_committed consumers see %d rows, the reference has %d;\n%s", len(got), len(want), lineDiff(want, got))
	}
	var restored, handedOff bool
	for _, p := range procs {
		log := p.stderr.String()
		restored = restored || strings.Contains(log, "restored checkpoint")
		handedOff = handedOff || strings.Contains(log, "revoked ")
	}
	if !restored || !handedOff {
		t.Errorf("want a partition restored from a checkpoint (%v) and one handed off (%v); logs:\n%s", restored, handedOff, procsLog(procs))
	}
	if t.Failed() {
		t.Logf("logs:\n%s", procsLog(procs))
	}
}

// scaleOutInput is the input of TestKafkaScaleOut: payments of 12 stores,
// each store's in one partition (store sNN in partition NN mod 6), 1.5 s
// of event time apart and up to 3 minutes out of order (within the
// pipeline's 5-minute lateness).
type scaleOutInput struct {
	recs   []*kgo.Record
	sums   map[scaleOutKey]decimal.Decimal
	counts map[scaleOutKey]int64
	last   time.Time
}

type scaleOutKey struct {
	hour  time.Time
	store string
}

func newScaleOutInput(rng *rand.Rand, n int) *scaleOutInput {
	in := &scaleOutInput{sums: map[scaleOutKey]decimal.Decimal{}, counts: map[scaleOutKey]int64{}}
	start := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s := rng.IntN(12)
		store := fmt.Sprintf("s%02d", s)
		amount := decimal.New(int64(1+rng.IntN(50000)), -2)
		at := start.Add(time.Duration(i)*1500*time.Millisecond - time.Duration(rng.IntN(180))*time.Second)
		k := scaleOutKey{at.Truncate(time.Hour), "S" + store[1:]}
		in.sums[k] = in.sums[k].Add(amount)
		in.counts[k]++
		if at.After(in.last) {
			in.last = at
		}
		v := fmt.Sprintf(`{"payment_id":"p-%06d","amount":%s,"store_id":%q,"card_id":"c-%d","event_time":%q,"tags":[],"device":{"os":"ios"}}`,
			i, amount.StringFixed(2), store, rng.IntN(1000), at.Format(time.RFC3339))
		in.recs = append(in.recs, &kgo.Record{Topic: "payments.v1", Partition: int32(s % scaleOutPartitions), Key: []byte(store), Value: []byte(v)})
	}
	return in
}

// chunks cuts the payments into k chunks, in order.
func (in *scaleOutInput) chunks(k int) [][]*kgo.Record {
	var out [][]*kgo.Record
	size := (len(in.recs) + k - 1) / k
	for recs := in.recs; len(recs) > 0; {
		n := min(size, len(recs))
		out = append(out, recs[:n])
		recs = recs[n:]
	}
	return out
}

// closing returns a payment per partition a day after the last, with
// amount 0, which the pipeline filters out: it moves every partition's
// watermark past the last hour of the input, and so closes that hour.
func (in *scaleOutInput) closing() []*kgo.Record {
	at := in.last.Add(24 * time.Hour).Format(time.RFC3339)
	var out []*kgo.Record
	for p := range scaleOutPartitions {
		v := fmt.Sprintf(`{"payment_id":"end-%d","amount":0,"store_id":"end","card_id":"c","event_time":%q,"tags":[],"device":{"os":"ios"}}`, p, at)
		out = append(out, &kgo.Record{Topic: "payments.v1", Partition: int32(p), Value: []byte(v)})
	}
	return out
}

// want returns the rows the pipeline must write, by revenueRowLine,
// sorted.
func (in *scaleOutInput) want() []string {
	var want []string
	for k, sum := range in.sums {
		avg := sum.DivRound(decimal.NewFromInt(in.counts[k]), 8)
		want = append(want, revenueRowLine(k.hour, k.hour.Add(time.Hour), k.store, sum, in.counts[k], avg))
	}
	slices.Sort(want)
	return want
}

// scaleOutProc is one flowctl process of the pipeline.
type scaleOutProc struct {
	n      int
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
	once   sync.Once
	killed bool
}

func startScaleOutProc(t *testing.T, flowctl, pipeline, dir, addr string, n int) *scaleOutProc {
	t.Helper()
	cmd := exec.Command(flowctl, "run", pipeline,
		"--set", "checkpoint.dir="+filepath.Join(dir, "checkpoints"),
		"--set", "checkpoint.every=200ms",
		"--set", "sources.payments.config.session_timeout=1s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KAFKA_BROKERS="+addr)
	p := &scaleOutProc{n: n, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	return p
}

// kill SIGKILLs the process, if it still runs.
func (p *scaleOutProc) kill() {
	p.once.Do(func() {
		p.killed = true
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
}

// stop stops the process with SIGTERM, which it must end with exit 0,
// unless it was killed.
func (p *scaleOutProc) stop(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("process %d: %v", p.n, err)
			}
		case <-time.After(60 * time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
			t.Errorf("process %d did not stop within 60s of SIGTERM", p.n)
		}
	})
}

func procsLog(procs []*scaleOutProc) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "--- process %d (killed %v)\n%s\n", p.n, p.killed, p.stderr.String())
	}
	return b.String()
}

// committedPartitions returns how many partitions of payments.v1 have an
// offset committed to the pipeline's group.
func committedPartitions(t *testing.T, adm *kadm.Client) int {
	t.Helper()
	resp, err := adm.FetchOffsets(t.Context(), "kafka_revenue_scale_out")
	if err != nil {
		return 0
	}
	n := 0
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == "payments.v1" && o.At > 0 {
			n++
		}
	})
	return n
}

// waitFor polls cond until it holds, failing t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waited %s for %s", timeout, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
