package pluginrpc

import (
	"context"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// encodeForTest is filled in by export hooks in tests.
func BenchmarkDecodeBatch(b *testing.B) {
	ctx := context.Background()
	src := generate.Plugin().NewSource()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(benchConfig)}); err != nil {
		b.Fatal(err)
	}
	batch, err := src.Read(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Encode through a served plugin? Use the sdk test hook instead.
	enc := encodeBatchForTest(b, batch)
	b.ReportAllocs()
	for b.Loop() {
		var r readReply
		if err := r.UnmarshalWire(enc); err != nil {
			b.Fatal(err)
		}
	}
	_ = wire.Codec{}
}
