package expr

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// testFields is the typed env of most tests, with the values of
// testRecord.
var testFields = []struct {
	name  string
	typ   schema.Type
	value any
}{
	{"amount", schema.Type{Kind: schema.Decimal, Precision: 10, Scale: 2}, decimal.RequireFromString("12.50")},
	{"fee", schema.Type{Kind: schema.Decimal, Precision: 10, Scale: 2}, decimal.RequireFromString("0.25")},
	{"store_id", schema.Type{Kind: schema.String}, "s-17"},
	{"qty", schema.Type{Kind: schema.Int}, int64(3)},
	{"price", schema.Type{Kind: schema.Float}, 2.5},
	{"paid", schema.Type{Kind: schema.Bool}, true},
	{"event_time", schema.Type{Kind: schema.Timestamp}, time.Date(2026, 3, 17, 23, 58, 7, 123e6, time.UTC)},
	{"latency", schema.Type{Kind: schema.Duration}, 1500 * time.Millisecond},
	{"tags", schema.Type{Kind: schema.List, Elem: &schema.Type{Kind: schema.String}}, []any{"a", "b"}},
	{"device", schema.Type{Kind: schema.Object, Fields: []schema.Field{
		{Name: "os", Type: schema.Type{Kind: schema.String}},
		{Name: "version", Type: schema.Type{Kind: schema.Int, Optional: true}},
	}}, map[string]any{"os": "ios", "version": int64(17)}},
	{"channel", schema.Type{Kind: schema.String, Optional: true}, nil},
	{"date", schema.Type{Kind: schema.String}, "yesterday"}, // shares its name with a function
	{"raw", schema.Type{Kind: schema.Any}, "text"},
	{"gone", schema.Type{Kind: schema.Int, Optional: true}, record.Absent},
}

func testEnv() *Env {
	names := make([]string, len(testFields))
	types := make([]schema.Type, len(testFields))
	for i, f := range testFields {
		names[i], types[i] = f.name, f.typ
	}
	return NewEnv(names, types)
}

func testRecord() *record.Record {
	values := make([]any, len(testFields))
	for i, f := range testFields {
		values[i] = f.value
	}
	return &record.Record{Values: values}
}

// plain is text as a plain scalar at p.yaml:7:11.
func plain(text string) config.Expr {
	at := diag.Pos{File: "p.yaml", Line: 7, Col: 11}
	return config.Expr{Text: text, Pos: at, Lines: []diag.Pos{at}}
}

// diagStrings renders diagnostics as "file:line:col: message".
func diagStrings(ds diag.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// mustCompile compiles text against env or fails the test.
func mustCompile(t testing.TB, text string, env *Env) *Program {
	t.Helper()
	p, ds := Compile(plain(text), env)
	if ds.HasErrors() {
		t.Fatalf("Compile(%q): %s", text, strings.Join(diagStrings(ds), "; "))
	}
	return p
}
