package expr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/record"
)

func TestCompileAggregate(t *testing.T) {
	t.Parallel()
	type result struct {
		Func  string
		Param float64
		Pos   diag.Pos
		Refs  []string
		Value any // the argument evaluated on testRecord
	}
	at := func(col int) diag.Pos { return diag.Pos{File: "p.yaml", Line: 7, Col: col} }
	tests := []struct {
		text string
		want result
	}{
		{`count()`, result{Func: "count", Pos: at(11)}},
		{`  count( )`, result{Func: "count", Pos: at(13)}},
		{`count(channel)`, result{Func: "count", Pos: at(11), Refs: []string{"channel"}}},
		{`sum(amount)`, result{Func: "sum", Pos: at(11), Refs: []string{"amount"}, Value: decimal.RequireFromString("12.5")}},
		{`sum(qty * price)`, result{Func: "sum", Pos: at(11), Refs: []string{"qty", "price"}, Value: 7.5}},
		{`avg(amount - fee)`, result{Func: "avg", Pos: at(11), Refs: []string{"amount", "fee"}, Value: decimal.RequireFromString("12.25")}},
		{`avg(raw)`, result{Func: "avg", Pos: at(11), Refs: []string{"raw"}, Value: "text"}},
		{`min(event_time)`, result{Func: "min", Pos: at(11), Refs: []string{"event_time"}, Value: testFields[6].value}},
		{`max(latency)`, result{Func: "max", Pos: at(11), Refs: []string{"latency"}, Value: testFields[7].value}},
		{`max(store_id)`, result{Func: "max", Pos: at(11), Refs: []string{"store_id"}, Value: "s-17"}},
		{`max(max(qty, 10))`, result{Func: "max", Pos: at(11), Refs: []string{"qty"}, Value: int64(10)}},
		{`sum(sum(tags, len(#)))`, result{Func: "sum", Pos: at(11), Refs: []string{"tags"}, Value: int64(2)}},
		{`first(device)`, result{Func: "first", Pos: at(11), Refs: []string{"device"}, Value: testFields[9].value}},
		{`last(upper(store_id))`, result{Func: "last", Pos: at(11), Refs: []string{"store_id"}, Value: "S-17"}},
		{`count_distinct(store_id)`, result{Func: "count_distinct", Pos: at(11), Refs: []string{"store_id"}, Value: "s-17"}},
		{`approx_count_distinct(tags)`, result{Func: "approx_count_distinct", Pos: at(11), Refs: []string{"tags"}, Value: []any{"a", "b"}}},
		{`approx_percentile(price, 0.99)`, result{Func: "approx_percentile", Param: 0.99, Pos: at(11), Refs: []string{"price"}, Value: 2.5}},
		{`approx_percentile(qty, 1)`, result{Func: "approx_percentile", Param: 1, Pos: at(11), Refs: []string{"qty"}, Value: int64(3)}},
		{`amount | sum()`, result{Func: "sum", Pos: at(20), Refs: []string{"amount"}, Value: decimal.RequireFromString("12.5")}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			a, ds := CompileAggregate(plain(tt.text), testEnv())
			if ds.HasErrors() {
				t.Fatal(ds.Err())
			}
			got := result{Func: a.Func, Param: a.Param, Pos: a.Pos}
			if a.Arg != nil {
				got.Refs = a.Arg.Refs()
				v, err := a.Arg.Eval(testRecord())
				if err != nil {
					t.Fatal(err)
				}
				got.Value = v
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CompileAggregate (-want +got):\n%s", diff)
			}
			if (a.Arg == nil) != (tt.want.Func == "count" && tt.want.Refs == nil) {
				t.Errorf("Arg = %v, want nil only for count()", a.Arg)
			}
		})
	}
}

func TestCompileAggregateErrors(t *testing.T) {
	t.Parallel()
	const list = "count, sum, avg, min, max, first, last, count_distinct, approx_count_distinct, approx_percentile"
	tests := []struct {
		text string
		want string
	}{
		{`summ(amount)`, `p.yaml:7:11: unknown aggregate "summ" (did you mean "sum"?); aggregates are ` + list},
		{`median(amount)`, `p.yaml:7:11: unknown aggregate "median"; aggregates are ` + list},
		{`amount`, `p.yaml:7:11: an aggregate must be a call such as count() or sum(amount)`},
		{`sum(amount) / count()`, `p.yaml:7:11: an aggregate must be a single call such as sum(amount); compute with aggregates in a later map`},
		{`count(qty, price)`, `p.yaml:7:11: count takes at most one argument, got 2`},
		{`sum()`, `p.yaml:7:11: sum takes one argument, got 0`},
		{`first(qty, price)`, `p.yaml:7:11: first takes one argument, got 2`},
		{`approx_percentile(price)`, `p.yaml:7:11: approx_percentile takes two arguments, a value and p in (0, 1], got 1`},
		{`approx_percentile(price, 1.5)`, `p.yaml:7:36: approx_percentile: p must be a number in (0, 1], got 1.5`},
		{`approx_percentile(price, 0)`, `p.yaml:7:36: approx_percentile: p must be a number in (0, 1], got 0`},
		{`approx_percentile(price, -0.5)`, `p.yaml:7:36: approx_percentile: p must be a number in (0, 1], got -0.5`},
		{`approx_percentile(price, qty)`, `p.yaml:7:36: approx_percentile: p must be a number in (0, 1], got qty`},
		{`approx_percentile(store_id, 0.5)`, `p.yaml:7:29: approx_percentile needs a number (int, float or decimal), got string`},
		{`approx_percentile(latency_ms, 0.99)`, `p.yaml:7:29: unknown name "latency_ms" (did you mean "latency"?)`},
		{`sum(count())`, `p.yaml:7:15: aggregates cannot be nested: count() inside sum`},
		{`max(1 + avg(qty))`, `p.yaml:7:19: aggregates cannot be nested: avg(qty) inside max`},
		{`sum(store_id)`, `p.yaml:7:15: sum needs a number (int, float or decimal), got string`},
		{`avg(paid)`, `p.yaml:7:15: avg needs a number (int, float or decimal), got bool`},
		{`sum(qty + amount > 1)`, `p.yaml:7:15: sum needs a number (int, float or decimal), got bool`},
		{`min(tags)`, `p.yaml:7:15: min needs an orderable value (number, string, timestamp or duration), got list<string>`},
		{`max(device)`, `p.yaml:7:15: max needs an orderable value (number, string, timestamp or duration), got object`},
		{`sum(amout)`, `p.yaml:7:15: unknown name "amout" (did you mean "amount"?)`},
		{`sum(amount > "x")`, `p.yaml:7:22: invalid operation: > (mismatched types decimal and string)`},
		{`sum(amount`, `p.yaml:7:20: unexpected token EOF`},
		{`count(now())`, `p.yaml:7:17: now() is not allowed: results must not depend on when the pipeline runs; use the record's event time instead`},
		{``, `p.yaml:7:11: empty aggregate: want a call such as count() or sum(amount)`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			a, ds := CompileAggregate(plain(tt.text), testEnv())
			if diff := cmp.Diff([]string{tt.want}, diagStrings(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if a != nil {
				t.Errorf("got an aggregate despite errors")
			}
		})
	}
}

// TestCompileAggregateDynamic: in a schemaless pipeline every argument
// type is accepted and checked when the aggregate layer sees the values.
func TestCompileAggregateDynamic(t *testing.T) {
	t.Parallel()
	d := record.NewDynamic()
	d.Intern("x")
	for _, text := range []string{`sum(x)`, `avg(x * 2)`, `min(x)`, `approx_percentile(x, 0.5)`, `count_distinct(lower(x))`} {
		a, ds := CompileAggregate(plain(text), DynamicEnv(d))
		if ds.HasErrors() {
			t.Errorf("CompileAggregate(%q): %v", text, ds.Err())
			continue
		}
		if diff := cmp.Diff([]string{"x"}, a.Arg.Refs()); diff != "" {
			t.Errorf("CompileAggregate(%q) refs (-want +got):\n%s", text, diff)
		}
	}
}
