package pluginrpc

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

func serve(tb testing.TB, plugins ...sdk.Plugin) *Client {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg := ServeConfig(plugins...)
	cfg.Logger = hclog.NewNullLogger()
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("plugin did not start serving")
	}
	ccfg := ClientConfig(nil)
	ccfg.Reattach = rc
	ccfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(ccfg)
	tb.Cleanup(func() {
		client.Kill()
		cancel()
		<-closed
	})
	cp, err := client.Client()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := Dispense(cp)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

const benchConfig = `{"count": 0, "fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`

func BenchmarkRemoteRead(b *testing.B) {
	for _, bc := range []struct {
		name string
		src  func(b *testing.B) sdk.Source
	}{
		{"in-process", func(*testing.B) sdk.Source { return generate.Plugin().NewSource() }},
		{"out-of-process", func(b *testing.B) sdk.Source { return serve(b, generate.Plugin()).NewSource("generate") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			src := bc.src(b)
			if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(benchConfig)}); err != nil {
				b.Fatal(err)
			}
			defer src.Close(ctx)
			b.ReportAllocs()
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
