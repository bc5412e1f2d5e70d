package window_test

import (
	"fmt"
	"math"
	"time"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
	"github.com/flowctl/flowctl/runtime/window"
)

// A stream driver adds each record, then advances the watermark to the
// largest event time seen minus the source's lateness; a batch driver adds
// everything and advances to math.MaxInt64.
func Example() {
	count, _ := agg.NewNoArg(agg.Count)
	sum, _ := agg.New(agg.Sum, schema.Type{Kind: schema.Int}, 0)
	op := window.NewOperator(window.Config{
		Spec:            window.Spec{Kind: window.Tumbling, Size: int64(time.Minute)},
		Aggs:            []*agg.Func{count, sum},
		AllowedLateness: int64(time.Minute),
	})
	show := func(r window.Row) {
		fmt.Println(time.Duration(r.Span.Start), time.Duration(r.Span.End), r.Key, r.Values, r.Final)
	}
	const lateness = int64(10 * time.Second)
	maxSeen := int64(math.MinInt64)
	for _, rec := range []struct {
		store  string
		t      time.Duration
		amount int64
	}{
		{"a", 5 * time.Second, 3},
		{"b", 30 * time.Second, 4},
		{"a", 75 * time.Second, 1},
		{"a", 50 * time.Second, 2}, // after the window closed, within the allowed lateness
		{"a", 10 * time.Second, 1}, // too: the window is emitted again
	} {
		late, err := op.Add([]any{rec.store}, int64(rec.t), []any{nil, rec.amount})
		if late || err != nil {
			fmt.Println("rejected:", late, err)
		}
		maxSeen = max(maxSeen, int64(rec.t))
		op.Advance(maxSeen-lateness, show)
	}
	op.Advance(math.MaxInt64, show)
	// Output:
	// 0s 1m0s [a] [1 3] true
	// 0s 1m0s [b] [1 4] true
	// 0s 1m0s [a] [2 5] true
	// 0s 1m0s [a] [3 6] true
	// 1m0s 2m0s [a] [1 1] true
}
