package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
	"github.com/flowctl/flowctl/runtime/window"
)

// BenchmarkCheckpoint1M is issue 5's figure: the whole cost of a
// checkpoint that holds 1M keys in open tumbling windows with count and
// sum — the operator's snapshot, the encoding and a durable save (temp
// file, fsync, rename, fsync of the folder) — as the engine takes it.
func BenchmarkCheckpoint1M(b *testing.B) {
	const n = 1_000_000
	count, err := agg.NewNoArg("count")
	if err != nil {
		b.Fatal(err)
	}
	sum, err := agg.New("sum", schema.Type{Kind: schema.Int}, 0)
	if err != nil {
		b.Fatal(err)
	}
	op := window.NewOperator(window.Config{Spec: window.Spec{Kind: window.Tumbling, Size: int64(time.Minute)}, Aggs: []*agg.Func{count, sum}})
	key, args := []any{""}, []any{nil, int64(0)}
	for i := range n {
		key[0] = fmt.Sprintf("store-%07d", i)
		args[1] = int64(i % 1000)
		if _, err := op.Add(key, int64(i), args); err != nil {
			b.Fatal(err)
		}
	}
	dir := filepath.Join(b.TempDir(), "ckpt")
	store := NewDir(dir)
	ctx := context.Background()
	var id uint64
	var size int
	for b.Loop() {
		id++
		var buf bytes.Buffer
		if err := op.Snapshot(&buf); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
		c := sample(id)
		c.State = map[string][]byte{"totals": buf.Bytes()}
		if err := store.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/checkpoint")
	b.ReportMetric(float64(size)/1e6, "MB")
}
