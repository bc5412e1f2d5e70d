package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func openSink(t *testing.T, config string, columns ...string) *Sink {
	t.Helper()
	s := Plugin().NewSink().(*Sink)
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(config), Columns: columns}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Recover(t.Context(), 0); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return s
}

// commit prepares and commits checkpoint id, as the host does.
func commit(t *testing.T, s *Sink, id uint64) {
	t.Helper()
	if err := s.Prepare(t.Context(), id); err != nil {
		t.Fatalf("Prepare(%d): %v", id, err)
	}
	if err := s.Commit(t.Context(), id); err != nil {
		t.Fatalf("Commit(%d): %v", id, err)
	}
}

func config(path, format string) string {
	b, _ := json.Marshal(Config{Path: path, Format: format})
	return string(b)
}

var ts = time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)

// batches are written in order by the write tests.
var batches = []sdk.Rows{
	{
		Columns: []string{"id", "store", "amount", "ratio", "ok", "at", "wait", "tags", "extra", "raw"},
		Rows: [][]any{
			{int64(1), "ABC", decimal.RequireFromString("12.50"), 0.25, true, ts, 90 * time.Second, []any{"a", "b"}, map[string]any{"k": int64(1)}, []byte("hi")},
			{int64(2), "comma, \"quote\"\nnewline", decimal.RequireFromString("-0.05"), math.NaN(), false, ts.Add(time.Millisecond), time.Duration(0), []any{}, nil, nil},
		},
	},
	{Columns: []string{"id", "store", "amount", "ratio", "ok", "at", "wait", "tags", "extra", "raw"}},
	{
		Columns: []string{"id", "store", "amount", "ratio", "ok", "at", "wait", "tags", "extra", "raw"},
		Rows: [][]any{
			{int64(3), " leading space", decimal.New(12, 2), 1e21, nil, time.Time{}, -time.Hour, nil, map[string]any{}, []byte{}},
		},
	},
}

func writeAll(t *testing.T, format string) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out", "deeper", "rows."+format)
	s := openSink(t, config(path, format), batches[0].Columns...)
	for i, b := range batches {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if i == 0 {
			commit(t, s, 1)
		}
	}
	commit(t, s, 2)
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, got
}

func TestWriteJSONL(t *testing.T) {
	t.Parallel()
	_, got := writeAll(t, "jsonl")
	checkGolden(t, "rows.jsonl", got)

	// Read back independently of the golden file.
	type n = json.Number
	want := []map[string]any{
		{"id": n("1"), "store": "ABC", "amount": n("12.50"), "ratio": n("0.25"), "ok": true, "at": "2026-03-17T23:58:00Z", "wait": "1m30s", "tags": []any{"a", "b"}, "extra": map[string]any{"k": n("1")}, "raw": "aGk="},
		{"id": n("2"), "store": "comma, \"quote\"\nnewline", "amount": n("-0.05"), "ratio": nil, "ok": false, "at": "2026-03-17T23:58:00.001Z", "wait": "0s", "tags": []any{}, "extra": nil, "raw": nil},
		{"id": n("3"), "store": " leading space", "amount": n("1200"), "ratio": n("1e+21"), "ok": nil, "at": "0001-01-01T00:00:00Z", "wait": "-1h0m0s", "tags": nil, "extra": map[string]any{}, "raw": ""},
	}
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(got))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rows = append(rows, m)
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	// Members are in column order.
	for i, line := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
		last := -1
		for _, c := range batches[0].Columns {
			j := bytes.Index(line, []byte(`"`+c+`":`))
			if j <= last {
				t.Errorf("line %d: column %q out of order: %s", i+1, c, line)
			}
			last = j
		}
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	_, got := writeAll(t, "csv")
	checkGolden(t, "rows.csv", got)

	records, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "store", "amount", "ratio", "ok", "at", "wait", "tags", "extra", "raw"},
		{"1", "ABC", "12.50", "0.25", "true", "2026-03-17T23:58:00Z", "1m30s", `["a","b"]`, `{"k":1}`, "aGk="},
		{"2", "comma, \"quote\"\nnewline", "-0.05", "NaN", "false", "2026-03-17T23:58:00.001Z", "0s", "[]", "", ""},
		{"3", " leading space", "1200", "1e+21", "", "0001-01-01T00:00:00Z", "-1h0m0s", "", "{}", ""},
	}
	if diff := cmp.Diff(want, records); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

func TestWriteCSVSingleEmptyColumn(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "one.csv")
	s := openSink(t, config(path, "csv"))
	rows := sdk.Rows{Columns: []string{"note"}, Rows: [][]any{{"a"}, {nil}, {""}, {"b"}}}
	if err := s.Write(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	commit(t, s, 1)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"note"}, {"a"}, {""}, {""}, {"b"}}
	if diff := cmp.Diff(want, records); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

func TestCSVColumnChange(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.csv")
	s := openSink(t, config(path, "csv"))
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), int64(2)}}}); err != nil {
		t.Fatal(err)
	}
	err := s.Write(t.Context(), sdk.Rows{Columns: []string{"a", "c"}, Rows: [][]any{{int64(1), int64(2)}}})
	want := `csv columns changed from ["a" "b"] to ["a" "c"]; a csv file has one header`
	if err == nil || err.Error() != want {
		t.Fatalf("Write = %v, want %s", err, want)
	}
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"a", "b"}}); err == nil || err.Error() != want {
		t.Errorf("Write after the error = %v, want it again", err)
	}
	if err := s.Close(t.Context()); err == nil || err.Error() != want {
		t.Errorf("Close = %v, want %s", err, want)
	}
}

func TestEmptyOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, format string
		columns      []string // announced at Open
		write        []string // columns of an empty batch written, if any
		want         string
	}{
		{"jsonl", "jsonl", []string{"a", "b"}, []string{"a", "b"}, ""},
		{"csv header from open", "csv", []string{"a", "b c"}, nil, "a,b c\n"},
		{"csv header from an empty batch", "csv", []string{"a"}, []string{"x", "y"}, "x,y\n"},
		{"csv without columns", "csv", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "empty")
			s := openSink(t, config(path, tt.format), tt.columns...)
			if tt.write != nil {
				if err := s.Write(t.Context(), sdk.Rows{Columns: tt.write}); err != nil {
					t.Fatal(err)
				}
			}
			commit(t, s, 1)
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTruncatesAndCommits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, []byte(strings.Repeat("old content\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, config(path, ""))
	if got, _ := os.ReadFile(path); len(got) != 0 {
		t.Fatalf("after Open the file holds %q, want it empty", got)
	}
	rows := sdk.Rows{Columns: []string{"n"}, Rows: [][]any{{int64(1)}, {int64(2)}}}
	if err := s.Write(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); len(got) != 0 {
		t.Errorf("before the commit the file holds %q", got)
	}
	commit(t, s, 1)
	if got, _ := os.ReadFile(path); string(got) != "{\"n\":1}\n{\"n\":2}\n" {
		t.Errorf("after the commit the file holds %q", got)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := Plugin().NewSink()
	err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(config(filepath.Join(blocker, "x.jsonl"), ""))})
	if want := "mkdir " + blocker + ": not a directory"; err == nil || err.Error() != want {
		t.Errorf("Open under a file = %v, want %s", err, want)
	}

	s = openSink(t, config(filepath.Join(dir, "ok.jsonl"), ""))
	err = s.Write(t.Context(), sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), int64(2)}, {int64(1)}}})
	if want := "row 1 has 1 values for 2 columns"; err == nil || err.Error() != want {
		t.Errorf("Write = %v, want %s", err, want)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestOpenConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, config, want string }{
		{"no path", `{}`, "path: must not be empty"},
		{"bad format", `{"path":"x","format":"xml"}`, `format: must be jsonl or csv, not "xml"`},
		{"both", `{"format":"xml"}`, "path: must not be empty\nformat: must be jsonl or csv, not \"xml\""},
		{"unknown field", `{"path":"x","mode":1}`, `json: unknown field "mode"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Plugin().NewSink().Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(tt.config)})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"jsonl", `{"path":"out/x.jsonl","format":"jsonl"}`, nil},
		{"csv", `{"path":"out/x.csv","format":"csv"}`, nil},
		{"default format", `{"path":"out/x"}`, nil},
		{"empty path", `{"path":"","format":"csv"}`, []sdk.Diagnostic{{Path: "path", Msg: "must not be empty"}}},
		{"bad format", `{"path":"x","format":"table"}`, []sdk.Diagnostic{{Path: "format", Msg: `must be jsonl or csv, not "table"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Plugin().Validate([]byte(tt.config))); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	p := Plugin()
	if err := p.Spec.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "file" || p.Spec.Kind != sdk.KindSink || p.Spec.Version != "0.1.0" {
		t.Errorf("spec = %s %s %s", p.Spec.Name, p.Spec.Kind, p.Spec.Version)
	}
	if p.NewSink == nil || p.NewSource != nil || p.NewTransform != nil || p.Validate == nil {
		t.Error("want exactly NewSink and Validate set")
	}
	// Spec defaults are valid configs.
	for _, f := range p.Spec.Fields {
		if f.Default != nil && len(f.Enum) > 0 && !strings.Contains(strings.Join(f.Enum, " "), fmt.Sprint(f.Default)) {
			t.Errorf("field %s: default %v not in %v", f.Name, f.Default, f.Enum)
		}
	}
	if diags := p.Validate([]byte(`{"path":"x","format":"jsonl"}`)); diags != nil {
		t.Errorf("defaults do not validate: %v", diags)
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func BenchmarkWrite(b *testing.B) {
	columns := []string{"payment_id", "amount", "store_id", "channel", "event_time", "score", "ok"}
	row := []any{"p-000123456", decimal.RequireFromString("123.45"), "store-17", nil, ts, 0.875, true}
	rows := sdk.Rows{Columns: columns, Rows: make([][]any, 1024)}
	for i := range rows.Rows {
		rows.Rows[i] = row
	}
	for _, format := range []string{"jsonl", "csv"} {
		b.Run(format, func(b *testing.B) {
			ctx := context.Background()
			s := Plugin().NewSink()
			cfg := config(filepath.Join(b.TempDir(), "out"), format)
			if err := s.Open(ctx, sdk.SinkOpenRequest{Config: []byte(cfg)}); err != nil {
				b.Fatal(err)
			}
			if err := s.(sdk.Committer).Recover(ctx, 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(ctx, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rows.Rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"jsonl", "csv"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			sdktest.RunSink(t, sdktest.SinkCase{
				Plugin: Plugin(),
				Config: func(t *testing.T) []byte {
					return fmt.Appendf(nil, `{"path": %q, "format": %q}`, filepath.Join(t.TempDir(), "out"), format)
				},
				Columns: []string{"id", "name", "at", "price", "tags"},
				Rows: [][]any{
					{int64(1), "one", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), decimal.RequireFromString("1.50"), []any{"a"}},
					{int64(2), nil, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), decimal.RequireFromString("-2"), []any{}},
					{int64(3), "three", time.Time{}, decimal.Zero, nil},
				},
				BadConfigs: map[string][]byte{
					"bad-format":    []byte(`{"path": "out", "format": "xml"}`),
					"empty-path":    []byte(`{"path": ""}`),
					"unknown-field": []byte(`{"path": "out", "pth": "x"}`),
				},
			})
		})
	}
}
