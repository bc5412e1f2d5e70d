package pluginrpc

import (
	"context"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// BenchmarkRemoteRead reads the generate source in process and through
// the gRPC transport, reporting events/s and the batch size. The
// transport is measured twice: served in this process by go-plugin's test
// mode (one heap and one garbage collector for both ends), and in the
// test plugin executable, a child process, as flowctl runs plugins.
func BenchmarkRemoteRead(b *testing.B) {
	configs := []struct{ name, config string }{
		// Three simple fields: the transport's cost shows most.
		{"simple", `{"fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`},
		// Fields like a payments stream: more work per event.
		{"payments", `{"disorder": "1s", "fields": {
			"payment_id": "sprintf(\"p-%06d\", i)",
			"store_id": "zipf(50, 1.1)",
			"amount": "round(uniform(1, 200), 2)",
			"channel": "choice([\"web\", \"store\", \"app\"])",
			"event_time": "event_time"
		}}`},
	}
	for _, cfg := range configs {
		for _, mode := range []struct {
			name string
			src  func(b *testing.B) sdk.Source
		}{
			{"in-process", func(*testing.B) sdk.Source { return generate.Plugin().NewSource() }},
			{"served-in-process", func(b *testing.B) sdk.Source { return serve(b, generate.Plugin()).NewSource("generate") }},
			{"subprocess", func(b *testing.B) sdk.Source { return start(b).NewSource("generate") }},
		} {
			b.Run(cfg.name+"/"+mode.name, func(b *testing.B) {
				ctx := context.Background()
				src := mode.src(b)
				if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(cfg.config)}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { src.Close(ctx) })
				b.ReportAllocs()
				n, batches := 0, 0
				for b.Loop() {
					batch, err := src.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n += len(batch.Messages)
					batches++
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(n)/float64(batches), "events/batch")
			})
		}
	}
}
