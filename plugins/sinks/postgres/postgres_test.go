package postgres

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/internal/pgtest"
	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite the README config table")

var at = time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC)

// config renders a config block.
func config(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logRecorder is a sdk.Logger that keeps the lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// opener opens sinks of one pipeline sink on one table, as successive
// runs do.
type opener struct {
	t       *testing.T
	fields  map[string]any
	key     []string
	columns []string
	name    string
	logs    *logRecorder
}

// open opens a sink; it is closed when the test ends unless closed
// before (a crash is a Close without Commit).
func (o opener) open() *Sink {
	o.t.Helper()
	s := Plugin().NewSink().(*Sink)
	name := o.name
	if name == "" {
		name = "sales"
	}
	var logger sdk.Logger
	if o.logs != nil {
		logger = o.logs
	}
	req := sdk.SinkOpenRequest{Config: config(o.t, o.fields), Columns: o.columns, Key: o.key,
		Settings: sdk.Settings{Pipeline: "test", Name: name, Logger: logger}}
	if err := s.Open(o.t.Context(), req); err != nil {
		_ = s.Close(context.Background())
		o.t.Fatalf("Open: %v", err)
	}
	o.t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// must fails t on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// contents renders a query's rows, one line each, values as text
// separated by |, null as ∅.
func contents(t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = text(v)
		}
		out = append(out, strings.Join(cells, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// text renders a value read back with pgx.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "∅"
	case time.Time:
		return sdk.FormatTime(v)
	case fmt.Stringer:
		return v.String()
	case []byte:
		return fmt.Sprintf("%x", v)
	}
	if b, err := json.Marshal(v); err == nil && !strings.HasPrefix(string(b), `"`) {
		return string(b)
	}
	return fmt.Sprint(v)
}

// sales returns rows of (id, store, amount).
func sales(rows ...string) sdk.Rows {
	out := sdk.Rows{Columns: []string{"id", "store", "amount"}}
	for _, r := range rows {
		var id int64
		var store, amount string
		if _, err := fmt.Sscanf(r, "%d %s %s", &id, &store, &amount); err != nil {
			panic(r)
		}
		out.Rows = append(out.Rows, []any{id, store, decimal.RequireFromString(amount)})
	}
	return out
}

// salesTable creates the table sales, with a primary key on id if pk.
func salesTable(t *testing.T, pk bool) (dsn string, conn *pgx.Conn) {
	t.Helper()
	dsn, _ = pgtest.Schema(t)
	conn = pgtest.Conn(t, dsn)
	ddl := "CREATE TABLE sales (id bigint, store text, amount numeric(10,2))"
	if pk {
		ddl = "CREATE TABLE sales (id bigint PRIMARY KEY, store text, amount numeric(10,2))"
	}
	pgtest.Exec(t, conn, ddl)
	return dsn, conn
}

const selectSales = "SELECT id, store, amount FROM sales ORDER BY id, store, amount"

func TestConformance(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	sdktest.RunSink(t, sdktest.SinkCase{
		Plugin: Plugin(),
		Config: func(t *testing.T) []byte {
			dsn, _ := pgtest.Schema(t)
			return config(t, map[string]any{"dsn": dsn, "table": "out", "create_table": true})
		},
		Columns: []string{"id", "name", "at", "price", "tags"},
		Rows: [][]any{
			{int64(1), "one", at, decimal.RequireFromString("1.50"), []any{"a"}},
			{int64(2), nil, at.Add(time.Hour), decimal.RequireFromString("-2"), []any{}},
			{int64(3), "three", time.Time{}, decimal.Zero, nil},
		},
		BadConfigs: map[string][]byte{
			"missing-table": config(t, map[string]any{"dsn": dsn, "table": "nope"}),
			"bad-mode":      config(t, map[string]any{"dsn": dsn, "table": "out", "mode": "merge"}),
			"upsert-no-key": config(t, map[string]any{"dsn": dsn, "table": "out", "mode": "upsert", "create_table": true}),
			"bad-dsn":       config(t, map[string]any{"dsn": "host=127.0.0.1 port=nope", "table": "out"}),
			"unknown-field": config(t, map[string]any{"dsn": dsn, "table": "out", "tabel": "out"}),
		},
	})
}

// TestInsert writes rows through checkpoints: they are invisible until
// Commit, and then in the table once.
func TestInsert(t *testing.T) {
	dsn, conn := salesTable(t, false)
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, columns: []string{"id", "store", "amount"}}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sales("1 a 1.50", "2 b 2")))
	must(t, "Write", s.Write(ctx, sales("1 a 1.50")))
	must(t, "Prepare", s.Prepare(ctx, 1))
	if got := contents(t, conn, selectSales); len(got) > 0 {
		t.Errorf("rows visible before Commit: %v", got)
	}
	must(t, "Commit", s.Commit(ctx, 1))
	must(t, "Write", s.Write(ctx, sales("3 c 3.25")))
	must(t, "Prepare", s.Prepare(ctx, 2))
	must(t, "Commit", s.Commit(ctx, 2))
	want := []string{"1|a|1.50", "1|a|1.50", "2|b|2.00", "3|c|3.25"}
	if diff := cmp.Diff(want, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if got := contents(t, conn, "SELECT pipeline, sink, checkpoint, prepared FROM flowctl_commits"); !cmp.Equal(got, []string{"test|sales|2|2"}) {
		t.Errorf("marker %v, want test|sales|2|2", got)
	}
}

// TestUpsert upserts on the key: the last row written for a key wins,
// within a checkpoint and across checkpoints committed together.
func TestUpsert(t *testing.T) {
	dsn, conn := salesTable(t, true)
	pgtest.Exec(t, conn, "INSERT INTO sales VALUES (9, 'old', 9)")
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, key: []string{"id"}}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sales("1 a 1", "2 b 2", "1 c 3", "9 new 9.99")))
	must(t, "Prepare", s.Prepare(ctx, 1))
	must(t, "Commit", s.Commit(ctx, 1))
	if diff := cmp.Diff([]string{"1|c|3.00", "2|b|2.00", "9|new|9.99"}, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("after checkpoint 1 (-want +got):\n%s", diff)
	}
	must(t, "Write", s.Write(ctx, sales("2 d 4", "3 e 5")))
	must(t, "Prepare", s.Prepare(ctx, 2))
	must(t, "Write", s.Write(ctx, sales("2 f 6")))
	must(t, "Prepare", s.Prepare(ctx, 3))
	must(t, "Commit", s.Commit(ctx, 3))
	if diff := cmp.Diff([]string{"1|c|3.00", "2|f|6.00", "3|e|5.00", "9|new|9.99"}, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("after checkpoint 3 (-want +got):\n%s", diff)
	}
}

// TestUpsertKeyOnly upserts rows that are all key: conflicts do nothing.
func TestUpsertKeyOnly(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	conn := pgtest.Conn(t, dsn)
	pgtest.Exec(t, conn, "CREATE TABLE seen (a text, b bigint, PRIMARY KEY (b, a))")
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "seen"}, key: []string{"a", "b"}}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	rows := sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{"x", int64(1)}, {"x", int64(1)}, {"y", int64(1)}}}
	for id := uint64(1); id <= 2; id++ {
		must(t, "Write", s.Write(ctx, rows))
		must(t, "Prepare", s.Prepare(ctx, id))
		must(t, "Commit", s.Commit(ctx, id))
	}
	if diff := cmp.Diff([]string{"x|1", "y|1"}, contents(t, conn, "SELECT a, b FROM seen ORDER BY a")); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// TestCreateTable creates the table from the first rows' values, with the
// key as primary key, and stores every kind of value.
func TestCreateTable(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	conn := pgtest.Conn(t, dsn)
	cols := []string{"id", "n", "f", "d", "s", "b", "raw", "at", "dur", "list", "obj", "nothing"}
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "all_types", "create_table": true}, key: []string{"id"}, columns: cols}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: cols, Rows: [][]any{
		{int64(1), nil, 1.5, decimal.RequireFromString("12.340"), "x", true, []byte{1, 2}, at, 90 * time.Minute,
			[]any{int64(1), "two"}, map[string]any{"k": decimal.RequireFromString("1.10")}, nil},
		{int64(2), int64(-7), nil, nil, sdk.Absent, nil, nil, nil, nil, nil, nil, nil},
	}}))
	must(t, "Prepare", s.Prepare(ctx, 1))
	must(t, "Commit", s.Commit(ctx, 1))
	gotTypes := contents(t, conn, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = 'all_types'::regclass AND a.attnum > 0 ORDER BY a.attnum`)
	wantTypes := []string{
		"id|bigint|true", "n|bigint|false", "f|double precision|false", "d|numeric|false", "s|text|false",
		"b|boolean|false", "raw|bytea|false", "at|timestamp with time zone|false", "dur|interval|false",
		"list|jsonb|false", "obj|jsonb|false", "nothing|text|false",
	}
	if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if got := contents(t, conn, "SELECT conname FROM pg_constraint WHERE conrelid = 'all_types'::regclass AND contype = 'p'"); len(got) != 1 {
		t.Errorf("primary keys: %v, want one", got)
	}
	got := contents(t, conn, "SELECT id, n, f, d::text, s, b, raw, at, dur::text, list::text, obj::text, nothing FROM all_types ORDER BY id")
	want := []string{
		`1|∅|1.5|12.340|x|true|0102|2026-03-17T10:00:00Z|01:30:00|[1, "two"]|{"k": 1.10}|∅`,
		`2|-7|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestColumnTypes writes values into columns of other but compatible
// types, and reports a value that does not fit with its row and column.
func TestColumnTypes(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	conn := pgtest.Conn(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE typed (id integer, amount numeric(12,3), u uuid, j json, ts timestamp, d date, f real, note varchar(20))`)
	cols := []string{"id", "amount", "u", "j", "ts", "d", "f", "note"}
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "typed"}, columns: cols}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: cols, Rows: [][]any{
		{int64(1), "12.5", "0b6c3a4e-5f1d-4c2b-9a8e-7d6f5e4c3b2a", []any{"a", nil}, at, at, 0.25, "plain"},
		{int64(2), int64(7), nil, map[string]any{"b": true}, nil, nil, int64(3), sdk.Absent},
	}}))
	must(t, "Prepare", s.Prepare(ctx, 1))
	must(t, "Commit", s.Commit(ctx, 1))
	got := contents(t, conn, "SELECT id, amount::text, u::text, j::text, ts::text, d::text, f, note FROM typed ORDER BY id")
	want := []string{
		`1|12.500|0b6c3a4e-5f1d-4c2b-9a8e-7d6f5e4c3b2a|["a",null]|2026-03-17 10:00:00|2026-03-17|0.25|plain`,
		`2|7.000|∅|{"b":true}|∅|∅|3|∅`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: []string{"id", "amount"}, Rows: [][]any{{int64(3), "1"}, {int64(4), "twelve"}}}))
	err := s.Prepare(ctx, 2)
	wantErr := `prepare checkpoint 2: row 2, column "amount": cannot store "twelve" (string) in a numeric column`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Prepare with a bad value: %v, want %s", err, wantErr)
	}
}

// TestOddIdentifiers writes into a schema, table and columns whose names
// need quoting, values that look like SQL injection, and checks that
// everything is stored verbatim.
func TestOddIdentifiers(t *testing.T) {
	base, _ := pgtest.Schema(t)
	conn := pgtest.Conn(t, base)
	schema := `My "Schema"; --`
	pgtest.Exec(t, conn,
		"CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize(),
		`CREATE TABLE `+pgx.Identifier{schema, "order"}.Sanitize()+` ("Order Id" bigint PRIMARY KEY, "select" text, "MixedCase" text, "semi;colon" text)`)
	t.Cleanup(func() {
		c := pgtest.Conn(t, base)
		pgtest.Exec(t, c, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	cols := []string{"Order Id", "select", "MixedCase", "semi;colon"}
	values := []string{
		`'); DROP TABLE "order"; --`,
		`Robert'); DROP TABLE students;--`,
		`$1 $2 \x00 \\ '' "" ;`,
	}
	for _, mode := range []string{"insert", "upsert"} {
		t.Run(mode, func(t *testing.T) {
			pgtest.Exec(t, conn, "DELETE FROM "+pgx.Identifier{schema, "order"}.Sanitize())
			s := opener{t: t, fields: map[string]any{"dsn": base, "schema": schema, "table": "order", "mode": mode},
				key: []string{"Order Id"}, columns: cols, name: `sink "` + mode + `"`}.open()
			ctx := t.Context()
			must(t, "Recover", s.Recover(ctx, 0))
			must(t, "Write", s.Write(ctx, sdk.Rows{Columns: cols, Rows: [][]any{{int64(1), values[0], values[1], values[2]}}}))
			must(t, "Prepare", s.Prepare(ctx, 1))
			must(t, "Commit", s.Commit(ctx, 1))
			got := contents(t, conn, `SELECT "Order Id", "select", "MixedCase", "semi;colon" FROM `+pgx.Identifier{schema, "order"}.Sanitize())
			if diff := cmp.Diff([]string{"1|" + strings.Join(values, "|")}, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSchemaless writes batches whose columns grow, as schemaless records
// do: the staging table gains the column, earlier rows have it null.
func TestSchemaless(t *testing.T) {
	dsn, conn := salesTable(t, false)
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: []string{"id"}, Rows: [][]any{{int64(1)}}}))
	must(t, "Prepare", s.Prepare(ctx, 1))
	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: []string{"id", "store"}, Rows: [][]any{{int64(2), "b"}}}))
	must(t, "Write", s.Write(ctx, sdk.Rows{Columns: []string{"id", "store", "amount"}, Rows: [][]any{{int64(3), "c", int64(3)}}}))
	must(t, "Prepare", s.Prepare(ctx, 2))
	must(t, "Commit", s.Commit(ctx, 2))
	if diff := cmp.Diff([]string{"1|∅|∅", "2|b|∅", "3|c|3.00"}, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	err := s.Write(ctx, sdk.Rows{Columns: []string{"id", "colour"}, Rows: [][]any{{int64(4), "red"}}})
	if want := `table "sales" has no column "colour"`; err == nil || err.Error() != want {
		t.Errorf("Write of an unknown column: %v, want %s", err, want)
	}
}

// TestCrashes plays the Committer protocol through crashes (a Close
// without Commit, then a new sink as a restarted run opens it) and checks
// what Committed reports and what the table holds after Recover. Rows are
// inserted without a key, so a row written twice would show twice.
func TestCrashes(t *testing.T) {
	type step func(ctx context.Context, s *Sink) error
	write := func(rows ...string) step {
		return func(ctx context.Context, s *Sink) error { return s.Write(ctx, sales(rows...)) }
	}
	prepare := func(id uint64) step { return func(ctx context.Context, s *Sink) error { return s.Prepare(ctx, id) } }
	commit := func(id uint64) step { return func(ctx context.Context, s *Sink) error { return s.Commit(ctx, id) } }
	recover := func(id uint64) step { return func(ctx context.Context, s *Sink) error { return s.Recover(ctx, id) } }
	tests := []struct {
		name          string
		before        []step // the first run, until it crashes
		wantCommitted uint64 // what the restarted sink reports
		recoverTo     uint64
		after         []step // the restarted run, after Recover
		want          []string
	}{
		{"prepared, not committed: recover to it", []step{recover(0), write("1 a 1"), prepare(1), commit(1), write("2 b 2"), prepare(2)},
			2, 2, nil, []string{"1|a|1.00", "2|b|2.00"}},
		{"prepared, not committed: recover before it", []step{recover(0), write("1 a 1"), prepare(1), commit(1), write("2 b 2"), prepare(2)},
			2, 1, []step{write("2 b2 2"), prepare(2), commit(2)}, []string{"1|a|1.00", "2|b2|2.00"}},
		{"fresh run discards staged rows", []step{recover(0), write("1 a 1"), prepare(1)},
			1, 0, nil, nil},
		{"fresh run keeps committed rows", []step{recover(0), write("1 a 1"), prepare(1), commit(1)},
			1, 0, []step{write("5 e 5"), prepare(1), commit(1)}, []string{"1|a|1.00", "5|e|5.00"}},
		{"rows not prepared are lost", []step{recover(0), write("1 a 1"), prepare(1), commit(1), write("2 b 2")},
			1, 1, nil, []string{"1|a|1.00"}},
		{"recover after commit", []step{recover(0), write("1 a 1"), prepare(1), commit(1)},
			1, 1, nil, []string{"1|a|1.00"}},
		{"commit twice", []step{recover(0), write("1 a 1"), prepare(1), commit(1), commit(1)},
			1, 1, []step{commit(1)}, []string{"1|a|1.00"}},
		{"prepare retried with the same rows", []step{recover(0), write("1 a 1"), prepare(1), write("1 a 1"), prepare(1)},
			1, 1, nil, []string{"1|a|1.00"}},
		{"commit covers earlier ids", []step{recover(0), write("1 a 1"), prepare(1), write("2 b 2"), prepare(2), commit(2)},
			2, 2, nil, []string{"1|a|1.00", "2|b|2.00"}},
		{"several prepared: recover to the middle", []step{recover(0), write("1 a 1"), prepare(1), write("2 b 2"), prepare(2), write("3 c 3"), prepare(3)},
			3, 2, []step{commit(2)}, []string{"1|a|1.00", "2|b|2.00"}},
		{"empty checkpoints", []step{recover(0), prepare(1), commit(1), prepare(2)},
			2, 2, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, conn := salesTable(t, false)
			o := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, columns: []string{"id", "store", "amount"}}
			ctx := t.Context()
			first := o.open()
			for i, st := range tt.before {
				must(t, fmt.Sprintf("first run, step %d", i+1), st(ctx, first))
			}
			must(t, "crash", first.Close(ctx))

			second := o.open()
			committed, err := second.Committed(ctx)
			must(t, "Committed", err)
			if committed != tt.wantCommitted {
				t.Errorf("Committed = %d, want %d", committed, tt.wantCommitted)
			}
			must(t, "Recover", second.Recover(ctx, tt.recoverTo))
			for i, st := range tt.after {
				must(t, fmt.Sprintf("second run, step %d", i+1), st(ctx, second))
			}
			if diff := cmp.Diff(tt.want, contents(t, conn, selectSales), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if committed, _ := second.Committed(ctx); tt.after == nil && committed != tt.recoverTo {
				t.Errorf("Committed after Recover(%d) = %d", tt.recoverTo, committed)
			}
		})
	}
}

// TestSinksApart checks that two sinks of a pipeline on one table keep
// their own staging and markers.
func TestSinksApart(t *testing.T) {
	dsn, conn := salesTable(t, false)
	ctx := t.Context()
	a := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, name: "a"}.open()
	b := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, name: "b"}.open()
	must(t, "Recover a", a.Recover(ctx, 0))
	must(t, "Recover b", b.Recover(ctx, 0))
	must(t, "Write a", a.Write(ctx, sales("1 a 1")))
	must(t, "Write b", b.Write(ctx, sales("2 b 2")))
	must(t, "Prepare a", a.Prepare(ctx, 1))
	must(t, "Prepare b", b.Prepare(ctx, 1))
	must(t, "Commit a", a.Commit(ctx, 1))
	if diff := cmp.Diff([]string{"1|a|1.00"}, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("after a's commit (-want +got):\n%s", diff)
	}
	must(t, "Recover b", b.Recover(ctx, 0))
	if diff := cmp.Diff([]string{"test|a|1|1", "test|b|0|0"}, contents(t, conn, "SELECT pipeline, sink, checkpoint, prepared FROM flowctl_commits ORDER BY sink")); diff != "" {
		t.Errorf("markers (-want +got):\n%s", diff)
	}
}

// backendOf returns the pid of the sink's connection once it waits for
// a lock.
func backendOf(t *testing.T, admin *pgx.Conn, app string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var pid int
		err := admin.QueryRow(t.Context(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", app).Scan(&pid)
		if err == nil {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no backend of %s waits for a lock", app)
	return 0
}

// TestKilledConnection terminates the sink's backend in the middle of a
// Prepare and of a Commit (each held on a lock, then killed): the sink
// reconnects and retries, and every row lands exactly once.
func TestKilledConnection(t *testing.T) {
	for _, during := range []string{"prepare", "commit"} {
		t.Run(during, func(t *testing.T) {
			dsn, conn := salesTable(t, false)
			logs := &logRecorder{}
			s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales"}, name: during, logs: logs}.open()
			ctx := t.Context()
			must(t, "Recover", s.Recover(ctx, 0))
			must(t, "Write", s.Write(ctx, sales("1 a 1")))
			must(t, "Prepare", s.Prepare(ctx, 1))
			must(t, "Commit", s.Commit(ctx, 1))
			must(t, "Write", s.Write(ctx, sales("2 b 2", "3 c 3")))
			locked := s.names.stage.Sanitize()
			if during == "commit" {
				must(t, "Prepare", s.Prepare(ctx, 2))
				locked = "sales"
			}

			lock, err := conn.Begin(ctx)
			must(t, "begin", err)
			_, err = lock.Exec(ctx, "LOCK TABLE "+locked+" IN ACCESS EXCLUSIVE MODE")
			must(t, "lock", err)
			done := make(chan error, 1)
			go func() {
				if during == "prepare" {
					done <- s.Prepare(ctx, 2)
				} else {
					done <- s.Commit(ctx, 2)
				}
			}()
			admin := pgtest.Conn(t, dsn)
			pid := backendOf(t, admin, "flowctl test/"+during)
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			must(t, "unlock", lock.Rollback(ctx))
			select {
			case err := <-done:
				must(t, during, err)
			case <-time.After(20 * time.Second):
				t.Fatalf("%s did not return after the kill", during)
			}
			if during == "prepare" {
				must(t, "Commit", s.Commit(ctx, 2))
			}
			if diff := cmp.Diff([]string{"1|a|1.00", "2|b|2.00", "3|c|3.00"}, contents(t, conn, selectSales)); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if !strings.Contains(logs.all(), "retrying") {
				t.Errorf("no retry logged: %q", logs.all())
			}
			if strings.Contains(logs.all(), pgtest.Password(t, dsn)) {
				t.Errorf("the password is in the logs: %s", logs.all())
			}
		})
	}
}

// TestOpenErrors checks the errors of sinks that cannot open.
func TestOpenErrors(t *testing.T) {
	dsn, conn := salesTable(t, false)
	pgtest.Exec(t, conn, "CREATE TABLE keyed (id bigint PRIMARY KEY, v text)")
	tests := []struct {
		name    string
		fields  map[string]any
		key     []string
		columns []string
		want    string
	}{
		{"missing table", map[string]any{"table": "nope"}, nil, nil,
			`table: table "nope" does not exist; create it, or set create_table: true`},
		{"upsert without a key", map[string]any{"table": "sales", "mode": "upsert"}, nil, nil,
			"mode: upsert needs a key: set `key:` on the sink in the pipeline"},
		{"upsert without a unique index", map[string]any{"table": "sales"}, []string{"id"}, nil,
			`open: table "sales" has no unique index on the key ("id"), which upsert needs; add a primary key or a unique index on it`},
		{"upsert on another key", map[string]any{"table": "keyed"}, []string{"id", "v"}, nil,
			`open: table "keyed" has no unique index on the key ("id", "v"), which upsert needs; add a primary key or a unique index on it`},
		{"missing column", map[string]any{"table": "sales"}, nil, []string{"id", "colour"},
			`open: table "sales" has no column "colour"`},
		{"key not a column", map[string]any{"table": "keyed"}, []string{"key"}, []string{"id", "v"},
			`key column "key" is not among the sink's columns [id v]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fields["dsn"] = dsn
			s := Plugin().NewSink()
			err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: config(t, tt.fields), Key: tt.key, Columns: tt.columns})
			_ = s.Close(t.Context())
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestSecrets checks that a wrong password appears in no error or log.
func TestSecrets(t *testing.T) {
	dsn, _ := salesTable(t, false)
	const wrong = "wr0ng-s3cret-pw"
	for _, tt := range []struct{ name, dsn, want string }{
		{"wrong password", pgtest.WithPassword(t, dsn, wrong), "password authentication failed"},
		{"bad dsn", "postgres://flowctl:" + wrong + "@127.0.0.1:notaport/db", "not a valid PostgreSQL connection string"},
		{"key=value dsn", "host=127.0.0.1 port=1 password=" + wrong + " connect_timeout=1", "failed to connect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{}
			s := Plugin().NewSink()
			err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: config(t, map[string]any{"dsn": tt.dsn, "table": "sales"}), Settings: sdk.Settings{Logger: logs}})
			_ = s.Close(t.Context())
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(logs.all(), wrong) {
				t.Errorf("the password is in the error or the logs: %v\n%s", err, logs.all())
			}
		})
	}
}

// TestUnreachable checks that a commit fails once retry_timeout has
// passed without a server, and succeeds when retried with one.
func TestUnreachable(t *testing.T) {
	dsn, conn := salesTable(t, false)
	s := opener{t: t, fields: map[string]any{"dsn": dsn, "table": "sales", "retry_timeout": "300ms"}}.open()
	ctx := t.Context()
	must(t, "Recover", s.Recover(ctx, 0))
	must(t, "Write", s.Write(ctx, sales("1 a 1")))
	must(t, "Prepare", s.Prepare(ctx, 1))
	_ = s.conn.Close(ctx)
	port := s.pg.Port
	s.pg.Port = 1
	start := time.Now()
	if err := s.Commit(ctx, 1); err == nil {
		t.Fatal("Commit succeeded without a server")
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("gave up after %v, want retries for 300ms", waited)
	}
	s.pg.Port = port
	must(t, "Commit", s.Commit(ctx, 1))
	if diff := cmp.Diff([]string{"1|a|1.00"}, contents(t, conn, selectSales)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestDelivery(t *testing.T) {
	tests := []struct {
		name   string
		config string
		key    []string
		want   sdk.DeliveryReport
	}{
		{"insert", `{"dsn": "x", "table": "t"}`, nil, sdk.DeliveryReport{Delivery: sdk.ExactlyOnce,
			Reason: "rows are staged at each checkpoint and inserted into the table in one transaction with the checkpoint's marker in flowctl_commits"}},
		{"upsert by default with a key", `{"dsn": "x", "table": "t"}`, []string{"store", "day"}, sdk.DeliveryReport{Delivery: sdk.ExactlyOnce,
			Reason: "rows are staged at each checkpoint and upserted on (store, day) into the table in one transaction with the checkpoint's marker in flowctl_commits"}},
		{"insert with a key", `{"dsn": "x", "table": "t", "mode": "insert"}`, []string{"id"}, sdk.DeliveryReport{Delivery: sdk.ExactlyOnce,
			Reason: "rows are staged at each checkpoint and inserted into the table in one transaction with the checkpoint's marker in flowctl_commits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plugin().Delivery(sdk.DeliveryRequest{Config: []byte(tt.config), Key: tt.key})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", `{"dsn": "x", "table": "t", "mode": "upsert"}`, nil},
		{"empty", `{}`, []sdk.Diagnostic{{Path: "dsn", Msg: "must not be empty"}, {Path: "table", Msg: "must not be empty"}}},
		{"bad", `{"dsn": "x", "table": "t", "mode": "merge", "retry_timeout": "-1s"}`, []sdk.Diagnostic{
			{Path: "mode", Msg: `must be insert or upsert, not "merge"`},
			{Path: "retry_timeout", Msg: `"-1s" is not a positive duration such as "30s" or "5m"`},
		}},
		{"unknown field", `{"dsn": "x", "table": "t", "key": ["id"]}`, []sdk.Diagnostic{{Msg: `json: unknown field "key"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, validate([]byte(tt.config))); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

// BenchmarkWrite writes 10,000 rows per checkpoint (Write, Prepare,
// Commit) into a table of 20,000 keys, so that upserts update half the
// rows they write once the table is full.
func BenchmarkWrite(b *testing.B) {
	for _, mode := range []string{"insert", "upsert"} {
		b.Run(mode, func(b *testing.B) {
			dsn, _ := pgtest.Schema(b)
			conn := pgtest.Conn(b, dsn)
			pgtest.Exec(b, conn, "CREATE TABLE orders (id bigint PRIMARY KEY, store text, category text, amount numeric(10,2), at timestamptz)")
			if mode == "insert" {
				pgtest.Exec(b, conn, "ALTER TABLE orders DROP CONSTRAINT orders_pkey")
			}
			var key []string
			if mode == "upsert" {
				key = []string{"id"}
			}
			s := Plugin().NewSink().(*Sink)
			ctx := b.Context()
			req := sdk.SinkOpenRequest{Config: config(b, map[string]any{"dsn": dsn, "table": "orders", "mode": mode}), Key: key,
				Settings: sdk.Settings{Pipeline: "bench", Name: mode}}
			if err := s.Open(ctx, req); err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			if err := s.Recover(ctx, 0); err != nil {
				b.Fatal(err)
			}
			const perCheckpoint, batch, keys = 10_000, 1000, 20_000
			cols := []string{"id", "store", "category", "amount", "at"}
			next := int64(0)
			id := uint64(0)
			for b.Loop() {
				for range perCheckpoint / batch {
					rows := sdk.Rows{Columns: cols, Rows: make([][]any, batch)}
					for i := range rows.Rows {
						rows.Rows[i] = []any{next % keys, fmt.Sprintf("store-%d", next%50), "cat", decimal.New(next%100000, -2), at.Add(time.Duration(next) * time.Millisecond)}
						next++
					}
					if err := s.Write(ctx, rows); err != nil {
						b.Fatal(err)
					}
				}
				id++
				if err := s.Prepare(ctx, id); err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(perCheckpoint)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
