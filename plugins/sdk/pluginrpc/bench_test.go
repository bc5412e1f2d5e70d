package pluginrpc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// benchConfigs are the generate source's configs the benchmarks read.
var benchConfigs = []struct{ name, config string }{
	// Three simple fields: the transport's cost shows most.
	{"simple", `{"fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`},
	// Fields like a payments stream: more work per event.
	{"payments", `{"disorder": "1s", "fields": {
		"payment_id": "sprintf(\"p-%06d\", i)",
		"store_id": "zipf(50, 1.1)",
		"amount": "round(uniform(1, 200), 2)",
		"channel": "choice([\"web\", \"store\", \"app\"])",
		"event_time": "event_time"
	}}`},
}

// BenchmarkRemoteRead reads the generate source in process and through
// the gRPC transport, reporting events/s, the batch size and the CPU time
// per event of every process involved. The transport is measured twice:
// served in this process by go-plugin's test mode (one heap and one
// garbage collector for both ends), and in the test plugin executable, a
// child process, as flowctl runs plugins.
func BenchmarkRemoteRead(b *testing.B) {
	for _, cfg := range benchConfigs {
		for _, mode := range []struct {
			name string
			src  func(b *testing.B) (sdk.Source, []int)
		}{
			{"in-process", func(*testing.B) (sdk.Source, []int) { return generate.Plugin().NewSource(), nil }},
			{"served-in-process", func(b *testing.B) (sdk.Source, []int) {
				return serve(b, generate.Plugin()).NewSource("generate"), nil
			}},
			{"subprocess", func(b *testing.B) (sdk.Source, []int) {
				c, pid := startProcess(b)
				return c.NewSource("generate"), []int{pid}
			}},
		} {
			b.Run(cfg.name+"/"+mode.name, func(b *testing.B) {
				ctx := context.Background()
				src, pids := mode.src(b)
				if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(cfg.config)}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { src.Close(ctx) })
				b.ReportAllocs()
				n, batches := 0, 0
				cpu := cpuTime(b, pids)
				for b.Loop() {
					batch, err := src.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n += len(batch.Messages)
					batches++
				}
				report(b, n, batches, cpuTime(b, pids)-cpu)
			})
		}
	}
}

// report reports the events/s, the events per batch and the CPU time per
// event of a benchmark that moved n events in that many batches.
func report(b *testing.B, n, batches int, cpu time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)/float64(batches), "events/batch")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
}

// cpuTime returns the CPU time, user and system, that this process and
// the processes pids have used so far.
func cpuTime(tb testing.TB, pids []int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			tb.Fatal(err)
		}
		// The fields after the command, which is in parentheses, start
		// at field 3; utime and stime are fields 14 and 15, in clock
		// ticks of 10 ms.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for _, f := range fields[14-3 : 15-3+1] {
			ticks, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			total += time.Duration(ticks) * 10 * time.Millisecond
		}
	}
	return total
}

// discardPlugin is a sink that drops its rows, as in the test plugin
// executable.
func discardPlugin() sdk.Plugin {
	return sdk.Plugin{
		Spec:    sdk.Spec{Name: "discard", Kind: sdk.KindSink, Version: "0.1.0", Summary: "Drops its rows."},
		NewSink: func() sdk.Sink { return discard{} },
	}
}

type discard struct{}

func (discard) Open(context.Context, sdk.SinkOpenRequest) error { return nil }
func (discard) Write(context.Context, sdk.Rows) error           { return nil }
func (discard) Close(context.Context) error                     { return nil }

// BenchmarkPipeline runs a passthrough pipeline, the generate source into
// a sink that discards, laid out as runtime/exec runs one: the source is
// read on a goroutine of its own, the batches turned into rows on the
// benchmark's, and the rows written on the sink's goroutine, with queues
// of two batches in between. "in-process" runs both plugins in this
// process; "subprocess" runs each in a child process of its own, the test
// plugin executable, so that every record crosses two process
// boundaries. The CPU time per event counts every process.
func BenchmarkPipeline(b *testing.B) {
	for _, cfg := range benchConfigs {
		for _, mode := range []struct {
			name string
			open func(b *testing.B) (sdk.Source, sdk.Sink, []int)
		}{
			{"in-process", func(*testing.B) (sdk.Source, sdk.Sink, []int) {
				return generate.Plugin().NewSource(), discardPlugin().NewSink(), nil
			}},
			{"subprocess", func(b *testing.B) (sdk.Source, sdk.Sink, []int) {
				src, srcPID := startProcess(b)
				sink, sinkPID := startProcess(b)
				return src.NewSource("generate"), sink.NewSink("discard"), []int{srcPID, sinkPID}
			}},
		} {
			b.Run(cfg.name+"/"+mode.name, func(b *testing.B) {
				src, sink, pids := mode.open(b)
				runPipeline(b, cfg.config, src, sink, pids)
			})
		}
	}
}

// runPipeline runs the pipeline of BenchmarkPipeline.
func runPipeline(b *testing.B, config string, src sdk.Source, sink sdk.Sink, pids []int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config)}); err != nil {
		b.Fatal(err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	first, err := src.Read(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var columns []string
	for _, f := range first.Messages[0].Fields {
		columns = append(columns, f.Name)
	}
	if err := sink.Open(ctx, sdk.SinkOpenRequest{Columns: columns}); err != nil {
		b.Fatal(err)
	}
	defer sink.Close(context.WithoutCancel(ctx))

	batches := make(chan sdk.Batch, 2)
	readErr := make(chan error, 1)
	go func() {
		for {
			batch, err := src.Read(ctx)
			if err != nil {
				readErr <- err
				close(batches)
				return
			}
			batches <- batch
		}
	}()
	rows := make(chan sdk.Rows, 2)
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for r := range rows {
			if err == nil {
				err = sink.Write(ctx, r)
			}
		}
		writeErr <- err
	}()

	b.ReportAllocs()
	n, count := 0, 0
	cpu := cpuTime(b, pids)
	for b.Loop() {
		batch, ok := <-batches
		if !ok {
			b.Fatal(<-readErr)
		}
		rows <- toRows(columns, batch)
		n += len(batch.Messages)
		count++
	}
	close(rows)
	if err := <-writeErr; err != nil {
		b.Fatal(err)
	}
	report(b, n, count, cpuTime(b, pids)-cpu)
	cancel()
	for range batches {
	}
}

// toRows turns a batch of structured messages into rows of their field
// values, all rows in one backing array.
func toRows(columns []string, batch sdk.Batch) sdk.Rows {
	values := make([]any, 0, len(batch.Messages)*len(columns))
	rows := make([][]any, len(batch.Messages))
	for i, m := range batch.Messages {
		start := len(values)
		for _, f := range m.Fields {
			values = append(values, f.Value)
		}
		rows[i] = values[start:len(values):len(values)]
	}
	return sdk.Rows{Columns: columns, Rows: rows}
}
