package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// BenchmarkWrite measures how fast the sink writes rows of seven columns,
// keyed by store, to a topic of 4 partitions on a kfake broker on
// 127.0.0.1, in batches of 1024 rows: without transactions (idempotent
// producer, no compression, and zstd), and with a transaction committed
// every 64 batches.
func BenchmarkWrite(b *testing.B) {
	cols := []string{"payment_id", "amount", "store_id", "channel", "event_time", "score", "ok"}
	batch := sdk.Rows{Columns: cols, Rows: make([][]any, 1024)}
	for i := range batch.Rows {
		batch.Rows[i] = []any{fmt.Sprintf("p-%09d", i), decimal.New(int64(12345+i), -2), fmt.Sprintf("store-%02d", i%40), nil, ts, 0.875, true}
	}
	tests := []struct {
		name   string
		fields map[string]any
	}{
		{"idempotent", map[string]any{}},
		{"zstd", map[string]any{"compression": "zstd"}},
		{"transactional", map[string]any{"transactional": true}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			ctx := context.Background()
			addr := cluster(b, kfake.SeedTopics(4, "bench"))
			tt.fields["topic"] = "bench"
			s := &Sink{}
			if err := s.Open(ctx, sdk.SinkOpenRequest{Config: config(addr, tt.fields), Columns: cols, Key: []string{"store_id"},
				Settings: sdk.Settings{Name: "bench", Pipeline: "bench"}}); err != nil {
				b.Fatal(err)
			}
			transactional := tt.fields["transactional"] == true
			id := uint64(0)
			b.ResetTimer()
			for i := range b.N {
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				if transactional && (i+1)%64 == 0 || transactional && i == b.N-1 {
					id++
					if err := s.Prepare(ctx, id); err != nil {
						b.Fatal(err)
					}
					if err := s.Commit(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(len(batch.Rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
