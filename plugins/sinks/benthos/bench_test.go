package benthos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
)

// Sizes of the benchmark: rows written, and rows per Write as the host
// hands them.
const (
	benchRows  = 200_000
	benchBatch = 1024
)

// benchBatches returns benchRows rows in batches of benchBatch.
func benchBatches() []sdk.Rows {
	cols := []string{"id", "store", "amount", "ts"}
	t0 := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	var out []sdk.Rows
	for i := 0; i < benchRows; i += benchBatch {
		rows := sdk.Rows{Columns: cols}
		for j := i; j < min(i+benchBatch, benchRows); j++ {
			rows.Rows = append(rows.Rows, []any{int64(j), fmt.Sprintf("s-%02d", j%50), float64(j%500) + 0.25, t0.Add(time.Duration(j) * time.Second)})
		}
		out = append(out, rows)
	}
	return out
}

// BenchmarkSink writes the same 200k rows as JSON lines with the bridge
// (Benthos's file output) and with flowctl's own file sink (committing
// once at the end, as a batch run does), in process, and reports
// records/s.
func BenchmarkSink(b *testing.B) {
	batches := benchBatches()
	dir := b.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	sinks := []struct {
		name   string
		plugin sdk.Plugin
		config string
	}{
		{"benthos_file", Plugin(), fmt.Sprintf(`{"output":{"file":{"path":%q,"codec":"lines"}}}`, out)},
		{"benthos_file_in_flight_4", Plugin(), fmt.Sprintf(`{"output":{"file":{"path":%q,"codec":"lines"}},"max_in_flight":4}`, out)},
		{"flowctl_file", filesink.Plugin(), fmt.Sprintf(`{"path":%q}`, out)},
	}
	for _, sk := range sinks {
		b.Run(sk.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				os.Remove(out)
				writeRows(b, sk.plugin, sk.config, batches)
			}
			b.ReportMetric(float64(benchRows*b.N)/time.Since(start).Seconds(), "records/s")
			if st, err := os.Stat(out); err != nil || st.Size() == 0 {
				b.Fatalf("nothing written to %s: %v", out, err)
			}
		})
	}
}

// writeRows opens a sink, writes batches, makes them durable (Flush, or
// a checkpoint's Prepare and Commit) and closes it.
func writeRows(b *testing.B, p sdk.Plugin, config string, batches []sdk.Rows) {
	ctx := context.Background()
	sink := p.NewSink()
	if err := sink.Open(ctx, sdk.SinkOpenRequest{Config: []byte(config), Columns: batches[0].Columns}); err != nil {
		b.Fatal(err)
	}
	committer, _ := sink.(sdk.Committer)
	if committer != nil {
		if err := committer.Recover(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, rows := range batches {
		if err := sink.Write(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	switch {
	case committer != nil:
		if err := committer.Prepare(ctx, 1); err != nil {
			b.Fatal(err)
		}
		if err := committer.Commit(ctx, 1); err != nil {
			b.Fatal(err)
		}
	default:
		if err := sink.(sdk.Flusher).Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
