package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// ModeRuns are the runs of the tumbling case that RunModes compares: the
// same pipeline in each mode (micro-batch in triggers of 100k records).
var ModeRuns = []struct {
	Mode config.Mode
	Sets []string
}{
	{config.Batch, nil},
	{config.MicroBatch, []string{"trigger.every=1ms", "trigger.max_records=100000"}},
	{config.Stream, nil},
}

// RunMode runs the tumbling-sum case over the input made by Setup in one
// mode.
func RunMode(ctx context.Context, cat *catalog.Catalog, dir string, mode config.Mode, sets []string) (Result, error) {
	c := Cases[len(Cases)-1]
	r, err := runCase(ctx, cat, dir, c, mode, sets)
	r.Case = c.Name + " " + string(mode)
	return r, err
}

// latencyPipeline is a stream pipeline fed by the generator at a fixed
// rate: each event carries the wall-clock instant it was made, goes
// through a filter and a map, and the latency sink measures how long after
// that instant it arrived. (Rows of windows leave when the watermark
// closes them, so their latency is the window's length by design; this
// measures the engine's own path from source to sink.)
const latencyPipeline = `version: 1
name: bench_latency
mode: stream
sources:
  - name: bids
    plugin: generate
    config:
      rate: %d
      count: %d
      fields:
        auction: zipf(1000, 1.1)
        price: randint(10000)
        made: now()
transforms:
  - {name: valid, from: bids, filter: price >= 0}
  - name: shaped
    from: valid
    map: {auction: auction, cents: price * 100, newest: made}
sinks:
  - {name: out, from: shaped, plugin: latency}
`

// Latency is the distribution of end-to-end latencies of a stream run.
type Latency struct {
	Rate          int
	Events        int64
	Rows          int
	P50, P99, Max time.Duration
	Elapsed       time.Duration
}

func (l Latency) String() string {
	return fmt.Sprintf("stream latency, source to sink, at %d events/s: %d events, %d rows, p50 %s, p99 %s, max %s (%.0f events/s)",
		l.Rate, l.Events, l.Rows, l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond), l.Max.Round(time.Microsecond),
		float64(l.Events)/l.Elapsed.Seconds())
}

// RunLatency runs the latency pipeline at rate events/s for the given
// duration and reports the latencies.
func RunLatency(ctx context.Context, plugins []sdk.Plugin, dir string, rate int, d time.Duration) (Latency, error) {
	rec := &latencyRecorder{}
	cat, err := catalog.New(append(slices.Clone(plugins), rec.plugin())...)
	if err != nil {
		return Latency{}, err
	}
	src := fmt.Sprintf(latencyPipeline, rate, int64(float64(rate)*d.Seconds()))
	p, ds := config.Load(filepath.Join(dir, "latency.yaml"), []byte(src), nil)
	if ds.HasErrors() {
		return Latency{}, ds.Err()
	}
	pl, ds := plan.Compile(p, cat, "")
	if ds.HasErrors() {
		return Latency{}, ds.Err()
	}
	start := time.Now()
	sum, err := exec.Run(ctx, pl, exec.Options{})
	if err != nil {
		return Latency{}, err
	}
	l := Latency{Rate: rate, Events: sum.Read, Elapsed: time.Since(start)}
	rec.mu.Lock()
	lat := rec.lat
	rec.mu.Unlock()
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		l.Rows, l.P50, l.P99, l.Max = n, lat[n/2], lat[n*99/100], lat[n-1]
	}
	return l, nil
}

// latencyRecorder is a sink that notes, for each row, how long ago its
// "newest" event was made.
type latencyRecorder struct {
	mu   sync.Mutex
	lat  []time.Duration
	cols []string
}

func (r *latencyRecorder) plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec:    sdk.Spec{Name: "latency", Kind: sdk.KindSink, Version: "0", Summary: "records row latency for benchmarks"},
		NewSink: func() sdk.Sink { return r },
	}
}

func (r *latencyRecorder) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	r.cols = req.Columns
	return nil
}

func (r *latencyRecorder) Write(_ context.Context, rows sdk.Rows) error {
	now := time.Now()
	col := slices.Index(rows.Columns, "newest")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rows.Rows {
		if t, ok := row[col].(time.Time); ok {
			r.lat = append(r.lat, now.Sub(t))
		}
	}
	return nil
}

func (r *latencyRecorder) Close(context.Context) error { return nil }
