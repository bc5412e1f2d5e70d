package parquet

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
	sink "github.com/flowctl/flowctl/plugins/sinks/parquet"
)

var update = flag.Bool("update", false, "rewrite the README config table")

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, args ...any) { l.t.Logf(format, args...) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeTable writes rows into a table with the parquet sink, one
// checkpoint per batch.
func writeTable(t testing.TB, dir string, config map[string]any, cols []string, batches ...[][]any) {
	t.Helper()
	ctx := context.Background()
	cfg := map[string]any{"path": dir}
	for k, v := range config {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	must(t, err)
	s := sink.Plugin().NewSink()
	must(t, s.Open(ctx, sdk.SinkOpenRequest{Config: b, Columns: cols, Settings: sdk.Settings{Name: "lake"}}))
	c := s.(sdk.Committer)
	must(t, c.Recover(ctx, 0))
	for i, rows := range batches {
		must(t, s.Write(ctx, sdk.Rows{Columns: cols, Rows: rows}))
		must(t, c.Prepare(ctx, uint64(i+1)))
		must(t, c.Commit(ctx, uint64(i+1)))
	}
	must(t, s.Close(ctx))
}

// readAll opens a source on config and reads it to its end.
func readAll(t testing.TB, config string, resume ...sdk.Position) (*Source, []sdk.Message) {
	t.Helper()
	ctx := context.Background()
	s := Plugin().NewSource().(*Source)
	must(t, s.Open(ctx, sdk.OpenRequest{Config: []byte(config), Resume: resume, Settings: sdk.Settings{Logger: testLogger{t}}}))
	defer s.Close(ctx)
	var out []sdk.Message
	for {
		b, err := s.Read(ctx)
		out = append(out, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return s, out
		}
		must(t, err)
	}
}

func config(dir string, kv ...string) string {
	m := map[string]string{"path": dir}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

var day = time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)

func TestReadSinkTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cols := []string{"id", "amount", "ratio", "store", "ok", "raw", "at", "wait", "tags", "device"}
	rows := [][]any{
		{int64(1), decimal.RequireFromString("12.50"), 0.25, "A", true, []byte("hi"), day.Add(time.Hour + 123456*time.Nanosecond), 90 * time.Second, []any{"a", int64(2)}, map[string]any{"os": "linux", "v": 1.5}},
		{int64(2), decimal.RequireFromString("-0.05"), 1.5, "B", false, []byte{}, day.Add(25 * time.Hour), -time.Hour, []any{}, map[string]any{}},
		{int64(3), nil, nil, nil, nil, nil, day.Add(26 * time.Hour), nil, nil, nil},
	}
	writeTable(t, dir, map[string]any{"partition_by": []any{map[string]any{"column": "at", "format": "date=2006-01-02"}}}, cols, rows)
	_, msgs := readAll(t, config(dir))
	var got [][]any
	for _, m := range msgs {
		var names []string
		var vals []any
		for _, f := range m.Fields {
			names = append(names, f.Name)
			vals = append(vals, f.Value)
		}
		if diff := cmp.Diff(append(cols, "date"), names); diff != "" {
			t.Fatalf("field names (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(m.Position.Partition, "date=") || m.Position.Offset < 1 {
			t.Errorf("position %v", m.Position)
		}
		got = append(got, vals)
	}
	want := [][]any{
		append(rows[0][:len(cols):len(cols)], "2026-03-17"),
		append(rows[1][:len(cols):len(cols)], "2026-03-18"),
		append(rows[2][:len(cols):len(cols)], "2026-03-18"),
	}
	want[0][6] = day.Add(time.Hour + 123*time.Microsecond) // micros
	want[0][1] = decimal.RequireFromString("12.5")
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

// writeArrow writes a Parquet file with arrow-go, a writer independent of
// the parquet sink.
func writeArrow(t *testing.T, path string, rec arrow.RecordBatch) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(2)), pqarrow.DefaultWriterProps())
	must(t, err)
	must(t, w.Write(rec))
	must(t, w.Close())
}

// TestReadPlainFolder reads files that arrow-go wrote into Hive-style
// folders, without a commit log.
func TestReadPlainFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	bld.Field(0).(*array.Int32Builder).AppendValues([]int32{7, -1, 0}, []bool{true, true, false})
	bld.Field(1).(*array.Float32Builder).AppendValues([]float32{1.5, 2, 0}, []bool{true, true, false})
	bld.Field(2).(*array.StringBuilder).AppendValues([]string{"x", "", ""}, []bool{true, true, false})
	bld.Field(3).(*array.BinaryBuilder).AppendValues([][]byte{{1, 2}, {}, nil}, []bool{true, true, false})
	bld.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(day.UnixMilli() + 5), arrow.Timestamp(day.UnixMilli() + 86400000), 0}, []bool{true, true, false})
	bld.Field(5).(*array.Date32Builder).AppendValues([]arrow.Date32{arrow.Date32FromTime(day), arrow.Date32FromTime(day.AddDate(0, 0, 1)), 0}, []bool{true, true, false})
	bld.Field(6).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromBigInt(big.NewInt(-1234)), decimal128.FromI64(5), {}}, []bool{true, true, false})
	rec := bld.NewRecordBatch()
	defer rec.Release()
	writeArrow(t, filepath.Join(dir, "region=eu", "part-0.parquet"), rec)
	writeArrow(t, filepath.Join(dir, "region=a%2Fb", "part-0.parquet"), rec)
	must(t, os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "region=eu", ".part-1.parquet.crc"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "region=eu", ".hidden.parquet"), []byte("not parquet"), 0o644))

	_, msgs := readAll(t, config(dir))
	rows := [][]any{
		{int64(7), 1.5, "x", []byte{1, 2}, day.Add(5 * time.Millisecond), day, decimal.New(-1234, -2)},
		{int64(-1), 2.0, "", []byte{}, day.AddDate(0, 0, 1), day.AddDate(0, 0, 1), decimal.New(5, -2)},
		{nil, nil, nil, nil, nil, nil, nil},
	}
	var want []sdk.Message
	for _, region := range []string{"a%2Fb", "eu"} {
		for i, r := range rows {
			m := sdk.Message{Position: sdk.Position{Partition: "region=" + region + "/part-0.parquet", Offset: int64(i + 1)}}
			for j, f := range schema.Fields() {
				m.Fields = append(m.Fields, sdk.Field{Name: f.Name, Value: r[j]})
			}
			m.Fields = append(m.Fields, sdk.Field{Name: "region", Value: map[string]string{"eu": "eu", "a%2Fb": "a/b"}[region]})
			want = append(want, m)
		}
	}
	if diff := cmp.Diff(want, msgs, cmpOpts); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}

	// The range selects on a timestamp column, and rejects others.
	_, msgs = readAll(t, config(dir, "time_column", "ms", "from", "2026-03-18"))
	if len(msgs) != 2 {
		t.Errorf("%d messages from 2026-03-18, want 2", len(msgs))
	}
	s := Plugin().NewSource()
	must(t, s.Open(context.Background(), sdk.OpenRequest{Config: []byte(config(dir, "time_column", "s", "from", "2026-03-18"))}))
	_, err := s.Read(context.Background())
	if want := "region=a%2Fb/part-0.parquet: time_column s is a STRING column, not a timestamp or date"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	must(t, s.Close(context.Background()))
}

// TestRangePrunes reads a day-partitioned table over a range and counts
// the files and row groups read.
func TestRangePrunes(t *testing.T) {
	t.Parallel()
	cols := []string{"at", "n"}
	var rows [][]any
	for i := range 500 { // 5 days, 100 rows a day, in time order
		rows = append(rows, []any{day.Add(time.Duration(i) * 24 * time.Hour / 100), int64(i)})
	}
	byDay := t.TempDir()
	writeTable(t, byDay, map[string]any{"row_group_size": "10", "partition_by": []any{map[string]any{"column": "at", "format": "date=2006-01-02"}}}, cols, rows)
	flat := t.TempDir()
	writeTable(t, flat, map[string]any{"row_group_size": "10"}, cols, rows)

	cases := []struct {
		name, dir, from, to string
		files, groups       int // opened, read
		first, last         int64
	}{
		{"all", byDay, "", "", 5, 50, 0, 499},
		{"partitions", byDay, "2026-03-18", "2026-03-20", 2, 20, 100, 299},
		{"partitions-and-groups", byDay, "2026-03-18T12:00:00Z", "2026-03-19T06:00:00Z", 2, 8, 150, 224},
		{"groups", flat, "2026-03-18T12:00:00Z", "2026-03-19T06:00:00Z", 1, 8, 150, 224},
		{"before", flat, "", "2026-03-17T00:00:00.000000001Z", 1, 1, 0, 0},
		{"empty", byDay, "2027-01-01", "", 0, 0, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, msgs := readAll(t, config(c.dir, "time_column", "at", "from", c.from, "to", c.to))
			if s.stats.files != c.files || s.stats.groupsRead != c.groups {
				t.Errorf("read %d files and %d row groups, want %d and %d", s.stats.files, s.stats.groupsRead, c.files, c.groups)
			}
			first, last := int64(-1), int64(-1)
			for i, m := range msgs {
				n := m.Fields[1].Value.(int64)
				if i == 0 {
					first = n
				} else if n != last+1 {
					t.Errorf("message %d: n = %d after %d", i, n, last)
				}
				last = n
				if m.Time != m.Fields[0].Value.(time.Time) {
					t.Errorf("message %d: Time %v", i, m.Time)
				}
			}
			if first != c.first || last != c.last {
				t.Errorf("read n %d to %d, want %d to %d", first, last, c.first, c.last)
			}
		})
	}
}

// TestFollowsLog reads only committed files: not staged ones, not files
// an upsert replaced, not a half-written log entry.
func TestFollowsLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cols := []string{"id", "v"}
	s := sink.Plugin().NewSink()
	must(t, s.Open(ctx, sdk.SinkOpenRequest{Config: []byte(config(dir)), Columns: cols, Key: []string{"id"}}))
	c := s.(sdk.Committer)
	must(t, c.Recover(ctx, 0))
	for i, v := range []string{"a", "b"} {
		must(t, s.Write(ctx, sdk.Rows{Columns: cols, Rows: [][]any{{int64(1), v}, {int64(i + 2), v}}}))
		must(t, c.Prepare(ctx, uint64(i+1)))
		must(t, c.Commit(ctx, uint64(i+1)))
	}
	must(t, s.Write(ctx, sdk.Rows{Columns: cols, Rows: [][]any{{int64(1), "staged"}}}))
	must(t, c.Prepare(ctx, 3)) // and the process dies
	must(t, os.WriteFile(filepath.Join(dir, "_flowctl_log", ".00000000000000000002.json.tmp-1"), []byte(`{"add": [`), 0o644))

	_, msgs := readAll(t, config(dir))
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%v=%v", m.Fields[0].Value, m.Fields[1].Value))
	}
	if diff := cmp.Diff([]string{"1=b", "2=a", "3=b"}, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", `{"path": "t", "time_column": "at", "from": "2026-03-01", "to": "2026-03-02T00:00:00Z"}`, nil},
		{"empty-path", `{"path": ""}`, []sdk.Diagnostic{{Path: "path", Msg: "must not be empty"}}},
		{"bad-time", `{"path": "t", "time_column": "at", "from": "yesterday"}`, []sdk.Diagnostic{{Path: "from", Msg: `"yesterday" is not an RFC 3339 timestamp (2026-03-17T00:00:00Z) or a date (2026-03-17)`}}},
		{"backwards", `{"path": "t", "time_column": "at", "from": "2026-03-02", "to": "2026-03-01"}`, []sdk.Diagnostic{{Path: "to", Msg: "must be after from (2026-03-02)"}}},
		{"no-column", `{"path": "t", "to": "2026-03-01"}`, []sdk.Diagnostic{{Path: "time_column", Msg: "must be set with from or to"}}},
		{"batch", `{"path": "t", "batch_size": -1}`, []sdk.Diagnostic{{Path: "batch_size", Msg: "must be between 1 and 1048576"}}},
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

func TestLayoutSpan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		layout, value string
		lo, hi        string
		known         bool
	}{
		{"2006-01-02", "2026-03-17", "2026-03-17T00:00:00Z", "2026-03-17T23:59:59.999999999Z", true},
		{"2006-01-02T15", "2026-03-17T23", "2026-03-17T23:00:00Z", "2026-03-17T23:59:59.999999999Z", true},
		{"2006-01", "2026-12", "2026-12-01T00:00:00Z", "2026-12-31T23:59:59.999999999Z", true},
		{"2006", "2026", "2026-01-01T00:00:00Z", "2026-12-31T23:59:59.999999999Z", true},
		{"01-02", "03-17", "", "", false},
		{"2006-01-02", "garbage", "", "", false},
	}
	for _, c := range cases {
		lo, hi, known := layoutSpan(c.layout, c.value)
		if known != c.known || known && (lo.Format(time.RFC3339Nano) != c.lo || hi.Format(time.RFC3339Nano) != c.hi) {
			t.Errorf("layoutSpan(%q, %q) = %v, %v, %v; want %s, %s, %v", c.layout, c.value, lo, hi, known, c.lo, c.hi, c.known)
		}
	}
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	cols := []string{"id", "at", "name"}
	writeTable(t, dir, map[string]any{"partition_by": []any{map[string]any{"column": "at", "format": "date=2006-01-02"}}}, cols,
		[][]any{{int64(1), day, "a"}, {int64(2), day.Add(time.Hour), "b"}, {int64(3), day.Add(25 * time.Hour), nil}},
		[][]any{{int64(4), day.Add(2 * time.Hour), "d"}, {int64(5), day.Add(49 * time.Hour), "e"}},
	)
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: []byte(config(dir, "time_column", "at", "from", "2026-03-17T00:30:00Z")),
		BadConfigs: map[string][]byte{
			"missing-table": []byte(config(filepath.Join(dir, "nope"))),
			"bad-range":     []byte(config(dir, "time_column", "at", "from", "2026-03-02", "to", "2026-03-01")),
			"unknown-field": []byte(`{"path": "t", "pth": "x"}`),
		},
	})
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

// TestResumeInRowGroup resumes in the middle of a file's row groups.
func TestResumeInRowGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var rows [][]any
	for i := range 100 {
		rows = append(rows, []any{int64(i)})
	}
	writeTable(t, dir, map[string]any{"row_group_size": "10"}, []string{"n"}, rows)
	_, all := readAll(t, config(dir))
	if len(all) != 100 {
		t.Fatalf("read %d rows", len(all))
	}
	for _, at := range []int{0, 9, 10, 35, 99} {
		s, msgs := readAll(t, config(dir), all[at].Position)
		if len(msgs) != 99-at || len(msgs) > 0 && msgs[0].Fields[0].Value != int64(at+1) {
			t.Errorf("resumed at %v: %d rows, first %v", all[at].Position, len(msgs), msgs[0].Fields)
		}
		if want := 10 - (at+1)/10; s.stats.groupsRead != want && at != 99 {
			t.Errorf("resumed at %v: read %d row groups, want %d", all[at].Position, s.stats.groupsRead, want)
		}
	}
}
