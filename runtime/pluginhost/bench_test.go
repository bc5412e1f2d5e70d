package pluginhost

import (
	"context"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// BenchmarkStart measures what a stage instance's process costs: start,
// handshake (with AutoMTLS), open, close and stop.
func BenchmarkStart(b *testing.B) {
	for _, mtls := range []bool{true, false} {
		b.Run(map[bool]string{true: "mtls", false: "plain"}[mtls], func(b *testing.B) { benchStart(b, mtls) })
	}
}

func benchStart(b *testing.B, mtls bool) {
	h := New(Options{Server: testServer(b)})
	h.plainTransport = !mtls
	st := &stage{h: h, kind: sdk.KindSource, name: "s", plugin: "crash"}
	ctx := context.Background()
	var started, stopped time.Duration
	for b.Loop() {
		t0 := time.Now()
		src := st.newSource()
		if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{}`)}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := src.Close(ctx); err != nil {
			b.Fatal(err)
		}
		started += t1.Sub(t0)
		stopped += time.Since(t1)
	}
	b.ReportMetric(float64(started.Milliseconds())/float64(b.N), "ms-start/op")
	b.ReportMetric(float64(stopped.Milliseconds())/float64(b.N), "ms-stop/op")
}

// BenchmarkTransport reads the generate source through a plugin process,
// with go-plugin's AutoMTLS and without, reporting events/s: what mTLS
// costs the transport. The configs are those of pluginrpc's
// BenchmarkRemoteRead.
func BenchmarkTransport(b *testing.B) {
	configs := []struct{ name, config string }{
		{"simple", `{"fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`},
		{"payments", `{"disorder": "1s", "fields": {
			"payment_id": "sprintf(\"p-%06d\", i)",
			"store_id": "zipf(50, 1.1)",
			"amount": "round(uniform(1, 200), 2)",
			"channel": "choice([\"web\", \"store\", \"app\"])",
			"event_time": "event_time"
		}}`},
	}
	for _, cfg := range configs {
		for _, mtls := range []bool{true, false} {
			b.Run(cfg.name+"/"+map[bool]string{true: "mtls", false: "plain"}[mtls], func(b *testing.B) {
				h := New(Options{Server: testServer(b)})
				h.plainTransport = !mtls
				st := &stage{h: h, kind: sdk.KindSource, name: "g", plugin: "generate"}
				ctx := context.Background()
				src := st.newSource()
				if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(cfg.config)}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = src.Close(ctx) })
				n := 0
				for b.Loop() {
					batch, err := src.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n += len(batch.Messages)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
