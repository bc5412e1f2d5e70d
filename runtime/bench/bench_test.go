package bench

import (
	"context"
	"testing"

	"github.com/flowctl/flowctl/plugins/sinks/file"
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
