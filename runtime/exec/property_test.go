package exec_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
)

// event is one generated input record.
type event struct {
	ID    int
	Key   string
	T     time.Time
	N     int64
	Price decimal.Decimal
	// wm is the watermark the record met, when it matters: it counts only
	// in windows ending after it.
	wm time.Time
}

var base = time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)

// genEvents makes n events over a few keys; each event's time is at most
// disorder behind the largest time before it.
func genEvents(r *rand.Rand, n int, disorder time.Duration) []event {
	evs := make([]event, n)
	var maxT time.Time = base
	for i := range evs {
		t := maxT.Add(time.Duration(r.IntN(40)) * time.Second)
		if disorder > 0 && r.IntN(3) == 0 {
			t = maxT.Add(-time.Duration(r.Int64N(int64(disorder))))
		}
		t = t.Truncate(time.Second)
		if t.After(maxT) {
			maxT = t
		}
		evs[i] = event{
			ID:    i,
			Key:   fmt.Sprintf("k%d", r.IntN(4)),
			T:     t,
			N:     r.Int64N(200) - 50,
			Price: decimal.New(r.Int64N(100000), -2),
		}
	}
	return evs
}

type win struct{ start, end time.Time }

// reference assigns events to windows and aggregates them by brute force.
func reference(evs []event, kind string, size, slide time.Duration) []map[string]any {
	type group struct {
		w   win
		key string
		evs []event
	}
	groups := map[string]*group{}
	add := func(w win, e event) {
		id := e.Key + "|" + w.start.String() + "|" + w.end.String()
		g := groups[id]
		if g == nil {
			g = &group{w: w, key: e.Key}
			groups[id] = g
		}
		g.evs = append(g.evs, e)
	}
	switch kind {
	case "tumbling":
		for _, e := range evs {
			s := e.T.Truncate(size)
			add(win{s, s.Add(size)}, e)
		}
	case "sliding":
		for _, e := range evs {
			for s := e.T.Truncate(slide); s.After(e.T.Add(-size)); s = s.Add(-slide) {
				if s.Add(size).After(e.wm) {
					add(win{s, s.Add(size)}, e)
				}
			}
		}
	case "session":
		byKey := map[string][]event{}
		for _, e := range evs {
			byKey[e.Key] = append(byKey[e.Key], e)
		}
		for _, es := range byKey {
			sorted := append([]event(nil), es...)
			sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].T.Before(sorted[j].T) })
			var cur []event
			flush := func() {
				if len(cur) > 0 {
					w := win{cur[0].T, cur[len(cur)-1].T.Add(size)}
					for _, e := range cur {
						add(w, e)
					}
				}
				cur = nil
			}
			for _, e := range sorted {
				if len(cur) > 0 && e.T.Sub(cur[len(cur)-1].T) >= size {
					flush()
				}
				cur = append(cur, e)
			}
			flush()
		}
	}
	var rows []map[string]any
	for _, g := range groups {
		var sumN int64
		sumP := decimal.Zero
		minN, maxN := g.evs[0].N, g.evs[0].N
		first, last := g.evs[0], g.evs[0]
		distinct := map[int64]bool{}
		for _, e := range g.evs {
			sumN += e.N
			sumP = sumP.Add(e.Price)
			minN, maxN = min(minN, e.N), max(maxN, e.N)
			if e.T.Before(first.T) {
				first = e
			}
			if !e.T.Before(last.T) {
				last = e
			}
			distinct[e.N] = true
		}
		rows = append(rows, map[string]any{
			"window_start": g.w.start.Format(time.RFC3339Nano),
			"window_end":   g.w.end.Format(time.RFC3339Nano),
			"key":          g.key,
			"n":            float64(len(g.evs)),
			"sum_n":        float64(sumN),
			"sum_price":    sumP.StringFixed(2),
			"min_n":        float64(minN),
			"max_n":        float64(maxN),
			"avg_n":        float64(sumN) / float64(len(g.evs)),
			"first_n":      float64(first.N),
			"last_n":       float64(last.N),
			"distinct_n":   float64(len(distinct)),
		})
	}
	return rows
}

const pipelineTmpl = `version: 1
name: prop
sources:
  - name: in
    plugin: file
    config: {path: %q}
    schema: s.yaml
    event_time: t
    watermark: {lateness: %s}
transforms:
  - name: agg
    from: in
    window: %s
    group_by: [key]
    aggregate:
      n: count()
      sum_n: sum(n)
      sum_price: sum(price)
      min_n: min(n)
      max_n: max(n)
      avg_n: avg(n)
      first_n: first(n)
      last_n: last(n)
      distinct_n: count_distinct(n)
    late: dead_letter
sinks:
  - name: out
    from: agg
    plugin: file
    config: {path: %q}
`

const schemaYAML = `name: ev
fields:
  id: int
  key: string
  t: timestamp
  n: int
  price: decimal(10,2)
`

func runPipeline(t *testing.T, dir string, evs []event, window string, lateness time.Duration, mode config.Mode) []map[string]any {
	t.Helper()
	rows, _, _ := runWith(t, dir, evs, window, lateness, mode, nil)
	return rows
}

// runWith runs the property pipeline with --set style overrides and
// returns its rows, the ids of the records it dead-lettered, and the
// summary.
func runWith(t *testing.T, dir string, evs []event, window string, lateness time.Duration, mode config.Mode, sets []string) ([]map[string]any, []int, exec.Summary) {
	t.Helper()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, `{"id":%d,"key":%q,"t":%q,"n":%d,"price":%s}`+"\n", e.ID, e.Key, e.T.Format(time.RFC3339), e.N, e.Price.StringFixed(2))
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(schemaYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out-"+string(mode)+".jsonl")
	src := fmt.Sprintf(pipelineTmpl, in, lateness, window, out)
	dead := filepath.Join(dir, "dead-"+string(mode)+".jsonl")
	src += fmt.Sprintf("dead_letter: {plugin: file, config: {path: %q}}\n", dead)
	p, ds := config.LoadWith(filepath.Join(dir, "p.yaml"), []byte(src), config.Options{Sets: sets})
	if ds.HasErrors() {
		t.Fatalf("load: %v", ds.Err())
	}
	cat, err := catalog.New(filesource.Plugin(), filesink.Plugin())
	if err != nil {
		t.Fatal(err)
	}
	pl, ds := plan.Compile(p, cat, mode)
	if ds.HasErrors() {
		t.Fatalf("compile: %v", ds.Err())
	}
	sum, err := exec.Run(context.Background(), pl, exec.Options{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if sum.Read != int64(len(evs)) || sum.DeadLettered != sum.Late {
		t.Fatalf("summary %+v: want %d read, only late records dead-lettered", sum, len(evs))
	}
	return readRows(t, out), deadIDs(t, dead), sum
}

// deadIDs returns the ids of the dead-lettered records, sorted.
func deadIDs(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var row struct {
			Record struct{ ID int }
			Reason string
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if row.Reason != "agg: late" {
			t.Fatalf("dead letter reason %q, want late", row.Reason)
		}
		ids = append(ids, row.Record.ID)
	}
	sort.Ints(ids)
	return ids
}

func readRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		for k, v := range m {
			if n, ok := v.(json.Number); ok {
				if k == "sum_price" {
					d, _ := decimal.NewFromString(n.String())
					m[k] = d.StringFixed(2)
				} else {
					m[k], _ = n.Float64()
				}
			}
		}
		rows = append(rows, m)
	}
	return rows
}

func sortRows(rows []map[string]any) {
	key := func(m map[string]any) string { return fmt.Sprint(m["window_start"], m["window_end"], m["key"]) }
	sort.Slice(rows, func(i, j int) bool { return key(rows[i]) < key(rows[j]) })
}

var windows = []struct {
	name, yaml  string
	kind        string
	size, slide time.Duration
}{
	{"tumbling", "{tumbling: 1m}", "tumbling", time.Minute, 0},
	{"sliding", "{sliding: {size: 3m, slide: 1m}}", "sliding", 3 * time.Minute, time.Minute},
	{"session", "{session: {gap: 90s}}", "session", 90 * time.Second, 0},
}

// TestBatchMatchesReference drives random inputs through a YAML pipeline in
// batch mode and compares every aggregate of every window with the brute
// force reference.
func TestBatchMatchesReference(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(8) {
				r := rand.New(rand.NewPCG(seed, 7))
				evs := genEvents(r, 50+r.IntN(300), 10*time.Minute)
				got := runPipeline(t, t.TempDir(), evs, w.yaml, 0, config.Batch)
				want := reference(evs, w.kind, w.size, w.slide)
				sortRows(got)
				sortRows(want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("seed %d: batch rows differ from the reference (-want +got):\n%s", seed, diff)
				}
			}
		})
	}
}

// TestModesAgreeWithinLateness checks that, when no record is more than
// `lateness` behind the largest event time before it, stream and
// micro-batch emit the same rows as batch and the reference.
func TestModesAgreeWithinLateness(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(6) {
				r := rand.New(rand.NewPCG(seed, 11))
				disorder := time.Duration(1+r.IntN(5)) * time.Minute
				evs := genEvents(r, 50+r.IntN(300), disorder)
				want := reference(evs, w.kind, w.size, w.slide)
				sortRows(want)
				for _, mode := range []config.Mode{config.Batch, config.MicroBatch, config.Stream} {
					got := runPipeline(t, t.TempDir(), evs, w.yaml, disorder, mode)
					sortRows(got)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("seed %d, %s mode: rows differ from the reference (-want +got):\n%s", seed, mode, diff)
					}
				}
			}
		})
	}
}

// lateReference simulates the watermark record by record: a record meets
// max(event times before it) - lateness, and is late when every window it
// belongs to has ended by then. It returns the late ids and the records
// that count.
func lateReference(evs []event, size, slide, lateness time.Duration) (late []int, kept []event) {
	wm := time.Time{}
	seen := false
	var maxT time.Time
	for _, e := range evs {
		// The last window holding e ends at floor(t/slide)*slide + size.
		lastEnd := e.T.Truncate(slide).Add(size)
		if seen && !lastEnd.After(wm) {
			late = append(late, e.ID)
		} else {
			if seen {
				e.wm = wm
			}
			kept = append(kept, e)
		}
		if !seen || e.T.After(maxT) {
			maxT, seen = e.T, true
		}
		wm = maxT.Add(-lateness)
	}
	return late, kept
}

// TestModesAgreeBeyondLateness feeds records later than the watermark
// allows: stream and micro-batch (several trigger sizes) must call exactly
// the records the reference calls late, and emit the reference's rows over
// the rest; batch, where nothing is late, gives the complete answer.
func TestModesAgreeBeyondLateness(t *testing.T) {
	for _, w := range windows[:2] { // sessions: see TestSessionModesAgree
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			slide := w.slide
			if slide == 0 {
				slide = w.size
			}
			for seed := range uint64(5) {
				r := rand.New(rand.NewPCG(seed, 13))
				evs := genEvents(r, 100+r.IntN(300), 15*time.Minute)
				lateness := time.Minute
				wantLate, kept := lateReference(evs, w.size, slide, lateness)
				if len(wantLate) == 0 {
					t.Fatalf("seed %d: the input has no late records; the test would prove nothing", seed)
				}
				want := reference(kept, w.kind, w.size, w.slide)
				sortRows(want)
				runs := []struct {
					mode config.Mode
					sets []string
				}{
					{config.Stream, nil},
					{config.MicroBatch, []string{"trigger.available_now=true", "trigger.max_records=1"}},
					{config.MicroBatch, []string{"trigger.available_now=true", "trigger.max_records=7"}},
					{config.MicroBatch, []string{"trigger.available_now=true", "trigger.max_records=100"}},
					{config.MicroBatch, nil},
				}
				for _, run := range runs {
					got, late, sum := runWith(t, t.TempDir(), evs, w.yaml, lateness, run.mode, run.sets)
					if len(run.sets) > 1 && run.sets[1] == "trigger.max_records=7" && sum.Triggers < int64(len(evs)/7) {
						t.Fatalf("seed %d: %d triggers for %d records at 7 a trigger", seed, sum.Triggers, len(evs))
					}
					sortRows(got)
					if diff := cmp.Diff(wantLate, late); diff != "" {
						t.Fatalf("seed %d, %s %v: late records differ from the reference (-want +got):\n%s", seed, run.mode, run.sets, diff)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("seed %d, %s %v: rows differ from the reference (-want +got):\n%s", seed, run.mode, run.sets, diff)
					}
				}
				full := reference(evs, w.kind, w.size, w.slide)
				sortRows(full)
				got, late, _ := runWith(t, t.TempDir(), evs, w.yaml, lateness, config.Batch, nil)
				sortRows(got)
				if len(late) != 0 {
					t.Fatalf("seed %d: batch called %d records late", seed, len(late))
				}
				if diff := cmp.Diff(full, got); diff != "" {
					t.Fatalf("seed %d: batch rows differ from the complete reference (-want +got):\n%s", seed, diff)
				}
			}
		})
	}
}

// TestSessionModesAgree checks that with disorder beyond lateness, session
// windows in stream and micro-batch mode (several trigger sizes) call the
// same records late and emit the same rows.
func TestSessionModesAgree(t *testing.T) {
	w := windows[2]
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 17))
		evs := genEvents(r, 100+r.IntN(300), 15*time.Minute)
		wantRows, wantLate, _ := runWith(t, t.TempDir(), evs, w.yaml, time.Minute, config.Stream, nil)
		sortRows(wantRows)
		for _, max := range []string{"1", "13", "1000"} {
			got, late, _ := runWith(t, t.TempDir(), evs, w.yaml, time.Minute, config.MicroBatch, []string{"trigger.available_now=true", "trigger.max_records=" + max})
			sortRows(got)
			if diff := cmp.Diff(wantLate, late); diff != "" {
				t.Fatalf("seed %d, max_records %s: late records differ from stream (-stream +micro-batch):\n%s", seed, max, diff)
			}
			if diff := cmp.Diff(wantRows, got); diff != "" {
				t.Fatalf("seed %d, max_records %s: rows differ from stream (-stream +micro-batch):\n%s", seed, max, diff)
			}
		}
	}
}
