package parquet

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// openInstance opens a sink of pipeline "test", sink "lake", as the given
// instance, and starts a fresh run (Recover(0)).
func openInstance(t *testing.T, dir, instance string) *Sink {
	t.Helper()
	b, err := json.Marshal(map[string]any{"path": dir})
	must(t, err)
	s := Plugin().NewSink().(*Sink)
	must(t, s.Open(context.Background(), sdk.SinkOpenRequest{
		Config: b, Columns: idCols,
		Settings: sdk.Settings{Name: "lake", Pipeline: "test", Instance: instance, Logger: testLogger{t}},
	}))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	must(t, s.Recover(context.Background(), 0))
	return s
}

// stage writes rows and prepares checkpoint id.
func stage(t *testing.T, s *Sink, id uint64, rows ...[]any) {
	t.Helper()
	must(t, s.Write(context.Background(), sdk.Rows{Columns: idCols, Rows: rows}))
	must(t, s.Prepare(context.Background(), id))
}

// TestInstances: instances of one pipeline's sink are writers of their
// own. They write one table side by side, a fresh run of one replaces
// only that instance's rows, and one starting up leaves the files
// another has staged alone.
func TestInstances(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()

	a, b := openInstance(t, dir, "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"), openInstance(t, dir, "2026-03-02T00:00:00Z/2026-03-03T00:00:00Z")
	stage(t, a, 1, row(1, "a"), row(2, "a"))
	stage(t, b, 1, row(3, "b"))
	must(t, a.Commit(ctx, 1))
	// b's staged checkpoint survives another instance's fresh start.
	plain := openInstance(t, dir, "")
	must(t, b.Commit(ctx, 1))
	checkIDs(t, dir, "1=a", "2=a", "3=b")

	stage(t, plain, 1, row(5, "plain"))
	must(t, plain.Commit(ctx, 1))
	checkIDs(t, dir, "1=a", "2=a", "3=b", "5=plain")

	// A rerun of the first instance replaces its rows, and only them.
	again := openInstance(t, dir, "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z")
	stage(t, again, 2, row(4, "a2"))
	must(t, again.Commit(ctx, 2))
	checkIDs(t, dir, "3=b", "4=a2", "5=plain")

	// So does a rerun of the pipeline without an instance.
	plain2 := openInstance(t, dir, "")
	stage(t, plain2, 2, row(6, "plain2"))
	must(t, plain2.Commit(ctx, 2))
	checkIDs(t, dir, "3=b", "4=a2", "6=plain2")
}

func TestWriterName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  sdk.Settings
		want string
	}{
		{sdk.Settings{Pipeline: "p", Name: "s"}, "p/s"},
		{sdk.Settings{Pipeline: "p", Name: "s", Instance: "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"}, "p/s#2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"},
		{sdk.Settings{Name: "s"}, "s"},
		{sdk.Settings{Name: "s", Instance: "i"}, "s#i"},
		{sdk.Settings{}, "flowctl"},
		{sdk.Settings{Instance: "i"}, "flowctl#i"},
	} {
		if got := writerName(tc.set); got != tc.want {
			t.Errorf("writerName(%+v) = %q, want %q", tc.set, got, tc.want)
		}
	}
}
