package kafka

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/sdk"
)

var nCols = []string{"n"}

// nRows returns rows {n} for each n.
func nRows(ns ...int64) [][]any {
	rows := make([][]any, len(ns))
	for i, n := range ns {
		rows[i] = []any{n}
	}
	return rows
}

// visible returns the values of topic a read_committed consumer sees,
// sorted.
func visible(t *testing.T, addr, topic string) []string {
	t.Helper()
	return slices.Sorted(slices.Values(values(consume(t, addr, topic, true))))
}

// nValues renders the values of rows {n} for each n, sorted.
func nValues(ns ...int64) []string {
	var out []string
	for _, n := range ns {
		b, _ := json.Marshal(map[string]int64{"n": n})
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// step calls one method of the commit protocol, failing t if it fails.
func step(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// crash abandons a sink as a crashed process would: its connection goes
// without its transaction being committed or aborted.
func crash(s *Sink) {
	s.cl.Close()
	s.cl = nil
}

// TestTransactional follows a transactional sink through checkpoints:
// prepared rows are in the log but invisible to read_committed consumers
// (franz-go's and kcat's) until Commit; rows written between Prepare and
// Commit wait for the next checkpoint; a crash between Prepare and Commit
// leaves nothing visible, and the next sink with the same transactional
// id reports the last committed checkpoint and goes on from it.
func TestTransactional(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(2, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true})
	s := open(t, cfg, "out", nCols)
	id, err := s.Committed(ctx)
	step(t, "Committed", err)
	if id != 0 {
		t.Errorf("Committed of a new sink = %d, want 0", id)
	}
	step(t, "Recover(0)", s.Recover(ctx, 0))

	write(t, s, nCols, nRows(1, 2)...)
	step(t, "Prepare(1)", s.Prepare(ctx, 1))
	if got := visible(t, addr, "out"); len(got) > 0 {
		t.Errorf("prepared rows are visible: %v", got)
	}
	if got := slices.Sorted(slices.Values(values(consume(t, addr, "out", false)))); !slices.Equal(got, nValues(1, 2)) {
		t.Errorf("read_uncommitted sees %v, want the prepared rows %v", got, nValues(1, 2))
	}
	write(t, s, nCols, nRows(3)...) // after Prepare: for checkpoint 2
	step(t, "Commit(1)", s.Commit(ctx, 1))
	if got, want := visible(t, addr, "out"), nValues(1, 2); !slices.Equal(got, want) {
		t.Errorf("after Commit(1) read_committed sees %v, want %v", got, want)
	}
	step(t, "Prepare(2)", s.Prepare(ctx, 2))
	step(t, "Commit(2)", s.Commit(ctx, 2))
	step(t, "Commit(2) again", s.Commit(ctx, 2))
	if got, want := visible(t, addr, "out"), nValues(1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("after Commit(2) read_committed sees %v, want %v", got, want)
	}
	out := kcat(t, "-C", "-b", addr, "-t", "out", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%s\n")
	if got := slices.Sorted(strings.FieldsSeq(out)); !slices.Equal(got, nValues(1, 2, 3)) {
		t.Errorf("kcat (read_committed) reads %v, want %v", got, nValues(1, 2, 3))
	}

	// A crash between Prepare and Commit.
	write(t, s, nCols, nRows(4, 5)...)
	step(t, "Prepare(3)", s.Prepare(ctx, 3))
	crash(s)
	s2 := open(t, cfg, "out", nCols)
	id, err = s2.Committed(ctx)
	step(t, "Committed after the crash", err)
	if id != 2 {
		t.Errorf("Committed after the crash = %d, want 2", id)
	}
	step(t, "Recover(2)", s2.Recover(ctx, 2))
	if got, want := visible(t, addr, "out"), nValues(1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("after the crash read_committed sees %v, want %v", got, want)
	}
	checkNoOpenTransaction(t, addr, "out")
	write(t, s2, nCols, nRows(4, 5)...)
	step(t, "Prepare(3)", s2.Prepare(ctx, 3))
	step(t, "Commit(3)", s2.Commit(ctx, 3))
	if got, want := visible(t, addr, "out"), nValues(1, 2, 3, 4, 5); !slices.Equal(got, want) {
		t.Errorf("after recovery read_committed sees %v, want %v", got, want)
	}
	var checkpoints []uint64
	for _, r := range consume(t, addr, defaultMarkerTopic, true) {
		var m marker
		if err := json.Unmarshal(r.Value, &m); err != nil || string(r.Key) != "flowctl.test.out" || m.Pipeline != "test" || m.Sink != "out" {
			t.Errorf("marker %s = %s (%v)", r.Key, r.Value, err)
		}
		checkpoints = append(checkpoints, m.Checkpoint)
	}
	if want := []uint64{1, 2, 3}; !slices.Equal(checkpoints, want) {
		t.Errorf("committed markers %v, want %v", checkpoints, want)
	}
}

// checkNoOpenTransaction checks that no transaction holds topic's last
// stable offsets back.
func checkNoOpenTransaction(t *testing.T, addr, topic string) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	lso, err := adm.ListCommittedOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hwm.Offsets(), lso.Offsets()); diff != "" {
		t.Errorf("an open transaction holds %s back (-high watermarks +last stable offsets):\n%s", topic, diff)
	}
}

// TestCrashBeforeAnyCommit crashes a sink with an open transaction before
// its first commit: nothing is visible and the next sink reports 0.
func TestCrashBeforeAnyCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true, "transactional_id": "explicit-id"})
	s := open(t, cfg, "out", nCols)
	write(t, s, nCols, nRows(1)...)
	step(t, "Prepare(1)", s.Prepare(ctx, 1))
	crash(s)
	s2 := open(t, cfg, "out", nCols)
	id, err := s2.Committed(ctx)
	if err != nil || id != 0 {
		t.Errorf("Committed = %d, %v; want 0", id, err)
	}
	if got := visible(t, addr, "out"); len(got) > 0 {
		t.Errorf("read_committed sees %v, want nothing", got)
	}
	checkNoOpenTransaction(t, addr, "out")
}

// TestPrepareTwice prepares twice without a commit between: the open
// transaction then stands for the later checkpoint, and committing the
// earlier one alone is refused.
func TestPrepareTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	s := open(t, config(addr, map[string]any{"topic": "out", "transactional": true}), "out", nCols)
	write(t, s, nCols, nRows(1)...)
	step(t, "Prepare(1)", s.Prepare(ctx, 1))
	write(t, s, nCols, nRows(2)...)
	step(t, "Prepare(2)", s.Prepare(ctx, 2))
	if err := s.Commit(ctx, 1); err == nil || err.Error() != "commit checkpoint 1: the open transaction also holds the rows of checkpoint 2" {
		t.Errorf("Commit(1) = %v", err)
	}
	step(t, "Commit(2)", s.Commit(ctx, 2))
	if got, want := visible(t, addr, "out"), nValues(1, 2); !slices.Equal(got, want) {
		t.Errorf("read_committed sees %v, want %v", got, want)
	}
}

// TestRecoverBehind recovers a sink to a checkpoint before its last
// marker: the rows stay visible, and that is logged.
func TestRecoverBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true})
	s := open(t, cfg, "out", nCols)
	for id := uint64(1); id <= 3; id++ {
		write(t, s, nCols, nRows(int64(id))...)
		step(t, "Prepare", s.Prepare(ctx, id))
		step(t, "Commit", s.Commit(ctx, id))
	}
	step(t, "Close", s.Close(ctx))
	log := &recordingLogger{}
	s2 := &Sink{}
	step(t, "Open", s2.Open(ctx, sdk.SinkOpenRequest{Config: cfg, Columns: nCols, Settings: sdk.Settings{Name: "out", Pipeline: "test", Logger: log}}))
	defer s2.Close(ctx)
	id, err := s2.Committed(ctx)
	if err != nil || id != 3 {
		t.Fatalf("Committed = %d, %v; want 3", id, err)
	}
	step(t, "Recover(1)", s2.Recover(ctx, 1))
	want := []string{"resuming from checkpoint 1, but the rows of checkpoints up to 3 are already in Kafka: those after checkpoint 1 will be written again"}
	if diff := cmp.Diff(want, log.lines); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	step(t, "Commit(2)", s2.Commit(ctx, 2)) // committed again, after Recover
}

// TestMarkerAmongOthers reads the sink's marker back from behind many
// markers of other sinks, and behind another sink's transaction that is
// open when Committed starts and commits a little later.
func TestMarkerAmongOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true})
	s := open(t, cfg, "out", nCols)
	step(t, "Prepare(7)", s.Prepare(ctx, 7))
	step(t, "Commit(7)", s.Commit(ctx, 7))
	var others []*kgo.Record
	for i := range 300 {
		others = append(others, &kgo.Record{Topic: defaultMarkerTopic, Key: []byte("flowctl.other." + string(rune('a'+i%26))), Value: []byte(`{"checkpoint":1}`)})
	}
	if err := client(t, addr).ProduceSync(ctx, others...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	other := client(t, addr, kgo.TransactionalID("flowctl.other.txn"))
	step(t, "Begin", other.BeginTransaction())
	if err := other.ProduceSync(ctx, &kgo.Record{Topic: defaultMarkerTopic, Key: []byte("flowctl.other.txn"), Value: []byte(`{"checkpoint":1}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	step(t, "Prepare(8)", s.Prepare(ctx, 8))
	step(t, "Commit(8)", s.Commit(ctx, 8)) // its marker is behind the open transaction
	s2 := open(t, cfg, "out", nCols)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = other.EndTransaction(context.Background(), kgo.TryCommit)
	}()
	id, err := s2.Committed(ctx)
	if err != nil || id != 8 {
		t.Errorf("Committed = %d, %v; want 8", id, err)
	}
}

// TestNotTransactional follows a sink without transactions through
// checkpoints: rows are visible once flushed, Prepare writes the marker,
// Commit does nothing.
func TestNotTransactional(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	cfg := config(addr, map[string]any{"topic": "out"})
	s := open(t, cfg, "out", nCols)
	write(t, s, nCols, nRows(1, 2)...)
	step(t, "Prepare(5)", s.Prepare(ctx, 5))
	if got, want := visible(t, addr, "out"), nValues(1, 2); !slices.Equal(got, want) {
		t.Errorf("after Prepare read_committed sees %v, want %v", got, want)
	}
	step(t, "Commit(5)", s.Commit(ctx, 5))
	write(t, s, nCols, nRows(3)...)
	crash(s)
	s2 := open(t, cfg, "out", nCols)
	id, err := s2.Committed(ctx)
	if err != nil || id != 5 {
		t.Errorf("Committed = %d, %v; want 5", id, err)
	}
	step(t, "Recover(5)", s2.Recover(ctx, 5))
}

// TestFenced opens a second sink with the same transactional id while the
// first has a transaction open: the first is fenced, its rows are never
// visible, and its Commit fails saying why.
func TestFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(1, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true})
	old := open(t, cfg, "out", nCols)
	write(t, old, nCols, nRows(1)...)
	step(t, "Prepare(1)", old.Prepare(ctx, 1))
	open(t, cfg, "out", nCols)
	err := old.Commit(ctx, 1)
	if err == nil || !strings.HasSuffix(err.Error(), " (the broker aborts a transaction open longer than transaction_timeout, 1m0s, "+
		"and a newer sink with transactional id flowctl.test.out fences this one)") {
		t.Errorf("Commit of a fenced sink = %v", err)
	}
	if got := visible(t, addr, "out"); len(got) > 0 {
		t.Errorf("read_committed sees %v, want nothing", got)
	}
}

// TestSinkID derives the sink's identity, its transactional id and
// marker key, from transactional_id or the pipeline and sink names, and
// the instance.
func TestSinkID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields map[string]any
		set    sdk.Settings
		want   string
	}{
		{"names", nil, sdk.Settings{Pipeline: "p", Name: "out"}, "flowctl.p.out"},
		{"instance", nil, sdk.Settings{Pipeline: "p", Name: "out", Instance: "payments.v1/3"}, "flowctl.p.out.payments.v1/3"},
		{"transactional", map[string]any{"transactional": true}, sdk.Settings{Pipeline: "p", Name: "out", Instance: "payments.v1/3"},
			"flowctl.p.out.payments.v1/3"},
		{"backfill slice", nil, sdk.Settings{Pipeline: "p", Name: "out", Instance: "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"},
			"flowctl.p.out.2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"},
		{"explicit", map[string]any{"transactional_id": "mine"}, sdk.Settings{Pipeline: "p", Name: "out"}, "mine"},
		{"explicit instance", map[string]any{"transactional_id": "mine", "transactional": true},
			sdk.Settings{Pipeline: "p", Name: "out", Instance: "payments.v1/3"}, "mine.payments.v1/3"},
		{"no pipeline", nil, sdk.Settings{Name: "out", Instance: "i"}, "flowctl.out.i"},
		{"no pipeline, transactional", map[string]any{"transactional": true}, sdk.Settings{Name: "out", Instance: "i"},
			"transactional_id: the host gave no pipeline name to derive the transactional id from; set transactional_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fields := map[string]any{"topic": "out"}
			maps.Copy(fields, tt.fields)
			cfg, diags := parseConfig(config("h:1", fields))
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			got, err := sinkID(cfg, tt.set)
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("sinkID = %q, want %q", got, tt.want)
			}
		})
	}
}

// openInstance opens a sink of the pipeline "test" named "out" as an
// instance, closed when t ends.
func openInstance(t *testing.T, cfg []byte, instance string) *Sink {
	t.Helper()
	s := &Sink{}
	req := sdk.SinkOpenRequest{Config: cfg, Columns: nCols,
		Settings: sdk.Settings{Name: "out", Pipeline: "test", Instance: instance, Logger: testLogger{t}}}
	if err := s.Open(context.Background(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open %s: %v", instance, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// TestInstances runs transactional sinks of one pipeline as the
// partitions of a scaled-out pipeline do: instances side by side do not
// fence each other, each has its own marker, and a new sink of an
// instance fences only the one that had it, whose open transaction is
// aborted.
func TestInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := cluster(t, kfake.SeedTopics(2, "out"))
	cfg := config(addr, map[string]any{"topic": "out", "transactional": true})
	p0 := openInstance(t, cfg, "payments.v1/0")
	write(t, p0, nCols, nRows(1)...)
	step(t, "p0 Prepare(1)", p0.Prepare(ctx, 1))
	p1 := openInstance(t, cfg, "payments.v1/1") // would fence p0 with the same id
	write(t, p1, nCols, nRows(2)...)
	step(t, "p1 Prepare(1)", p1.Prepare(ctx, 1))
	step(t, "p0 Commit(1)", p0.Commit(ctx, 1))
	step(t, "p1 Commit(1)", p1.Commit(ctx, 1))
	write(t, p1, nCols, nRows(3)...)
	step(t, "p1 Prepare(2)", p1.Prepare(ctx, 2))
	step(t, "p1 Commit(2)", p1.Commit(ctx, 2))
	if got, want := visible(t, addr, "out"), nValues(1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("read_committed sees %v, want %v", got, want)
	}

	// p1's partition moves to another process while a transaction is
	// open: the new sink fences p1 and aborts it; p0 goes on.
	write(t, p1, nCols, nRows(4)...)
	step(t, "p1 Prepare(3)", p1.Prepare(ctx, 3))
	taken := openInstance(t, cfg, "payments.v1/1")
	if err := p1.Commit(ctx, 3); err == nil || !strings.Contains(err.Error(), "a newer sink with transactional id flowctl.test.out.payments.v1/1 fences this one") {
		t.Errorf("Commit of the fenced instance = %v", err)
	}
	write(t, p0, nCols, nRows(5)...)
	step(t, "p0 Prepare(2)", p0.Prepare(ctx, 2))
	step(t, "p0 Commit(2)", p0.Commit(ctx, 2))
	for _, c := range []struct {
		s    *Sink
		want uint64
	}{{taken, 2}, {openInstance(t, cfg, "payments.v1/0"), 2}, {openInstance(t, cfg, "payments.v1/2"), 0}} {
		if got, err := c.s.Committed(ctx); err != nil || got != c.want {
			t.Errorf("Committed of %s = %d, %v; want %d", c.s.id, got, err, c.want)
		}
	}
	if got, want := visible(t, addr, "out"), nValues(1, 2, 3, 5); !slices.Equal(got, want) {
		t.Errorf("read_committed sees %v, want %v", got, want)
	}
	keys := map[string]bool{}
	for _, r := range consume(t, addr, defaultMarkerTopic, true) {
		keys[string(r.Key)] = true
	}
	if diff := cmp.Diff(map[string]bool{"flowctl.test.out.payments.v1/0": true, "flowctl.test.out.payments.v1/1": true}, keys); diff != "" {
		t.Errorf("marker keys (-want +got):\n%s", diff)
	}
}
