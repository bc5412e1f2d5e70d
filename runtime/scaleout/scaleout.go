// Package scaleout runs a pipeline as one of several processes that share
// its source's partitions (`scale_out: true` on a source whose plugin can:
// Kafka, through a consumer group).
//
// Each process opens one coordinating instance of the shared source, which
// joins the group, and asks it in a loop what the group assigns and
// revokes (sdk.Rebalancer). Every partition assigned runs as a share of its
// own: an ordinary exec run of the pipeline whose source reads only that
// partition, whose sinks write as the instance named after it, and whose
// checkpoints live in the partition's folder of the shared checkpoint
// storage. So a partition's windows, watermark, dedupe state and source
// position follow it from process to process: the process that gets it
// restores its last checkpoint. A revoked partition is stopped with a
// final checkpoint that keeps its windows open, and only then reported
// released, which lets the group hand it on. A partition whose process
// died resumes from its last checkpoint that the sinks committed, as
// any run does after a crash, and its sinks' instance identity fences the
// dead process's (a Kafka transactional id per partition).
//
// State is per partition, as in Kafka Streams: a group_by key whose
// records lie in several partitions gets a row from each. Produce the
// input keyed by what the pipeline groups by.
package scaleout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// Options configure a process of a scaled-out pipeline.
type Options struct {
	// Compile compiles the pipeline. It is called once per partition run
	// (a plan's expression programs belong to one run) and once to open
	// the coordinator, maybe from several goroutines at once.
	Compile func(ctx context.Context) (*plan.Plan, error)
	// Exec is the template of each partition's run; Instance, Partitions,
	// Checkpoints, Acked and Stderr are set per partition.
	Exec exec.Options
	// Checkpoints is the pipeline's shared checkpoint storage; each
	// partition keeps its checkpoints in a Sub of it.
	Checkpoints *checkpoint.Store
	// Log receives the process's own lines (assignments, partition
	// starts and stops) and the partition runs' lines, prefixed with the
	// partition. Defaults to Exec.Stderr.
	Log io.Writer
	// Progress, if set, is called about every Exec.ProgressEvery with the
	// totals of the partitions run so far, one call at a time.
	Progress func(Summary)
}

// Summary counts what a process did over every partition it ran.
type Summary struct {
	exec.Summary
	Partitions int // partition runs started (a partition assigned twice counts twice)
	Running    int // partition runs under way
}

// String is the line printed at the end of a run.
func (s Summary) String() string {
	return fmt.Sprintf("%s; ran %d partition(s)", s.Summary, s.Partitions)
}

// errLost stops the run of a partition the group gave to another process
// before this one released it: it ends without a checkpoint.
var errLost = errors.New("partition lost to another process")

// Run runs the pipeline's share of this process until ctx is cancelled
// (each partition then stops with a final checkpoint and the process
// leaves the group) or a partition's run fails (the others stop too).
func Run(ctx context.Context, opts Options) (Summary, error) {
	if opts.Log == nil {
		opts.Log = opts.Exec.Stderr
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	opts.Log = &syncWriter{w: opts.Log}
	if opts.Exec.FromScratch {
		return Summary{}, errors.New("--from-scratch cannot discard the checkpoints of a scaled-out pipeline, which other processes may be using: stop every process and delete the checkpoint folder instead")
	}
	pl, err := opts.Compile(ctx)
	if err != nil {
		return Summary{}, err
	}
	st := pl.ScaleOutSource()
	if st == nil {
		return Summary{}, errors.New("the pipeline has no source with scale_out: true")
	}
	p := &process{opts: opts, source: st.Name, pipeline: pl.Pipeline.Name.Value, runs: map[string]*partitionRun{}, done: make(chan *partitionRun), start: time.Now()}
	p.total.Pipeline, p.total.Mode = p.pipeline, pl.Mode
	coord, err := p.openCoordinator(ctx, st)
	if err != nil {
		return p.summary(), err
	}
	p.acks = newAcker(coord.src, opts.Log)
	err = p.loop(ctx, coord)
	p.acks.close()
	if cerr := coord.src.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
		err = fmt.Errorf("source %s: leave the group: %w", st.Name, cerr)
	}
	sum := p.summary()
	sum.Failed = err != nil
	sum.Stopped = err == nil
	return sum, err
}

// coordinator is the source instance that takes part in the group.
type coordinator struct {
	src sdk.Source
	reb sdk.Rebalancer
}

func (p *process) openCoordinator(ctx context.Context, st *plan.Stage) (*coordinator, error) {
	src := st.Plugin.NewSource()
	err := src.Open(ctx, sdk.OpenRequest{
		Config: st.Config.JSON, Format: st.Format, Coordinate: true,
		Settings: sdk.Settings{Name: st.Name, Pipeline: p.pipeline, Logger: logger{p.opts.Log}},
	})
	if err != nil {
		_ = src.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("source %s: join the group: %w", st.Name, err)
	}
	reb, ok := src.(sdk.Rebalancer)
	if !ok {
		_ = src.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("source %s: plugin %s does not share its partitions", st.Name, st.Plugin.Spec.Name)
	}
	return &coordinator{src: src, reb: reb}, nil
}

// process is the state of one process of the pipeline.
type process struct {
	opts     Options
	source   string // the shared source's name
	pipeline string
	acks     *acker
	start    time.Time

	progressMu sync.Mutex // one Progress call at a time

	mu    sync.Mutex // guards total, runs' summaries for Progress
	runs  map[string]*partitionRun
	total Summary // what the partition runs that ended did
	done  chan *partitionRun
}

// partitionRun is the run of one partition.
type partitionRun struct {
	name   string
	cancel context.CancelCauseFunc
	ended  chan struct{}
	sum    exec.Summary // set when ended
	err    error        // set when ended
	live   exec.Summary // the latest progress, under process.mu
}

// rebalanced is the answer of a Rebalance call.
type rebalanced struct {
	a   sdk.Assignment
	err error
}

// loop asks the coordinator for changes and starts and stops partitions
// until ctx ends or something fails.
func (p *process) loop(ctx context.Context, coord *coordinator) error {
	var released []string
	answers := make(chan rebalanced, 1)
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	ask := func(released []string) {
		go func() {
			a, err := coord.reb.Rebalance(rctx, released)
			answers <- rebalanced{a, err}
		}()
	}
	ask(nil)
	var failure error
	for failure == nil {
		select {
		case ans := <-answers:
			if ans.err != nil {
				if ctx.Err() != nil {
					return p.stopAll(nil)
				}
				// No call is under way: nothing to wait for below.
				return p.stopAll(fmt.Errorf("source %s: rebalance: %w", p.source, ans.err))
			}
			released = p.apply(ctx, ans.a)
			ask(released)
		case r := <-p.done:
			p.mu.Lock()
			current := p.runs[r.name] == r
			p.mu.Unlock()
			// A run stopped by a revoke may still come by here: stop has
			// dealt with it.
			if current && r.err != nil && !errors.Is(r.err, errLost) {
				failure = fmt.Errorf("partition %s: %w", r.name, r.err)
			}
		case <-ctx.Done():
			rcancel()
			<-answers
			return p.stopAll(nil)
		}
	}
	rcancel()
	<-answers
	return p.stopAll(failure)
}

// apply starts the partitions assigned and stops those revoked, and
// returns the revoked ones, now released.
func (p *process) apply(ctx context.Context, a sdk.Assignment) []string {
	if len(a.Revoked) > 0 {
		how := "revoked"
		if a.Lost {
			how = "lost"
		}
		p.logf("%s %s", how, strings.Join(a.Revoked, ", "))
		var wg sync.WaitGroup
		for _, name := range a.Revoked {
			if r := p.runs[name]; r != nil {
				wg.Go(func() { p.stop(r, a.Lost) })
			}
		}
		wg.Wait()
	}
	if len(a.Assigned) > 0 {
		p.logf("assigned %s", strings.Join(a.Assigned, ", "))
		for _, name := range a.Assigned {
			if p.runs[name] == nil {
				p.startRun(ctx, name)
			}
		}
	}
	return a.Revoked
}

// startRun starts the run of a partition.
func (p *process) startRun(ctx context.Context, name string) {
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	r := &partitionRun{name: name, cancel: cancel, ended: make(chan struct{})}
	p.mu.Lock()
	p.runs[name] = r
	p.total.Partitions++
	p.mu.Unlock()
	go func() {
		r.sum, r.err = p.runPartition(rctx, r)
		// Counted and ended at once: summary, which skips the runs
		// ended, must find their counts in total.
		p.mu.Lock()
		p.total.Summary = p.total.Summary.Plus(r.sum)
		close(r.ended)
		p.mu.Unlock()
		select {
		case p.done <- r:
		case <-rctx.Done(): // stopped: stop waits for ended instead
		}
	}()
}

// runPartition compiles the pipeline and runs it on one partition.
func (p *process) runPartition(ctx context.Context, r *partitionRun) (exec.Summary, error) {
	pl, err := p.opts.Compile(ctx)
	if err != nil {
		return exec.Summary{}, err
	}
	o := p.opts.Exec
	o.Instance = r.name
	o.Partitions = []string{r.name}
	o.Checkpoints = p.opts.Checkpoints.Sub(p.source).Sub(r.name)
	o.Stderr = &prefixWriter{w: p.opts.Log, prefix: "[" + r.name + "] "}
	o.Acked = func(_ context.Context, _ string, pos []sdk.Position) { p.acks.add(pos) }
	progress := o.Progress
	o.Progress = func(s exec.Summary) {
		p.mu.Lock()
		r.live = s
		p.mu.Unlock()
		if progress != nil {
			progress(s)
		}
		if p.opts.Progress != nil {
			sum := p.summary()
			p.progressMu.Lock()
			p.opts.Progress(sum)
			p.progressMu.Unlock()
		}
	}
	return exec.Run(ctx, pl, o)
}

// stop stops a partition's run: with a final checkpoint, or, lost,
// without one; and waits for it.
func (p *process) stop(r *partitionRun, lost bool) {
	var cause error
	if lost {
		cause = errLost
	}
	r.cancel(cause)
	<-r.ended
	p.mu.Lock()
	delete(p.runs, r.name)
	p.mu.Unlock()
	if errors.Is(r.err, context.Canceled) {
		// Stopped before it was under way (opening its plugins): it
		// checkpointed nothing, and the next owner starts where it did.
		r.err = nil
	}
	if r.err != nil && !errors.Is(r.err, errLost) {
		p.logf("partition %s stopped: %v", r.name, r.err)
	}
}

// stopAll stops every partition with a final checkpoint and returns
// failure, or the first error a stop met.
func (p *process) stopAll(failure error) error {
	var wg sync.WaitGroup
	p.mu.Lock()
	runs := slices.Collect(maps.Values(p.runs))
	p.mu.Unlock()
	for _, r := range runs {
		wg.Go(func() { p.stop(r, false) })
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	for _, r := range runs {
		if r.err != nil {
			return fmt.Errorf("partition %s: %w", r.name, r.err)
		}
	}
	return nil
}

// summary is what the process did so far.
func (p *process) summary() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.total
	for _, r := range p.runs {
		select {
		case <-r.ended: // counted in total
		default:
			s.Summary = s.Summary.Plus(r.live)
			s.Running++
		}
	}
	s.Elapsed = time.Since(p.start)
	return s
}

func (p *process) logf(format string, args ...any) {
	fmt.Fprintf(p.opts.Log, "flowctl: "+format+"\n", args...)
}
