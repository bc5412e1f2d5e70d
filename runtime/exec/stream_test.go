package exec_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// feed is a source the test drives: each batch sent on it is one Read.
// Closing it ends the input.
type feed struct {
	batches chan sdk.Batch
	reads   atomic.Int64
}

func (f *feed) Open(context.Context, sdk.OpenRequest) error { return nil }
func (f *feed) Close(context.Context) error                 { return nil }
func (f *feed) Read(ctx context.Context) (sdk.Batch, error) {
	select {
	case b, ok := <-f.batches:
		if !ok {
			return sdk.Batch{}, sdk.ErrEndOfInput
		}
		f.reads.Add(1)
		return b, nil
	case <-ctx.Done():
		return sdk.Batch{}, ctx.Err()
	}
}

// collector is a sink that hands every row to the test; block, when set,
// holds each Write until it is closed.
type collector struct {
	rows  chan []any
	block chan struct{}
}

func (c *collector) Open(context.Context, sdk.SinkOpenRequest) error { return nil }
func (c *collector) Close(context.Context) error                     { return nil }
func (c *collector) Write(ctx context.Context, rows sdk.Rows) error {
	if c.block != nil {
		select {
		case <-c.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, r := range rows.Rows {
		c.rows <- r
	}
	return nil
}

func testCatalog(t *testing.T, f *feed, c *collector) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.New(
		sdk.Plugin{Spec: sdk.Spec{Name: "feed", Kind: sdk.KindSource}, NewSource: func() sdk.Source { return f }},
		sdk.Plugin{Spec: sdk.Spec{Name: "collect", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return c }},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// msg makes a message on a partition with an event time in minutes and
// seconds after 10:00.
func msg(part string, offset int64, at string, extra string) sdk.Message {
	ts := "2026-03-17T10:" + at + "Z"
	return sdk.Message{
		Payload:  []byte(fmt.Sprintf(`{"k":"a","ts":%q%s}`, ts, extra)),
		Position: sdk.Position{Partition: part, Offset: offset},
	}
}

func compileYAML(t *testing.T, cat *catalog.Catalog, src string) *plan.Plan {
	t.Helper()
	p, ds := config.Load(filepath.Join(t.TempDir(), "p.yaml"), []byte(src), nil)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	pl, ds := plan.Compile(p, cat, "")
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	return pl
}

func receive(t *testing.T, ch <-chan []any) []any {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no row within 10s")
		return nil
	}
}

// clock is a processing-time clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestIdlePartitionReleasesWatermark: a silent partition holds the
// watermark back until idle_timeout of processing time has passed; then
// the window closes while the source is still open.
func TestIdlePartitionReleasesWatermark(t *testing.T) {
	f := &feed{batches: make(chan sdk.Batch)}
	c := &collector{rows: make(chan []any, 100)}
	pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: idle
mode: stream
sources:
  - name: in
    plugin: feed
    event_time: ts
    watermark: {lateness: 0s, idle_timeout: 1m}
transforms:
  - name: w
    from: in
    window: {tumbling: 1m}
    group_by: [k]
    aggregate: {n: count()}
sinks:
  - {name: out, from: w, plugin: collect}
`)
	clk := &clock{now: time.Unix(1e9, 0)}
	done := make(chan error, 1)
	go func() {
		_, err := exec.Run(context.Background(), pl, exec.Options{Now: clk.Now})
		done <- err
	}()
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p1", 1, "00:01", ""), msg("p2", 1, "00:02", "")}}
	// This send completes only when the reader asks for more, so the first
	// batch has been stamped with the time it was read.
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p1", 2, "05:00", "")}}
	select {
	case r := <-c.rows:
		t.Fatalf("row %v emitted while partition p2 still holds the watermark", r)
	default:
	}
	clk.Add(2 * time.Minute) // p2 has been silent longer than idle_timeout
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p1", 3, "05:30", "")}}
	row := receive(t, c.rows)
	if got := fmt.Sprint(row[0], " ", row[2], " ", row[3]); got != "2026-03-17 10:00:00 +0000 UTC a 2" {
		t.Errorf("row %v, want the 10:00 window of a with 2 records", row)
	}
	close(f.batches)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestEmitUpdates: with emit: updates, stream mode emits the current row
// of a window as it changes, then its final row when it closes.
func TestEmitUpdates(t *testing.T) {
	f := &feed{batches: make(chan sdk.Batch)}
	c := &collector{rows: make(chan []any, 100)}
	pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: updates
mode: stream
sources:
  - {name: in, plugin: feed, event_time: ts}
transforms:
  - name: w
    from: in
    window: {tumbling: 1m}
    group_by: [k]
    aggregate: {n: count()}
    emit: updates
sinks:
  - {name: out, from: w, plugin: collect}
`)
	done := make(chan error, 1)
	go func() {
		_, err := exec.Run(context.Background(), pl, exec.Options{})
		done <- err
	}()
	var counts []any
	for i, at := range []string{"00:01", "00:20", "00:40"} {
		f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p", int64(i), at, "")}}
		counts = append(counts, receive(t, c.rows)[3])
	}
	close(f.batches)
	counts = append(counts, receive(t, c.rows)[3]) // the final row, at the end of input
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(counts); got != "[1 2 3 3]" {
		t.Errorf("counts emitted %s, want [1 2 3 3] (three updates, then the final row)", got)
	}
}

// TestSlowSinkBoundsBuffers: while a sink is stuck, the engine stops
// reading after a bounded number of batches instead of queueing; once the
// sink moves, every record is written.
func TestSlowSinkBoundsBuffers(t *testing.T) {
	f := &feed{batches: make(chan sdk.Batch)}
	c := &collector{rows: make(chan []any, 1<<20), block: make(chan struct{})}
	pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: slow
mode: stream
sources:
  - {name: in, plugin: feed}
sinks:
  - {name: out, from: in, plugin: collect}
`)
	done := make(chan error, 1)
	go func() {
		_, err := exec.Run(context.Background(), pl, exec.Options{SinkBatch: 10})
		done <- err
	}()
	const batches, per = 1000, 10
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for i := range batches {
			b := sdk.Batch{}
			for j := range per {
				b.Messages = append(b.Messages, msg("p", int64(i*per+j), "00:00", ""))
			}
			select {
			case f.batches <- b:
				n++
			case <-time.After(200 * time.Millisecond):
				return // the engine stopped taking batches: it is blocked on the sink
			}
		}
	}()
	n := <-sent
	if n >= batches {
		t.Fatalf("the engine took all %d batches while the sink was stuck", n)
	}
	if n > 20 {
		t.Errorf("the engine took %d batches while the sink was stuck; buffers should be a handful of batches", n)
	}
	close(c.block)
	for i := n; i < batches; i++ {
		b := sdk.Batch{}
		for j := range per {
			b.Messages = append(b.Messages, msg("p", int64(i*per+j), "00:00", ""))
		}
		f.batches <- b
	}
	close(f.batches)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(c.rows); got != batches*per {
		t.Errorf("wrote %d rows, want %d: nothing may be dropped", got, batches*per)
	}
}

// TestStopCommitsWhatWasRead: cancelling a stream run stops reading; rows
// already produced are still written, and the run ends without error.
func TestStopCommitsWhatWasRead(t *testing.T) {
	f := &feed{batches: make(chan sdk.Batch)}
	c := &collector{rows: make(chan []any, 100)}
	pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: stop
mode: stream
sources:
  - {name: in, plugin: feed}
sinks:
  - {name: out, from: in, plugin: collect}
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan exec.Summary, 1)
	go func() {
		sum, err := exec.Run(ctx, pl, exec.Options{})
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p", 1, "00:00", ""), msg("p", 2, "00:01", "")}}
	receive(t, c.rows)
	receive(t, c.rows)
	cancel()
	sum := <-done
	if !sum.Stopped || sum.Read != 2 || sum.Written != 2 {
		t.Errorf("summary %+v: want stopped with 2 read and 2 written", sum)
	}
}

// TestTriggerOnceAndAvailableNow: `once` runs one trigger over what the
// source has available and stops; `available_now` runs triggers (each
// bounded by max_records) until the source is caught up, then stops.
func TestTriggerOnceAndAvailableNow(t *testing.T) {
	for _, tc := range []struct {
		trigger      string
		wantRead     int64
		wantTriggers int64
	}{
		{"{once: true}", 3, 1},
		{"{available_now: true, max_records: 2}", 3, 3}, // 2 + 1, then one that finds nothing new
	} {
		t.Run(tc.trigger, func(t *testing.T) {
			f := &feed{batches: make(chan sdk.Batch, 1)}
			c := &collector{rows: make(chan []any, 100)}
			pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: trig
mode: micro-batch
trigger: `+tc.trigger+`
sources:
  - {name: in, plugin: feed}
sinks:
  - {name: out, from: in, plugin: collect}
`)
			f.batches <- sdk.Batch{CaughtUp: true, Messages: []sdk.Message{msg("p", 1, "00:00", ""), msg("p", 2, "00:01", ""), msg("p", 3, "00:02", "")}}
			sum, err := exec.Run(context.Background(), pl, exec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !sum.Stopped || sum.Read != tc.wantRead || sum.Written != tc.wantRead || sum.Triggers != tc.wantTriggers {
				t.Errorf("summary %+v: want stopped after %d triggers with %d read and written", sum, tc.wantTriggers, tc.wantRead)
			}
		})
	}
}

// TestDeclaredPartitionHoldsWatermark: a partition the source declares
// (sdk.Batch.Partitions) before its first record holds the watermark back,
// so its records are not late because another partition was read first;
// once silent for idle_timeout it lets go.
func TestDeclaredPartitionHoldsWatermark(t *testing.T) {
	f := &feed{batches: make(chan sdk.Batch)}
	c := &collector{rows: make(chan []any, 100)}
	pl := compileYAML(t, testCatalog(t, f, c), `version: 1
name: declared
mode: stream
sources:
  - name: in
    plugin: feed
    event_time: ts
    watermark: {lateness: 0s, idle_timeout: 1m}
transforms:
  - name: w
    from: in
    window: {tumbling: 1m}
    group_by: [k]
    aggregate: {n: count()}
    late: dead_letter
sinks:
  - {name: out, from: w, plugin: collect}
`)
	clk := &clock{now: time.Unix(1e9, 0)}
	done := make(chan error, 1)
	var sum exec.Summary
	go func() {
		var err error
		sum, err = exec.Run(context.Background(), pl, exec.Options{Now: clk.Now, Stderr: &strings.Builder{}})
		done <- err
	}()
	// p1's backlog comes first, far ahead of p2's; p2 was declared.
	f.batches <- sdk.Batch{Partitions: []string{"p1", "p2"}, Messages: []sdk.Message{msg("p1", 1, "00:01", ""), msg("p1", 2, "09:00", "")}}
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p2", 1, "00:30", "")}}
	// p2 now holds the watermark at 10:00:30: the 10:00 window is open.
	select {
	case r := <-c.rows:
		t.Fatalf("row %v emitted while the declared partition held the watermark", r)
	default:
	}
	// A declared partition that never delivers lets go after idle_timeout.
	f.batches <- sdk.Batch{Partitions: []string{"p3"}}
	// This send completes only when the reader asks for more, so p3's
	// batch has been stamped with the time it was read, before the clock
	// moves on.
	f.batches <- sdk.Batch{}
	clk.Add(2 * time.Minute)
	f.batches <- sdk.Batch{Messages: []sdk.Message{msg("p1", 3, "09:30", ""), msg("p2", 2, "09:30", "")}}
	row := receive(t, c.rows)
	if got := fmt.Sprint(row[0], " ", row[3]); got != "2026-03-17 10:00:00 +0000 UTC 2" {
		t.Errorf("row %v, want the 10:00 window with p1's and p2's records", row)
	}
	close(f.batches)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sum.Late != 0 {
		t.Errorf("%d records late, want none", sum.Late)
	}
}
