package window

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
)

func TestAssign(t *testing.T) {
	const min, max = math.MinInt64, math.MaxInt64
	tests := []struct {
		name string
		spec Spec
		t    int64
		want []Span
	}{
		{"tumbling start", Spec{Kind: Tumbling, Size: 10}, 20, []Span{{20, 30}}},
		{"tumbling inside", Spec{Kind: Tumbling, Size: 10}, 29, []Span{{20, 30}}},
		{"tumbling zero", Spec{Kind: Tumbling, Size: 10}, 0, []Span{{0, 10}}},
		{"tumbling negative floors", Spec{Kind: Tumbling, Size: 10}, -1, []Span{{-10, 0}}},
		{"tumbling negative start", Spec{Kind: Tumbling, Size: 10}, -10, []Span{{-10, 0}}},
		{"tumbling min clamps", Spec{Kind: Tumbling, Size: 10}, min, []Span{{min, min + 10}}},
		{"tumbling max clamps", Spec{Kind: Tumbling, Size: 10}, max, []Span{{max - 7, max}}},
		{"sliding", Spec{Kind: Sliding, Size: 30, Slide: 10}, 25, []Span{{0, 30}, {10, 40}, {20, 50}}},
		{"sliding on boundary", Spec{Kind: Sliding, Size: 30, Slide: 10}, 30, []Span{{10, 40}, {20, 50}, {30, 60}}},
		{"sliding negative", Spec{Kind: Sliding, Size: 20, Slide: 10}, -5, []Span{{-20, 0}, {-10, 10}}},
		{"sliding equal slide", Spec{Kind: Sliding, Size: 10, Slide: 10}, 5, []Span{{0, 10}}},
		{"sliding min clamps", Spec{Kind: Sliding, Size: 20, Slide: 10}, min + 5, []Span{{min, min + 20}}},
		{"sliding max clamps", Spec{Kind: Sliding, Size: 20, Slide: 10}, max, []Span{{max - 17, max}, {max - 7, max}}},
		{"session", Spec{Kind: Session, Gap: 5}, 7, []Span{{7, 12}}},
		{"session max clamps", Spec{Kind: Session, Gap: 5}, max - 1, []Span{{max - 1, max}}},
		{"global", Spec{Kind: Global}, 7, []Span{GlobalSpan}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.spec.Assign(tt.t, []Span{{1, 2}})
			if diff := cmp.Diff(append([]Span{{1, 2}}, tt.want...), got); diff != "" {
				t.Errorf("Assign(%d) (-want +got):\n%s", tt.t, diff)
			}
			for _, sp := range got[1:] {
				if !sp.Contains(tt.t) && tt.spec.Kind != Global && sp.End != max {
					t.Errorf("%v does not contain %d", sp, tt.t)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	count, _ := agg.NewNoArg(agg.Count)
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Spec: Spec{Kind: Global}}, ""},
		{Config{Spec: Spec{Kind: Tumbling, Size: 1}, Aggs: []*agg.Func{count}}, ""},
		{Config{Spec: Spec{Kind: Tumbling}}, "tumbling window size must be positive"},
		{Config{Spec: Spec{Kind: Sliding, Size: 10}}, "sliding window size and slide must be positive"},
		{Config{Spec: Spec{Kind: Sliding, Size: 10, Slide: 3}}, "sliding window size 10 is not a multiple of its slide 3"},
		{Config{Spec: Spec{Kind: Session, Gap: -1}}, "session gap must be positive"},
		{Config{Spec: Spec{Kind: Kind(9)}}, "unknown window kind 9"},
		{Config{Spec: Spec{Kind: Global}, AllowedLateness: -1}, "allowed lateness must not be negative"},
		{Config{Spec: Spec{Kind: Global}, Aggs: []*agg.Func{count, nil}}, "aggregate 1 is nil"},
		{Config{Spec: Spec{Kind: Global}, Emit: Emit(5)}, "unknown emit mode 5"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewOperator with an invalid config did not panic")
		}
	}()
	NewOperator(Config{Spec: Spec{Kind: Tumbling}})
}

func mustFuncs(t testing.TB, kind schema.Kind, names ...string) []*agg.Func {
	t.Helper()
	var fs []*agg.Func
	for _, n := range names {
		var f *agg.Func
		var err error
		if n == "count()" {
			f, err = agg.NewNoArg(agg.Count)
		} else {
			f, err = agg.New(n, schema.Type{Kind: kind}, 0.5)
		}
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

func collect(rows *[]Row) func(Row) { return func(r Row) { *rows = append(*rows, r) } }

func TestAddErrorsChangeNothing(t *testing.T) {
	op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Int, agg.Sum, agg.Max)})
	if _, err := op.Add([]any{"a"}, 1, []any{int64(1)}); err == nil || err.Error() != "got 1 aggregate arguments for 2 aggregates" {
		t.Errorf("short args: %v", err)
	}
	_, err := op.Add([]any{"a"}, 1, []any{int64(1), "x"})
	if te := (*agg.TypeError)(nil); !errors.As(err, &te) {
		t.Errorf("wrong type: %v, want an *agg.TypeError", err)
	}
	if _, err := op.Add([]any{struct{}{}}, 1, []any{int64(1), int64(1)}); err == nil || err.Error() != "group key: cannot use a value of type struct {} as a key" {
		t.Errorf("bad key: %v", err)
	}
	if n := op.OpenWindows(); n != 0 {
		t.Errorf("%d windows after failed adds", n)
	}
	var rows []Row
	op.Advance(math.MaxInt64, collect(&rows))
	if len(rows) != 0 {
		t.Errorf("rows after failed adds: %v", rows)
	}
}

func TestRowsAreOwnedByCallee(t *testing.T) {
	op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Any, agg.Sum)})
	key := []any{"a", int64(1)}
	if _, err := op.Add(key, 1, []any{int64(5)}); err != nil {
		t.Fatal(err)
	}
	key[0] = "changed" // the operator keeps its own copy
	if _, err := op.Add([]any{"b", int64(1)}, 2, []any{int64(7)}); err != nil {
		t.Fatal(err)
	}
	var rows []Row
	op.Advance(math.MaxInt64, collect(&rows))
	want := []Row{
		{Span: Span{0, 10}, Key: []any{"a", int64(1)}, Values: []any{int64(5)}, Final: true},
		{Span: Span{0, 10}, Key: []any{"b", int64(1)}, Values: []any{int64(7)}, Final: true},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestKeyValuesRoundTrip(t *testing.T) {
	op := NewOperator(Config{Spec: Spec{Kind: Global}, Aggs: mustFuncs(t, schema.Any, "count()")})
	ts := time.Date(2026, 3, 17, 23, 58, 0, 5, time.UTC)
	keys := [][]any{
		{"s", int64(-3), 2.5, true, nil, ts, time.Minute, decimal.RequireFromString("1.50")},
		{[]any{"x", int64(1)}, map[string]any{"a": "b"}},
		{},
	}
	for _, k := range keys {
		if _, err := op.Add(k, 0, []any{nil}); err != nil {
			t.Fatal(err)
		}
	}
	var rows []Row
	op.Advance(math.MaxInt64, collect(&rows))
	if len(rows) != len(keys) {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		want := keys[i]
		if len(want) == 0 {
			want = []any{}
		}
		if diff := cmp.Diff(want, r.Key, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("key %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestWatermarkNeverGoesBack(t *testing.T) {
	op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: 10}})
	if wm := op.Watermark(); wm != math.MinInt64 {
		t.Errorf("initial watermark %d", wm)
	}
	nop := func(Row) {}
	for _, step := range []struct{ advance, want int64 }{{5, 5}, {3, 5}, {math.MinInt64, 5}, {20, 20}, {math.MaxInt64, math.MaxInt64}, {0, math.MaxInt64}} {
		op.Advance(step.advance, nop)
		if got := op.Watermark(); got != step.want {
			t.Errorf("after Advance(%d): watermark %d, want %d", step.advance, got, step.want)
		}
	}
}

// TestExtremeTimes: windows at the ends of the int64 range close and are
// dropped without overflowing.
func TestExtremeTimes(t *testing.T) {
	for _, spec := range []Spec{{Kind: Tumbling, Size: 10}, {Kind: Sliding, Size: 20, Slide: 10}, {Kind: Session, Gap: 10}, {Kind: Global}} {
		op := NewOperator(Config{Spec: spec, Aggs: mustFuncs(t, schema.Any, "count()"), AllowedLateness: math.MaxInt64})
		for _, ts := range []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64} {
			if late, err := op.Add([]any{"k"}, ts, []any{nil}); late || err != nil {
				t.Errorf("%v: Add(%d) = %v, %v", spec.Kind, ts, late, err)
			}
		}
		var rows []Row
		op.Advance(0, collect(&rows))
		op.Advance(math.MaxInt64, collect(&rows))
		total := int64(0)
		for _, r := range rows {
			if r.Span.Start > r.Span.End {
				t.Errorf("%v: span %v", spec.Kind, r.Span)
			}
			if spec.Kind != Sliding {
				total += r.Values[0].(int64)
			}
		}
		if spec.Kind != Sliding && total != 6 {
			t.Errorf("%v: counted %d records, want 6", spec.Kind, total)
		}
		if op.OpenWindows() != 0 {
			t.Errorf("%v: %d windows left", spec.Kind, op.OpenWindows())
		}
	}
}

// TestNoAllocsExistingWindow: adding to an existing key-window does not
// allocate.
func TestNoAllocsExistingWindow(t *testing.T) {
	for _, spec := range []Spec{{Kind: Tumbling, Size: 100}, {Kind: Sliding, Size: 100, Slide: 20}, {Kind: Session, Gap: 1000}, {Kind: Global}} {
		t.Run(spec.Kind.String(), func(t *testing.T) {
			op := NewOperator(Config{
				Spec: spec,
				Aggs: mustFuncs(t, schema.Any, "count()", agg.Sum, agg.Avg, agg.Min, agg.Max, agg.First, agg.Last),
				Emit: Updates,
			})
			key := []any{"store-42", int64(7)}
			v := any(int64(1234))
			args := []any{nil, v, v, v, v, v, v}
			if _, err := op.Add(key, 50, args); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(200, func() {
				if late, err := op.Add(key, 50, args); late || err != nil {
					t.Fatal(late, err)
				}
			})
			if n != 0 {
				t.Errorf("%v allocations per Add", n)
			}
		})
	}
}

// TestManyKeysReuseMemory: windows and keys freed by the watermark are
// reused, so a long stream over changing keys holds a bounded state.
func TestManyKeysReuseMemory(t *testing.T) {
	op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Int, agg.Sum)})
	nop := func(Row) {}
	for i := range int64(100000) {
		ts := i / 100 // 100 records per time unit, 1000 per window
		if _, err := op.Add([]any{fmt.Sprint("k", i)}, ts, []any{i}); err != nil {
			t.Fatal(err)
		}
		op.Advance(ts-1, nop)
	}
	if n := op.OpenWindows(); n > 1100 {
		t.Errorf("%d windows held", n)
	}
	if n := len(op.slots); n > 2200 {
		t.Errorf("%d slots allocated", n)
	}
	if n := len(op.keys); n > 2200 {
		t.Errorf("%d key entries allocated", n)
	}
}

// BenchmarkTumblingSum feeds 1M records over 10k keys into 1-minute
// tumbling windows with sum and count, advancing the watermark (5s behind)
// every 1000 records.
func BenchmarkTumblingSum(b *testing.B) {
	const n, nkeys = 1_000_000, 10_000
	keys := make([][]any, nkeys)
	for i := range keys {
		keys[i] = []any{fmt.Sprintf("store-%05d", i)}
	}
	vals := make([]any, 1024)
	for i := range vals {
		vals[i] = int64(i * 7)
	}
	aggs := mustFuncs(b, schema.Int, "count()", agg.Sum)
	args := make([]any, 2)
	nop := func(Row) {}
	b.ReportAllocs()
	for b.Loop() {
		op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: int64(time.Minute)}, Aggs: aggs})
		for i := range n {
			ts := int64(i) * int64(time.Millisecond) // 1000 records/s of event time
			args[1] = vals[i&1023]
			if _, err := op.Add(keys[(i*7919)%nkeys], ts, args); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				op.Advance(ts-int64(5*time.Second), nop)
			}
		}
		op.Advance(math.MaxInt64, nop)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSlidingSum: 1M records over 10k keys into 1-minute windows
// sliding by 10 seconds (6 windows a record).
func BenchmarkSlidingSum(b *testing.B) {
	benchmarkWindows(b, Spec{Kind: Sliding, Size: int64(time.Minute), Slide: int64(10 * time.Second)})
}

// BenchmarkSessionSum: 1M records over 10k keys into sessions with a 5
// second gap (a key's records are 10 seconds apart, so each makes a
// session).
func BenchmarkSessionSum(b *testing.B) {
	benchmarkWindows(b, Spec{Kind: Session, Gap: int64(5 * time.Second)})
}

// BenchmarkSessionMergeSum: as above with a 30 second gap: records extend
// their key's session.
func BenchmarkSessionMergeSum(b *testing.B) {
	benchmarkWindows(b, Spec{Kind: Session, Gap: int64(30 * time.Second)})
}

func benchmarkWindows(b *testing.B, spec Spec) {
	const n, nkeys = 1_000_000, 10_000
	keys := make([][]any, nkeys)
	for i := range keys {
		keys[i] = []any{fmt.Sprintf("store-%05d", i)}
	}
	aggs := mustFuncs(b, schema.Int, "count()", agg.Sum)
	args := []any{nil, int64(7)}
	nop := func(Row) {}
	b.ReportAllocs()
	for b.Loop() {
		op := NewOperator(Config{Spec: spec, Aggs: aggs})
		for i := range n {
			ts := int64(i) * int64(time.Millisecond)
			if _, err := op.Add(keys[(i*7919)%nkeys], ts, args); err != nil {
				b.Fatal(err)
			}
			if i%1000 == 999 {
				op.Advance(ts-int64(5*time.Second), nop)
			}
		}
		op.Advance(math.MaxInt64, nop)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkBytesPerKeyWindow holds 1M keys with one tumbling window each,
// with sum and count, and reports the heap held per key-window.
func BenchmarkBytesPerKeyWindow(b *testing.B) {
	const n = 1_000_000
	keys := make([][]any, n)
	for i := range keys {
		keys[i] = []any{fmt.Sprintf("store-%07d", i)}
	}
	aggs := mustFuncs(b, schema.Int, "count()", agg.Sum)
	args := []any{nil, int64(3)}
	var perWindow float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		op := NewOperator(Config{Spec: Spec{Kind: Tumbling, Size: int64(time.Minute)}, Aggs: aggs})
		for i, k := range keys {
			if _, err := op.Add(k, int64(i), args); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if op.OpenWindows() != n {
			b.Fatalf("%d windows", op.OpenWindows())
		}
		perWindow = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(op)
	}
	b.ReportMetric(perWindow, "bytes/key-window")
}
