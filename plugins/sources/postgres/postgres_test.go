package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/internal/pgtest"
	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite the README config table")

// base is the time the test rows are stamped from.
var base = time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC)

// minute returns base plus n minutes as SQL text.
func minute(n int) string {
	return "'" + base.Add(time.Duration(n)*time.Minute).Format(time.RFC3339) + "'"
}

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

// open opens a source, closed when t ends.
func open(t *testing.T, cfg []byte, resume ...sdk.Position) *Source {
	t.Helper()
	src := Plugin().NewSource().(*Source)
	if err := src.Open(t.Context(), sdk.OpenRequest{Config: cfg, Resume: resume, Settings: sdk.Settings{Pipeline: "test", Name: t.Name()}}); err != nil {
		_ = src.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := src.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

// readAll reads a bounded source to its end.
func readAll(t *testing.T, src sdk.Source) []sdk.Message {
	t.Helper()
	var out []sdk.Message
	for range 10_000 {
		b, err := src.Read(t.Context())
		out = append(out, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return out
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(out), err)
		}
	}
	t.Fatal("no end of input")
	return nil
}

// readCaughtUp reads an unbounded source until a batch is caught up.
func readCaughtUp(t *testing.T, src sdk.Source) []sdk.Message {
	t.Helper()
	var out []sdk.Message
	for range 10_000 {
		b, err := src.Read(t.Context())
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(out), err)
		}
		out = append(out, b.Messages...)
		if b.CaughtUp {
			return out
		}
	}
	t.Fatal("never caught up")
	return nil
}

// field returns the value of a message's field.
func field(t *testing.T, m sdk.Message, name string) any {
	t.Helper()
	for _, f := range m.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	t.Fatalf("message %v has no field %q", m, name)
	return nil
}

// ids returns the id field of each message.
func ids(t *testing.T, msgs []sdk.Message) []int64 {
	t.Helper()
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = field(t, m, "id").(int64)
	}
	return out
}

// seed creates a table orders(id, placed_at, store, amount) with one row
// per entry of minutes (the placed_at minute after base), ids from 1.
func seed(t *testing.T, table string, minutes ...int) (dsn string) {
	t.Helper()
	dsn, _ = pgtest.Schema(t)
	conn := pgtest.Conn(t, dsn)
	pgtest.Exec(t, conn, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL, store text, amount numeric(10,2))")
	for i, m := range minutes {
		pgtest.Exec(t, conn, fmt.Sprintf("INSERT INTO %s VALUES (%d, %s, 'store-%d', %d.50)", table, i+1, minute(m), i%3, i))
	}
	return dsn
}

func TestConformance(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 1, 2, 3, 3, 3, 4)
	conn := pgtest.Conn(t, dsn)
	pgtest.Exec(t, conn, "CREATE TABLE notes (id bigint, body text)")
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "batch_size": 3, "bounded": true}),
		BadConfigs: map[string][]byte{
			"table-and-query":   config(t, map[string]any{"dsn": dsn, "table": "orders", "query": "SELECT 1", "cursor": "id"}),
			"neither":           config(t, map[string]any{"dsn": dsn, "cursor": "id"}),
			"missing-table":     config(t, map[string]any{"dsn": dsn, "table": "nope", "cursor": "id"}),
			"text-cursor":       config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "store"}),
			"count-lookback-ts": config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "placed_at", "lookback": "10"}),
			"bad-query":         config(t, map[string]any{"dsn": dsn, "query": "SELEC id FROM orders", "cursor": "id"}),
			"bad-dsn":           config(t, map[string]any{"dsn": "postgres://u:p@127.0.0.1:1/x?sslmode=nonsense", "table": "orders", "cursor": "id"}),
			"zero-batch":        config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "batch_size": 0}),
			"unknown-field":     config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "curser": "id"}),
		},
	})
}

// TestPages reads a table whose cursor values repeat with every page
// size: each row comes exactly once, in cursor then ctid order, and each
// position says how far every row is read: all rows with a cursor value
// up to it were handed out by then.
func TestPages(t *testing.T) {
	minutes := []int{0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 5, 5}
	dsn := seed(t, "orders", minutes...)
	want := make([]int64, len(minutes))
	for i := range want {
		want[i] = int64(i + 1)
	}
	for _, cursor := range []string{"placed_at", "id"} {
		for _, size := range []int{1, 2, 3, 4, 5, 100} {
			t.Run(fmt.Sprintf("%s/batch_size=%d", cursor, size), func(t *testing.T) {
				src := open(t, config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": cursor, "batch_size": size, "bounded": true}))
				msgs := readAll(t, src)
				if diff := cmp.Diff(want, ids(t, msgs)); diff != "" {
					t.Fatalf("ids (-want +got):\n%s", diff)
				}
				for i, m := range msgs {
					if i > 0 && m.Position.Offset < msgs[i-1].Position.Offset {
						t.Errorf("position %d went back: %d after %d", i, m.Position.Offset, msgs[i-1].Position.Offset)
					}
					for j := i + 1; j < len(msgs); j++ {
						if c, _ := cursorOffset(t, msgs[j], cursor); c <= m.Position.Offset {
							t.Errorf("row %d (cursor %d) comes after position %d of row %d", j+1, c, m.Position.Offset, i+1)
						}
					}
				}
			})
		}
	}
}

// cursorOffset is the offset a message's cursor field stands for.
func cursorOffset(t *testing.T, m sdk.Message, cursor string) (int64, error) {
	t.Helper()
	switch v := field(t, m, cursor).(type) {
	case int64:
		return v, nil
	case time.Time:
		return v.UnixMicro(), nil
	}
	return 0, fmt.Errorf("cursor %v", m)
}

// TestRange reads [from, to) ranges, which end by themselves.
func TestRange(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 1, 2, 3, 3, 4, 5)
	tests := []struct {
		name, cursor, from, to string
		want                   []int64
	}{
		{"timestamps", "placed_at", base.Add(time.Minute).Format(time.RFC3339), base.Add(3 * time.Minute).Format(time.RFC3339), []int64{2, 3, 4}},
		{"from only", "placed_at", base.Add(4 * time.Minute).Format(time.RFC3339), "", []int64{7, 8}},
		{"to only", "placed_at", "", base.Add(time.Minute).Format(time.RFC3339), []int64{1}},
		{"date", "placed_at", "2026-03-17", "2026-03-18", []int64{1, 2, 3, 4, 5, 6, 7, 8}},
		{"empty", "placed_at", "2026-03-18", "2026-03-19", nil},
		{"ids", "id", "3", "6", []int64{3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{"dsn": dsn, "table": "orders", "cursor": tt.cursor, "batch_size": 2}
			if tt.from != "" {
				fields["from"] = tt.from
			}
			if tt.to != "" {
				fields["to"] = tt.to
			} else {
				fields["bounded"] = true
			}
			got := ids(t, readAll(t, open(t, config(t, fields))))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBoundedStopsAtStart checks that a bounded source does not read rows
// added after it opened.
func TestBoundedStopsAtStart(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 2)
	src := open(t, config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "batch_size": 2, "bounded": true}))
	pgtest.Exec(t, pgtest.Conn(t, dsn), "INSERT INTO orders VALUES (4, "+minute(3)+", 'late', 1)")
	if diff := cmp.Diff([]int64{1, 2, 3}, ids(t, readAll(t, src))); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestResume reopens the source after each message, as after a restart
// from a checkpoint holding that message's position: with no lookback it
// reads the rows after it, and the rest of a cursor value it stopped
// inside; with a lookback, also the rows of the window behind.
func TestResume(t *testing.T) {
	minutes := []int{0, 1, 1, 1, 2, 3, 3, 4}
	dsn := seed(t, "orders", minutes...)
	tests := []struct {
		name     string
		lookback string
		// want[k] are the ids read after resuming at message k's position.
		want [][]int64
	}{
		{"no lookback", "", [][]int64{
			{2, 3, 4, 5, 6, 7, 8},
			{2, 3, 4, 5, 6, 7, 8}, // inside minute 1: it is read again
			{2, 3, 4, 5, 6, 7, 8},
			{5, 6, 7, 8},
			{6, 7, 8},
			{6, 7, 8},
			{8},
			nil,
		}},
		{"lookback 1m", "1m", [][]int64{
			{1, 2, 3, 4, 5, 6, 7, 8},
			{1, 2, 3, 4, 5, 6, 7, 8},
			{1, 2, 3, 4, 5, 6, 7, 8},
			{2, 3, 4, 5, 6, 7, 8},
			{5, 6, 7, 8},
			{5, 6, 7, 8},
			{6, 7, 8},
			{8},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{"dsn": dsn, "table": "orders", "cursor": "placed_at", "batch_size": 2, "bounded": true}
			if tt.lookback != "" {
				fields["lookback"] = tt.lookback
			}
			all := readAll(t, open(t, config(t, fields)))
			for k, m := range all {
				got := readAll(t, open(t, config(t, fields), sdk.Position{Partition: "orders", Offset: m.Position.Offset}))
				if diff := cmp.Diff(tt.want[k], ids(t, got), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("resumed after message %d (position %d) (-want +got):\n%s", k, m.Position.Offset, diff)
				}
				for _, r := range got {
					if r.Position.Offset < m.Position.Offset {
						t.Errorf("resumed at %d, a message has the earlier position %d", m.Position.Offset, r.Position.Offset)
					}
				}
			}
		})
	}
}

// TestResumeIDLookback resumes an id cursor with a count lookback.
func TestResumeIDLookback(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 2, 3, 4, 5)
	cfg := config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "lookback": "2", "bounded": true})
	got := ids(t, readAll(t, open(t, cfg, sdk.Position{Partition: "orders", Offset: 4})))
	if diff := cmp.Diff([]int64{3, 4, 5, 6}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestLateCommit polls a table while a transaction that inserted a row
// with an early cursor value commits only after later rows were read:
// with a lookback covering it, the row is read on a later poll; without,
// it is missed. That is what lookback is for.
func TestLateCommit(t *testing.T) {
	for _, tt := range []struct {
		name     string
		lookback string
		wantLate bool
	}{
		{"lookback 10m", "10m", true},
		{"no lookback", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := seed(t, "orders", 0, 1)
			fields := map[string]any{"dsn": dsn, "table": "orders", "cursor": "placed_at", "poll_interval": "10ms"}
			if tt.lookback != "" {
				fields["lookback"] = tt.lookback
			}
			src := open(t, config(t, fields))
			if diff := cmp.Diff([]int64{1, 2}, ids(t, readCaughtUp(t, src))); diff != "" {
				t.Fatalf("first poll (-want +got):\n%s", diff)
			}

			ctx := t.Context()
			late := pgtest.Conn(t, dsn)
			tx, err := late.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO orders VALUES (3, "+minute(2)+", 'late', 3)"); err != nil {
				t.Fatal(err)
			}
			pgtest.Exec(t, pgtest.Conn(t, dsn), "INSERT INTO orders VALUES (4, "+minute(3)+", 'on time', 4)")
			second := ids(t, readCaughtUp(t, src))
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			third := ids(t, readCaughtUp(t, src))

			wantSecond, wantThird := []int64{4}, []int64{}
			if tt.lookback != "" {
				// Each poll re-reads the 10 minutes behind the highest position.
				wantSecond, wantThird = []int64{1, 2, 4}, []int64{1, 2, 3, 4}
			}
			if diff := cmp.Diff(wantSecond, second, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("poll before the late commit (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantThird, third, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("poll after the late commit (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPollWaits checks that a caught-up source waits poll_interval before
// it looks again, and finds rows inserted meanwhile.
func TestPollWaits(t *testing.T) {
	dsn := seed(t, "orders", 0)
	src := open(t, config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "poll_interval": "200ms"}))
	readCaughtUp(t, src)
	first := src.polled
	pgtest.Exec(t, pgtest.Conn(t, dsn), "INSERT INTO orders VALUES (2, "+minute(1)+", 'x', 1)")
	got := ids(t, readCaughtUp(t, src))
	if gap := src.polled.Sub(first); gap < 200*time.Millisecond {
		t.Errorf("the next poll came %v after the first, want 200ms or more", gap)
	}
	if diff := cmp.Diff([]int64{2}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// TestQuery reads a query rather than a table, with columns picked.
func TestQuery(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 1, 2)
	cfg := config(t, map[string]any{
		"dsn": dsn, "query": "SELECT id, store, amount * 2 AS doubled, placed_at FROM orders WHERE store <> 'store-1';\n",
		"cursor": "placed_at", "columns": []string{"id", "doubled"}, "tiebreaker": []string{"id"}, "batch_size": 1, "bounded": true,
	})
	var got []string
	for _, m := range readAll(t, open(t, cfg)) {
		if m.Position.Partition != "query" {
			t.Errorf("partition %q, want query", m.Position.Partition)
		}
		var row []string
		for _, f := range m.Fields {
			row = append(row, f.Name+"="+sdk.FormatText(f.Value))
		}
		got = append(got, strings.Join(row, " "))
	}
	want := []string{"id=1 doubled=1.00", "id=3 doubled=5.00", "id=4 doubled=7.00"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestTypes reads one column of each common type, once with values and
// once null.
func TestTypes(t *testing.T) {
	dsn, _ := pgtest.Schema(t)
	conn := pgtest.Conn(t, dsn)
	pgtest.Exec(t, conn, "CREATE TYPE mood AS ENUM ('sad', 'happy')")
	uuid := "0b6c3a4e-5f1d-4c2b-9a8e-7d6f5e4c3b2a"
	tests := []struct {
		name, typ, literal string
		want               any
	}{
		{"smallint", "smallint", "-7", int64(-7)},
		{"integer", "integer", "2147483647", int64(math.MaxInt32)},
		{"bigint", "bigint", "9223372036854775807", int64(math.MaxInt64)},
		{"real", "real", "1.5", 1.5},
		{"double", "double precision", "0.1", 0.1},
		{"numeric", "numeric(12,2)", "1234567890.10", decimal.RequireFromString("1234567890.10")},
		{"numeric unconstrained", "numeric", "-0.000000000000000000001", decimal.RequireFromString("-0.000000000000000000001")},
		{"numeric big", "numeric", "123456789012345678901234567890", decimal.RequireFromString("123456789012345678901234567890")},
		{"numeric NaN", "numeric", "'NaN'", math.NaN()},
		{"text", "text", "'héllo ''world'''", "héllo 'world'"},
		{"varchar", "varchar(10)", "'abc'", "abc"},
		{"char", "char(4)", "'ab'", "ab  "},
		{"bool", "boolean", "true", true},
		{"bytea", "bytea", `'\x00ff10'`, []byte{0, 0xff, 0x10}},
		{"json", "json", `'{"a": 1, "b": [2.5, "x", null, true]}'`, map[string]any{"a": int64(1), "b": []any{2.5, "x", nil, true}}},
		{"jsonb", "jsonb", `'{"n": 12345678901, "o": {"k": "v"}}'`, map[string]any{"n": int64(12345678901), "o": map[string]any{"k": "v"}}},
		{"uuid", "uuid", "'" + uuid + "'", uuid},
		{"timestamptz", "timestamptz", "'2026-03-17 12:30:00.123456+02'", time.Date(2026, 3, 17, 10, 30, 0, 123456000, time.UTC)},
		{"timestamp", "timestamp", "'2026-03-17 12:30:00'", time.Date(2026, 3, 17, 12, 30, 0, 0, time.UTC)},
		{"timestamp infinity", "timestamp", "'infinity'", "infinity"},
		{"date", "date", "'2026-03-17'", time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)},
		{"interval", "interval", "'1 day 02:03:04.5'", 26*time.Hour + 3*time.Minute + 4500*time.Millisecond},
		{"int array", "integer[]", "'{1,NULL,3}'", []any{int64(1), nil, int64(3)}},
		{"text array", "text[]", `'{"a b",c}'`, []any{"a b", "c"}},
		{"enum", "mood", "'happy'", "happy"},
		{"inet", "inet", "'10.0.0.1/8'", "10.0.0.1/8"},
	}
	cmpOpts := []cmp.Option{
		cmpopts.EquateNaNs(),
		cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() }),
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := fmt.Sprintf("types_%d", i)
			pgtest.Exec(t, conn,
				fmt.Sprintf("CREATE TABLE %s (id bigint, v %s)", table, tt.typ),
				fmt.Sprintf("INSERT INTO %s VALUES (1, %s), (2, NULL)", table, tt.literal))
			msgs := readAll(t, open(t, config(t, map[string]any{"dsn": dsn, "table": table, "cursor": "id", "bounded": true})))
			if len(msgs) != 2 {
				t.Fatalf("read %d messages, want 2", len(msgs))
			}
			if diff := cmp.Diff(tt.want, field(t, msgs[0], "v"), cmpOpts...); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if got := field(t, msgs[1], "v"); got != nil {
				t.Errorf("NULL read as %#v, want nil", got)
			}
		})
	}
}

// TestOpenErrors checks the messages of configs that fail at Open.
func TestOpenErrors(t *testing.T) {
	dsn := seed(t, "orders", 0)
	tests := []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"missing table", map[string]any{"table": "nope", "cursor": "id"},
			"table: table nope does not exist"},
		{"text cursor", map[string]any{"table": "orders", "cursor": "store"},
			`cursor: column "store" is of type text; it must be a timestamp, timestamptz or integer column`},
		{"missing cursor column", map[string]any{"table": "orders", "cursor": "nope"},
			`table orders: ERROR: column src.nope does not exist (SQLSTATE 42703)`},
		{"missing column", map[string]any{"table": "orders", "cursor": "id", "columns": []string{"id", "nope"}},
			`table orders: ERROR: column src.nope does not exist (SQLSTATE 42703)`},
		{"bad query", map[string]any{"query": "SELEC id FROM orders", "cursor": "id"},
			`query: ERROR: syntax error at or near "FROM" (SQLSTATE 42601), at character 10 of the query`},
		{"query with a missing table", map[string]any{"query": "SELECT * FROM nope", "cursor": "id"},
			`query: ERROR: relation "nope" does not exist (SQLSTATE 42P01), at character 15 of the query`},
		{"count lookback for timestamps", map[string]any{"table": "orders", "cursor": "placed_at", "lookback": "100"},
			`lookback: the cursor "placed_at" is a timestamp column: give a duration such as "10m", not "100"`},
		{"duration lookback for ids", map[string]any{"table": "orders", "cursor": "id", "lookback": "10m"},
			`lookback: the cursor "id" is an integer column: give a count of ids, not "10m"`},
		{"timestamp bound for ids", map[string]any{"table": "orders", "cursor": "id", "from": "2026-01-01"},
			`from: the cursor "id" is an integer column: give an integer, not "2026-01-01"`},
		{"integer bound for timestamps", map[string]any{"table": "orders", "cursor": "placed_at", "to": "7"},
			`to: the cursor "placed_at" is a timestamp column: give an RFC 3339 timestamp, not "7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fields["dsn"] = dsn
			src := Plugin().NewSource()
			err := src.Open(t.Context(), sdk.OpenRequest{Config: config(t, tt.fields)})
			_ = src.Close(t.Context())
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("Open error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestValidate checks the diagnostics of bad config blocks.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []sdk.Diagnostic
	}{
		{"ok", `{"dsn": "x", "table": "t", "cursor": "c"}`, nil},
		{"empty", `{}`, []sdk.Diagnostic{
			{Path: "dsn", Msg: "must not be empty"},
			{Path: "table", Msg: "set table or query"},
			{Path: "cursor", Msg: "must not be empty"},
		}},
		{"both", `{"dsn": "x", "table": "t", "query": "SELECT 1", "cursor": "c"}`, []sdk.Diagnostic{{Path: "query", Msg: "set table or query, not both"}}},
		{"schema without table", `{"dsn": "x", "schema": "s", "query": "SELECT 1", "cursor": "c"}`,
			[]sdk.Diagnostic{{Path: "schema", Msg: "qualifies table; a query names its own tables"}}},
		{"bad values", `{"dsn": "x", "table": "t", "cursor": "c", "columns": [""], "batch_size": -1, "poll_interval": "soon", "lookback": "-5", "from": "yesterday", "retry_timeout": "0s"}`,
			[]sdk.Diagnostic{
				{Path: "columns[0]", Msg: "must not be empty"},
				{Path: "batch_size", Msg: "must be positive"},
				{Path: "poll_interval", Msg: `"soon" is not a positive duration such as "1s" or "5m"`},
				{Path: "retry_timeout", Msg: `"0s" is not a positive duration such as "1s" or "5m"`},
				{Path: "lookback", Msg: `"-5" must not be negative`},
				{Path: "from", Msg: `"yesterday" is neither an RFC 3339 timestamp ("2026-03-17T00:00:00Z", or a date) nor an integer`},
			}},
		{"bad lookback", `{"dsn": "x", "table": "t", "cursor": "c", "lookback": "a while"}`, []sdk.Diagnostic{
			{Path: "lookback", Msg: `"a while" is neither a duration ("10m", for a timestamp cursor) nor a count ("1000", for an integer cursor)`},
		}},
		{"unknown field", `{"dsn": "x", "table": "t", "cursor": "c", "tabel": "t"}`, []sdk.Diagnostic{
			{Msg: `json: unknown field "tabel"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, validate([]byte(tt.config))); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSecrets checks that the password appears in no error: a wrong one,
// and a right one with a failing query.
func TestSecrets(t *testing.T) {
	dsn := seed(t, "orders", 0)
	const wrong = "wr0ng-s3cret-pw"
	for _, tt := range []struct {
		name, dsn, password, query string
		want                       string
	}{
		{"wrong password", pgtest.WithPassword(t, dsn, wrong), wrong, "", "password authentication failed"},
		{"bad query", dsn, pgtest.Password(t, dsn), "SELECT nope FROM orders", "column \"nope\" does not exist"},
		{"bad dsn", "postgres://flowctl:" + wrong + "@127.0.0.1:notaport/db", wrong, "", "not a valid PostgreSQL connection string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{"dsn": tt.dsn, "cursor": "id", "table": "orders"}
			if tt.query != "" {
				fields["query"], fields["table"] = tt.query, ""
				delete(fields, "table")
			}
			logs := &logRecorder{}
			src := Plugin().NewSource()
			err := src.Open(t.Context(), sdk.OpenRequest{Config: config(t, fields), Settings: sdk.Settings{Logger: logs}})
			_ = src.Close(t.Context())
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.password) || strings.Contains(logs.all(), tt.password) {
				t.Errorf("the password is in the error or the logs: %v\n%s", err, logs.all())
			}
		})
	}
}

// TestReconnect kills the source's connection between two reads and while
// a query runs: the source reconnects and goes on, neither skipping nor
// repeating rows, and logs the retries without the password.
func TestReconnect(t *testing.T) {
	dsn := seed(t, "orders", 0, 1, 2, 3, 4, 5, 6, 7)
	admin := pgtest.Conn(t, dsn)
	logs := &logRecorder{}
	src := Plugin().NewSource()
	cfg := config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "batch_size": 2, "bounded": true})
	name := "reconnect-" + t.Name()
	if err := src.Open(t.Context(), sdk.OpenRequest{Config: cfg, Settings: sdk.Settings{Pipeline: "test", Name: name, Logger: logs}}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	kill := func() {
		t.Helper()
		var n int
		if err := admin.QueryRow(t.Context(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", "flowctl test/"+name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("terminated %d backends, want 1", n)
		}
	}
	var got []int64
	for i := 0; ; i++ {
		if i == 1 || i == 3 {
			kill()
		}
		b, err := src.Read(t.Context())
		got = append(got, ids(t, b.Messages)...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
	}
	if diff := cmp.Diff([]int64{1, 2, 3, 4, 5, 6, 7, 8}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.all(), "retrying") {
		t.Errorf("no retry logged: %q", logs.all())
	}
	if pw := pgtest.Password(t, dsn); strings.Contains(logs.all(), pw) {
		t.Errorf("the password is in the logs: %s", logs.all())
	}
}

// TestUnreachable checks that a lost server fails the read once
// retry_timeout has passed.
func TestUnreachable(t *testing.T) {
	dsn := seed(t, "orders", 0, 1)
	src := open(t, config(t, map[string]any{"dsn": dsn, "table": "orders", "cursor": "id", "batch_size": 1, "retry_timeout": "300ms"}))
	if _, err := src.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Point the source at a port nothing listens on, as if the server
	// had gone away.
	_ = src.conn.Close(t.Context())
	src.pg.Port = 1
	start := time.Now()
	_, err := src.Read(t.Context())
	if err == nil {
		t.Fatal("Read succeeded without a server")
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("gave up after %v, want retries for 300ms", waited)
	}
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

// BenchmarkRead reads a table of 100,000 orders to its end.
func BenchmarkRead(b *testing.B) {
	dsn, _ := pgtest.Schema(b)
	conn := pgtest.Conn(b, dsn)
	const n = 100_000
	pgtest.Exec(b, conn,
		"CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL, store text, category text, amount numeric(10,2), qty integer)",
		fmt.Sprintf("INSERT INTO orders SELECT i, %s::timestamptz + i * interval '10 ms', 'store-' || i %% 50, 'cat-' || i %% 7, (i %% 1000) / 10.0, i %% 5 FROM generate_series(1, %d) i", minute(0), n),
		"CREATE INDEX ON orders (placed_at)", "ANALYZE orders")
	for _, cursor := range []string{"id", "placed_at"} {
		b.Run(cursor, func(b *testing.B) {
			for b.Loop() {
				src := Plugin().NewSource()
				cfg := config(b, map[string]any{"dsn": dsn, "table": "orders", "cursor": cursor, "batch_size": 5000, "bounded": true})
				if err := src.Open(b.Context(), sdk.OpenRequest{Config: cfg}); err != nil {
					b.Fatal(err)
				}
				read := 0
				for {
					batch, err := src.Read(b.Context())
					read += len(batch.Messages)
					if errors.Is(err, sdk.ErrEndOfInput) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if read != n {
					b.Fatalf("read %d rows, want %d", read, n)
				}
				_ = src.Close(b.Context())
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
