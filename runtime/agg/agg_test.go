package agg

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// cmpValues compares results exactly, decimals by value and exponent.
var cmpValues = cmp.Comparer(func(a, b decimal.Decimal) bool {
	return a.Equal(b) && a.Exponent() == b.Exponent()
})

type in struct {
	v any
	t int64
}

func TestResults(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		fn    string
		kind  schema.Kind
		param float64
		in    []in
		want  any
	}{
		{"count nulls", Count, schema.Any, 0, []in{{1, 0}, {nil, 0}, {record.Absent, 0}, {"x", 0}}, int64(2)},
		{"count empty", Count, schema.Any, 0, nil, int64(0)},
		{"sum int", Sum, schema.Int, 0, []in{{int64(1), 0}, {int64(-5), 0}, {nil, 0}, {7, 0}}, int64(3)},
		{"sum int empty", Sum, schema.Int, 0, []in{{nil, 0}}, nil},
		{"sum int overflow is exact", Sum, schema.Int, 0, []in{{int64(math.MaxInt64), 0}, {int64(math.MaxInt64), 0}, {int64(2), 0}}, dec("18446744073709551616")},
		{"sum int overflow and back", Sum, schema.Int, 0, []in{{int64(math.MaxInt64), 0}, {int64(1), 0}, {int64(-2), 0}}, int64(math.MaxInt64 - 1)},
		{"sum any int overflow and back", Sum, schema.Any, 0, []in{{int64(math.MinInt64), 0}, {int64(-1), 0}, {int64(2), 0}}, int64(math.MinInt64 + 1)},
		{"sum any int overflow then float", Sum, schema.Any, 0, []in{{int64(math.MaxInt64), 0}, {int64(math.MaxInt64), 0}, {0.5, 0}}, math.Ldexp(1, 64)},
		{"sum any int overflow then decimal", Sum, schema.Any, 0, []in{{int64(math.MaxInt64), 0}, {int64(math.MaxInt64), 0}, {dec("-1.5"), 0}}, dec("18446744073709551612.5")},
		{"sum duration overflow saturates", Sum, schema.Duration, 0, []in{{time.Duration(math.MaxInt64), 0}, {time.Second, 0}}, time.Duration(math.MaxInt64)},
		{"avg int overflow", Avg, schema.Int, 0, []in{{int64(math.MaxInt64), 0}, {int64(math.MaxInt64), 0}}, math.Ldexp(1, 63)},
		{"sum float", Sum, schema.Float, 0, []in{{1.5, 0}, {int64(2), 0}, {float32(0.5), 0}}, 4.0},
		{"sum decimal", Sum, schema.Decimal, 0, []in{{dec("1.10"), 0}, {dec("2.205"), 0}, {int64(3), 0}}, dec("6.305")},
		{"sum decimal exponent is the smallest", Sum, schema.Decimal, 0, []in{{dec("1.50"), 0}, {dec("2.5"), 0}}, dec("4.00")},
		{"sum decimal positive exponents", Sum, schema.Decimal, 0, []in{{decimal.New(1, 3), 0}, {decimal.New(2, 3), 0}}, decimal.New(3, 3)},
		{"sum decimal beyond int64", Sum, schema.Decimal, 0, []in{{dec("9000000000000000000.5"), 0}, {dec("9000000000000000000.5"), 0}, {dec("0.25"), 0}}, dec("18000000000000000001.25")},
		{"sum decimal small overflow", Sum, schema.Decimal, 0, []in{{dec("900000000000000000.5"), 0}, {dec("900000000000000000.5"), 0}, {dec("900000000000000000.5"), 0}, {dec("0.01"), 0}}, dec("2700000000000000001.51")},
		{"sum duration", Sum, schema.Duration, 0, []in{{time.Second, 0}, {time.Minute, 0}}, time.Minute + time.Second},
		{"sum any ints", Sum, schema.Any, 0, []in{{int64(1), 0}, {int64(2), 0}}, int64(3)},
		{"sum any int then float", Sum, schema.Any, 0, []in{{int64(1), 0}, {0.5, 0}, {int64(2), 0}}, 3.5},
		{"sum any float then decimal", Sum, schema.Any, 0, []in{{0.5, 0}, {dec("0.25"), 0}, {int64(1), 0}}, dec("1.75")},
		{"sum any decimal then float", Sum, schema.Any, 0, []in{{dec("0.25"), 0}, {0.1, 0}}, dec("0.35")},
		{"sum any int overflow", Sum, schema.Any, 0, []in{{int64(math.MinInt64), 0}, {int64(-1), 0}}, dec("-9223372036854775809")},
		{"sum any nan in decimal", Sum, schema.Any, 0, []in{{dec("1"), 0}, {math.Inf(1), 0}, {dec("1"), 0}}, math.Inf(1)},
		{"avg int", Avg, schema.Int, 0, []in{{int64(1), 0}, {int64(2), 0}, {nil, 0}}, 1.5},
		{"avg float", Avg, schema.Float, 0, []in{{1.0, 0}, {2.0, 0}, {4.0, 0}}, 7.0 / 3},
		{"avg decimal rounds to scale+6", Avg, schema.Decimal, 0, []in{{dec("1.00"), 0}, {dec("1.00"), 0}, {dec("2.00"), 0}}, dec("1.333333")},
		{"avg decimal half away from zero", Avg, schema.Decimal, 0, []in{{dec("-0.000001"), 0}, {dec("-0.000002"), 0}}, dec("-0.000002")},
		{"avg any decimal scale from inputs", Avg, schema.Any, 0, []in{{dec("1.00"), 0}, {dec("1.00"), 0}, {dec("2.00"), 0}}, dec("1.33333333")},
		{"avg any decimal", Avg, schema.Any, 0, []in{{dec("1.5"), 0}, {int64(1), 0}}, dec("1.2500000")},
		{"avg any ints", Avg, schema.Any, 0, []in{{int64(1), 0}, {int64(2), 0}}, 1.5},
		{"avg duration", Avg, schema.Duration, 0, []in{{time.Second, 0}, {2 * time.Second, 0}}, 1500 * time.Millisecond},
		{"avg empty", Avg, schema.Float, 0, nil, nil},
		{"min int", Min, schema.Int, 0, []in{{int64(3), 0}, {int64(-2), 0}, {5, 0}}, int64(-2)},
		{"max int", Max, schema.Int, 0, []in{{int64(3), 0}, {int64(-2), 0}, {5, 0}}, int64(5)},
		{"min float nan first", Min, schema.Float, 0, []in{{1.0, 0}, {math.NaN(), 0}}, math.NaN()},
		{"max float ignores nan", Max, schema.Float, 0, []in{{math.NaN(), 0}, {1.0, 0}}, 1.0},
		{"max float ints", Max, schema.Float, 0, []in{{0.5, 0}, {int64(2), 0}}, 2.0},
		{"min string", Min, schema.String, 0, []in{{"b", 0}, {"a", 0}, {"c", 0}}, "a"},
		{"max decimal", Max, schema.Decimal, 0, []in{{dec("1.5"), 0}, {dec("1.50"), 0}, {int64(1), 0}}, dec("1.5")},
		{"min timestamp", Min, schema.Timestamp, 0, []in{{t0.Add(time.Hour), 0}, {t0, 0}}, t0},
		{"max duration", Max, schema.Duration, 0, []in{{time.Second, 0}, {time.Minute, 0}}, time.Minute},
		{"max bool", Max, schema.Bool, 0, []in{{false, 0}, {true, 0}, {false, 0}}, true},
		{"min any mixed numbers", Min, schema.Any, 0, []in{{int64(3), 0}, {2.5, 0}, {dec("2.4"), 0}}, dec("2.4")},
		{"max any mixed numbers", Max, schema.Any, 0, []in{{int64(3), 0}, {2.5, 0}, {dec("3.01"), 0}, {int64(1) << 60, 0}, {math.Ldexp(1, 60), 0}}, int64(1) << 60},
		{"max any across classes", Max, schema.Any, 0, []in{{int64(3), 0}, {"a", 0}, {true, 0}}, "a"},
		{"min any equal keeps first", Min, schema.Any, 0, []in{{2.0, 0}, {int64(2), 0}}, 2.0},
		{"min empty", Min, schema.Int, 0, []in{{nil, 0}}, nil},
		{"first by event time", First, schema.Any, 0, []in{{"b", 20}, {"a", 10}, {"c", 30}, {nil, 5}}, "a"},
		{"first ties by arrival", First, schema.Any, 0, []in{{"x", 10}, {"y", 10}}, "x"},
		{"last by event time", Last, schema.Any, 0, []in{{"b", 20}, {"c", 30}, {"a", 10}}, "c"},
		{"last ties by arrival", Last, schema.Any, 0, []in{{"x", 10}, {"y", 10}}, "y"},
		{"first int normalized", First, schema.Int, 0, []in{{7, 1}}, int64(7)},
		{"first list", First, schema.List, 0, []in{{[]any{"a"}, 1}}, []any{"a"}},
		{"count distinct", CountDistinct, schema.Any, 0, []in{{int64(1), 0}, {1.0, 0}, {int64(1), 0}, {dec("1.0"), 0}, {dec("1"), 0}, {nil, 0}, {"1", 0}}, int64(4)},
		{"count distinct float ints", CountDistinct, schema.Float, 0, []in{{int64(1), 0}, {1.0, 0}, {math.Copysign(0, -1), 0}, {0.0, 0}}, int64(2)},
		{"count distinct empty", CountDistinct, schema.Any, 0, nil, int64(0)},
		{"approx count distinct small", ApproxCountDistinct, schema.Any, 0, []in{{"a", 0}, {"b", 0}, {"a", 0}, {nil, 0}}, int64(2)},
		{"approx count distinct empty", ApproxCountDistinct, schema.Any, 0, nil, int64(0)},
		{"percentile median", ApproxPercentile, schema.Any, 0.5, []in{{int64(4), 0}, {1.0, 0}, {dec("3"), 0}, {int64(2), 0}}, 2.5},
		{"percentile p0", ApproxPercentile, schema.Float, 0, []in{{4.0, 0}, {1.0, 0}}, 1.0},
		{"percentile p1", ApproxPercentile, schema.Float, 1, []in{{4.0, 0}, {1.0, 0}}, 4.0},
		{"percentile p90", ApproxPercentile, schema.Int, 0.9, []in{{int64(10), 0}, {int64(20), 0}, {int64(30), 0}}, 28.0},
		{"percentile one", ApproxPercentile, schema.Int, 0.3, []in{{int64(10), 0}}, 10.0},
		{"percentile skips nan", ApproxPercentile, schema.Float, 0.5, []in{{math.NaN(), 0}, {1.0, 0}}, 1.0},
		{"percentile empty", ApproxPercentile, schema.Float, 0.5, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(tt.fn, schema.Type{Kind: tt.kind}, tt.param)
			if err != nil {
				t.Fatal(err)
			}
			a := f.New()
			for _, x := range tt.in {
				if err := a.Add(x.v, x.t); err != nil {
					t.Fatalf("Add(%v): %v", x.v, err)
				}
			}
			if diff := cmp.Diff(tt.want, a.Result(), cmpValues, cmp.Comparer(floatEq)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			// Merging in two halves gives the same result, and so does
			// merging into an empty accumulator.
			for cut := 0; cut <= len(tt.in); cut++ {
				x, y := f.New(), f.New()
				for _, v := range tt.in[:cut] {
					_ = x.Add(v.v, v.t)
				}
				for _, v := range tt.in[cut:] {
					_ = y.Add(v.v, v.t)
				}
				x.Merge(y)
				if diff := cmp.Diff(tt.want, x.Result(), cmpValues, cmp.Comparer(floatEq)); diff != "" {
					t.Errorf("merged at %d (-want +got):\n%s", cut, diff)
				}
			}
		})
	}
}

func floatEq(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

func TestNoArgCount(t *testing.T) {
	f, err := NewNoArg(Count)
	if err != nil {
		t.Fatal(err)
	}
	a := f.New()
	for _, v := range []any{nil, record.Absent, 1} {
		if err := a.Add(v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Result(); got != int64(3) {
		t.Errorf("count() = %v, want 3", got)
	}
	if !f.NoArg() || f.String() != "count()" {
		t.Errorf("NoArg() = %v, String() = %q", f.NoArg(), f.String())
	}
	if _, err := NewNoArg(Sum); err == nil {
		t.Error("NewNoArg(sum) succeeded")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		kind  schema.Kind
		param float64
		want  string
	}{
		{"median", schema.Float, 0, `unknown aggregate "median"`},
		{Sum, schema.String, 0, "sum does not apply to string"},
		{Avg, schema.Timestamp, 0, "avg does not apply to timestamp"},
		{Min, schema.List, 0, "min does not apply to list"},
		{ApproxPercentile, schema.Duration, 0.5, "approx_percentile does not apply to duration"},
		{ApproxPercentile, schema.Float, 1.5, "approx_percentile: p must be between 0 and 1, got 1.5"},
		{ApproxPercentile, schema.Float, math.NaN(), "approx_percentile: p must be between 0 and 1, got NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.name, schema.Type{Kind: tt.kind}, tt.param)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		fn   string
		kind schema.Kind
		v    any
		want string // "" for accepted
	}{
		{Sum, schema.Int, int64(1), ""},
		{Sum, schema.Int, 1, ""},
		{Sum, schema.Int, uint64(math.MaxUint64), "sum(int): got a value of type uint64, want int"},
		{Sum, schema.Int, 1.5, "sum(int): got a value of type float, want int"},
		{Sum, schema.Float, int64(1), ""},
		{Sum, schema.Decimal, 1.5, "sum(decimal): got a value of type float, want decimal or int"},
		{Sum, schema.Any, "1", "sum(any): got a value of type string, want a number"},
		{Sum, schema.Any, time.Second, "sum(any): got a value of type duration, want a number"},
		{Sum, schema.Any, nil, ""},
		{Sum, schema.Any, record.Absent, ""},
		{Min, schema.Any, []any{1}, "min(any): got a value of type list, want a bool, number, string, bytes, timestamp or duration"},
		{Min, schema.String, int64(1), "min(string): got a value of type int, want string"},
		{Max, schema.Timestamp, "2026-01-01", "max(timestamp): got a value of type string, want timestamp"},
		{First, schema.Any, struct{}{}, ""},
		{First, schema.Bool, "true", "first(bool): got a value of type string, want bool"},
		{CountDistinct, schema.Any, []any{int64(1), map[string]any{"a": "b"}}, ""},
		{CountDistinct, schema.Any, []any{struct{}{}}, "count_distinct(any): got a value of type list, want a value that can be compared"},
		{Count, schema.Any, struct{}{}, ""},
	}
	for _, tt := range tests {
		f, err := New(tt.fn, schema.Type{Kind: tt.kind}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Check(tt.v)
		got := ""
		if err != nil {
			got = err.Error()
			if te := (*TypeError)(nil); !errors.As(err, &te) {
				t.Errorf("%s(%v): error %T is not a *TypeError", tt.fn, tt.v, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s.Check(%#v) = %q, want %q", f, tt.v, got, tt.want)
		}
		// Acc.Add rejects what Check rejects, and changes nothing.
		a := f.New()
		before := a.Result()
		if err := a.Add(tt.v, 0); (err != nil) != (tt.want != "") {
			t.Errorf("%s.Add(%#v) = %v", f, tt.v, err)
		}
		if tt.want != "" && !cmp.Equal(before, a.Result()) {
			t.Errorf("%s.Add(%#v) changed the result to %v", f, tt.v, a.Result())
		}
	}
}

func TestResultType(t *testing.T) {
	typ := func(k schema.Kind, opt bool) schema.Type { return schema.Type{Kind: k, Optional: opt} }
	dec := schema.Type{Kind: schema.Decimal, Precision: 10, Scale: 2}
	tests := []struct {
		fn   string
		arg  schema.Type
		want schema.Type
	}{
		{Count, typ(schema.String, false), typ(schema.Int, false)},
		{CountDistinct, typ(schema.String, false), typ(schema.Int, false)},
		{ApproxCountDistinct, typ(schema.String, false), typ(schema.Int, false)},
		{Sum, typ(schema.Int, false), typ(schema.Int, true)},
		{Sum, typ(schema.Float, false), typ(schema.Float, true)},
		{Sum, dec, schema.Type{Kind: schema.Decimal, Optional: true, Precision: 20, Scale: 2}},
		{Sum, typ(schema.Any, false), typ(schema.Any, true)},
		{Avg, typ(schema.Int, false), typ(schema.Float, true)},
		{Avg, dec, schema.Type{Kind: schema.Decimal, Optional: true, Precision: 20, Scale: 8}},
		{Avg, typ(schema.Duration, false), typ(schema.Duration, true)},
		{Min, typ(schema.Timestamp, false), typ(schema.Timestamp, true)},
		{Last, typ(schema.List, false), typ(schema.List, true)},
		{ApproxPercentile, typ(schema.Int, false), typ(schema.Float, true)},
	}
	for _, tt := range tests {
		f, err := New(tt.fn, tt.arg, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, f.ResultType()); diff != "" {
			t.Errorf("%s: ResultType (-want +got):\n%s", f, diff)
		}
	}
}

// TestResultTypeMatchesResults checks that the Go type of each result is
// the one ResultType promises.
func TestResultTypeMatchesResults(t *testing.T) {
	samples := map[schema.Kind]any{
		schema.Int:       int64(2),
		schema.Float:     2.5,
		schema.Decimal:   dec("2.50"),
		schema.Duration:  time.Second,
		schema.String:    "s",
		schema.Bool:      true,
		schema.Timestamp: time.Unix(1, 0).UTC(),
		schema.List:      []any{"a"},
		schema.Object:    map[string]any{"a": int64(1)},
	}
	goType := map[schema.Kind]string{
		schema.Int: "int64", schema.Float: "float64", schema.Decimal: "decimal.Decimal", schema.Duration: "time.Duration",
		schema.String: "string", schema.Bool: "bool", schema.Timestamp: "time.Time", schema.List: "[]interface {}", schema.Object: "map[string]interface {}",
	}
	for name := range ops {
		for k, v := range samples {
			f, err := New(name, schema.Type{Kind: k}, 0.5)
			if err != nil {
				continue
			}
			a := f.New()
			if err := a.Add(v, 0); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := a.Add(v, 1); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			got := typeName(a.Result())
			if want := goType[f.ResultType().Kind]; got != want {
				t.Errorf("%s: result is a %s, ResultType says %s", f, got, want)
			}
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case int64:
		return "int64"
	case float64:
		return "float64"
	case decimal.Decimal:
		return "decimal.Decimal"
	case time.Duration:
		return "time.Duration"
	case string:
		return "string"
	case bool:
		return "bool"
	case time.Time:
		return "time.Time"
	case []any:
		return "[]interface {}"
	case map[string]any:
		return "map[string]interface {}"
	}
	return "other"
}

func TestMergeMismatchPanics(t *testing.T) {
	s, _ := New(Sum, schema.Type{Kind: schema.Int}, 0)
	c, _ := NewNoArg(Count)
	defer func() {
		if recover() == nil {
			t.Error("merging a count into a sum did not panic")
		}
	}()
	s.New().Merge(c.New())
}

// TestNoAllocs checks that the hot aggregates do not allocate in Add.
func TestNoAllocs(t *testing.T) {
	tests := []struct {
		fn   string
		kind schema.Kind
		v    any
	}{
		{Count, schema.Any, int64(1000)},
		{Sum, schema.Int, int64(1000)},
		{Sum, schema.Float, 1000.5},
		{Sum, schema.Decimal, dec("1000.25")},
		{Sum, schema.Any, int64(1000)},
		{Avg, schema.Float, 1000.5},
		{Avg, schema.Decimal, dec("1000.25")},
		{Min, schema.Int, int64(1000)},
		{Max, schema.Float, 1000.5},
		{Max, schema.String, "abc"},
		{Max, schema.Decimal, dec("1000.25")},
		{First, schema.String, "abc"},
		{Last, schema.Int, int64(1000)},
	}
	for _, tt := range tests {
		f, err := New(tt.fn, schema.Type{Kind: tt.kind}, 0)
		if err != nil {
			t.Fatal(err)
		}
		c := f.NewColumn()
		c.Grow(8)
		c.Add(3, tt.v, 0)
		n := testing.AllocsPerRun(100, func() {
			if err := f.Check(tt.v); err != nil {
				t.Fatal(err)
			}
			c.Add(3, tt.v, 1)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per Add", f, n)
		}
	}
}

func TestColumnReset(t *testing.T) {
	for name := range ops {
		f, err := New(name, schema.Type{Kind: schema.Any}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		c := f.NewColumn()
		c.Grow(2)
		empty := c.Result(1)
		c.Add(1, dec("1e40"), 5) // a decimal beyond the int64 fast path
		c.Add(1, int64(3), 6)
		c.Reset(1)
		if diff := cmp.Diff(empty, c.Result(1), cmpValues); diff != "" {
			t.Errorf("%s: after Reset (-want +got):\n%s", f, diff)
		}
		c.Add(1, int64(3), 6)
		want := f.New()
		_ = want.Add(int64(3), 6)
		if diff := cmp.Diff(want.Result(), c.Result(1), cmpValues); diff != "" {
			t.Errorf("%s: reused slot (-want +got):\n%s", f, diff)
		}
	}
}

// TestDecimalSumExact sums random decimals of mixed scales and sizes and
// compares with decimal.Decimal arithmetic, in one accumulator and merged.
func TestDecimalSumExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []schema.Kind{schema.Decimal, schema.Any} {
		f, _ := New(Sum, schema.Type{Kind: kind}, 0)
		for round := range 200 {
			a, b := f.New(), f.New()
			want := decimal.Zero
			first := true
			for i := range 50 {
				var d decimal.Decimal
				switch rng.IntN(4) {
				case 0:
					d = decimal.New(rng.Int64N(1e6)-5e5, -int32(rng.IntN(4)))
				case 1:
					d = decimal.New(rng.Int64(), -int32(rng.IntN(20)))
				case 2:
					d = decimal.New(rng.Int64N(100), int32(rng.IntN(3)))
				default:
					d = decimal.New(rng.Int64(), 0).Mul(decimal.New(rng.Int64(), -3))
				}
				if first {
					want, first = d, false
				} else {
					want = want.Add(d)
				}
				acc := a
				if i%2 == 1 {
					acc = b
				}
				if err := acc.Add(d, 0); err != nil {
					t.Fatal(err)
				}
			}
			a.Merge(b)
			got, ok := a.Result().(decimal.Decimal)
			if !ok || !got.Equal(want) {
				t.Fatalf("%s round %d: got %v, want %v", f, round, a.Result(), want)
			}
		}
	}
}

func TestPercentileLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range []float64{0.01, 0.5, 0.9, 0.99} {
		f, _ := New(ApproxPercentile, schema.Type{Kind: schema.Float}, p)
		a, b := f.New(), f.New()
		var all []float64
		for i := range 20000 {
			v := rng.NormFloat64()*10 + 100
			all = append(all, v)
			acc := a
			if i%3 == 0 {
				acc = b
			}
			_ = acc.Add(v, 0)
		}
		a.Merge(b)
		slices.Sort(all)
		got := a.Result().(float64)
		// Within 1% of the rank.
		rank := float64(sortSearch(all, got)) / float64(len(all))
		if math.Abs(rank-p) > 0.01 {
			t.Errorf("p%v: got %v at rank %v", p, got, rank)
		}
	}
}

func sortSearch(xs []float64, v float64) int {
	i, _ := slices.BinarySearch(xs, v)
	return i
}

func TestPercentileDeterministic(t *testing.T) {
	f, _ := New(ApproxPercentile, schema.Type{Kind: schema.Int}, 0.75)
	run := func() any {
		a := f.New()
		for i := range 5000 {
			_ = a.Add(int64(i*7919%5000), 0)
		}
		return a.Result()
	}
	if x, y := run(), run(); x != y {
		t.Errorf("two runs gave %v and %v", x, y)
	}
}

func TestApproxCountDistinct(t *testing.T) {
	f, _ := New(ApproxCountDistinct, schema.Type{Kind: schema.Int}, 0)
	a, b := f.New(), f.New()
	const n = 100000
	for i := range n {
		_ = a.Add(int64(i), 0)
		_ = b.Add(int64(i+n/2), 0) // half overlap
	}
	a.Merge(b)
	got := a.Result().(int64)
	if want := int64(n + n/2); math.Abs(float64(got-want)) > 0.03*float64(want) {
		t.Errorf("estimate %d, want %d ± 3%%", got, want)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 23, 58, 0, 123, time.FixedZone("x", 3600))
	values := []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		0.5, math.Inf(-1), "", "héllo", []byte{0, 1}, t0.UTC(), time.Unix(-5, 7).UTC(), time.Duration(-3),
		dec("1.5"), dec("-0.001"), dec("0"), dec("123456789012345678901234567890.123"), decimal.New(5, 40),
		[]any{int64(1), "a", []any{}}, map[string]any{"b": int64(2), "a": nil},
	}
	for _, v := range values {
		b, err := AppendKey([]byte("prefix"), v)
		if err != nil {
			t.Fatalf("AppendKey(%#v): %v", v, err)
		}
		got, rest, err := DecodeKey(append(b[len("prefix"):], 0xff))
		if err != nil {
			t.Fatalf("DecodeKey(%#v): %v", v, err)
		}
		if !slices.Equal(rest, []byte{0xff}) {
			t.Errorf("%#v: rest %v", v, rest)
		}
		if diff := cmp.Diff(v, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestKeyCanonical(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)
	same := [][]any{
		{nil, record.Absent},
		{int64(7), 7, int32(7), uint8(7)},
		{0.0, math.Copysign(0, -1)},
		{math.NaN(), math.Float64frombits(0x7ff8000000000001)},
		{float32(0.5), 0.5},
		{dec("1.50"), dec("1.5"), decimal.New(15000, -4)},
		{dec("0"), dec("0.000"), decimal.New(0, 5)},
		{dec("100"), decimal.New(1, 2)},
		{dec("12345678901234567890000"), decimal.New(1234567890123456789, 4)},
		{t0, t0.In(time.FixedZone("x", 3600))},
		{map[string]any{"a": int64(1), "b": int64(2)}, map[string]any{"b": int64(2), "a": int64(1)}},
	}
	enc := func(v any) string {
		b, err := AppendKey(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	seen := map[string]int{}
	for i, group := range same {
		first := enc(group[0])
		for _, v := range group[1:] {
			if enc(v) != first {
				t.Errorf("%#v and %#v encode differently", group[0], v)
			}
		}
		if j, ok := seen[first]; ok {
			t.Errorf("groups %d and %d encode alike", j, i)
		}
		seen[first] = i
	}
	different := []any{int64(1), 1.0, dec("1"), "1", true, time.Duration(1), []byte("1"), []any{int64(1)}}
	for i, a := range different {
		for _, b := range different[i+1:] {
			if enc(a) == enc(b) {
				t.Errorf("%#v and %#v encode alike", a, b)
			}
		}
	}
	// Composite keys do not collide across value boundaries.
	ab, _ := AppendKey(nil, "a")
	ab, _ = AppendKey(ab, "bc")
	abc, _ := AppendKey(nil, "ab")
	abc, _ = AppendKey(abc, "c")
	if string(ab) == string(abc) {
		t.Error(`("a","bc") and ("ab","c") encode alike`)
	}
	if _, err := AppendKey(nil, struct{}{}); err == nil {
		t.Error("AppendKey(struct{}{}) succeeded")
	}
}

func TestDecodeKeyMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {tagInt}, {tagFloat, 1}, {tagString, 5, 'a'}, {tagTime, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, {tagList, 3, tagNil}, {tagMap, 1, 1, 'a'}, {99}} {
		if _, _, err := DecodeKey(b); err == nil {
			t.Errorf("DecodeKey(%v) succeeded", b)
		}
	}
}

func TestAppendKeyNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	vals := []any{"store-42", int64(12345), 1.5, true, nil, time.Unix(1, 2).UTC(), dec("19.99")}
	n := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		for _, v := range vals {
			b, _ = AppendKey(b, v)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestCompareIntFloat(t *testing.T) {
	tests := []struct {
		i    int64
		f    float64
		want int
	}{
		{1, 1.0, 0}, {1, 1.5, -1}, {2, 1.5, 1}, {-2, -1.5, -1}, {-1, -1.5, 1},
		{math.MaxInt64, math.Ldexp(1, 63), -1}, {math.MinInt64, math.Ldexp(-1, 63), 0},
		{math.MinInt64, -math.Ldexp(1, 64), 1}, {0, math.NaN(), 1}, {0, math.Inf(1), -1},
		{1<<53 + 1, math.Ldexp(1, 53), 1},
	}
	for _, tt := range tests {
		if got := compareIntFloat(tt.i, tt.f); got != tt.want {
			t.Errorf("compareIntFloat(%d, %v) = %d, want %d", tt.i, tt.f, got, tt.want)
		}
	}
}
