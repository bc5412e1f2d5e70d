package parquet

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
)

var idCols = []string{"id", "v"}

func row(id int64, v string) []any { return []any{id, v} }

// ids reads the committed table with arrow-go and returns "id=v" of
// each row, sorted.
func ids(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, r := range readTable(t, dir, "id") {
		out = append(out, strings.TrimSpace(func() string {
			b, _ := json.Marshal(r["id"])
			return string(b) + "=" + r["v"].(string)
		}()))
	}
	slices.Sort(out)
	return out
}

func checkIDs(t *testing.T, dir string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, ids(t, dir)); diff != "" {
		t.Errorf("committed rows (-want +got):\n%s", diff)
	}
}

// hidden lists the files under dir whose names start with prefix,
// relative to dir.
func hidden(t *testing.T, dir, prefix string) []string {
	t.Helper()
	var out []string
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	}))
	return out
}

// crashAfterPrepare runs a sink that commits checkpoint 1, prepares
// checkpoint 2, writes rows for checkpoint 3 and then crashes (is
// abandoned without Close).
func crashAfterPrepare(t *testing.T, dir string, o opts) {
	t.Helper()
	ctx := context.Background()
	s := openSink(t, dir, o)
	must(t, s.Recover(ctx, 0))
	checkpoint(t, s, 1, idCols, row(1, "a"), row(2, "a"))
	must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(3, "b")}}))
	must(t, s.Prepare(ctx, 2))
	must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(4, "c")}}))
	// The file of checkpoint 3 is open: force some of it to disk.
	for _, fw := range s.files {
		if fw.w == nil {
			must(t, fw.start())
		}
	}
}

func TestCrashAfterPrepare(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		restore uint64 // the checkpoint the host restores
		want    []string
		next    uint64
	}{
		{"commit-staged", 2, []string{"1=a", "2=a", "3=b"}, 2},
		{"discard-staged", 1, []string{"1=a", "2=a"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			crashAfterPrepare(t, dir, opts{columns: idCols})

			// A reader following the log sees checkpoint 1 only.
			checkIDs(t, dir, "1=a", "2=a")
			if got := hidden(t, dir, ".staged-"); len(got) != 2 {
				t.Errorf("staged files %v, want those of checkpoints 2 and 3", got)
			}

			s := openSink(t, dir, opts{columns: idCols})
			id, err := s.Committed(ctx)
			must(t, err)
			if id != 2 {
				t.Errorf("Committed = %d, want 2 (staged durably)", id)
			}
			must(t, s.Recover(ctx, c.restore))
			checkIDs(t, dir, c.want...)
			if got := hidden(t, dir, ".staged-"); len(got) != 0 {
				t.Errorf("staged files left after Recover: %v", got)
			}
			if got := hidden(t, filepath.Join(dir, "_flowctl_log", "_staging"), ""); len(got) != 0 {
				t.Errorf("staging records left after Recover: %v", got)
			}
			checkpoint(t, s, c.restore+1, idCols, row(5, "d"))
			must(t, s.Close(ctx))
			checkIDs(t, dir, append(c.want, "5=d")...)

			s = openSink(t, dir, opts{columns: idCols})
			id, err = s.Committed(ctx)
			must(t, err)
			if id != c.restore+1 {
				t.Errorf("Committed after the next run = %d, want %d", id, c.restore+1)
			}
			must(t, s.Close(ctx))
		})
	}
}

// TestCrashMidCommit stops a commit after its files got their final
// names but before its log entry: readers do not see them, and Recover
// finishes or undoes the commit.
func TestCrashMidCommit(t *testing.T) {
	t.Parallel()
	for _, restore := range []uint64{1, 2} {
		t.Run(strconv.FormatUint(restore, 10), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			s := openSink(t, dir, opts{columns: idCols})
			checkpoint(t, s, 1, idCols, row(1, "a"))
			must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(2, "b")}}))
			must(t, s.Prepare(ctx, 2))
			for _, f := range s.staged[0].Add {
				must(t, os.Rename(s.abs(f.Staged), s.abs(f.Path)))
			}
			// And a log entry half written to its temporary file.
			must(t, os.WriteFile(filepath.Join(dir, "_flowctl_log", ".00000000000000000001.json.tmp-42"), []byte(`{"version": 1, "add": [{"pa`), 0o644))
			checkIDs(t, dir, "1=a")

			s = openSink(t, dir, opts{columns: idCols})
			must(t, s.Recover(ctx, restore))
			want := []string{"1=a", "2=b"}[:restore]
			checkIDs(t, dir, want...)
			checkpoint(t, s, restore+1, idCols, row(3, "c"))
			must(t, s.Close(ctx))
			checkIDs(t, dir, append(want, "3=c")...)
			parts, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
			must(t, err)
			if len(parts) != len(want)+1 {
				t.Errorf("%d data files on disk, want %d: %v", len(parts), len(want)+1, parts)
			}
		})
	}
}

// TestRollback restores a checkpoint before the last commit, as the host
// does when another sink did not commit it.
func TestRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	o := opts{columns: idCols, key: []string{"id"}}
	s := openSink(t, dir, o)
	must(t, s.Recover(ctx, 0))
	checkpoint(t, s, 1, idCols, row(1, "a"), row(2, "a"))
	checkpoint(t, s, 2, idCols, row(2, "b"), row(3, "b"))
	checkIDs(t, dir, "1=a", "2=b", "3=b")

	s = openSink(t, dir, o)
	must(t, s.Recover(ctx, 1))
	checkIDs(t, dir, "1=a", "2=a")
	if id, err := s.Committed(ctx); err != nil || id != 1 {
		t.Errorf("Committed = %d, %v; want 1", id, err)
	}
	checkpoint(t, s, 2, idCols, row(2, "c"))
	must(t, s.Close(ctx))
	checkIDs(t, dir, "1=a", "2=c")
}

func TestUpsert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cols := []string{"day", "id", "v"}
	o := opts{columns: cols, key: []string{"day", "id"}, config: map[string]any{"partition_by": []any{"day"}}}
	s := openSink(t, dir, o)
	must(t, s.Recover(ctx, 0))
	checkpoint(t, s, 1, cols,
		[]any{"d1", int64(1), "a"}, []any{"d1", int64(2), "a"}, []any{"d2", int64(1), "a"},
		[]any{"d1", int64(2), "a2"}) // the later row wins within a checkpoint too
	first := liveFiles(t, dir)
	checkpoint(t, s, 2, cols, []any{"d1", int64(2), "b"}, []any{"d1", int64(3), "b"})
	must(t, s.Close(ctx))

	want := []map[string]any{
		{"day": "d1", "id": int64(1), "v": "a"},
		{"day": "d1", "id": int64(2), "v": "b"},
		{"day": "d1", "id": int64(3), "v": "b"},
		{"day": "d2", "id": int64(1), "v": "a"},
	}
	read := func() []map[string]any {
		rows := readTable(t, dir, "v")
		slices.SortFunc(rows, func(a, b map[string]any) int {
			return strings.Compare(a["day"].(string)+a["v"].(string)+string(rune('0'+a["id"].(int64))), b["day"].(string)+b["v"].(string)+string(rune('0'+b["id"].(int64))))
		})
		return rows
	}
	sortWant := func() {
		slices.SortFunc(want, func(a, b map[string]any) int {
			return strings.Compare(a["day"].(string)+a["v"].(string)+string(rune('0'+a["id"].(int64))), b["day"].(string)+b["v"].(string)+string(rune('0'+b["id"].(int64))))
		})
	}
	sortWant()
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("after two commits (-want +got):\n%s", diff)
	}
	// Partition d2 was not touched: its file is the same. d1 was
	// rewritten, and its old file deleted from disk at Close.
	now := liveFiles(t, dir)
	for _, f := range first {
		kept := slices.Contains(now, f)
		if strings.HasPrefix(f, "day=d2/") != kept {
			t.Errorf("file %s kept = %v", f, kept)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); (err == nil) != kept {
			t.Errorf("file %s on disk: %v", f, err)
		}
	}

	// A rerun of the same rows (a fresh run, as a backfill is) leaves the
	// same rows.
	s = openSink(t, dir, o)
	must(t, s.Recover(ctx, 0))
	checkpoint(t, s, 1, cols, []any{"d1", int64(2), "b"}, []any{"d1", int64(3), "b"})
	must(t, s.Close(ctx))
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("after a rerun (-want +got):\n%s", diff)
	}
}

// TestFreshRun checks what a run without a checkpoint does with an
// earlier run's rows, and that it never touches another writer's.
func TestFreshRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode string
		want []string
	}{
		{"replace", []string{"1=other", "3=second"}},
		{"append", []string{"1=other", "2=first", "3=second"}},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			o := opts{columns: idCols, config: map[string]any{"fresh_run": c.mode}}
			other := openSink(t, dir, opts{columns: idCols, name: "other"})
			checkpoint(t, other, 1, idCols, row(1, "other"))
			must(t, other.Close(ctx))

			s := openSink(t, dir, o)
			must(t, s.Recover(ctx, 0))
			checkpoint(t, s, 1, idCols, row(2, "first"))
			must(t, s.Close(ctx))

			s = openSink(t, dir, o)
			must(t, s.Recover(ctx, 0))
			must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(3, "second")}}))
			must(t, s.Prepare(ctx, 1))
			// Until the new run commits, readers see the old rows.
			checkIDs(t, dir, "1=other", "2=first")
			must(t, s.Commit(ctx, 1))
			must(t, s.Close(ctx))
			checkIDs(t, dir, c.want...)
		})
	}
}

func TestCommitIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openSink(t, dir, opts{columns: idCols})
	must(t, s.Recover(ctx, 0))
	must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(1, "a")}}))
	must(t, s.Prepare(ctx, 1))
	must(t, s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(2, "b")}}))
	must(t, s.Prepare(ctx, 2))
	must(t, s.Commit(ctx, 2)) // commits 1 and 2
	must(t, s.Commit(ctx, 2))
	must(t, s.Commit(ctx, 1))
	if err := s.Prepare(ctx, 2); err == nil {
		t.Error("Prepare of an old checkpoint succeeded")
	}
	must(t, s.Close(ctx))
	checkIDs(t, dir, "1=a", "2=b")
	if n := len(liveFiles(t, dir)); n != 2 {
		t.Errorf("%d files", n)
	}
}

// TestConcurrentWriters has two writers commit to one table at once; the
// log gets every entry exactly once.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := openSink(t, dir, opts{columns: idCols, name: "a"})
	b := openSink(t, dir, opts{columns: idCols, name: "b"})
	errs := make(chan error, 2)
	for i, s := range []*Sink{a, b} {
		go func() {
			var err error
			for id := uint64(1); id <= 10 && err == nil; id++ {
				err = s.Write(ctx, sdk.Rows{Columns: idCols, Rows: [][]any{row(int64(i*100)+int64(id), "x")}})
				if err == nil {
					err = s.Prepare(ctx, id)
				}
				if err == nil {
					err = s.Commit(ctx, id)
				}
			}
			errs <- errors.Join(err, s.Close(ctx))
		}()
	}
	must(t, <-errs)
	must(t, <-errs)
	if n := len(ids(t, dir)); n != 20 {
		t.Errorf("%d rows, want 20", n)
	}
}
