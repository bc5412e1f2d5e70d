// Package bench measures whole pipelines: it generates Nexmark-style bid
// events as JSON lines and runs a few pipelines over them through the same
// loader, planner and executor as `flowctl run`, reporting events/s.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// Schema is the record schema of the generated bids.
const Schema = `name: bid
fields:
  auction: int
  bidder: int
  price: int
  channel: string
  url: string
  date_time: timestamp
  extra: string
`

// Case is one benchmarked pipeline.
type Case struct {
	Name string
	YAML string // the pipeline; {{input}}, {{schema}} and {{out}} are replaced
}

// Cases are the pipelines `flowctl bench` runs.
var Cases = []Case{
	{"decode", `version: 1
name: bench_decode
sources:
  - {name: bids, plugin: file, config: {path: "{{input}}"}, schema: "{{schema}}", event_time: date_time}
transforms:
  - name: total
    from: bids
    aggregate: {events: count()}
sinks:
  - {name: out, from: total, plugin: file, config: {path: "{{out}}"}}
`},
	{"filter", `version: 1
name: bench_filter
sources:
  - {name: bids, plugin: file, config: {path: "{{input}}"}, schema: "{{schema}}", event_time: date_time}
transforms:
  - {name: big, from: bids, filter: 'price > 5000 && channel != "apple"'}
  - name: total
    from: big
    aggregate: {events: count()}
sinks:
  - {name: out, from: total, plugin: file, config: {path: "{{out}}"}}
`},
	{"tumbling_sum", `version: 1
name: bench_tumbling
sources:
  - {name: bids, plugin: file, config: {path: "{{input}}"}, schema: "{{schema}}", event_time: date_time}
transforms:
  - name: per_minute
    from: bids
    window: {tumbling: 1m}
    group_by: [auction]
    aggregate: {volume: sum(price), bids: count()}
sinks:
  - {name: out, from: per_minute, plugin: file, config: {path: "{{out}}"}}
`},
}

// Generate writes n bid events as JSON lines to path, with event times
// starting at a fixed instant, 1ms apart.
func Generate(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	channels := []string{"apple", "google", "facebook", "baidu"}
	start := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	var buf []byte
	for i := range n {
		buf = buf[:0]
		buf = append(buf, `{"auction":`...)
		buf = strconv.AppendInt(buf, int64(1000+r.IntN(1000)), 10)
		buf = append(buf, `,"bidder":`...)
		buf = strconv.AppendInt(buf, int64(r.IntN(100000)), 10)
		buf = append(buf, `,"price":`...)
		buf = strconv.AppendInt(buf, int64(r.IntN(10000)), 10)
		ch := channels[r.IntN(len(channels))]
		buf = append(buf, `,"channel":"`...)
		buf = append(buf, ch...)
		buf = append(buf, `","url":"https://www.`...)
		buf = append(buf, ch...)
		buf = append(buf, `.com/item?id=`...)
		buf = strconv.AppendInt(buf, int64(r.IntN(1e6)), 10)
		buf = append(buf, `","date_time":"`...)
		buf = start.Add(time.Duration(i)*time.Millisecond).AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, `","extra":""}`...)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Result is one measured pipeline.
type Result struct {
	Case    string
	Events  int64
	Elapsed time.Duration
}

// Rate is events per second.
func (r Result) Rate() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%-26s %10d events  %8.3fs  %10.0f events/s", r.Case, r.Events, r.Elapsed.Seconds(), r.Rate())
}

// Setup writes the input and the schema into dir and returns the input path.
func Setup(dir string, n int) (string, error) {
	input := filepath.Join(dir, "bids.jsonl")
	if err := Generate(input, n); err != nil {
		return "", err
	}
	return input, os.WriteFile(filepath.Join(dir, "bid.yaml"), []byte(Schema), 0o644)
}

// RunCase runs one case in batch mode over the input made by Setup in dir.
func RunCase(ctx context.Context, cat *catalog.Catalog, dir string, c Case) (Result, error) {
	return runCase(ctx, cat, dir, c, config.Batch, nil)
}

func runCase(ctx context.Context, cat *catalog.Catalog, dir string, c Case, mode config.Mode, sets []string) (Result, error) {
	src := []byte(replace(c.YAML, map[string]string{
		"{{input}}":  filepath.Join(dir, "bids.jsonl"),
		"{{schema}}": filepath.Join(dir, "bid.yaml"),
		"{{out}}":    filepath.Join(dir, c.Name+".out.jsonl"),
	}))
	file := filepath.Join(dir, c.Name+".yaml")
	p, ds := config.LoadWith(file, src, config.Options{Sets: sets})
	if ds.HasErrors() {
		return Result{}, ds.Err()
	}
	pl, ds := plan.Compile(p, cat, mode)
	if ds.HasErrors() {
		return Result{}, ds.Err()
	}
	start := time.Now()
	sum, err := exec.Run(ctx, pl, exec.Options{})
	if err != nil {
		return Result{}, err
	}
	return Result{Case: c.Name, Events: sum.Read, Elapsed: time.Since(start)}, nil
}

func replace(s string, kv map[string]string) string {
	for k, v := range kv {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}
