package exec_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
)

// fixed is a source of fixed messages, all in one Read, that records the
// settings it was opened with.
type fixed struct {
	msgs     []sdk.Message
	settings *sdk.Settings
}

func (f *fixed) Open(_ context.Context, req sdk.OpenRequest) error {
	*f.settings = req.Settings
	return nil
}
func (f *fixed) Close(context.Context) error { return nil }
func (f *fixed) Read(context.Context) (sdk.Batch, error) {
	return sdk.Batch{Messages: f.msgs}, sdk.ErrEndOfInput
}

// recorder is a sink that keeps its rows and the settings it was opened
// with.
type recorder struct {
	mu       sync.Mutex
	rows     []string
	settings sdk.Settings
}

func (r *recorder) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	r.settings = req.Settings
	return nil
}
func (r *recorder) Close(context.Context) error { return nil }
func (r *recorder) Write(_ context.Context, rows sdk.Rows) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rows.Rows {
		if start, ok := row[0].(time.Time); ok {
			// A window's row: its start and count.
			r.rows = append(r.rows, start.Format("15:04")+" "+fmt.Sprint(row[len(row)-1]))
			continue
		}
		r.rows = append(r.rows, fmt.Sprint(row...))
	}
	return nil
}

// TestTimeRange: with Options.TimeRange, records outside the range are
// dropped before any stage and counted as out of range, not as late or
// dead letters, in every mode; windows see only the records inside.
// Options.Instance reaches the source and the sink.
func TestTimeRange(t *testing.T) {
	at := func(offset int64, hhmmss string) sdk.Message {
		return msg("p", offset, hhmmss, "")
	}
	// Event times from 10:00:30 to 10:04:00, out of order.
	msgs := []sdk.Message{
		at(1, "00:30"), at(2, "01:10"), at(3, "02:59"), at(4, "03:00"), at(5, "01:00"), at(6, "04:00"), at(7, "02:00"),
	}
	ts := func(s string) time.Time { return time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC).Add(mustDuration(t, s)) }
	tests := []struct {
		name     string
		rng      *exec.TimeRange
		want     []string // window_start and count
		outside  int64
		instance string
	}{
		{"no range", nil, []string{"10:00 1", "10:01 2", "10:02 2", "10:03 1", "10:04 1"}, 0, ""},
		{"closed", &exec.TimeRange{From: ts("1m"), To: ts("3m")}, []string{"10:01 2", "10:02 2"}, 3, "2026-03-17T10:01:00Z/2026-03-17T10:03:00Z"},
		{"from only", &exec.TimeRange{From: ts("3m")}, []string{"10:03 1", "10:04 1"}, 5, "x"},
		{"to only", &exec.TimeRange{To: ts("1m10s")}, []string{"10:00 1", "10:01 1"}, 5, ""},
		{"empty", &exec.TimeRange{From: ts("10m"), To: ts("11m")}, nil, 7, ""},
	}
	for _, mode := range []config.Mode{config.Batch, config.MicroBatch, config.Stream} {
		for _, tc := range tests {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var srcSettings sdk.Settings
				src := &fixed{msgs: msgs, settings: &srcSettings}
				sink := &recorder{}
				cat, err := catalog.New(
					sdk.Plugin{Spec: sdk.Spec{Name: "fixed", Kind: sdk.KindSource}, NewSource: func() sdk.Source { return src }},
					sdk.Plugin{Spec: sdk.Spec{Name: "rec", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return sink }},
				)
				if err != nil {
					t.Fatal(err)
				}
				pl := compileYAML(t, cat, `version: 1
name: ranged
mode: `+string(mode)+`
sources:
  - name: in
    plugin: fixed
    event_time: ts
    watermark: {lateness: 10m}
transforms:
  - name: w
    from: in
    window: {tumbling: 1m}
    group_by: [k]
    aggregate: {n: count()}
sinks:
  - {name: out, from: w, plugin: rec}
`)
				sum, err := exec.Run(context.Background(), pl, exec.Options{TimeRange: tc.rng, Instance: tc.instance, Stderr: testWriter{t}})
				if err != nil {
					t.Fatal(err)
				}
				got := slices.Sorted(slices.Values(sink.rows))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if sum.Read != int64(len(msgs)) || sum.OutOfRange != tc.outside || sum.Late != 0 || sum.DeadLettered != 0 {
					t.Errorf("summary: read %d, out of range %d, late %d, dead-lettered %d; want read %d, out of range %d, no late or dead letters",
						sum.Read, sum.OutOfRange, sum.Late, sum.DeadLettered, len(msgs), tc.outside)
				}
				if srcSettings.Instance != tc.instance || sink.settings.Instance != tc.instance {
					t.Errorf("instance: source %q, sink %q; want %q", srcSettings.Instance, sink.settings.Instance, tc.instance)
				}
			})
		}
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testWriter sends what a run prints to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestTimeRangeNoEventTime: a record without an event time is outside
// every range.
func TestTimeRangeNoEventTime(t *testing.T) {
	var settings sdk.Settings
	src := &fixed{msgs: []sdk.Message{{Payload: []byte(`{"k":"a"}`)}, {Payload: []byte(`{"k":"b"}`)}}, settings: &settings}
	sink := &recorder{}
	cat, err := catalog.New(
		sdk.Plugin{Spec: sdk.Spec{Name: "fixed", Kind: sdk.KindSource}, NewSource: func() sdk.Source { return src }},
		sdk.Plugin{Spec: sdk.Spec{Name: "rec", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return sink }},
	)
	if err != nil {
		t.Fatal(err)
	}
	pl := compileYAML(t, cat, `version: 1
name: untimed
sources:
  - {name: in, plugin: fixed}
sinks:
  - {name: out, from: in, plugin: rec}
`)
	for _, tc := range []struct {
		rng     *exec.TimeRange
		written int
	}{{nil, 2}, {&exec.TimeRange{From: time.Unix(0, 0)}, 0}} {
		sink.rows = nil
		sum, err := exec.Run(context.Background(), pl, exec.Options{TimeRange: tc.rng})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.rows) != tc.written || sum.OutOfRange != int64(2-tc.written) {
			t.Errorf("range %v: wrote %v, out of range %d; want %d rows written", tc.rng, sink.rows, sum.OutOfRange, tc.written)
		}
	}
}
