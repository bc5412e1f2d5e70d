package sdktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// commitCase is what checkCommit writes, and where.
type commitCase struct {
	config  []byte
	columns []string
	rows    [][]any
}

// checkCommit drives a sink that implements sdk.Committer as the host
// does over three runs, each a new instance opened with the same config
// and Settings, as after a restart:
//
//  1. On a fresh destination Committed reports 0 and Recover(0)
//     succeeds. The first half of the rows is written, prepared and
//     committed as checkpoint 1, and Commit(1) is repeated (it must be
//     idempotent). The second half is written and prepared as checkpoint
//     2, and the sink is closed without committing it: a crash between
//     Prepare and the checkpoint being written.
//  2. Committed reports 1 or 2 (2 if the staged rows survived), and
//     Recover(1) succeeds, restoring checkpoint 1, the last one written.
//     The second half is written again, prepared and committed under the
//     next id, one more than the id Committed reported, as the host
//     numbers checkpoints after a restart.
//  3. Committed reports that id, and Recover of it succeeds.
//
// What the sink made visible is not checked: the suite cannot read a
// sink's output, and that is for the plugin's own tests.
func checkCommit(t *testing.T, tg target, c commitCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	// The Settings are a sink's identity across runs (a transactional
	// id, a marker row): new for each check, the same in its three runs.
	set := settings(t)
	set.Pipeline = fmt.Sprintf("conformance_%016x", rand.Uint64())
	half := len(c.rows) / 2
	first, second := sdk.Rows{Columns: c.columns, Rows: c.rows[:half]}, sdk.Rows{Columns: c.columns, Rows: c.rows[half:]}

	// Run 1.
	sink, cm := openCommitter(t, ctx, tg, c, set)
	if id := committed(t, ctx, sink, cm); id != 0 {
		closeSink(t, sink)
		t.Fatalf("Committed on a fresh destination = %d, want 0", id)
	}
	steps := []step{
		{"Recover(0)", func() error { return cm.Recover(ctx, 0) }},
		{fmt.Sprintf("Write of %d rows", len(first.Rows)), func() error { return sink.Write(ctx, first) }},
		{"Prepare(1)", func() error { return cm.Prepare(ctx, 1) }},
		{"Commit(1)", func() error { return cm.Commit(ctx, 1) }},
		{"Commit(1) again, which must be idempotent", func() error { return cm.Commit(ctx, 1) }},
		{fmt.Sprintf("Write of %d rows after checkpoint 1", len(second.Rows)), func() error { return sink.Write(ctx, second) }},
		{"Prepare(2)", func() error { return cm.Prepare(ctx, 2) }},
	}
	runSteps(t, sink, steps)
	closeSink(t, sink)
	if t.Failed() {
		return
	}

	// Run 2: checkpoint 2 was prepared but never written by the host.
	sink, cm = openCommitter(t, ctx, tg, c, set)
	id := committed(t, ctx, sink, cm)
	if id != 1 && id != 2 {
		closeSink(t, sink)
		t.Fatalf("after a restart with checkpoint 1 committed and 2 prepared, Committed = %d, want 1 or 2", id)
	}
	next := id + 1
	steps = []step{
		{"Recover(1) after a restart", func() error { return cm.Recover(ctx, 1) }},
		{fmt.Sprintf("Write of %d rows after Recover(1)", len(second.Rows)), func() error { return sink.Write(ctx, second) }},
		{fmt.Sprintf("Prepare(%d)", next), func() error { return cm.Prepare(ctx, next) }},
		{fmt.Sprintf("Commit(%d)", next), func() error { return cm.Commit(ctx, next) }},
	}
	runSteps(t, sink, steps)
	closeSink(t, sink)
	if t.Failed() {
		return
	}

	// Run 3: everything was committed.
	sink, cm = openCommitter(t, ctx, tg, c, set)
	if got := committed(t, ctx, sink, cm); got != next {
		closeSink(t, sink)
		t.Fatalf("after a restart with checkpoint %d committed, Committed = %d, want %d", next, got, next)
	}
	runSteps(t, sink, []step{{fmt.Sprintf("Recover(%d) after a restart", next), func() error { return cm.Recover(ctx, next) }}})
	closeSink(t, sink)
}

// step is one call of checkCommit.
type step struct {
	what string
	call func() error
}

// runSteps makes the calls in order; at the first that fails, it closes
// sink and fails t.
func runSteps(t *testing.T, sink sdk.Sink, steps []step) {
	t.Helper()
	for _, s := range steps {
		if err := s.call(); err != nil {
			closeSink(t, sink)
			t.Fatalf("%s: %v", s.what, err)
		}
	}
}

// openCommitter opens a new sink of tg with the case's config and the
// given Settings, and returns it and its Committer.
func openCommitter(t *testing.T, ctx context.Context, tg target, c commitCase, set sdk.Settings) (sdk.Sink, sdk.Committer) {
	t.Helper()
	sink := tg.newSink()
	cm, ok := sink.(sdk.Committer)
	if !ok {
		t.Fatalf("a sink of the same plugin is a %T, which does not implement sdk.Committer", sink)
	}
	open := func(ctx context.Context, config []byte) error {
		return sink.Open(ctx, sdk.SinkOpenRequest{Config: config, Columns: c.columns, Settings: set})
	}
	openSink(t, ctx, sink, open, c.config)
	return sink, cm
}

// committed returns what Committed reports; if that fails, it closes
// sink and fails t.
func committed(t *testing.T, ctx context.Context, sink sdk.Sink, cm sdk.Committer) uint64 {
	t.Helper()
	id, err := cm.Committed(ctx)
	if err != nil {
		closeSink(t, sink)
		t.Fatalf("Committed: %v", err)
	}
	return id
}
