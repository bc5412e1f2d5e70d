package parquet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	sink "github.com/flowctl/flowctl/plugins/sinks/parquet"
)

// benchRows is the size of the table the benchmarks write and read.
const benchRows = 200_000

var paymentCols = []string{"payment_id", "amount", "store_id", "card_id", "event_time"}

// payments returns n payments-like rows over one day.
func payments(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{
			fmt.Sprintf("pay-%010d", i),
			decimal.New(int64(i%100_000), -2),
			fmt.Sprintf("store-%03d", i%250),
			fmt.Sprintf("card-%08d", (i*7919)%1_000_000),
			day.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n)),
		}
	}
	return rows
}

// tableBytes is the size of the Parquet files of a table.
func tableBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".parquet" {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// writePayments writes rows, partitioned by hour, in batches of 1000 and
// commits them as one checkpoint.
func writePayments(b *testing.B, dir string, rows [][]any) {
	ctx := context.Background()
	s := sink.Plugin().NewSink()
	cfg := fmt.Appendf(nil, `{"path": %q, "partition_by": [{"column": "event_time", "format": "hour=2006-01-02T15"}]}`, dir)
	must(b, s.Open(ctx, sdk.SinkOpenRequest{Config: cfg, Columns: paymentCols}))
	c := s.(sdk.Committer)
	must(b, c.Recover(ctx, 0))
	for i := 0; i < len(rows); i += 1000 {
		must(b, s.Write(ctx, sdk.Rows{Columns: paymentCols, Rows: rows[i:min(i+1000, len(rows))]}))
	}
	must(b, c.Prepare(ctx, 1))
	must(b, c.Commit(ctx, 1))
	must(b, s.Close(ctx))
}

// BenchmarkWrite measures the sink: events/s, and MB/s of Parquet written.
func BenchmarkWrite(b *testing.B) {
	rows := payments(benchRows)
	dir := b.TempDir()
	writePayments(b, filepath.Join(dir, "warmup"), rows[:benchRows/10])
	size := tableBytes(b, filepath.Join(dir, "warmup")) * 10
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		writePayments(b, filepath.Join(dir, fmt.Sprint(i)), rows)
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRead measures the source reading the whole table: events/s,
// and MB/s of Parquet read.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	writePayments(b, dir, payments(benchRows))
	b.SetBytes(tableBytes(b, dir))
	ctx := context.Background()
	cfg := []byte(config(dir))
	b.ResetTimer()
	for b.Loop() {
		s := Plugin().NewSource()
		if err := s.Open(ctx, sdk.OpenRequest{Config: cfg}); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			batch, err := s.Read(ctx)
			n += len(batch.Messages)
			if errors.Is(err, sdk.ErrEndOfInput) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != benchRows {
			b.Fatalf("read %d rows", n)
		}
		_ = s.Close(ctx)
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
