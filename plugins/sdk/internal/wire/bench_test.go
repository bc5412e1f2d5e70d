package wire

import (
	"fmt"
	"testing"
	"time"
)

// benchRows returns rows like the benchmarks' events: three simple
// fields, or five like a payments stream.
func benchRows(kind string) ([]string, [][]any) {
	t0 := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	var columns []string
	rows := make([][]any, 1024)
	for i := range rows {
		n := int64(1_000_000 + i)
		switch kind {
		case "simple":
			columns = []string{"amount", "id", "kind"}
			rows[i] = []any{n % 1000, n, "click"}
		default:
			columns = []string{"amount", "channel", "event_time", "payment_id", "store_id"}
			rows[i] = []any{float64(n%20000) / 100, []string{"web", "store", "app"}[i%3], t0.Add(time.Duration(i) * time.Millisecond), fmt.Sprintf("p-%06d", n), n % 50}
		}
	}
	return columns, rows
}

func BenchmarkAppendRows(b *testing.B) {
	for _, kind := range []string{"simple", "payments"} {
		b.Run(kind, func(b *testing.B) {
			columns, rows := benchRows(kind)
			buf := make([]byte, 0, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendRows(buf[:0], 2, columns, rows, absent); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}

func BenchmarkReadRows(b *testing.B) {
	for _, kind := range []string{"simple", "payments"} {
		b.Run(kind, func(b *testing.B) {
			columns, rows := benchRows(kind)
			enc, err := AppendRows(nil, 2, columns, rows, absent)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				r := NewReader(enc, absent)
				_, typ, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := r.Rows(typ); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}
