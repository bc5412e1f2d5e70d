package stdout

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

var (
	t0      = time.Date(2026, 3, 17, 23, 0, 0, 0, time.UTC)
	hourly  = []string{"window_start", "window_end", "store", "revenue", "orders"}
	batches = []sdk.Rows{
		{Columns: hourly, Rows: [][]any{
			{t0, t0.Add(time.Hour), "ABC", decimal.RequireFromString("12.50"), int64(3)},
			{t0, t0.Add(time.Hour), "Zürich", decimal.RequireFromString("7.00"), int64(1)},
		}},
		{Columns: hourly}, // nothing to print
		{Columns: hourly, Rows: [][]any{
			{t0.Add(time.Hour), t0.Add(2 * time.Hour), "a much longer store name", decimal.RequireFromString("1234567.25"), int64(120)},
			{t0.Add(time.Hour), t0.Add(2 * time.Hour), "tab\tand\nnewline", nil, int64(2)},
		}},
		{Columns: []string{"late", "reason"}, Rows: [][]any{
			{int64(1), "too late"},
		}},
	}
)

func run(t *testing.T, format string, columns []string, batches []sdk.Rows) []byte {
	t.Helper()
	var out bytes.Buffer
	s := New(&out)
	cfg := []byte(fmt.Sprintf(`{"format":%q}`, format))
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: cfg, Columns: columns}); err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestTable(t *testing.T) {
	t.Parallel()
	got := run(t, "table", hourly, batches)
	checkGolden(t, "table", got)
	// Within a batch, every cell starts where a cell of the batch's first
	// line (the header for the first batch) starts.
	lines := strings.Split(string(got), "\n")
	groups := [][]int{{0, 1, 2, 3}, {4, 5}, {6, 7, 8}}
	for _, g := range groups {
		first := cellStarts(lines[g[0]])
		for _, k := range g[1:] {
			for _, at := range cellStarts(lines[k]) {
				if !slices.Contains(first, at) {
					t.Errorf("line %d has a cell at %d, line %d has cells at %v:\n%s", k+1, at, g[0]+1, first, got)
				}
			}
		}
	}
}

// cellStarts returns the rune offsets where the cells of a table line
// start, assuming no cell holds two spaces in a row.
func cellStarts(line string) []int {
	var starts []int
	r := []rune(line)
	for i := range r {
		if r[i] != ' ' && (i == 0 || i >= 2 && r[i-1] == ' ' && r[i-2] == ' ') {
			starts = append(starts, i)
		}
	}
	return starts
}

func TestTableWithoutRows(t *testing.T) {
	t.Parallel()
	got := run(t, "table", []string{"store", "revenue"}, []sdk.Rows{{Columns: []string{"store", "revenue"}}})
	if want := "store  revenue\n-----  -------\n"; string(got) != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	if got := run(t, "table", nil, nil); len(got) != 0 {
		t.Errorf("output without columns = %q, want nothing", got)
	}
}

func TestJSONL(t *testing.T) {
	t.Parallel()
	got := run(t, "", hourly, batches)
	checkGolden(t, "jsonl", got)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), got)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid JSON line %q", l)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestFlushAndErrors(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	s := New(&out)
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"n"}, Rows: [][]any{{int64(1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "{\"n\":1}\n" {
		t.Errorf("after Flush: %q", got)
	}
	err := s.Write(t.Context(), sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1)}}})
	if want := "row 0 has 1 values for 2 columns"; err == nil || err.Error() != want {
		t.Errorf("Write = %v, want %s", err, want)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	s = New(failWriter{})
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(`{"format":"table"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"n"}, Rows: [][]any{{int64(1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err == nil || err.Error() != "write: pipe closed" {
		t.Errorf("Flush = %v, want write: pipe closed", err)
	}
	if err := s.Close(t.Context()); err == nil || err.Error() != "write: pipe closed" {
		t.Errorf("Close = %v, want write: pipe closed", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"jsonl", `{"format":"jsonl"}`, nil},
		{"table", `{"format":"table"}`, nil},
		{"default", `{}`, nil},
		{"empty config", ``, nil},
		{"bad format", `{"format":"csv"}`, []sdk.Diagnostic{{Path: "format", Msg: `must be jsonl or table, not "csv"`}}},
		{"unknown field", `{"path":"x"}`, []sdk.Diagnostic{{Msg: `json: unknown field "path"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Plugin().Validate([]byte(tt.config))); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			err := New(&bytes.Buffer{}).Open(t.Context(), sdk.SinkOpenRequest{Config: []byte(tt.config)})
			if (err != nil) != (tt.want != nil) {
				t.Errorf("Open = %v, want an error: %v", err, tt.want != nil)
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
	if p.Spec.Name != "stdout" || p.Spec.Kind != sdk.KindSink || p.Spec.Version != "0.1.0" {
		t.Errorf("spec = %s %s %s", p.Spec.Name, p.Spec.Kind, p.Spec.Version)
	}
	if p.NewSink == nil || p.NewSource != nil || p.NewTransform != nil || p.Validate == nil {
		t.Error("want exactly NewSink and Validate set")
	}
	if s, ok := p.NewSink().(*Sink); !ok || s.out != os.Stdout {
		t.Error("NewSink does not print to os.Stdout")
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.RunSink(t, sdktest.SinkCase{
		Plugin:  Plugin(),
		Config:  func(*testing.T) []byte { return []byte(`{"format": "jsonl"}`) },
		Columns: []string{"id", "name"},
		Rows:    [][]any{{int64(1), "one"}, {int64(2), nil}, {int64(3), "three"}},
		BadConfigs: map[string][]byte{
			"bad-format":    []byte(`{"format": "xml"}`),
			"unknown-field": []byte(`{"fromat": "table"}`),
		},
	})
}
