package benthos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/flowctl/flowctl/plugins/sdk"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
)

// benchLines is the size of the benchmarks' input.
const benchLines = 200_000

// writeLines writes n JSON lines to a file in dir and returns its path.
func writeLines(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(w, `{"id":%d,"store":"s-%02d","amount":%d.%02d,"ts":%q}`+"\n",
			i, i%50, i%500, i%100, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkSource reads the same 200k JSON lines with the bridge
// (Benthos's file input, alone and in batches of 1000 by its `batched`
// input) and with flowctl's own file source, in process, and reports
// records/s.
func BenchmarkSource(b *testing.B) {
	path := writeLines(b, b.TempDir(), benchLines)
	sources := []struct {
		name   string
		plugin sdk.Plugin
		config string
	}{
		{"benthos_file", Plugin(), fmt.Sprintf(`{"input":{"file":{"paths":[%q],"scanner":{"lines":{}}}}}`, path)},
		{"benthos_file_batched", Plugin(), fmt.Sprintf(`{"input":{"batched":{"child":{"file":{"paths":[%q],"scanner":{"lines":{}}}},"policy":{"count":1000,"period":"10ms"}}}}`, path)},
		{"flowctl_file", filesource.Plugin(), fmt.Sprintf(`{"path":%q}`, path)},
	}
	b.Run("benthos_direct", func(b *testing.B) {
		// Benthos's file input read through its own API, without the
		// bridge: what the bridge adds is the rest.
		start := time.Now()
		for b.Loop() {
			if n := readDirect(b, path); n != benchLines {
				b.Fatalf("read %d records, want %d", n, benchLines)
			}
		}
		b.ReportMetric(float64(benchLines*b.N)/time.Since(start).Seconds(), "records/s")
	})
	for _, src := range sources {
		b.Run(src.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if n := readFile(b, src.plugin, src.config); n != benchLines {
					b.Fatalf("read %d records, want %d", n, benchLines)
				}
			}
			b.ReportMetric(float64(benchLines*b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// readFile opens a source, reads it to its end and closes it; it returns
// the number of messages read.
func readFile(b *testing.B, p sdk.Plugin, config string) int {
	ctx := context.Background()
	src := p.NewSource()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config), Format: "json"}); err != nil {
		b.Fatal(err)
	}
	defer src.Close(ctx)
	n := 0
	for {
		batch, err := src.Read(ctx)
		n += len(batch.Messages)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// readDirect reads a file with Benthos's file input through Benthos's own
// API, acknowledging every message at once; it returns how many it read.
func readDirect(b *testing.B, path string) int {
	ctx := context.Background()
	rb := newEnvironment().NewResourceBuilder()
	if err := rb.AddInputYAML(fmt.Sprintf("label: in\nfile: {paths: [%q], scanner: {lines: {}}}", path)); err != nil {
		b.Fatal(err)
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		b.Fatal(err)
	}
	defer closeRes(ctx)
	n := 0
	err = res.AccessInput(ctx, "in", func(in *service.ResourceInput) {
		for {
			batch, ack, err := in.ReadBatch(ctx)
			if err != nil {
				return
			}
			n += len(batch)
			_ = ack(ctx, nil)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
