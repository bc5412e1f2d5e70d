package bench

import (
	"context"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sinks/file"
	"github.com/flowctl/flowctl/plugins/sources/generate"
	"github.com/flowctl/flowctl/runtime/catalog"

	filesource "github.com/flowctl/flowctl/plugins/sources/file"
)

// BenchmarkPipeline runs each case over 1M generated events per iteration
// and reports events/s. Run: go test -run '^$' -bench Pipeline ./runtime/bench
func BenchmarkPipeline(b *testing.B) {
	dir := b.TempDir()
	const n = 1_000_000
	if _, err := Setup(dir, n); err != nil {
		b.Fatal(err)
	}
	cat, err := catalog.New(filesource.Plugin(), file.Plugin())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range Cases {
		b.Run(c.Name, func(b *testing.B) {
			var events int64
			for b.Loop() {
				r, err := RunCase(context.Background(), cat, dir, c)
				if err != nil {
					b.Fatal(err)
				}
				events += r.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestCases checks that every benchmark pipeline runs and counts every
// event, on a small input.
func TestCases(t *testing.T) {
	dir := t.TempDir()
	const n = 5000
	if _, err := Setup(dir, n); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(filesource.Plugin(), file.Plugin())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Cases {
		r, err := RunCase(context.Background(), cat, dir, c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if r.Events != n {
			t.Errorf("%s: read %d events, want %d", c.Name, r.Events, n)
		}
	}
}

// TestModesAndLatency runs the mode comparison and a short latency run on
// a small input: each mode reads every event, and the latency run
// measures rows.
func TestModesAndLatency(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	if _, err := Setup(dir, n); err != nil {
		t.Fatal(err)
	}
	plugins := []sdk.Plugin{filesource.Plugin(), file.Plugin(), generate.Plugin()}
	cat, err := catalog.New(plugins...)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ModeRuns {
		r, err := RunMode(context.Background(), cat, dir, m.Mode, m.Sets)
		if err != nil {
			t.Fatalf("%s: %v", m.Mode, err)
		}
		if r.Events != n {
			t.Errorf("%s: read %d events, want %d", m.Mode, r.Events, n)
		}
	}
	l, err := RunLatency(context.Background(), plugins, dir, 20000, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if l.Events != 2000 || l.Rows == 0 || l.Max < l.P50 {
		t.Errorf("latency run %+v: want 2000 events and a distribution of row latencies", l)
	}
}
