package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkRead measures how fast the source reads a topic of 4
// partitions from a kfake broker on 127.0.0.1, bounded, from the start:
// messages/s and MB/s of values.
func BenchmarkRead(b *testing.B) {
	const records = 200_000
	_, addr := cluster(b, kfake.SeedTopics(4, "bench"))
	cl := client(b, addr, kgo.ProducerLinger(0), kgo.MaxBufferedRecords(records))
	ctx := context.Background()
	var bytes int64
	for i := range records {
		v := fmt.Appendf(nil, `{"payment_id":"p-%09d","amount":"%d.%02d","store_id":"store-%02d","card_id":"c-%07d","event_time":"2026-03-17T23:58:%02dZ"}`,
			i, i%500, i%100, i%40, i%9999991, i%60)
		bytes += int64(len(v))
		cl.Produce(ctx, &kgo.Record{Topic: "bench", Key: fmt.Appendf(nil, "store-%02d", i%40), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cfg := config(addr, map[string]any{"topics": []string{"bench"}, "bounded": true})
	b.ResetTimer()
	for b.Loop() {
		s := &Source{}
		if err := s.Open(ctx, openRequest(cfg)); err != nil {
			b.Fatal(err)
		}
		if n := len(readToEnd(b, s)); n != records {
			b.Fatalf("read %d messages, want %d", n, records)
		}
		_ = s.Close(ctx)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(records)*float64(b.N)/sec, "msgs/s")
	b.ReportMetric(float64(bytes)*float64(b.N)/sec/1e6, "MB/s")
}
