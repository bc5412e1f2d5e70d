package pipelines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
	"github.com/flowctl/flowctl/runtime/backfill"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/pluginhost"
)

// The test binary serves the built-in plugins to the plugin processes
// that the lake test's host starts: the lake pipelines run out of
// process, as `flowctl run` runs them.
func TestMain(m *testing.M) {
	pluginhost.ServeIfAsked(builtin.Plugins()...)
	if _, set := os.LookupEnv("GORACE"); !set {
		// Plugin processes built with -race would sleep a second as they exit.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// lakeDays is how many days of payments the lake test lands in bronze
// (the pipeline lands a month; five days keep the test quick).
const lakeDays = 5

// TestLake runs the lake example as the README does: the bronze stream
// lands payments, the gold batch computes daily revenue per store, and a
// backfill recomputes the same days. Each time, the gold table, read with
// arrow-go following its commit log, holds the revenue and count computed
// directly from the generated payments; a second backfill changes
// nothing.
func TestLake(t *testing.T) {
	dir := t.TempDir()
	bronze, gold := filepath.Join(dir, "bronze"), filepath.Join(dir, "gold")
	bronzeSets := []string{
		"sources.payments.config.count=" + strconv.Itoa(lakeDays*8640),
		"sinks.bronze.config.path=" + bronze,
		"checkpoint.dir=" + filepath.Join(dir, "ckpt", "bronze"),
	}
	goldSets := []string{
		"sources.bronze.config.path=" + bronze,
		"sinks.gold.config.path=" + gold,
		"dead_letter.config.path=" + filepath.Join(dir, "dead_letter"),
		"checkpoint.dir=" + filepath.Join(dir, "ckpt", "gold"),
	}
	host := lakeHost(t)
	want, inRange := lakeReference(t, bronzeSets)

	run(t, host, "lake_bronze.yaml", bronzeSets)
	run(t, host, "lake_gold.yaml", goldSets)
	if diff := cmp.Diff(want, readGold(t, gold), cmpDecimal); diff != "" {
		t.Fatalf("gold after the batch run (-payments +gold):\n%s", diff)
	}

	compile := lakeCompiler(host, "lake_gold.yaml", goldSets)
	base, err := compile(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for n := 1; n <= 2; n++ {
		sum, err := backfill.Run(context.Background(), base, backfill.Options{
			From: from, To: from.AddDate(0, 0, lakeDays), Parallel: 2,
			Compile: compile, Exec: exec.Options{Stderr: &bytes.Buffer{}},
			StateDir: filepath.Join(dir, "ckpt", "gold"),
		})
		if err != nil {
			t.Fatalf("backfill %d: %v", n, err)
		}
		if sum.Done != lakeDays || sum.Read != inRange || sum.OutOfRange != 0 {
			t.Errorf("backfill %d: %s; want %d slices done and the %d payments of the range read", n, sum, lakeDays, inRange)
		}
		if diff := cmp.Diff(want, readGold(t, gold), cmpDecimal); diff != "" {
			t.Errorf("gold after backfill %d (-payments +gold):\n%s", n, diff)
		}
	}
}

var cmpDecimal = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })

// daily is one gold row: a store's revenue and payments on a day.
type daily struct {
	Revenue  decimal.Decimal
	Payments int64
}

// lakeReference generates the bronze pipeline's payments with the
// generate plugin itself and sums them per UTC day and store. It also
// returns how many fall in the days the test backfills.
func lakeReference(t *testing.T, sets []string) (map[string]daily, int64) {
	t.Helper()
	p, ds := config.LoadFileWith("lake_bronze.yaml", config.Options{Sets: sets})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	pl, ds := plan.Compile(p, newCatalog(t), "")
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	src := generate.Plugin().NewSource()
	ctx := context.Background()
	if err := src.Open(ctx, sdk.OpenRequest{Config: pl.Stages[0].Config.JSON}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, lakeDays)
	sums := map[string]daily{}
	var n, inRange int64
	for {
		b, err := src.Read(ctx)
		for _, m := range b.Messages {
			f := fields(m)
			at := f["event_time"].(time.Time)
			amount := decimal.RequireFromString(strconv.FormatFloat(f["amount"].(float64), 'f', 2, 64))
			k := at.UTC().Format(time.DateOnly) + " " + f["store"].(string)
			d := sums[k]
			d.Revenue = d.Revenue.Add(amount)
			d.Payments++
			sums[k] = d
			n++
			if !at.Before(from) && at.Before(to) {
				inRange++
			}
		}
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != lakeDays*8640 || len(sums) < lakeDays*10 {
		t.Fatalf("%d payments in %d days and stores: want %d payments, to at least 10 stores a day", n, len(sums), lakeDays*8640)
	}
	return sums, inRange
}

func fields(m sdk.Message) map[string]any {
	out := map[string]any{}
	for _, f := range m.Fields {
		out[f.Name] = f.Value
	}
	return out
}

func lakeHost(t *testing.T) *pluginhost.Host {
	t.Helper()
	server, err := pluginhost.Reexec(os.Args[0], nil, pluginhost.ServeEnv+"=1")
	if err != nil {
		t.Fatal(err)
	}
	h := pluginhost.New(pluginhost.Options{Builtins: builtin.Plugins(), Server: server, Stderr: &bytes.Buffer{}})
	t.Cleanup(h.Close)
	return h
}

// lakeCompiler compiles a pipeline file, with sets and then those it is
// called with, binding its plugins to processes of host.
func lakeCompiler(host *pluginhost.Host, file string, sets []string) func(context.Context, []string) (*plan.Plan, error) {
	return func(ctx context.Context, more []string) (*plan.Plan, error) {
		p, ds := config.LoadFileWith(file, config.Options{Sets: append(append([]string(nil), sets...), more...)})
		if p == nil {
			return nil, ds.Err()
		}
		set, rds := host.Resolve(ctx, p)
		pl, pds := plan.Compile(p, set.Catalog, "")
		ds = append(ds, rds...)
		ds = append(ds, pds...)
		ds = append(ds, set.Bind(pl)...)
		return pl, ds.Err()
	}
}

// run runs a pipeline file in its own mode.
func run(t *testing.T, host *pluginhost.Host, file string, sets []string) {
	t.Helper()
	pl, err := lakeCompiler(host, file, sets)(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := exec.Run(context.Background(), pl, exec.Options{Stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if sum.DeadLettered != 0 || sum.Late != 0 {
		t.Errorf("%s: %s", file, sum)
	}
}

// readGold reads the gold table with arrow-go, as of its commit log.
func readGold(t *testing.T, dir string) map[string]daily {
	t.Helper()
	out := map[string]daily{}
	for _, p := range committedFiles(t, dir) {
		for _, r := range readParquet(t, filepath.Join(dir, p)) {
			start, end := r["window_start"].(time.Time), r["window_end"].(time.Time)
			if end.Sub(start) != 24*time.Hour {
				t.Fatalf("%s: window %s to %s is not a day", p, start, end)
			}
			k := start.Format(time.DateOnly) + " " + r["store"].(string)
			if _, dup := out[k]; dup {
				t.Fatalf("gold has two rows for %s", k)
			}
			out[k] = daily{Revenue: r["revenue"].(decimal.Decimal), Payments: r["payments"].(int64)}
		}
	}
	return out
}

// committedFiles replays a table's commit log, as a log-aware reader
// does, and returns the files of its latest version.
func committedFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "_flowctl_log", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	live := map[string]bool{}
	for i, n := range names {
		if filepath.Base(n) != fmt.Sprintf("%020d.json", i) {
			t.Fatalf("log entry %s out of sequence", n)
		}
		var e struct {
			Add []struct {
				Path string `json:"path"`
			} `json:"add"`
			Remove []string `json:"remove"`
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		for _, r := range e.Remove {
			delete(live, r)
		}
		for _, a := range e.Add {
			live[a.Path] = true
		}
	}
	var out []string
	for p := range live {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// readParquet reads a Parquet file with arrow-go, a reader independent
// of the parquet-go library that wrote it, into rows by column name.
func readParquet(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	rows := make([]map[string]any, tbl.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		col := tbl.Column(c)
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][col.Name()] = arrowValue(t, chunk, i)
				r++
			}
		}
	}
	return rows
}

func arrowValue(t *testing.T, a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
	case *array.Decimal128:
		return decimal.NewFromBigInt(a.Value(i).BigInt(), -a.DataType().(*arrow.Decimal128Type).Scale)
	}
	t.Fatalf("no conversion for arrow %T (%s)", a, a.DataType())
	return nil
}
