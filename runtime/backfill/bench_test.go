package backfill_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowctl/flowctl/runtime/backfill"
	"github.com/flowctl/flowctl/runtime/exec"
)

// BenchmarkLake measures the lake pipelines end to end, their plugins out
// of process as flowctl runs them, on a month (March 2026) of payments:
//
//   - write: the generate source into a bronze Parquet table partitioned
//     by day (events/s, and MB/s of Parquet written);
//   - read: the bronze table read back into daily revenue per store, one
//     batch run (events/s, MB/s of Parquet read);
//   - backfill/parallel=N: the same as a backfill in daily slices, N at
//     a time (s, events/s).
//
// FLOWCTL_BENCH_PER_DAY sets the payments a day (default 86400, one a
// second: 2.68M events, about 60 MB of Parquet). Run it as
//
//	go test -run '^$' -bench Lake -benchtime 1x ./runtime/backfill
func BenchmarkLake(b *testing.B) {
	perDay := 86400
	if v := os.Getenv("FLOWCTL_BENCH_PER_DAY"); v != "" {
		var err error
		if perDay, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	events := 31 * perDay
	dir := b.TempDir()
	bronze, gold := filepath.Join(dir, "bronze"), filepath.Join(dir, "gold")
	host := newHost(b, io.Discard)
	bronzeYAML := fmt.Sprintf(`version: 1
name: bench_bronze
mode: batch
sources:
  - name: payments
    plugin: generate
    config:
      count: %d
      start: "2026-03-01T00:00:00Z"
      interval: %s
      seed: 42
      fields:
        payment_id: sprintf("p-%%09d", i)
        store: sprintf("s-%%02d", zipf(12, 1.1))
        card_id: sprintf("c-%%05d", randint(20000))
        channel: choice(["web", "store", "app"])
        amount: round(uniform(1, 300), 2)
        event_time: event_time
transforms:
  - name: raw
    from: payments
    map: {payment_id: payment_id, store: store, card_id: card_id, channel: channel, amount: to_decimal(amount), event_time: event_time}
sinks:
  - name: bronze
    from: raw
    plugin: parquet
    config:
      path: %s
      partition_by: [{column: event_time, format: "date=2006-01-02"}]
      decimal_scale: 2
`, events, 24*time.Hour/time.Duration(perDay), bronze)
	goldYAML := strings.NewReplacer("BRONZE", bronze, "GOLD", gold).Replace(`version: 1
name: bench_gold
mode: batch
sources:
  - name: bronze
    plugin: parquet
    config: {path: BRONZE, time_column: event_time}
    event_time: event_time
transforms:
  - name: daily
    from: bronze
    window: {tumbling: 24h}
    group_by: [store]
    aggregate: {revenue: sum(amount), payments: count()}
sinks:
  - name: gold
    from: daily
    plugin: parquet
    config:
      path: GOLD
      partition_by: [{column: window_start, format: "date=2006-01-02"}]
      decimal_scale: 2
    key: [window_start, store]
`)
	ctx := context.Background()
	timed := func(b *testing.B, run func() (int64, error)) {
		var read int64
		start := time.Now()
		for b.Loop() {
			n, err := run()
			if err != nil {
				b.Fatal(err)
			}
			read += n
		}
		secs := time.Since(start).Seconds()
		b.ReportMetric(secs/float64(b.N), "s/run")
		b.ReportMetric(float64(read)/secs, "events/s")
		if mb := float64(parquetBytes(b, bronze)) / 1e6; read > 0 {
			b.ReportMetric(mb*float64(b.N)/secs, "MB/s")
		}
	}
	b.Run("write", func(b *testing.B) {
		c := compiler(b, host, bronzeYAML)
		timed(b, func() (int64, error) {
			pl, err := c(ctx, nil)
			if err != nil {
				return 0, err
			}
			sum, err := exec.Run(ctx, pl, exec.Options{Stderr: io.Discard})
			return sum.Written, err
		})
	})
	b.Run("read", func(b *testing.B) {
		c := compiler(b, host, goldYAML)
		timed(b, func() (int64, error) {
			pl, err := c(ctx, nil)
			if err != nil {
				return 0, err
			}
			sum, err := exec.Run(ctx, pl, exec.Options{Stderr: io.Discard})
			return sum.Read, err
		})
	})
	for _, parallel := range []int{1, 2} {
		b.Run(fmt.Sprintf("backfill/parallel=%d", parallel), func(b *testing.B) {
			c := compiler(b, host, goldYAML)
			base, err := c(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			timed(b, func() (int64, error) {
				sum, err := backfill.Run(ctx, base, backfill.Options{
					From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
					Parallel: parallel, Compile: c, Exec: exec.Options{Stderr: io.Discard},
				})
				return sum.Read, err
			})
		})
	}
}

// parquetBytes is the size of the Parquet files under dir.
func parquetBytes(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
