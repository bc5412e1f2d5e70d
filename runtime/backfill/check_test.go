package backfill

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/plan"
)

// checkPipeline is a pipeline for Check's tests: SOURCE, WINDOW, SINK
// and DLQ are replaced by each case.
const checkPipeline = `version: 1
name: check
mode: batch
sources:
  - name: payments
    SOURCE
    event_time: event_time
transforms:
  - name: daily
    from: payments
    window: WINDOW
    group_by: [store]
    aggregate: {revenue: sum(amount)}
sinks:
  - name: gold
    from: daily
    SINK
    key: [window_start, store]
DLQ`

const (
	parquetSource = `plugin: parquet
    config: {path: in, time_column: event_time}`
	generateSource = `plugin: generate
    config: {count: 10, fields: {store: '"a"', amount: 1, event_time: event_time}}`
	parquetSink = `plugin: parquet
    config: {path: out}`
	fileSink = `plugin: file
    config: {path: out.jsonl}`
)

func compileCheck(t *testing.T, source, win, sink, dlq string) *plan.Plan {
	t.Helper()
	src := strings.NewReplacer("SOURCE", source, "WINDOW", win, "SINK", sink, "DLQ", dlq).Replace(checkPipeline)
	p, ds := config.Load(filepath.Join(t.TempDir(), "p.yaml"), []byte(src), nil)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	cat, err := catalog.New(builtin.Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	pl, ds := plan.Compile(p, cat, config.Batch)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	return pl
}

func builtinSpecs() []sdk.Spec {
	var out []sdk.Spec
	for _, p := range builtin.Plugins() {
		out = append(out, p.Spec)
	}
	return out
}

func TestCheck(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name        string
		source, win string
		sink, dlq   string
		from, to    string
		every       time.Duration
		want        []string // warnings, then the error's lines
	}{
		{name: "daily windows in daily slices", win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-04", every: day},
		{name: "hourly windows in daily slices", win: "{tumbling: 1h}", from: "2026-03-01", to: "2026-03-04", every: day},
		{name: "daily windows in weekly slices", win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-29", every: 7 * day},
		{
			name: "a source that cannot seek", source: generateSource, win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-04", every: day,
			want: []string{"source payments: plugin generate cannot seek by event time, so every slice would read all of it; sources that can: parquet, postgres"},
		},
		{
			name: "a sink that cannot take slices side by side", sink: fileSink, win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-04", every: day,
			want: []string{"sink gold: plugin file cannot take the rows of several slices side by side: each slice would replace what the others wrote; sinks that can: parquet, kafka, or backfill in one slice (--slice 72h)"},
		},
		{name: "such a sink with one slice", sink: fileSink, win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-04", every: 72 * time.Hour},
		{
			name: "such a dead letter sink", win: "{tumbling: 24h}", dlq: "dead_letter: {plugin: file, config: {path: dead.jsonl}}", from: "2026-03-01", to: "2026-03-03", every: day,
			want: []string{"dead_letter: plugin file cannot take the rows of several slices side by side: each slice would replace what the others wrote; sinks that can: parquet, kafka, or backfill in one slice (--slice 48h)"},
		},
		{
			name: "sliding windows", win: "{sliding: {size: 1h, slide: 15m}}", from: "2026-03-01", to: "2026-03-03", every: day,
			want: []string{"aggregate daily: sliding windows (1h every 15m) overlap every slice boundary, and two slices would each write a partial row for them; backfill in one slice (--slice 48h)"},
		},
		{
			name: "sliding windows in one slice", win: "{sliding: {size: 1h, slide: 15m}}", from: "2026-03-01", to: "2026-03-03", every: 48 * time.Hour,
			want: []string{"warning: aggregate daily: the sliding windows (1h every 15m) that cross --from or --to get rows computed from the part of their data inside the range"},
		},
		{
			name: "session windows", win: "{session: {gap: 30m}}", from: "2026-03-01", to: "2026-03-03", every: day,
			want: []string{"aggregate daily: session windows (gap 30m) may cross a slice boundary, and two slices would each write a partial row for one; backfill in one slice (--slice 48h)"},
		},
		{
			name: "session windows in one slice", win: "{session: {gap: 30m}}", from: "2026-03-01", to: "2026-03-03", every: 1000 * time.Hour,
			want: []string{"warning: aggregate daily: the session windows (gap 30m) that cross --from or --to get rows computed from the part of their data inside the range"},
		},
		{
			name: "a range that splits a window", win: "{tumbling: 24h}", from: "2026-03-01T06:00:00Z", to: "2026-03-04", every: day,
			want: []string{"aggregate daily: 2026-03-01T06:00:00Z splits a tumbling window of 24h, and the backfill would write a row for part of it over the row of the whole; choose --from and --to at multiples of 24h"},
		},
		{
			name: "even in one slice", win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-03T12:00:00Z", every: 1000 * time.Hour,
			want: []string{"aggregate daily: 2026-03-03T12:00:00Z splits a tumbling window of 24h, and the backfill would write a row for part of it over the row of the whole; choose --from and --to at multiples of 24h"},
		},
		{
			name: "slices shorter than the window", win: "{tumbling: 24h}", from: "2026-03-01", to: "2026-03-03", every: 6 * time.Hour,
			want: []string{"aggregate daily: slice boundary 2026-03-01T06:00:00Z splits a tumbling window of 24h, and both slices would write a partial row for it; choose a --slice that is a multiple of 24h"},
		},
		{
			name: "every problem at once", source: generateSource, sink: fileSink, win: "{tumbling: 2h}", from: "2026-03-01T01:00:00Z", to: "2026-03-03", every: day,
			want: []string{
				"source payments: plugin generate cannot seek by event time, so every slice would read all of it; sources that can: parquet, postgres",
				"aggregate daily: 2026-03-01T01:00:00Z splits a tumbling window of 2h, and the backfill would write a row for part of it over the row of the whole; choose --from and --to at multiples of 2h",
				"sink gold: plugin file cannot take the rows of several slices side by side: each slice would replace what the others wrote; sinks that can: parquet, kafka, or backfill in one slice (--slice 47h)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			source, sink := tc.source, tc.sink
			if source == "" {
				source = parquetSource
			}
			if sink == "" {
				sink = parquetSink
			}
			pl := compileCheck(t, source, tc.win, sink, tc.dlq)
			slices, err := Split(mustTime(t, tc.from), mustTime(t, tc.to), tc.every)
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := Check(pl, slices, builtinSpecs())
			var got []string
			for _, w := range warnings {
				got = append(got, "warning: "+w)
			}
			if err != nil {
				got = append(got, strings.Split(err.Error(), "\n")...)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}
