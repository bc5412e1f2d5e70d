package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

func nRows(from, to int64) sdk.Rows {
	r := sdk.Rows{Columns: []string{"n"}}
	for i := from; i < to; i++ {
		r.Rows = append(r.Rows, []any{i})
	}
	return r
}

func lines(from, to int64) string {
	var s string
	for i := from; i < to; i++ {
		s += `{"n":` + itoa(i) + "}\n"
	}
	return s
}

func itoa(i int64) string { return string(sdk.AppendJSON(nil, i)) }

// reopen is a restarted run: a new sink on the same file that reports what
// it committed and recovers to id.
func reopen(t *testing.T, path string, wantCommitted, id uint64) *Sink {
	t.Helper()
	s := Plugin().NewSink().(*Sink)
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(config(path, ""))}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Committed(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got != wantCommitted {
		t.Errorf("Committed = %d, want %d", got, wantCommitted)
	}
	if err := s.Recover(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	return s
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("file holds\n%s\nwant\n%s", got, want)
	}
}

func write(t *testing.T, s *Sink, rows sdk.Rows) {
	t.Helper()
	if err := s.Write(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
}

func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// crash leaves the sink after checkpoint 1 committed, with rows
		// 10..20 written and maybe prepared (2) and committed.
		prepare2, commit2 bool
		recoverTo         uint64
		committed         uint64
		want              string
	}{
		{"crash before prepare", false, false, 1, 1, lines(0, 10)},
		{"crash after prepare, checkpoint lost", true, false, 1, 2, lines(0, 10)},
		{"crash after prepare, checkpoint saved", true, false, 2, 2, lines(0, 20)},
		{"crash after commit", true, true, 2, 2, lines(0, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "out.jsonl")
			s := openSink(t, config(path, ""))
			write(t, s, nRows(0, 10))
			commit(t, s, 1)
			write(t, s, nRows(10, 20))
			if tt.prepare2 {
				if err := s.Prepare(t.Context(), 2); err != nil {
					t.Fatal(err)
				}
			}
			if tt.commit2 {
				if err := s.Commit(t.Context(), 2); err != nil {
					t.Fatal(err)
				}
			}
			write(t, s, nRows(100, 110)) // never prepared: lost with the crash
			_ = s.Close(t.Context())

			s = reopen(t, path, tt.committed, tt.recoverTo)
			wantFile(t, path, tt.want)
			// The run goes on from there.
			next := tt.recoverTo + 1
			write(t, s, nRows(20, 25))
			commit(t, s, next)
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if tt.recoverTo == 1 {
				wantFile(t, path, lines(0, 10)+lines(20, 25))
			} else {
				wantFile(t, path, lines(0, 25))
			}
		})
	}
}

// A crash in the middle of appending a staged file leaves a torn line; the
// recovery truncates it and appends the whole file once.
func TestTornAppend(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := openSink(t, config(path, ""))
	write(t, s, nRows(0, 3))
	commit(t, s, 1)
	write(t, s, nRows(3, 6))
	if err := s.Prepare(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	_ = s.Close(t.Context())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"n":3}` + "\n" + `{"n`)
	f.Close()
	s = reopen(t, path, 2, 2)
	_ = s.Close(context.Background())
	wantFile(t, path, lines(0, 6))
}

// A fresh run (Recover(0)) replaces whatever an earlier run left.
func TestFreshRunReplaces(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := openSink(t, config(path, ""))
	write(t, s, nRows(0, 3))
	commit(t, s, 1)
	write(t, s, nRows(3, 6))
	if err := s.Prepare(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	_ = s.Close(t.Context())
	s = reopen(t, path, 2, 0)
	write(t, s, nRows(7, 8))
	commit(t, s, 3)
	_ = s.Close(t.Context())
	wantFile(t, path, lines(7, 8))
}

// A csv file resumed by a later run keeps its one header.
func TestCSVResumeKeepsHeader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.csv")
	s := openSink(t, config(path, "csv"), "n")
	write(t, s, nRows(0, 2))
	commit(t, s, 1)
	_ = s.Close(t.Context())
	s = Plugin().NewSink().(*Sink)
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(config(path, "csv")), Columns: []string{"n"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	write(t, s, nRows(2, 3))
	commit(t, s, 2)
	_ = s.Close(t.Context())
	wantFile(t, path, "n\n0\n1\n2\n")
}
