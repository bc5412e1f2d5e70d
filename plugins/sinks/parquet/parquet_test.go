package parquet

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// opts are the sink's options in a test.
type opts struct {
	config   map[string]any
	key      []string
	columns  []string
	name     string // Settings.Name
	pipeline string
}

// openSink opens a parquet sink on table dir.
func openSink(t testing.TB, dir string, o opts) *Sink {
	t.Helper()
	cfg := map[string]any{"path": dir}
	for k, v := range o.config {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := Plugin().NewSink().(*Sink)
	name := o.name
	if name == "" {
		name = "lake"
	}
	pipeline := o.pipeline
	if pipeline == "" {
		pipeline = "test"
	}
	req := sdk.SinkOpenRequest{Config: b, Columns: o.columns, Key: o.key, Settings: sdk.Settings{Name: name, Pipeline: pipeline, Logger: testLogger{t}}}
	if err := s.Open(context.Background(), req); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, args ...any) { l.t.Logf(format, args...) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkpoint writes rows and runs one checkpoint of the commit protocol.
func checkpoint(t testing.TB, s *Sink, id uint64, cols []string, rows ...[]any) {
	t.Helper()
	ctx := context.Background()
	must(t, s.Write(ctx, sdk.Rows{Columns: cols, Rows: rows}))
	must(t, s.Prepare(ctx, id))
	must(t, s.Commit(ctx, id))
}

// liveFiles follows the table's commit log, as any log-aware reader
// would, and returns the files of its latest version.
func liveFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "_flowctl_log", "*.json"))
	must(t, err)
	sort.Strings(names)
	live := map[string]bool{}
	for i, n := range names {
		if filepath.Base(n) != fmt.Sprintf("%020d.json", i) {
			t.Fatalf("log entry %s out of sequence", n)
		}
		var e struct {
			Add []struct {
				Path string `json:"path"`
			} `json:"add"`
			Remove []string `json:"remove"`
		}
		b, err := os.ReadFile(n)
		must(t, err)
		must(t, json.Unmarshal(b, &e))
		for _, r := range e.Remove {
			if !live[r] {
				t.Fatalf("%s removes %s, which is not in the table", n, r)
			}
			delete(live, r)
		}
		for _, a := range e.Add {
			live[a.Path] = true
		}
	}
	var out []string
	for p := range live {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// readArrow reads one Parquet file with arrow-go, an implementation
// independent of the one that wrote it, into rows keyed by column name.
func readArrow(t testing.TB, path string) (*arrow.Schema, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	must(t, err)
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	must(t, err)
	tbl, err := fr.ReadTable(context.Background())
	must(t, err)
	defer tbl.Release()
	rows := make([]map[string]any, tbl.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		col := tbl.Column(c)
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][col.Name()] = arrowValue(t, chunk, i)
				r++
			}
		}
	}
	return tbl.Schema(), rows
}

// arrowValue converts one arrow value to the SDK value it stands for.
func arrowValue(t testing.TB, a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Null:
		return nil
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Binary:
		return slices.Clone(a.Value(i))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC()
	case *array.Decimal128:
		n := a.Value(i)
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return decimal.NewFromBigInt(n.BigInt(), -scale)
	case array.ExtensionArray:
		return arrowValue(t, a.Storage(), i)
	}
	t.Fatalf("no conversion for arrow %T (%s)", a, a.DataType())
	return nil
}

// readTable reads the committed rows of a table with arrow-go, sorted
// by the text of column by.
func readTable(t testing.TB, dir, by string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	names := map[string]bool{}
	for _, p := range liveFiles(t, dir) {
		schema, r := readArrow(t, filepath.Join(dir, p))
		for _, f := range schema.Fields() {
			names[f.Name] = true
		}
		rows = append(rows, r...)
	}
	// Columns a file lacks are null, as readers that union files by
	// column name make them.
	for _, r := range rows {
		for n := range names {
			if _, ok := r[n]; !ok {
				r[n] = nil
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return fmt.Sprint(rows[i][by]) < fmt.Sprint(rows[j][by])
	})
	return rows
}

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

var ts = time.Date(2026, 3, 17, 23, 58, 1, 123456789, time.UTC)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	cols := []string{"id", "amount", "ratio", "store", "ok", "raw", "at", "wait", "tags", "device", "never"}
	rows := [][]any{
		{int64(1), decimal.RequireFromString("12.50"), 0.25, "ABC", true, []byte("hi"), ts, 90 * time.Second, []any{"a", int64(2)}, map[string]any{"os": "linux", "v": 1.5}, nil},
		{int64(2), decimal.RequireFromString("-0.05"), math.Inf(1), "", false, []byte{}, time.Time{}, -time.Hour, []any{}, map[string]any{}, sdk.Absent},
		{int64(3), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(math.MaxInt64), decimal.RequireFromString("99999999999999999999999999999.123456789"), math.Copysign(0, -1), "ünï\x00", true, []byte{0, 255}, ts.Add(-100 * 365 * 24 * time.Hour), time.Duration(math.MinInt64), []any{nil}, map[string]any{"n": nil}, nil},
	}
	for _, unit := range []string{"micros", "nanos"} {
		t.Run(unit, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openSink(t, dir, opts{columns: cols, config: map[string]any{"timestamp_unit": unit}})
			rows := slices.Clone(rows)
			rows[1] = slices.Clone(rows[1])
			if unit == "nanos" {
				rows[1][6] = time.Unix(0, 0).UTC() // the zero time does not fit in nanoseconds
			}
			checkpoint(t, s, 1, cols, rows[:2]...)
			checkpoint(t, s, 2, cols, rows[2:]...)
			must(t, s.Close(context.Background()))

			files := liveFiles(t, dir)
			if len(files) != 2 {
				t.Fatalf("files %v, want one per checkpoint", files)
			}
			// The Parquet schema as arrow-go reads it, then as it maps it to
			// arrow types.
			rdr, err := file.OpenParquetFile(filepath.Join(dir, files[0]), false)
			must(t, err)
			var b strings.Builder
			schema.PrintSchema(rdr.MetaData().Schema.Root(), &b, 2)
			rdr.Close()
			arrowSchema, _ := readArrow(t, filepath.Join(dir, files[0]))
			checkGolden(t, "schema_"+unit, b.String()+"\n"+arrowSchema.String())

			got := readTable(t, dir, "id")
			want := make([]map[string]any, len(rows))
			for i, row := range rows {
				want[i] = map[string]any{}
				for j, c := range cols {
					want[i][c] = expected(row[j], unit)
				}
			}
			sort.SliceStable(want, func(i, j int) bool { return fmt.Sprint(want[i]["id"]) < fmt.Sprint(want[j]["id"]) })
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("rows read back by arrow-go (-want +got):\n%s", diff)
			}
		})
	}
}

// expected is what arrow-go reads back for v: timestamps at the unit,
// durations as their nanoseconds, nested values as their JSON text.
func expected(v any, unit string) any {
	switch v := v.(type) {
	case time.Time:
		if unit == "micros" {
			return v.Truncate(time.Microsecond)
		}
		return v
	case time.Duration:
		return int64(v)
	case []any, map[string]any:
		return sdk.AppendJSON(nil, v)
	case string:
		return v
	}
	if v == sdk.Absent {
		return nil
	}
	return v
}

func TestPartitions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cols := []string{"store", "at", "n"}
	s := openSink(t, dir, opts{columns: cols, config: map[string]any{
		"partition_by": []any{"store", map[string]any{"column": "at", "format": "date=2006-01-02"}},
	}})
	day := time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC)
	rows := [][]any{
		{"A", day, int64(1)},
		{"A", day.Add(13 * time.Hour), int64(2)},
		{"B/C:D", day, int64(3)},
		{nil, day, int64(4)},
		{"", nil, int64(5)},
		{"A", day.Add(time.Hour), int64(6)},
	}
	checkpoint(t, s, 1, cols, rows...)
	must(t, s.Close(context.Background()))
	got := map[string][]int64{}
	for _, f := range liveFiles(t, dir) {
		if !regexp.MustCompile(`/part-[0-9a-f]{16}\.parquet$`).MatchString(f) {
			t.Errorf("file name %s", f)
		}
		_, rs := readArrow(t, filepath.Join(dir, f))
		for _, r := range rs {
			got[filepath.Dir(f)] = append(got[filepath.Dir(f)], r["n"].(int64))
		}
	}
	want := map[string][]int64{
		"store=A/date=2026-03-17":                                          {1, 6},
		"store=A/date=2026-03-18":                                          {2},
		"store=B%2FC%3AD/date=2026-03-17":                                  {3},
		"store=__HIVE_DEFAULT_PARTITION__/date=2026-03-17":                 {4},
		"store=__HIVE_DEFAULT_PARTITION__/date=__HIVE_DEFAULT_PARTITION__": {5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows by partition folder (-want +got):\n%s", diff)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		config map[string]any
		rows   [][]any
		want   string
	}{
		{
			name: "type-change",
			rows: [][]any{{int64(1), "x"}, {int64(2), int64(3)}},
			want: `column "b", row 2: a int64 value in a column of string values (typed by its first non-null value)`,
		},
		{
			name: "unsupported",
			rows: [][]any{{int64(1), struct{}{}}},
			want: `column "b", row 1: cannot write a value of Go type struct {}`,
		},
		{
			name: "decimal-overflow",
			rows: [][]any{{int64(1), decimal.RequireFromString("1e30")}},
			want: "row 1: column b: decimal 1000000000000000000000000000000 has more than 29 digits before the point at scale 9",
		},
		{
			name:   "nanos-range",
			config: map[string]any{"timestamp_unit": "nanos"},
			rows:   [][]any{{int64(1), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}},
			want:   "row 1: column b: timestamp 2300-01-01T00:00:00Z is outside what nanoseconds hold (1677 to 2262); use timestamp_unit: micros",
		},
		{
			name:   "format-needs-time",
			config: map[string]any{"partition_by": []any{map[string]any{"column": "b", "format": "d=2006"}}},
			rows:   [][]any{{int64(1), "x"}},
			want:   "row 1: partition column b: format d=2006 needs a timestamp, not string",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := openSink(t, t.TempDir(), opts{config: c.config, columns: []string{"a", "b"}})
			defer s.Close(context.Background())
			err := s.Write(context.Background(), sdk.Rows{Columns: []string{"a", "b"}, Rows: c.rows})
			if err == nil {
				err = s.Prepare(context.Background(), 1)
			}
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v\nwant      %s", err, c.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", `{"path": "t", "partition_by": ["a", {"column": "b", "format": "date=2006-01-02"}], "row_group_size": "1000"}`, nil},
		{"empty-path", `{"path": ""}`, []sdk.Diagnostic{{Path: "path", Msg: "must not be empty"}}},
		{"bad-partition", `{"path": "t", "partition_by": [1]}`, []sdk.Diagnostic{{Path: "partition_by[0]", Msg: "must be a column name or {column: NAME, format: \"date=2006-01-02\"}: json: cannot unmarshal number into Go value of type struct { Column string \"json:\\\"column\\\"\"; Format string \"json:\\\"format\\\"\" }"}}},
		{"bad-format", `{"path": "t", "partition_by": [{"column": "b", "format": "2006"}]}`, []sdk.Diagnostic{{Path: "partition_by[0]", Msg: `format: "2006" must be NAME=LAYOUT with a Go time layout, such as "date=2006-01-02"`}}},
		{"no-layout", `{"path": "t", "partition_by": [{"column": "b", "format": "d=day"}]}`, []sdk.Diagnostic{{Path: "partition_by[0]", Msg: `format: "day" has no time layout element such as 2006, 01 or 02`}}},
		{"twice", `{"path": "t", "partition_by": ["a", "a"]}`, []sdk.Diagnostic{{Path: "partition_by[1]", Msg: `folder name "a" is used twice`}}},
		{"sizes", `{"path": "t", "row_group_size": "-3", "target_file_size": "10"}`, []sdk.Diagnostic{
			{Path: "row_group_size", Msg: `"-3" must be a row count such as "100000" or a size such as "64MiB"`},
			{Path: "target_file_size", Msg: `"10" must be a size such as "128MiB"`},
		}},
		{"enums", `{"path": "t", "compression": "lz4", "timestamp_unit": "millis", "fresh_run": "keep", "decimal_scale": 39}`, []sdk.Diagnostic{
			{Path: "compression", Msg: `must be snappy, zstd, gzip or none, not "lz4"`},
			{Path: "timestamp_unit", Msg: `must be micros or nanos, not "millis"`},
			{Path: "decimal_scale", Msg: "must be between 0 and 38, not 39"},
			{Path: "fresh_run", Msg: `must be replace or append, not "keep"`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(c.want, validate([]byte(c.config))); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	for _, key := range [][]string{nil, {"id"}} {
		r := Plugin().Delivery(sdk.DeliveryRequest{Config: []byte(`{"path": "t"}`), Key: key})
		if r.Delivery != sdk.ExactlyOnce || r.Reason == "" {
			t.Errorf("key %v: %+v", key, r)
		}
		if len(key) > 0 && !strings.Contains(r.Reason, "upsert by key") {
			t.Errorf("key %v: reason %q does not mention upserts", key, r.Reason)
		}
	}
}

func TestRowGroupsAndFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cols := []string{"id", "pad"}
	s := openSink(t, dir, opts{columns: cols, config: map[string]any{"row_group_size": "100", "target_file_size": "8KiB", "compression": "none"}})
	var rows [][]any
	for i := range 1000 {
		rows = append(rows, []any{int64(i), strings.Repeat("x", 20) + fmt.Sprint(i)})
	}
	checkpoint(t, s, 1, cols, rows...)
	must(t, s.Close(context.Background()))
	files := liveFiles(t, dir)
	if len(files) < 2 {
		t.Fatalf("%d files, want several of about 8KiB", len(files))
	}
	total := 0
	for _, f := range files {
		rdr, err := file.OpenParquetFile(filepath.Join(dir, f), false)
		must(t, err)
		for g := 0; g < rdr.NumRowGroups(); g++ {
			if n := rdr.MetaData().RowGroup(g).NumRows(); n > 100 {
				t.Errorf("%s row group %d has %d rows, want at most 100", f, g, n)
			}
		}
		total += int(rdr.NumRows())
		rdr.Close()
	}
	if total != 1000 {
		t.Errorf("%d rows in all, want 1000", total)
	}
	if got := readTable(t, dir, "id"); len(got) != 1000 {
		t.Errorf("read %d rows", len(got))
	}
}

func TestSchemalessColumns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openSink(t, dir, opts{})
	ctx := context.Background()
	must(t, s.Write(ctx, sdk.Rows{Columns: []string{"a"}, Rows: [][]any{{int64(1)}, {nil}}}))
	must(t, s.Write(ctx, sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{int64(2), "x"}, {sdk.Absent, "y"}}}))
	must(t, s.Close(ctx)) // a host without the commit protocol: Close commits
	got := readTable(t, dir, "b")
	want := []map[string]any{{"a": int64(1), "b": nil}, {"a": nil, "b": nil}, {"a": int64(2), "b": "x"}, {"a": nil, "b": "y"}}
	sort.SliceStable(want, func(i, j int) bool { return fmt.Sprint(want[i]["b"]) < fmt.Sprint(want[j]["b"]) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConformance(t *testing.T) {
	sdktest.RunSink(t, sdktest.SinkCase{
		Plugin: Plugin(),
		Config: func(t *testing.T) []byte {
			return fmt.Appendf(nil, `{"path": %q, "partition_by": [{"column": "at", "format": "date=2006-01-02"}]}`, filepath.Join(t.TempDir(), "table"))
		},
		Columns: []string{"id", "name", "at", "price", "tags"},
		Rows: [][]any{
			{int64(1), "one", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), decimal.RequireFromString("1.50"), []any{"a"}},
			{int64(2), nil, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), decimal.RequireFromString("-2"), []any{}},
			{int64(3), "three", time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC), decimal.Zero, nil},
		},
		BadConfigs: map[string][]byte{
			"bad-compression": []byte(`{"path": "t", "compression": "lz4"}`),
			"empty-path":      []byte(`{"path": ""}`),
			"unknown-field":   []byte(`{"path": "t", "pth": "x"}`),
			"bad-partition":   []byte(`{"path": "t", "partition_by": [{"column": "at", "format": "2006"}]}`),
		},
	})
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}
