package backfill_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	parquetsource "github.com/flowctl/flowctl/plugins/sources/parquet"
	"github.com/flowctl/flowctl/runtime/backfill"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/pluginhost"
)

// The test binary serves the built-in plugins and the stall source to the
// plugin processes its hosts start, so the backfills here run their
// plugins out of process, as flowctl does.
func TestMain(m *testing.M) {
	pluginhost.ServeIfAsked(plugins()...)
	if _, set := os.LookupEnv("GORACE"); !set {
		// Plugin processes built with -race would sleep a second as they exit.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

func plugins() []sdk.Plugin { return append(builtin.Plugins(), stallPlugin()) }

func specs() []sdk.Spec {
	var out []sdk.Spec
	for _, p := range plugins() {
		out = append(out, p.Spec)
	}
	return out
}

// stall is a source that can seek by time: it sends one message at the
// start of its range, then waits until it is cancelled.
func stallPlugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "stall", Kind: sdk.KindSource, Version: "0.1.0", Times: true,
			Fields: []sdk.FieldSpec{
				{Name: "from", Type: sdk.TypeString},
				{Name: "to", Type: sdk.TypeString},
			},
			TimeRange: &sdk.TimeRange{From: "from", To: "to"},
		},
		NewSource: func() sdk.Source { return &stall{} },
	}
}

type stall struct {
	from time.Time
	sent bool
}

func (s *stall) Open(_ context.Context, req sdk.OpenRequest) error {
	var c struct{ From, To string }
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	var err error
	s.from, err = time.Parse(time.RFC3339, c.From)
	return err
}

func (s *stall) Read(ctx context.Context) (sdk.Batch, error) {
	if !s.sent {
		s.sent = true
		return sdk.Batch{Messages: []sdk.Message{{Fields: []sdk.Field{{Name: "n", Value: int64(1)}}, Time: s.from}}}, nil
	}
	<-ctx.Done()
	return sdk.Batch{}, ctx.Err()
}

func (s *stall) Close(context.Context) error { return nil }

// lake is a bronze table of four days of payments (and an hour on each
// side), written once for every test, and the folder of each test's
// other tables.
type lake struct {
	bronze string
	dir    string
}

var (
	bronzeOnce sync.Once
	bronzeDir  string
	bronzeErr  error
)

// newLake writes the bronze table, once, in process.
func newLake(t *testing.T) lake {
	t.Helper()
	bronzeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "backfill-bronze")
		if err != nil {
			bronzeErr = err
			return
		}
		bronzeDir = filepath.Join(dir, "bronze")
		cat, err := catalog.New(builtin.Plugins()...)
		if err != nil {
			bronzeErr = err
			return
		}
		p, ds := config.Load(filepath.Join(dir, "bronze.yaml"), []byte(`version: 1
name: bronze
mode: batch
sources:
  - name: payments
    plugin: generate
    config:
      count: 2940               # 2026-02-28T23:00 to 2026-03-05T01:00
      start: "2026-02-28T23:00:00Z"
      interval: 2m
      disorder: 5m
      seed: 3
      fields:
        store: sprintf("s-%d", zipf(5, 1.0))
        amount: round(uniform(1, 100), 2)
        event_time: event_time
transforms:
  - name: raw
    from: payments
    map: {store: store, amount: to_decimal(amount), event_time: event_time}
sinks:
  - name: bronze
    from: raw
    plugin: parquet
    config:
      path: `+bronzeDir+`
      partition_by: [{column: event_time, format: "date=2006-01-02"}]
`), nil)
		pl, pds := plan.Compile(p, cat, "")
		if ds = append(ds, pds...); ds.HasErrors() {
			bronzeErr = ds.Err()
			return
		}
		_, bronzeErr = exec.Run(context.Background(), pl, exec.Options{Stderr: &bytes.Buffer{}})
	})
	if bronzeErr != nil {
		t.Fatal(bronzeErr)
	}
	return lake{bronze: bronzeDir, dir: t.TempDir()}
}

// goldPipeline is the daily revenue per store of the bronze table, keyed
// or not, into table gold. The plugins run out of process, or in process
// when inProcess says so.
func (l lake) goldPipeline(keyed bool, inProcess ...bool) string {
	key, isolation := "", ""
	if keyed {
		key = "\n    key: [window_start, store]"
	}
	if len(inProcess) > 0 && inProcess[0] {
		isolation = "\n    isolation: in-process"
	}
	return fmt.Sprintf(`version: 1
name: gold
mode: batch
sources:
  - name: bronze
    plugin: parquet
    config: {path: %s, time_column: event_time}
    event_time: event_time%s
transforms:
  - name: daily
    from: bronze
    window: {tumbling: 24h}
    group_by: [store]
    aggregate: {revenue: sum(amount), payments: count()}
sinks:
  - name: gold
    from: daily
    plugin: parquet
    config:
      path: %s
      partition_by: [{column: window_start, format: "date=2006-01-02"}]%s%s
`, l.bronze, isolation, filepath.Join(l.dir, "gold"), key, isolation)
}

// compiler compiles a pipeline with --set values, its plugins bound to
// processes of host.
func compiler(t testing.TB, host *pluginhost.Host, src string) func(context.Context, []string) (*plan.Plan, error) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	return func(ctx context.Context, sets []string) (*plan.Plan, error) {
		p, ds := config.LoadWith(file, []byte(src), config.Options{Sets: sets})
		if p == nil {
			return nil, ds.Err()
		}
		set, rds := host.Resolve(ctx, p)
		pl, pds := plan.Compile(p, set.Catalog, config.Batch)
		ds = append(ds, rds...)
		ds = append(ds, pds...)
		ds = append(ds, set.Bind(pl)...)
		return pl, ds.Err()
	}
}

func newHost(t testing.TB, log io.Writer) *pluginhost.Host {
	t.Helper()
	server, err := pluginhost.Reexec(os.Args[0], nil, pluginhost.ServeEnv+"=1")
	if err != nil {
		t.Fatal(err)
	}
	h := pluginhost.New(pluginhost.Options{Builtins: plugins(), Server: server, Stderr: log})
	t.Cleanup(h.Close)
	return h
}

// safeBuffer is a buffer that goroutines write to.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig runs backfills of one pipeline.
type rig struct {
	t       *testing.T
	compile func(context.Context, []string) (*plan.Plan, error)
	base    *plan.Plan
	state   string
	log     *safeBuffer
}

func newRig(t *testing.T, src string) *rig {
	t.Helper()
	log := &safeBuffer{}
	c := compiler(t, newHost(t, log), src)
	base, err := c(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", log)
		}
	})
	return &rig{t: t, compile: c, base: base, state: filepath.Join(t.TempDir(), "ckpt"), log: log}
}

// options are a backfill's options over [from, to) in daily slices.
func (r *rig) options(from, to string, parallel int) backfill.Options {
	return backfill.Options{
		From: mustTime(r.t, from), To: mustTime(r.t, to), Parallel: parallel,
		Compile: r.compile, Exec: exec.Options{Stderr: r.log}, StateDir: r.state,
		Fingerprint: []byte("v1"), Plugins: specs(), Log: r.log,
	}
}

func (r *rig) run(ctx context.Context, o backfill.Options) (backfill.Summary, error) {
	r.t.Helper()
	return backfill.Run(ctx, r.base, o)
}

// batch runs the pipeline once over [from, to), as `flowctl run` with the
// range in its source's config would, into table dir.
func batch(t *testing.T, src, from, to string) int64 {
	t.Helper()
	c := compiler(t, newHost(t, &safeBuffer{}), src)
	pl, err := c(context.Background(), []string{
		"sources.bronze.config.from=" + from, "sources.bronze.config.to=" + to,
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := exec.Run(context.Background(), pl, exec.Options{Stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	return sum.Read
}

// table reads a table as the parquet source does, following its commit
// log: one line per row, sorted.
func table(t *testing.T, dir string) []string {
	t.Helper()
	src := parquetsource.Plugin().NewSource()
	ctx := context.Background()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(fmt.Sprintf(`{"path": %q}`, dir))}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	var rows []string
	for {
		b, err := src.Read(ctx)
		for _, m := range b.Messages {
			var f []string
			for _, v := range m.Fields {
				f = append(f, fmt.Sprintf("%s=%v", v.Name, v.Value))
			}
			rows = append(rows, strings.Join(f, " "))
		}
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(rows)
	return rows
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := backfill.ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// reference is the gold table a single batch run over the range writes,
// and the number of records it read.
func reference(t *testing.T, keyed bool) ([]string, int64) {
	t.Helper()
	l := newLake(t)
	read := batch(t, l.goldPipeline(keyed), "2026-03-01", "2026-03-05")
	rows := table(t, filepath.Join(l.dir, "gold"))
	if len(rows) < 4*3 || read < 4*700 {
		t.Fatalf("the reference read %d records into %d rows: too few for four days of payments to five stores", read, len(rows))
	}
	return rows, read
}

// TestBackfillMatchesBatch: a backfill in daily slices, one or several
// at a time, writes the table one batch run over the range writes, and
// running it again changes nothing, with a key (upserts) or without
// (each slice replaces what it wrote before), with its plugins out of
// process or in process.
func TestBackfillMatchesBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		keyed     bool
		parallel  int
		inProcess bool
	}{
		{"keyed, 3 at a time", true, 3, false},
		{"no key, one at a time, in process", false, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, read := reference(t, tc.keyed)
			l := newLake(t)
			r := newRig(t, l.goldPipeline(tc.keyed, tc.inProcess))
			for run := 1; run <= 2; run++ {
				sum, err := r.run(context.Background(), r.options("2026-03-01", "2026-03-05", tc.parallel))
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if sum.Slices != 4 || sum.Done != 4 || sum.Skipped != 0 || sum.Read != read || sum.Written != int64(len(want)) {
					t.Errorf("run %d: %s; want 4 slices done, %d records read, %d rows written", run, sum, read, len(want))
				}
				if diff := cmp.Diff(want, table(t, filepath.Join(l.dir, "gold"))); diff != "" {
					t.Errorf("run %d: gold table (-batch run +backfill):\n%s", run, diff)
				}
				if _, err := os.Stat(backfill.StatePath(r.state, mustTime(t, "2026-03-01"), mustTime(t, "2026-03-05"))); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("run %d: a finished backfill left its state file (%v)", run, err)
				}
			}
		})
	}
}

// TestBackfillResumes: a backfill interrupted after a slice finished is
// resumed by a rerun, which skips the finished slices, unless the
// pipeline changed or --restart says so.
func TestBackfillResumes(t *testing.T) {
	t.Parallel()
	want, _ := reference(t, true)
	for _, tc := range []struct {
		name    string
		rerun   func(*backfill.Options)
		resumes bool
		logLine string
	}{
		{"same backfill", func(*backfill.Options) {}, true, "flowctl: backfill: skipping %d of 4 slices, done by an interrupted backfill of this range (%s); --restart redoes them"},
		{"--restart", func(o *backfill.Options) { o.Restart = true }, false, ""},
		{"changed pipeline", func(o *backfill.Options) { o.Fingerprint = []byte("v2") }, false,
			"flowctl: backfill: the pipeline, its --set values or --slice changed since the interrupted backfill of this range (%[2]s): redoing every slice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLake(t)
			r := newRig(t, l.goldPipeline(true))
			ctx, cancel := context.WithCancel(context.Background())
			o := r.options("2026-03-01", "2026-03-05", 1)
			o.Progress = func(p backfill.Progress) {
				if p.Done > 0 {
					cancel()
				}
			}
			sum, err := r.run(ctx, o)
			cancel()
			if !errors.Is(err, backfill.ErrInterrupted) || !sum.Stopped || sum.Done < 1 || sum.Done > 3 {
				t.Fatalf("interrupted backfill: %s, error %v; want it stopped with 1 to 3 slices done", sum, err)
			}
			done := sum.Done
			path := backfill.StatePath(r.state, o.From, o.To)
			o = r.options("2026-03-01", "2026-03-05", 2)
			tc.rerun(&o)
			sum, err = r.run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			skipped := 0
			if tc.resumes {
				skipped = done
			}
			if sum.Skipped != skipped || sum.Done != 4-skipped {
				t.Errorf("rerun: %s; want %d slices skipped", sum, skipped)
			}
			if tc.logLine != "" && !strings.Contains(r.log.String(), fmt.Sprintf(tc.logLine, done, path)+"\n") {
				t.Errorf("the log does not say %q", fmt.Sprintf(tc.logLine, done, path))
			}
			if diff := cmp.Diff(want, table(t, filepath.Join(l.dir, "gold"))); diff != "" {
				t.Errorf("gold table (-batch run +backfill):\n%s", diff)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a finished backfill left its state file (%v)", err)
			}
		})
	}
}

// TestBackfillFailure: a slice that fails stops the backfill, naming the
// slice; the slices done are recorded, and a rerun does the others.
func TestBackfillFailure(t *testing.T) {
	t.Parallel()
	want, _ := reference(t, true)
	l := newLake(t)
	r := newRig(t, l.goldPipeline(true))
	// A file where the second day's partition folder goes.
	blocker := filepath.Join(l.dir, "gold", "date=2026-03-02")
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := r.run(context.Background(), r.options("2026-03-01", "2026-03-05", 1))
	if err == nil || !strings.HasPrefix(err.Error(), "slice 2026-03-02: sink gold: ") || !sum.Failed || sum.Done != 1 {
		t.Fatalf("backfill: %s, error %v; want slice 2026-03-02 to fail after one slice was done", sum, err)
	}
	if !strings.Contains(r.log.String(), "flowctl: backfill: 1 of 4 slices done; run the same command again to do the other 3\n") {
		t.Errorf("the log does not say how many slices are done")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	sum, err = r.run(context.Background(), r.options("2026-03-01", "2026-03-05", 1))
	if err != nil || sum.Skipped != 1 || sum.Done != 3 {
		t.Fatalf("rerun: %s, error %v; want 1 slice skipped and 3 done", sum, err)
	}
	if diff := cmp.Diff(want, table(t, filepath.Join(l.dir, "gold"))); diff != "" {
		t.Errorf("gold table (-batch run +backfill):\n%s", diff)
	}
}

// TestInterruptedSliceCommitsNothing: a slice stopped half way leaves
// no rows: an interrupted backfill never shows part of a slice.
func TestInterruptedSliceCommitsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRig(t, `version: 1
name: stalled
sources:
  - {name: in, plugin: stall}
sinks:
  - name: out
    from: in
    plugin: parquet
    config: {path: `+filepath.Join(dir, "out")+`}
`)
	ctx, cancel := context.WithCancel(context.Background())
	o := r.options("2026-03-01", "2026-03-02", 1)
	o.Exec.ProgressEvery = time.Millisecond
	o.Progress = func(p backfill.Progress) {
		if p.Totals.Read > 0 {
			cancel() // the record is read, the source stalls
		}
	}
	sum, err := r.run(ctx, o)
	cancel()
	if !errors.Is(err, backfill.ErrInterrupted) || !sum.Stopped || sum.Done != 0 {
		t.Fatalf("backfill: %s, error %v; want it interrupted with no slice done", sum, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "_flowctl_log")); err == nil {
		if rows := table(t, filepath.Join(dir, "out")); len(rows) != 0 {
			t.Errorf("the interrupted slice committed %q", rows)
		}
	}
}
