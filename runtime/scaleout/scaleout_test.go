package scaleout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/scaleout"
)

// pipeline counts and sums each key's events per minute. Its keys each
// live in one partition, so the state per partition of a scaled-out run
// gives the same rows as one run over everything.
const pipeline = `version: 1
name: scaled
mode: stream
checkpoint: {every: 1s}
sources:
  - name: events
    plugin: parts
    scale_out: true
    event_time: ts
    watermark: {lateness: 20s}
transforms:
  - name: real
    from: events
    filter: k != "eof"
  - name: minutely
    from: real
    window: {tumbling: 1m}
    group_by: [k]
    aggregate: {n: count(), total: sum(v)}
sinks:
  - {name: out, from: minutely, plugin: table}
`

// commitEvery is the pipeline's checkpoint interval; the runs' clock
// stands still unless a test moves it on by this much.
const commitEvery = time.Second

// clock is the processing-time clock of every partition run.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1e9, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// safeBuffer is a log the processes write to.
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

// proc is a process running its share of the pipeline: scaleout.Run as
// member m of the group.
type proc struct {
	m      *member
	cancel context.CancelFunc
	done   chan struct{}
	sum    scaleout.Summary // set when done
	err    error            // set when done
	log    *safeBuffer

	// Under g.mu:
	progress scaleout.Summary // the latest Progress report
	reports  int
}

// procOptions vary a process from the usual.
type procOptions struct {
	pipeline string                  // default: pipeline
	plugins  []sdk.Plugin            // more plugins
	edit     func(*scaleout.Options) // changes to its options
}

// start starts a process of member name.
func (g *group) start(t *testing.T, name string, clk *clock, po procOptions) *proc {
	t.Helper()
	m := g.member(name)
	cat, err := catalog.New(append([]sdk.Plugin{g.sourcePlugin(m), g.sinkPlugin()}, po.plugins...)...)
	if err != nil {
		t.Fatal(err)
	}
	src := po.pipeline
	if src == "" {
		src = pipeline
	}
	pr := &proc{m: m, done: make(chan struct{}), log: &safeBuffer{}}
	opts := scaleout.Options{
		Compile:     compiler(t, cat, src),
		Exec:        exec.Options{Now: clk.Now, CommitEvery: commitEvery},
		Checkpoints: g.store,
		Log:         pr.log,
		Progress: func(s scaleout.Summary) {
			g.mu.Lock()
			defer g.mu.Unlock()
			pr.progress = s
			pr.reports++
			g.notify()
		},
	}
	if po.edit != nil {
		po.edit(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr.cancel = cancel
	go func() {
		defer close(pr.done)
		pr.sum, pr.err = scaleout.Run(ctx, opts)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-pr.done:
		case <-time.After(waitLimit):
			t.Errorf("process %s did not stop", name)
		}
		if t.Failed() {
			t.Logf("log of process %s:\n%s", name, pr.log)
		}
	})
	return pr
}

// compiler compiles src with the plugins of cat.
func compiler(t *testing.T, cat *catalog.Catalog, src string) func(context.Context) (*plan.Plan, error) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	return func(context.Context) (*plan.Plan, error) {
		p, ds := config.Load(file, []byte(src), nil)
		if ds.HasErrors() {
			return nil, ds.Err()
		}
		pl, ds := plan.Compile(p, cat, "")
		if ds.HasErrors() {
			return nil, ds.Err()
		}
		return pl, nil
	}
}

// wait waits for the process to end.
func (pr *proc) wait(t *testing.T) (scaleout.Summary, error) {
	t.Helper()
	select {
	case <-pr.done:
		return pr.sum, pr.err
	case <-time.After(waitLimit):
		t.Fatalf("process %s did not end", pr.m.name)
		return scaleout.Summary{}, nil
	}
}

// stop stops the process as a signal would, and checks it stopped
// cleanly.
func (pr *proc) stop(t *testing.T) scaleout.Summary {
	t.Helper()
	pr.cancel()
	sum, err := pr.wait(t)
	if err != nil {
		t.Fatalf("process %s: %v", pr.m.name, err)
	}
	if !sum.Stopped || sum.Failed || sum.Running != 0 {
		t.Errorf("process %s: summary %+v, want stopped, not failed, nothing running", pr.m.name, sum)
	}
	return sum
}

// read is the number of records the process's partition runs read, as
// its latest progress report says; g.mu is held.
func (pr *proc) read() int64 { return pr.progress.Read }

// reference is what one run over every event writes, by brute force.
func (g *group) reference() []string {
	type agg struct{ n, total int64 }
	aggs := map[string]*agg{}
	for _, evs := range g.data {
		for _, e := range evs {
			if e.key == eofKey {
				continue
			}
			start := e.t.Truncate(time.Minute)
			id := strings.Join([]string{start.Format(time.RFC3339), start.Add(time.Minute).Format(time.RFC3339), e.key}, "|")
			a := aggs[id]
			if a == nil {
				a = &agg{}
				aggs[id] = a
			}
			a.n++
			a.total += e.v
		}
	}
	var rows []string
	for id, a := range aggs {
		rows = append(rows, fmt.Sprintf("%s|%d|%d", id, a.n, a.total))
	}
	slices.Sort(rows)
	return rows
}

// checkOutput checks that the table shows every row of the reference
// once, each written by the instance of its key's partition.
func (g *group) checkOutput(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	var got []string
	for name, in := range g.instances {
		for _, row := range in.visible {
			got = append(got, row)
			if key := strings.Split(row, "|")[2]; !strings.HasPrefix(key, name+"-") {
				t.Errorf("instance %s wrote row %s", name, row)
			}
		}
	}
	g.mu.Unlock()
	slices.Sort(got)
	want := g.reference()
	if len(want) == 0 {
		t.Fatal("the reference has no rows")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// visibleRows counts the rows the table shows.
func (g *group) visibleRows() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, in := range g.instances {
		n += int64(len(in.visible))
	}
	return n
}

// checkStopped checks that each partition stopped with a final
// checkpoint: newer than before's, committed by its sink, which is
// closed, as is its reader.
func (g *group) checkStopped(t *testing.T, parts []string, before map[string]uint64) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for r := range g.readers {
		t.Errorf("the reader of %s (member %s) is still open", r.part, r.m.name)
	}
	for _, p := range parts {
		in := g.instance(p)
		latest := g.latest(p)
		if latest <= before[p] || latest != in.committed || in.open != 0 {
			t.Errorf("partition %s: checkpoint %d before the stop, %d after, %d committed, sink open %d times; want a new checkpoint, committed, and the sink closed",
				p, before[p], latest, in.committed, in.open)
		}
	}
}

// latestAll is the newest checkpoint of each partition.
func (g *group) latestAll() map[string]uint64 {
	ids := map[string]uint64{}
	for _, p := range g.parts {
		ids[p] = g.latest(p)
	}
	return ids
}

// TestOneProcess: one process runs every partition and writes what one
// run over everything would.
func TestOneProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		parts, events int
		steps         int // the data is published in this many steps
	}{
		{name: "one partition", parts: 1, events: 30, steps: 1},
		{name: "four partitions published at once", parts: 4, events: 40, steps: 1},
		{name: "four partitions published in steps", parts: 4, events: 40, steps: 5},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t, rand.New(rand.NewPCG(uint64(i), 1)), tt.parts, tt.events)
			clk := newClock()
			pr := g.start(t, "a", clk, procOptions{})
			pr.m.change(t, sdk.Assignment{Assigned: g.parts})
			for range tt.steps - 1 {
				for _, p := range g.parts {
					g.publish(p, int64(tt.events/tt.steps))
				}
				clk.Add(commitEvery)
			}
			g.publishAll()
			g.checkpointUntil(t, clk, "every partition acknowledged to its end", g.allAcked)
			sum := pr.stop(t)
			g.checkOutput(t)
			if sum.Partitions != tt.parts {
				t.Errorf("ran %d partitions, want %d", sum.Partitions, tt.parts)
			}
			if want := int64(tt.parts * (tt.events + 1)); sum.Read != want {
				t.Errorf("read %d records, want %d", sum.Read, want)
			}
			if want := g.visibleRows(); sum.Written != want {
				t.Errorf("wrote %d rows, the table shows %d", sum.Written, want)
			}
			g.mu.Lock()
			if pr.reports == 0 || pr.progress.Running > tt.parts {
				t.Errorf("%d progress reports, the last %+v", pr.reports, pr.progress)
			}
			g.mu.Unlock()
			if want := fmt.Sprintf("ran %d partition(s)", tt.parts); !strings.HasSuffix(sum.String(), want) {
				t.Errorf("summary %q does not end in %q", sum, want)
			}
		})
	}
}

// TestHandoff: two processes share the partitions, which the group moves
// between them at random points: each revoked partition is checkpointed
// before it is released (checked by the group), its new owner goes on
// from there, and the table ends up with every row once.
func TestHandoff(t *testing.T) {
	t.Parallel()
	for seed := range uint64(10) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 2))
			g := newGroup(t, rng, 4, 40)
			clk := newClock()
			procs := []*proc{g.start(t, "a", clk, procOptions{}), g.start(t, "b", clk, procOptions{})}
			owner := map[string]*proc{}
			first := make([][]string, len(procs))
			for _, p := range g.parts {
				i := rng.IntN(len(procs))
				first[i] = append(first[i], p)
				owner[p] = procs[i]
			}
			for i, pr := range procs {
				pr.m.change(t, sdk.Assignment{Assigned: first[i]})
			}
			revokes := 0
			for range 10 {
				for _, p := range g.parts {
					g.publish(p, rng.Int64N(8))
				}
				switch rng.IntN(3) {
				case 0: // the partitions checkpoint about now
					clk.Add(commitEvery)
				case 1: // the readers have caught up
					g.waitFor(t, "the readers to catch up", func() bool {
						for _, p := range g.parts {
							if owner[p] != nil && g.delivered[p] < g.published[p] {
								return false
							}
						}
						return true
					})
				}
				p := g.parts[rng.IntN(len(g.parts))]
				if from := owner[p]; from != nil {
					from.m.revoke(t, false, p)
					owner[p] = nil
					revokes++
				}
				if rng.IntN(4) == 0 {
					continue // unassigned for a while
				}
				to := procs[rng.IntN(len(procs))]
				a := sdk.Assignment{Assigned: []string{p}}
				if others := to.m.ownedParts(); len(others) > 0 && rng.IntN(3) == 0 {
					// It gives one up in the same change.
					q := others[rng.IntN(len(others))]
					a.Revoked = []string{q}
					owner[q] = nil
					revokes++
				}
				to.m.change(t, a)
				owner[p] = to
			}
			for _, p := range g.parts {
				if owner[p] == nil {
					to := procs[rng.IntN(len(procs))]
					to.m.change(t, sdk.Assignment{Assigned: []string{p}})
					owner[p] = to
				}
			}
			g.publishAll()
			g.checkpointUntil(t, clk, "every partition acknowledged to its end", g.allAcked)
			var partitions int
			for _, pr := range procs {
				partitions += pr.stop(t).Partitions
			}
			g.checkOutput(t)
			g.mu.Lock()
			defer g.mu.Unlock()
			var releases int
			for _, pr := range procs {
				releases += pr.m.releases
			}
			if releases != revokes {
				t.Errorf("%d partitions released, %d revoked", releases, revokes)
			}
			if partitions != len(g.parts)+revokes {
				t.Errorf("%d partition runs for %d partitions and %d revocations", partitions, len(g.parts), revokes)
			}
		})
	}
}

// TestLostPartition: a partition the group says is lost stops without a
// checkpoint (checked by the group), and its new owner resumes from its
// last checkpoint: the rows the lost run wrote since are not in the
// table, the new owner's are, once.
func TestLostPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		checkpoint bool   // p0 was checkpointed before it was lost
		to         string // the member that gets it next
	}{
		{name: "before any checkpoint, to another process", to: "b"},
		{name: "after a checkpoint, to another process", checkpoint: true, to: "b"},
		{name: "after a checkpoint, back to the same process", checkpoint: true, to: "a"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t, rand.New(rand.NewPCG(uint64(i), 3)), 2, 40)
			clk := newClock() // stands still: the partitions checkpoint only when stopped
			a, b := g.start(t, "a", clk, procOptions{}), g.start(t, "b", clk, procOptions{})
			procs := map[string]*proc{"a": a, "b": b}
			a.m.change(t, sdk.Assignment{Assigned: g.parts})
			g.publish("p0", 15)
			g.publish("p1", 15)
			g.waitFor(t, "process a to read 30 records", func() bool { return a.read() >= 30 })
			var resume int64
			if tt.checkpoint {
				// A revocation checkpoints p0 (the group checks it),
				// and a gets it back.
				a.m.revoke(t, false, "p0")
				if resume = g.checkpointed(t, "p0"); resume != 15 {
					t.Fatalf("p0 was checkpointed at %d, want 15", resume)
				}
				a.m.change(t, sdk.Assignment{Assigned: []string{"p0"}})
			}
			g.publish("p0", 20)
			g.waitFor(t, "rows of p0 written after its checkpoint", func() bool { return g.instance("p0").unprepared > 0 })
			a.m.revoke(t, true, "p0")
			if got := g.checkpointed(t, "p0"); got != resume {
				t.Errorf("p0 is checkpointed at %d after it was lost, want %d", got, resume)
			}
			opened := g.openings()
			procs[tt.to].m.change(t, sdk.Assignment{Assigned: []string{"p0"}})
			g.waitFor(t, "p0 to open again", func() bool { return len(g.opens) > opened })
			if got, want := g.lastOpening(t, "p0"), (opening{member: tt.to, part: "p0", resume: resume}); got != want {
				t.Errorf("p0 reopened as %+v, want %+v", got, want)
			}
			g.publishAll()
			g.checkpointUntil(t, clk, "every partition acknowledged to its end", g.allAcked)
			a.stop(t)
			b.stop(t)
			g.checkOutput(t)
		})
	}
}

// TestFailure: when a partition's run fails, or the group does, Run
// stops every other partition with a final checkpoint, leaves the group
// and returns the error, which names the partition.
func TestFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom: the coordinator is gone")
	tests := []struct {
		name    string
		later   string                                            // a partition assigned by trigger, not at first
		trigger func(t *testing.T, g *group, a *proc, clk *clock) // once the others have read
		failed  string                                            // the partition that fails; none: the group
		want    string                                            // the error
	}{{
		name:    "a read fails",
		trigger: func(_ *testing.T, g *group, _ *proc, _ *clock) { g.fail("p1"); g.publish("p1", 1) },
		failed:  "p1",
		want:    "partition p1: source events: read: boom at p1@11",
	}, {
		name:  "a partition cannot open",
		later: "p2",
		trigger: func(t *testing.T, g *group, a *proc, _ *clock) {
			g.mu.Lock()
			g.failOpen["p2"] = true
			g.mu.Unlock()
			a.m.change(t, sdk.Assignment{Assigned: []string{"p2"}})
		},
		failed: "p2",
		want:   "partition p2: source events: open: boom: partition p2 is offline",
	}, {
		name: "a sink cannot stage",
		trigger: func(_ *testing.T, g *group, _ *proc, clk *clock) {
			g.mu.Lock()
			g.instance("p0").failPrepare = true
			g.mu.Unlock()
			clk.Add(commitEvery)
		},
		failed: "p0",
		want:   "partition p0: sink out: prepare checkpoint 1: boom: instance p0 cannot stage",
	}, {
		name:    "the group fails",
		trigger: func(t *testing.T, _ *group, a *proc, _ *clock) { a.m.send(t, change{err: boom}) },
		want:    "source events: rebalance: " + boom.Error(),
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t, rand.New(rand.NewPCG(uint64(i), 4)), 3, 30)
			clk := newClock()
			a := g.start(t, "a", clk, procOptions{})
			var first, others []string
			for _, p := range g.parts {
				if p != tt.later {
					first = append(first, p)
				}
				if p != tt.failed {
					others = append(others, p)
				}
				g.publish(p, 10)
			}
			a.m.change(t, sdk.Assignment{Assigned: first})
			g.waitFor(t, "the partitions to read", func() bool {
				for _, p := range first {
					if g.delivered[p] < 10 {
						return false
					}
				}
				return true
			})
			tt.trigger(t, g, a, clk)
			sum, err := a.wait(t)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			if !sum.Failed || sum.Stopped {
				t.Errorf("summary %+v, want failed", sum)
			}
			// The clock stood still: no checkpoints but the final ones,
			// and, where the trigger moved it, one before.
			g.checkStopped(t, others, map[string]uint64{})
			g.mu.Lock()
			defer g.mu.Unlock()
			if a.m.joined != 1 || a.m.left != 1 {
				t.Errorf("member joined %d times, left %d times; want once each", a.m.joined, a.m.left)
			}
		})
	}
}

// fail makes the reader of a partition fail at the first offset not yet
// published.
func (g *group) fail(p string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failRead[p] = g.published[p] + 1
}

// TestRefused: Run refuses what it cannot run, before it joins the group
// where it can tell.
func TestRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		po     procOptions
		join   error
		want   string
		joined int
	}{{
		name: "from scratch",
		po:   procOptions{edit: func(o *scaleout.Options) { o.Exec.FromScratch = true }},
		want: "--from-scratch cannot discard the checkpoints of a scaled-out pipeline, which other processes may be using: stop every process and delete the checkpoint folder instead",
	}, {
		name: "no shared source",
		po:   procOptions{pipeline: strings.Replace(pipeline, "scale_out: true", "scale_out: false", 1)},
		want: "the pipeline has no source with scale_out: true",
	}, {
		name: "a source that cannot rebalance",
		po:   procOptions{pipeline: strings.Replace(pipeline, "plugin: parts", "plugin: plain", 1), plugins: []sdk.Plugin{plainPlugin()}},
		want: "source events: plugin plain does not share its partitions",
	}, {
		name: "the group cannot be joined",
		join: errors.New("boom: no broker"),
		want: "source events: join the group: boom: no broker",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t, rand.New(rand.NewPCG(uint64(i), 5)), 2, 5)
			g.member("a").failJoin = tt.join
			a := g.start(t, "a", newClock(), tt.po)
			sum, err := a.wait(t)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			if sum.Partitions != 0 || sum.Stopped {
				t.Errorf("summary %+v", sum)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if a.m.joined != 0 || len(g.opens) != 0 {
				t.Errorf("member joined %d times, %d partitions opened; want none", a.m.joined, len(g.opens))
			}
		})
	}
}

// TestStop: cancelling Run's context stops every partition with a final
// checkpoint, and Run returns nil and a summary of a stopped run. A
// process started next goes on from those checkpoints.
func TestStop(t *testing.T) {
	t.Parallel()
	g := newGroup(t, rand.New(rand.NewPCG(6, 6)), 3, 40)
	clk := newClock()
	a := g.start(t, "a", clk, procOptions{})
	a.m.change(t, sdk.Assignment{Assigned: g.parts})
	for _, p := range g.parts {
		g.publish(p, 20)
	}
	g.waitFor(t, "process a to read 60 records", func() bool { return a.read() >= 60 })
	before := g.latestAll()
	sum := a.stop(t)
	g.checkStopped(t, g.parts, before)
	if sum.Partitions != 3 || sum.Read != 60 || sum.Written != g.visibleRows() || sum.Checkpoints < 3 {
		t.Errorf("summary %+v; want 3 partitions, 60 records read, %d rows written, a checkpoint each", sum, g.visibleRows())
	}
	for _, p := range g.parts {
		if got := g.checkpointed(t, p); got != 20 {
			t.Errorf("%s checkpointed at %d, want 20", p, got)
		}
	}
	g.mu.Lock()
	if a.m.left != 1 {
		t.Errorf("member left %d times, want once", a.m.left)
	}
	g.mu.Unlock()

	opened := g.openings()
	a = g.start(t, "a", clk, procOptions{})
	a.m.change(t, sdk.Assignment{Assigned: g.parts})
	g.waitFor(t, "the partitions to open again", func() bool { return len(g.opens) == opened+len(g.parts) })
	for _, p := range g.parts {
		if got := g.lastOpening(t, p); got.resume != 20 {
			t.Errorf("%s reopened as %+v, want it to resume after 20", p, got)
		}
	}
	g.publishAll()
	g.checkpointUntil(t, clk, "every partition acknowledged to its end", g.allAcked)
	a.stop(t)
	g.checkOutput(t)
	if log := a.log.String(); !strings.Contains(log, "[p0] flowctl: restored checkpoint") || !strings.Contains(log, "flowctl: assigned p0, p1, p2") {
		t.Errorf("log lacks the restore of p0 or the assignment:\n%s", log)
	}
}
