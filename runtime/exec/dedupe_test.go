package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

const dedupePipeline = `version: 1
name: dd
sources:
  - name: in
    plugin: file
    config: {path: %q}
    schema: s.yaml
    event_time: t
    watermark: {lateness: 2m}
transforms:
  - {name: unique, from: in, dedupe: {key: [order], within: 10m}}
sinks:
  - {name: out, from: unique, plugin: file, config: {path: %q}}
`

// dupEvent is an order row; the lookback of an incremental extract reads
// some of them again, a little later in the input, with the same time.
type dupEvent struct {
	Seq   int
	Order int
	T     time.Time
}

// genDuplicates makes n orders in time order (with jitter within the
// lateness) and re-reads some of them within the next few records, as a
// lookback overlap does.
func genDuplicates(r *rand.Rand, n int) []dupEvent {
	base := time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC)
	var evs, orders []dupEvent
	for i := range n {
		t := base.Add(time.Duration(i)*20*time.Second + time.Duration(r.IntN(60))*time.Second)
		orders = append(orders, dupEvent{Order: i, T: t})
		evs = append(evs, orders[i])
		if r.IntN(3) == 0 && i > 0 {
			evs = append(evs, orders[i-1-r.IntN(min(i, 5))])
		}
	}
	for i := range evs {
		evs[i].Seq = i
	}
	return evs
}

// dedupeReference keeps the first record of each order: every duplicate
// is within a few records, far less than 10 minutes apart.
func dedupeReference(evs []dupEvent) []string {
	seen := map[int]bool{}
	var out []string
	for _, e := range evs {
		if !seen[e.Order] {
			seen[e.Order] = true
			out = append(out, fmt.Sprintf(`{"seq":%d,"order":%d,"t":%q}`, e.Seq, e.Order, e.T.Format(time.RFC3339)))
		}
	}
	slices.Sort(out)
	return out
}

func runDedupe(t *testing.T, dir string, mode config.Mode, store *checkpoint.Store, sets ...string) exec.Summary {
	t.Helper()
	src := fmt.Sprintf(dedupePipeline, filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl"))
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
	sum, err := exec.Run(context.Background(), pl, exec.Options{Checkpoints: store, Stderr: &strings.Builder{}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

func writeDuplicates(t *testing.T, dir string, evs []dupEvent) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, `{"seq":%d,"order":%d,"t":%q}`+"\n", e.Seq, e.Order, e.T.Format(time.RFC3339))
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := "name: o\nfields:\n  seq: int\n  order: int\n  t: timestamp\n"
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDedupeModesAgree: every mode drops exactly the re-read records, and
// a micro-batch run stopped and resumed from its checkpoint after every
// trigger remembers the keys it saw before.
func TestDedupeModesAgree(t *testing.T) {
	t.Parallel()
	for seed := range 4 {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		evs := genDuplicates(r, 150+r.IntN(150))
		want := dedupeReference(evs)
		for _, mode := range []config.Mode{config.Batch, config.MicroBatch, config.Stream} {
			t.Run(fmt.Sprintf("seed%d/%s", seed, mode), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				writeDuplicates(t, dir, evs)
				sum := runDedupe(t, dir, mode, nil, "trigger.max_records=17", "trigger.available_now=true")
				if got := sortedFile(t, filepath.Join(dir, "out.jsonl")); !slices.Equal(got, want) {
					t.Fatalf("%d rows, want %d", len(got), len(want))
				}
				if sum.Duplicates != int64(len(evs)-len(want)) {
					t.Errorf("summary counts %d duplicates, want %d", sum.Duplicates, len(evs)-len(want))
				}
			})
		}
		t.Run(fmt.Sprintf("seed%d/resumed", seed), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeDuplicates(t, dir, evs)
			store := &checkpoint.Store{Bucket: checkpoint.Dir{Path: filepath.Join(dir, "ckpt")}, Where: "ckpt"}
			var dupes int64
			for range 100 {
				sum := runDedupe(t, dir, config.MicroBatch, store, "trigger.max_records=23", "trigger.once=true")
				dupes += sum.Duplicates
				if sum.Read == 0 {
					break
				}
			}
			if got := sortedFile(t, filepath.Join(dir, "out.jsonl")); !slices.Equal(got, want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			if dupes != int64(len(evs)-len(want)) {
				t.Errorf("%d duplicates dropped, want %d", dupes, len(evs)-len(want))
			}
		})
	}
}

func sortedFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(lines)
	return lines
}
