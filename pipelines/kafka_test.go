package pipelines_test

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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	runexec "github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// The topics of pipelines/kafka_hourly_revenue.yaml.
const (
	paymentsTopic = "payments.v1"
	revenueTopic  = "hourly_revenue.v1"
)

// payment is one generated payment: its kcat input line and, if the
// pipeline counts it, what it adds to its store's hour.
type payment struct {
	line   string          // "key:value" for kcat -K:
	bad    bool            // rejected by the schema: dead-lettered
	counts bool            // passes the schema and the filter
	store  string          // upper(trim(store_id))
	amount decimal.Decimal // exact
	at     time.Time
}

// genPayments makes n payments from start on, about 12 seconds of event
// time apart and up to 3 minutes out of order (less than the pipeline's
// 5-minute lateness, so none is late in any mode). Event times are RFC
// 3339 text or epoch milliseconds; store ids vary in case and spaces.
// About one in 25 is filtered out (amount not positive, no store) and one
// in 50 is dead-lettered (no card_id, or not JSON).
func genPayments(r *rand.Rand, n int, start time.Time) []payment {
	stores := []string{"s01", " S02", "s03 ", "S04", "s05", "s06", "S07", "s08"}
	channels := []any{"web", "pos", nil}
	out := make([]payment, 0, n)
	for i := range n {
		store := stores[r.IntN(len(stores))]
		p := payment{
			store:  strings.ToUpper(strings.TrimSpace(store)),
			amount: decimal.New(int64(1+r.IntN(50000)), -2),
			at:     start.Add(time.Duration(i)*12*time.Second - time.Duration(r.IntN(180_000))*time.Millisecond).UTC(),
			counts: true,
		}
		v := map[string]any{
			"payment_id": fmt.Sprintf("p-%06d", i),
			"store_id":   store,
			"card_id":    fmt.Sprintf("c-%04d", r.IntN(3000)),
			"event_time": p.at.Format(time.RFC3339Nano),
			"tags":       []string{"t" + fmt.Sprint(r.IntN(3))},
			"device":     map[string]any{"os": "android", "version": r.IntN(15)},
		}
		if r.IntN(4) == 0 {
			v["event_time"] = p.at.UnixMilli()
			p.at = p.at.Truncate(time.Millisecond)
		}
		if ch := channels[r.IntN(len(channels))]; ch != nil || r.IntN(2) == 0 {
			v["channel"] = ch
		}
		switch k := r.IntN(100); {
		case k < 2: // not positive: filtered out
			p.amount, p.counts = decimal.New(-int64(r.IntN(500)), -2), false
		case k < 4: // no store: filtered out
			v["store_id"], p.counts = "", false
		case k < 5: // no card_id: dead-lettered by the schema
			delete(v, "card_id")
			p.bad, p.counts = true, false
		}
		v["amount"] = json.Number(p.amount.StringFixed(2))
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		p.line = strings.ToLower(strings.TrimSpace(store)) + ":" + string(b)
		if r.IntN(100) == 0 { // not JSON: dead-lettered
			p.line, p.bad, p.counts = "s01:{not json", true, false
		}
		out = append(out, p)
	}
	return out
}

// hourlyReference computes the pipeline's rows by brute force, one line
// each: window start and end, store, revenue, orders, average ticket.
func hourlyReference(ps []payment) []string {
	type key struct {
		hour  time.Time
		store string
	}
	sums, counts := map[key]decimal.Decimal{}, map[key]int64{}
	for _, p := range ps {
		if !p.counts {
			continue
		}
		k := key{p.at.Truncate(time.Hour), p.store}
		sums[k] = sums[k].Add(p.amount)
		counts[k]++
	}
	var out []string
	for k, sum := range sums {
		avg := sum.DivRound(decimal.NewFromInt(counts[k]), 2+6) // avg keeps the scale plus 6 digits
		out = append(out, revenueLine(k.hour, k.hour.Add(time.Hour), k.store, sum, counts[k], avg))
	}
	slices.Sort(out)
	return out
}

func revenueLine(start, end time.Time, store string, revenue decimal.Decimal, orders int64, avg decimal.Decimal) string {
	return fmt.Sprintf("%s %s %s revenue=%s orders=%d avg=%s", start.Format(time.RFC3339), end.Format(time.RFC3339), store, revenue, orders, avg)
}

// dead counts the payments the schema rejects.
func dead(ps []payment) int64 {
	var n int64
	for _, p := range ps {
		if p.bad {
			n++
		}
	}
	return n
}

// paymentsCluster starts a one-broker kfake cluster on 127.0.0.1 with
// payments.v1 in the given number of partitions and hourly_revenue.v1 in
// 3, and returns its address.
func paymentsCluster(t testing.TB, partitions int32) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, paymentsTopic), kfake.SeedTopics(3, revenueTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// kcat runs Debian's kcat with args and stdin and returns its output.
// Without kcat the test is skipped, or fails under CI=true, where
// scripts/ci-kafka-tools.sh installs it.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not on PATH (CI=true): run scripts/ci-kafka-tools.sh")
		}
		t.Skip("kcat is not on PATH; install it with scripts/ci-kafka-tools.sh (Debian's kcat)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// producePayments writes the payments to payments.v1 with kcat, keyed by
// store, as the README tells users to.
func producePayments(t *testing.T, addr string, ps []payment) {
	t.Helper()
	var in strings.Builder
	for _, p := range ps {
		in.WriteString(p.line + "\n")
	}
	kcat(t, in.String(), "-P", "-b", addr, "-t", paymentsTopic, "-K:")
}

// hourlyPlan compiles pipelines/kafka_hourly_revenue.yaml against the
// broker at addr, in mode, checkpointing into dir, with extra overrides.
func hourlyPlan(t *testing.T, addr string, mode config.Mode, dir string, sets ...string) *plan.Plan {
	t.Helper()
	sets = append([]string{
		"checkpoint.dir=" + dir,
		"checkpoint.every=200ms",
		"dead_letter.config.path=" + filepath.Join(dir, "dead.jsonl"),
	}, sets...)
	p, ds := config.LoadFileWith("kafka_hourly_revenue.yaml", config.Options{
		Sets: sets,
		LookupEnv: func(name string) (string, bool) {
			if name == "KAFKA_BROKERS" {
				return addr, true
			}
			return "", false
		},
	})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	pl, ds := plan.Compile(p, newCatalog(t), mode)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	return pl
}

// runHourly runs a plan made by hourlyPlan with its checkpoints, failing
// t if the run fails.
func runHourly(ctx context.Context, t *testing.T, pl *plan.Plan, opts runexec.Options) runexec.Summary {
	t.Helper()
	var log bytes.Buffer
	opts.Stderr, opts.Checkpoints = &log, checkpoint.NewDir(pl.CheckpointDir())
	sum, err := runexec.Run(ctx, pl, opts)
	if err != nil {
		t.Fatalf("%s run: %v\n%s", pl.Mode, err, log.String())
	}
	return sum
}

// committed reads every record of topic a read_committed consumer sees,
// with franz-go, up to the topic's last stable offsets.
func committed(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("last stable offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v; %d records read, still to read up to %v", topic, ctx.Err(), len(out), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

// revenueColumns are the columns of the window operator's rows, in order.
var revenueColumns = []string{"window_start", "window_end", "store", "revenue", "orders", "avg_ticket"}

// revenueLines renders the records of hourly_revenue.v1 as
// hourlyReference does, sorted, after checking that each value has the
// window operator's columns in order and each key is its window start
// and store.
func revenueLines(t *testing.T, recs []*kgo.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		at := fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
		if cols := columnsOf(r.Value); !slices.Equal(cols, revenueColumns) {
			t.Fatalf("%s: columns %v, want %v", at, cols, revenueColumns)
		}
		var row struct {
			WindowStart time.Time       `json:"window_start"`
			WindowEnd   time.Time       `json:"window_end"`
			Store       string          `json:"store"`
			Revenue     decimal.Decimal `json:"revenue"`
			Orders      int64           `json:"orders"`
			AvgTicket   decimal.Decimal `json:"avg_ticket"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v: %s", at, err, r.Value)
		}
		if want := fmt.Sprintf(`{"window_start":%q,"store":%q}`, row.WindowStart.Format(time.RFC3339), row.Store); string(r.Key) != want {
			t.Errorf("%s: key %s, want %s", at, r.Key, want)
		}
		out = append(out, revenueLine(row.WindowStart, row.WindowEnd, row.Store, row.Revenue, row.Orders, row.AvgTicket))
	}
	slices.Sort(out)
	return out
}

// columnsOf returns the keys of a JSON object in the order written.
func columnsOf(value []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(value))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var cols []string
	for dec.More() {
		name, err := dec.Token()
		var skip json.RawMessage
		if err != nil || dec.Decode(&skip) != nil {
			return cols
		}
		cols = append(cols, name.(string))
	}
	return cols
}

// checkRevenue compares what read_committed consumers see in
// hourly_revenue.v1 with the reference: every row once.
func checkRevenue(t *testing.T, addr string, want []string) []*kgo.Record {
	t.Helper()
	recs := committed(t, addr, revenueTopic)
	if got := revenueLines(t, recs); !slices.Equal(got, want) {
		t.Fatalf("hourly_revenue.v1 has %d rows, the reference %d (-want +got):\n%s", len(got), len(want), cmp.Diff(want, got))
	}
	return recs
}

// TestKafkaHourlyRevenue runs the Kafka example over payments produced
// by kcat, in each mode, reading the topic to its end (bounded), and
// compares what read_committed consumers see of hourly_revenue.v1 with
// revenue computed by brute force from the input. kcat reads the output
// too, as the README tells users to.
//
// payments.v1 has one partition here: with several, stream and
// micro-batch runs call records late that are not (see
// TestKafkaUnreadPartitionsHoldWatermark).
func TestKafkaHourlyRevenue(t *testing.T) {
	bounded := "sources.payments.config.bounded=true"
	tests := []struct {
		mode config.Mode
		sets []string
	}{
		{config.Stream, []string{bounded}},
		{config.MicroBatch, []string{bounded, "trigger.every=10ms", "trigger.max_records=400"}},
		{config.Batch, nil}, // a batch run makes the source bounded

	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			addr := paymentsCluster(t, 1)
			ps := genPayments(rand.New(rand.NewPCG(5, uint64(len(tt.mode)))), 3000, time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC))
			producePayments(t, addr, ps)
			want := hourlyReference(ps)
			sum := runHourly(t.Context(), t, hourlyPlan(t, addr, tt.mode, t.TempDir(), tt.sets...), runexec.Options{})
			if sum.Read != int64(len(ps)) || sum.DeadLettered != dead(ps) || sum.Late != 0 || sum.Written != int64(len(want)) {
				t.Errorf("summary: read %d, dead-lettered %d, late %d, wrote %d; want %d, %d, 0, %d",
					sum.Read, sum.DeadLettered, sum.Late, sum.Written, len(ps), dead(ps), len(want))
			}
			if tt.mode == config.MicroBatch && sum.Triggers < int64(len(ps)/400) {
				t.Errorf("%d triggers, want at least %d", sum.Triggers, len(ps)/400)
			}
			recs := checkRevenue(t, addr, want)
			var values []string
			for _, r := range recs {
				values = append(values, fmt.Sprintf("%s\t%s", r.Key, r.Value))
			}
			slices.Sort(values)
			out := kcat(t, "", "-C", "-b", addr, "-t", revenueTopic, "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%k\t%s\n")
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			slices.Sort(got)
			if diff := cmp.Diff(values, got); diff != "" {
				t.Errorf("kcat (read_committed) reads other records than franz-go (-franz-go +kcat):\n%s", diff)
			}
		})
	}
}

// TestKafkaHourlyRevenueStopped stops an unbounded stream run once it has
// read the first half of the payments, produces the second half, and
// resumes bounded from the checkpoint: the hours still open at the stop
// carry on, and the output holds every row of the reference once.
func TestKafkaHourlyRevenueStopped(t *testing.T) {
	t.Parallel()
	addr := paymentsCluster(t, 1)
	ps := genPayments(rand.New(rand.NewPCG(6, 6)), 3000, time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC))
	first, second := ps[:len(ps)/2], ps[len(ps)/2:]
	producePayments(t, addr, first)
	dir := t.TempDir()

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	sum := runHourly(ctx, t, hourlyPlan(t, addr, config.Stream, dir), runexec.Options{
		ProgressEvery: 5 * time.Millisecond,
		Progress: func(s runexec.Summary) {
			if s.Read >= int64(len(first)) {
				stop()
			}
		},
	})
	if !sum.Stopped || sum.Read != int64(len(first)) || sum.Written == 0 {
		t.Fatalf("first run: stopped %v, read %d, wrote %d; want stopped after reading %d and writing some rows", sum.Stopped, sum.Read, sum.Written, len(first))
	}
	full := hourlyReference(ps)
	if got := revenueLines(t, committed(t, addr, revenueTopic)); len(got) != int(sum.Written) || len(got) >= len(full) {
		t.Fatalf("after the stop read_committed consumers see %d rows; the run wrote %d, the whole input makes %d", len(got), sum.Written, len(full))
	}

	producePayments(t, addr, second)
	sum = runHourly(t.Context(), t, hourlyPlan(t, addr, config.Stream, dir, "sources.payments.config.bounded=true"), runexec.Options{})
	if sum.Read != int64(len(second)) || sum.Late != 0 {
		t.Errorf("resumed run: read %d, late %d; want %d, 0", sum.Read, sum.Late, len(second))
	}
	checkRevenue(t, addr, full)
}

// TestKafkaUnreadPartitionsHoldWatermark reads a backlog of three
// partitions in stream and micro-batch mode. Its disorder is within the
// lateness, so no record may be late and the output must equal the
// reference. The kafka source hands over each fetched partition's records
// one partition after the other; without its declaring the partitions it
// will read (sdk.Batch.Partitions), the first partition alone would move
// the watermark hours ahead and the others' records would all be late.
func TestKafkaUnreadPartitionsHoldWatermark(t *testing.T) {
	for _, mode := range []config.Mode{config.Stream, config.MicroBatch} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			addr := paymentsCluster(t, 3)
			ps := genPayments(rand.New(rand.NewPCG(7, 7)), 3000, time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC))
			producePayments(t, addr, ps)
			sum := runHourly(t.Context(), t, hourlyPlan(t, addr, mode, t.TempDir(), "sources.payments.config.bounded=true", "trigger.every=10ms"), runexec.Options{})
			if sum.Late != 0 {
				t.Errorf("%d records late, want none", sum.Late)
			}
			checkRevenue(t, addr, hourlyReference(ps))
		})
	}
}

// TestKafkaBatchEnds runs the example in batch mode without `bounded`:
// a Kafka source in a batch run (sdk.OpenRequest.Bounded) reads up to the
// end offsets found when the run starts and then ends.
func TestKafkaBatchEnds(t *testing.T) {
	t.Parallel()
	addr := paymentsCluster(t, 1)
	ps := genPayments(rand.New(rand.NewPCG(8, 8)), 500, time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC))
	producePayments(t, addr, ps)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	sum := runHourly(ctx, t, hourlyPlan(t, addr, config.Batch, t.TempDir()), runexec.Options{})
	if sum.Stopped || sum.Read != int64(len(ps)) {
		t.Fatalf("batch run: stopped %v after reading %d of %d records; want it to end by itself", sum.Stopped, sum.Read, len(ps))
	}
	checkRevenue(t, addr, hourlyReference(ps))
}
