// Package pipelines_test checks the example pipelines users copy: each one
// validates, and the finance example's output matches revenue computed
// independently from its sample data.
package pipelines_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"

	"github.com/flowctl/flowctl/runtime/builtin"
)

func newCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.New(builtin.Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestExamplesValidate checks that every example pipeline is valid.
func TestExamplesValidate(t *testing.T) {
	if os.Getenv("FLOWCTL_PG_DSN") == "" {
		t.Setenv("FLOWCTL_PG_DSN", "postgres://127.0.0.1:5432/shop")
	}
	if os.Getenv("KAFKA_BROKERS") == "" {
		t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	}
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no example pipelines")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			p, ds := config.LoadFile(f)
			if ds.HasErrors() {
				t.Fatal(ds.Err())
			}
			if _, ds := plan.Compile(p, newCatalog(t), ""); ds.HasErrors() {
				t.Fatal(ds.Err())
			}
		})
	}
}

// TestDailyRevenue runs the finance example as the README does (from the
// repository root) and compares its report with revenue computed directly
// from the sample orders.
func TestDailyRevenue(t *testing.T) {
	out := t.TempDir()
	p, ds := config.LoadFileWith("daily_revenue.yaml", config.Options{Sets: []string{
		"sources.orders.config.path=data/orders/*.jsonl",
		"sinks.report.config.path=" + filepath.Join(out, "report.csv"),
		"dead_letter.config.path=" + filepath.Join(out, "dead.jsonl"),
	}})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	pl, ds := plan.Compile(p, newCatalog(t), "")
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	sum, err := exec.Run(context.Background(), pl, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}

	want, rejected := reference(t)
	got := readReport(t, filepath.Join(out, "report.csv"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report differs from the reference (-want +got):\n%s", diff)
	}
	if sum.DeadLettered != int64(rejected) {
		t.Errorf("dead-lettered %d, want %d", sum.DeadLettered, rejected)
	}
	dead := readLines(t, filepath.Join(out, "dead.jsonl"))
	if len(dead) != rejected {
		t.Fatalf("dead letter file has %d rows, want %d", len(dead), rejected)
	}
	for _, line := range dead {
		var row struct{ Reason, Source, Position string }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if row.Reason == "" || row.Source != "orders" || !strings.HasPrefix(row.Position, "data/orders/") {
			t.Errorf("dead letter row lacks reason, source or position: %s", line)
		}
	}
}

// reference computes the report from the sample data by brute force. The
// sample's bad rows are the ones whose order_id starts with "bad-" (and a
// line that is not JSON).
func reference(t *testing.T) (map[string][3]string, int) {
	t.Helper()
	type acc struct {
		sum decimal.Decimal
		n   int64
	}
	groups := map[string]*acc{}
	rejected := 0
	files, _ := filepath.Glob("data/orders/*.jsonl")
	for _, f := range files {
		for _, line := range readLines(t, f) {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var o map[string]any
			if json.Unmarshal([]byte(line), &o) != nil || strings.HasPrefix(o["order_id"].(string), "bad-") {
				rejected++
				continue
			}
			if o["status"] != "completed" {
				continue
			}
			amount, err := decimal.NewFromString(strings.Trim(string(mustJSON(t, o["amount"])), `"`))
			if err != nil {
				t.Fatal(err)
			}
			if !amount.IsPositive() {
				continue
			}
			var ts time.Time
			switch v := o["order_time"].(type) {
			case string:
				ts, _ = time.Parse(time.RFC3339, v)
			case float64:
				ts = time.UnixMilli(int64(v)).UTC()
			}
			day := ts.UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
			key := day + "|" + strings.ToUpper(strings.TrimSpace(o["store_id"].(string))) + "|" + strings.ToLower(o["category"].(string))
			a := groups[key]
			if a == nil {
				a = &acc{}
				groups[key] = a
			}
			a.sum = a.sum.Add(amount)
			a.n++
		}
	}
	want := map[string][3]string{}
	for k, a := range groups {
		avg := a.sum.DivRound(decimal.NewFromInt(a.n), 8)
		want[k] = [3]string{a.sum.StringFixed(2), decimal.NewFromInt(a.n).String(), avg.StringFixed(8)}
	}
	return want, rejected
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readReport(t *testing.T, path string) map[string][3]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"window_start", "window_end", "store", "category", "revenue", "orders", "avg_order"}, rows[0]); diff != "" {
		t.Fatalf("header (-want +got):\n%s", diff)
	}
	got := map[string][3]string{}
	for _, r := range rows[1:] {
		got[r[0]+"|"+r[2]+"|"+r[3]] = [3]string{r[4], r[5], r[6]}
	}
	return got
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	sort.Strings(lines)
	return lines
}

// runExample runs an example pipeline with overrides, writing its sink
// `sink` to a temporary file, and returns the output lines.
func runExample(t *testing.T, file string, mode config.Mode, sink string, sets ...string) ([]map[string]any, exec.Summary) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	sets = append(sets, "sinks."+sink+".config.path="+out)
	p, ds := config.LoadFileWith(file, config.Options{Sets: sets})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	if p.DeadLetter != nil {
		// Dead letters go to the test's folder, not the source tree.
		sets = append(sets, "dead_letter.config.path="+filepath.Join(dir, "dead.jsonl"))
		if p, ds = config.LoadFileWith(file, config.Options{Sets: sets}); ds.HasErrors() {
			t.Fatal(ds.Err())
		}
	}
	cat, err := catalog.New(builtin.Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	pl, ds := plan.Compile(p, cat, mode)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	sum, err := exec.Run(context.Background(), pl, exec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return rows, sum
}

// TestOpsDashboard runs the micro-batch dashboard over a bounded slice of
// its generated orders: its disorder is within its lateness, so stream and
// batch mode must give the same rows, and every order is counted in the
// six 30-minute windows that hold it.
func TestOpsDashboard(t *testing.T) {
	const n = 60_000 // five minutes of event time at 200 a second
	bounded := []string{"sources.orders.config.rate=0", "sources.orders.config.count=60000", "trigger.every=1ms", "trigger.max_records=5000"}
	micro, sum := runExample(t, "ops_dashboard.yaml", "", "board", bounded...)
	if sum.Triggers < n/5000 || sum.Late != 0 || sum.DeadLettered != 0 {
		t.Fatalf("summary %+v: want at least %d triggers, nothing late or dead-lettered", sum, n/5000)
	}
	var orders float64
	for _, r := range micro {
		orders += r["orders"].(float64)
		if rate := r["cancellation_rate"].(float64); rate < 0 || rate > 1 {
			t.Errorf("cancellation rate %v out of [0, 1] in %v", rate, r)
		}
	}
	if orders != 6*n {
		t.Errorf("orders summed over windows = %v, want %d (each order is in 6 windows)", orders, 6*n)
	}
	for _, mode := range []config.Mode{config.Stream, config.Batch} {
		got, _ := runExample(t, "ops_dashboard.yaml", mode, "board", bounded...)
		if diff := cmp.Diff(micro, got); diff != "" {
			t.Errorf("%s mode differs from micro-batch (-micro-batch +%s):\n%s", mode, mode, diff)
		}
	}
}

// TestFraudVelocity runs the stream fraud check over a bounded slice of its
// generated transactions: every alert is above the threshold, alerts come
// before their window closes, and the last alert per card and window (what
// an upsert on the sink's key keeps) equals the batch answer.
func TestFraudVelocity(t *testing.T) {
	bounded := []string{"sources.transactions.config.rate=0", "sources.transactions.config.count=30000"}
	stream, sum := runExample(t, "fraud_velocity.yaml", "", "alerts", bounded...)
	if sum.Late != 0 || len(stream) == 0 {
		t.Fatalf("summary %+v, %d alerts: want alerts and nothing late", sum, len(stream))
	}
	last := map[string]map[string]any{}
	for _, r := range stream {
		if r["transactions"].(float64) <= 8 {
			t.Errorf("alert at or below the threshold: %v", r)
		}
		last[r["card_id"].(string)+"|"+r["window_start"].(string)] = r
	}
	batch, _ := runExample(t, "fraud_velocity.yaml", config.Batch, "alerts", bounded...)
	want := map[string]map[string]any{}
	for _, r := range batch {
		want[r["card_id"].(string)+"|"+r["window_start"].(string)] = r
	}
	if len(stream) <= len(batch) {
		t.Errorf("stream gave %d alerts, batch %d: stream should alert on updates before windows close", len(stream), len(batch))
	}
	if diff := cmp.Diff(want, last); diff != "" {
		t.Errorf("last alert per card and window differs from batch (-batch +stream):\n%s", diff)
	}
}
