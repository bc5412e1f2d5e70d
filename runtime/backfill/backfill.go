// Package backfill replays a pipeline in batch mode over an event-time
// range: `flowctl backfill`. The range is cut into slices (calendar days
// in UTC by default), and the slices run side by side, each an ordinary
// batch run of the pipeline (exec.Run) with:
//
//   - the slice's range in the config of every source, in the fields its
//     plugin names in Spec.TimeRange, so that a source reads only that
//     part of its input;
//   - exec.Options.TimeRange, so that the engine drops whatever a source
//     reads outside the slice and each window is computed by exactly one
//     slice (Check refuses windows that cross slice boundaries);
//   - exec.Options.Instance, the slice's name, which sinks make part of
//     their identity (Spec.Instances): a slice's rows replace what the
//     same slice wrote before and nothing else.
//
// With the pipeline's key, sinks write upserts, so a backfill run twice,
// or over a range a stream already wrote, leaves each key once. Finished
// slices are recorded in a state file under the pipeline's checkpoint
// folder; a rerun after an interruption or a failure skips them.
package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// ErrInterrupted is returned by Run when its context was cancelled
// before every slice was done. The slices under way then stop without
// committing anything, and a rerun does them again.
var ErrInterrupted = errors.New("backfill interrupted")

// Options configure a backfill.
type Options struct {
	// From and To bound the range: events at or after From, before To.
	From, To time.Time
	// Slice is the length of a slice; zero means 24h. Slices are cut at
	// its multiples since the Unix epoch (see Split).
	Slice time.Duration
	// Parallel is how many slices run at once; zero means one.
	Parallel int
	// Restart redoes the slices the state file says are done.
	Restart bool
	// Compile compiles the pipeline in batch mode with these --set
	// overrides after the user's. It is called once per slice, maybe
	// from several goroutines at once.
	Compile func(ctx context.Context, sets []string) (*plan.Plan, error)
	// Exec is the template of each slice's run; Instance, TimeRange and
	// Progress are set per slice.
	Exec exec.Options
	// StateDir is the pipeline's checkpoint folder, where the state file
	// lives (StatePath); empty keeps no state.
	StateDir string
	// Fingerprint identifies the pipeline being backfilled (its file's
	// content, the --set values): a state file written for another
	// fingerprint is not resumed from.
	Fingerprint []byte
	// Plugins are the installed plugins, which Check's messages suggest.
	Plugins []sdk.Spec
	// Log receives what the backfill has to say besides its summary:
	// warnings, slices skipped, and with Verbose a line per finished
	// slice. Nil discards it.
	Log     io.Writer
	Verbose bool
	// Progress, if set, is called as slices progress (every
	// Exec.ProgressEvery) and finish, one call at a time.
	Progress func(Progress)
}

// Progress is a backfill under way.
type Progress struct {
	Slices  int     // slices in the range
	Done    int     // slices finished, by this run or an earlier one
	Running int     // slices under way
	Totals  Summary // what this run's slices did so far, running ones included
}

// Summary counts what a backfill did.
type Summary struct {
	Pipeline     string
	Range        Slice
	Slices       int // slices in the range
	Skipped      int // slices an earlier, interrupted backfill did
	Done         int // slices this run did
	Read         int64
	Written      int64
	DeadLettered int64
	Late         int64
	OutOfRange   int64
	Elapsed      time.Duration
	Stopped      bool // interrupted before every slice was done
	Failed       bool // a slice failed
}

// String is the line printed at the end of a backfill.
func (s Summary) String() string {
	how := "finished"
	switch {
	case s.Failed:
		how = "failed"
	case s.Stopped:
		how = "stopped"
	}
	rate := float64(s.Read) / max(s.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%s: backfill %s %s in %s: %d of %d slices done (%d by an earlier run), read %d records (%s/s), wrote %d rows, dead-lettered %d, late %d, out of range %d",
		s.Pipeline, s.Range, how, s.Elapsed.Round(time.Millisecond), s.Done+s.Skipped, s.Slices, s.Skipped,
		s.Read, human(rate), s.Written, s.DeadLettered, s.Late, s.OutOfRange)
}

// add counts a slice's run.
func (s *Summary) add(r exec.Summary) {
	s.Read += r.Read
	s.Written += r.Written
	s.DeadLettered += r.DeadLettered
	s.Late += r.Late
	s.OutOfRange += r.OutOfRange
}

func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// Run backfills the pipeline base was compiled from over opts' range. It
// checks the plan first (Check), then runs the slices not yet done,
// opts.Parallel at a time, recording each that finishes. After a slice
// fails, the slices under way finish and no new one starts; the error
// names the slice. A cancelled ctx stops the slices under way without
// committing them and returns ErrInterrupted.
func Run(ctx context.Context, base *plan.Plan, opts Options) (Summary, error) {
	start := time.Now()
	if opts.Slice == 0 {
		opts.Slice = 24 * time.Hour
	}
	opts.Parallel = max(opts.Parallel, 1)
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	sum := Summary{Pipeline: base.Pipeline.Name.Value, Range: Slice{From: opts.From.UTC(), To: opts.To.UTC()}}
	all, err := Split(opts.From, opts.To, opts.Slice)
	if err != nil {
		return sum, err
	}
	sum.Slices = len(all)
	warnings, err := Check(base, all, opts.Plugins)
	if err != nil {
		return sum, err
	}
	r := &runner{opts: opts, base: base, sum: sum, live: map[int]exec.Summary{}}
	for _, w := range warnings {
		r.logf("warning: %s", w)
	}
	// The sources' configs with a range, checked before any slice runs.
	sets := Sets(base, Slice{From: opts.From, To: opts.To})
	if _, err := opts.Compile(ctx, sets); err != nil {
		keys := make([]string, len(sets))
		for i, s := range sets {
			keys[i], _, _ = strings.Cut(s, "=")
		}
		return sum, fmt.Errorf("with the range in %s: %w", strings.Join(keys, " and "), err)
	}
	todo, err := r.resume(all)
	if err != nil {
		return r.sum, err
	}
	err = r.run(ctx, todo)
	r.sum.Elapsed = time.Since(start)
	if err == nil && r.state != nil {
		err = removeState(r.path)
	}
	return r.sum, err
}

// runner is one backfill under way.
type runner struct {
	opts Options
	base *plan.Plan

	mu       sync.Mutex
	sum      Summary
	live     map[int]exec.Summary // progress of the slices under way, by index in todo
	state    *state               // nil without Options.StateDir
	path     string
	failures []error
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.opts.Log, "flowctl: backfill: "+format+"\n", args...)
}

// resume reads the state file and returns the slices left to do.
func (r *runner) resume(all []Slice) ([]Slice, error) {
	if r.opts.StateDir == "" {
		return all, nil
	}
	h := sha256.New()
	h.Write(r.opts.Fingerprint)
	r.path = StatePath(r.opts.StateDir, r.opts.From, r.opts.To)
	r.state = &state{
		Version: stateVersion, Pipeline: r.sum.Pipeline,
		From: formatTime(r.opts.From), To: formatTime(r.opts.To), Slice: dur(r.opts.Slice),
		Fingerprint: hex.EncodeToString(h.Sum(nil)), Done: []string{},
	}
	if r.opts.Restart {
		// Forgotten now, so that a restart interrupted before its first
		// slice is done does not leave the old slices to be skipped.
		return all, removeState(r.path)
	}
	old, err := loadState(r.path)
	switch {
	case err != nil:
		return nil, err
	case old == nil:
		return all, nil
	case !old.matches(r.state):
		r.logf("the pipeline, its --set values or --slice changed since the interrupted backfill of this range (%s): redoing every slice", r.path)
		return all, nil
	}
	var todo []Slice
	for _, s := range all {
		if old.done(s) {
			r.state.Done = append(r.state.Done, s.String())
		} else {
			todo = append(todo, s)
		}
	}
	r.sum.Skipped = len(all) - len(todo)
	if r.sum.Skipped > 0 {
		r.logf("skipping %d of %d slices, done by an interrupted backfill of this range (%s); --restart redoes them", r.sum.Skipped, len(all), r.path)
	}
	return todo, nil
}

// run runs the slices, opts.Parallel at a time.
func (r *runner) run(ctx context.Context, todo []Slice) error {
	// Slices get a context of their own, cancelled with ErrInterrupted
	// as its cause when ctx ends: a run whose reading stops with a cause
	// other than context.Canceled fails instead of committing what it
	// read, so an interrupted slice leaves nothing half done.
	sliceCtx, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	stop := context.AfterFunc(ctx, func() { abort(ErrInterrupted) })
	defer stop()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.opts.Parallel, len(todo)) {
		wg.Go(func() {
			for i := range next {
				if sliceCtx.Err() == nil && !r.failed() {
					r.slice(sliceCtx, i, todo[i])
				}
			}
		})
	}
feed:
	for i := range todo {
		if r.failed() {
			break
		}
		select {
		case next <- i:
		case <-sliceCtx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	left := r.sum.Slices - r.sum.Done - r.sum.Skipped
	switch {
	case len(r.failures) > 0:
		r.sum.Failed = true
		r.logf("%d of %d slices done; run the same command again to do the other %d", r.sum.Slices-left, r.sum.Slices, left)
		return errors.Join(r.failures...)
	case left > 0:
		r.sum.Stopped = true
		r.logf("%d of %d slices done; run the same command again to do the other %d", r.sum.Slices-left, r.sum.Slices, left)
		return ErrInterrupted
	}
	return nil
}

func (r *runner) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}

// slice runs one slice: the i-th of todo.
func (r *runner) slice(ctx context.Context, i int, s Slice) {
	start := time.Now()
	p, err := r.opts.Compile(ctx, Sets(r.base, s))
	if err != nil {
		if !errors.Is(context.Cause(ctx), ErrInterrupted) {
			r.fail(s, err)
		}
		return
	}
	o := r.opts.Exec
	o.Instance = s.String()
	o.TimeRange = &exec.TimeRange{From: s.From, To: s.To}
	o.Progress = nil
	if r.opts.Progress != nil {
		o.Progress = func(sum exec.Summary) { r.progress(i, sum) }
	}
	sum, err := exec.Run(ctx, p, o)
	switch {
	case errors.Is(context.Cause(ctx), ErrInterrupted) && (err != nil || sum.Stopped):
		// The run failed because it was interrupted (errors of a
		// plugin's open, say, wrap context.Canceled, not the cause).
		// Counted nowhere: a rerun does it again.
		r.mu.Lock()
		delete(r.live, i)
		r.mu.Unlock()
	case err != nil:
		r.fail(s, err)
	default:
		r.finish(i, s, sum, time.Since(start))
	}
}

func (r *runner) fail(s Slice, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Errorf("slice %s: %w", s.Label(), err))
}

// progress records a running slice's totals and reports the backfill's.
func (r *runner) progress(i int, sum exec.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[i] = sum
	r.report()
}

// finish records a finished slice.
func (r *runner) finish(i int, s Slice, sum exec.Summary, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, i)
	r.sum.Done++
	r.sum.add(sum)
	if r.opts.Verbose {
		r.logf("slice %s done in %s: read %d records, wrote %d rows, dead-lettered %d, late %d, out of range %d",
			s.Label(), took.Round(time.Millisecond), sum.Read, sum.Written, sum.DeadLettered, sum.Late, sum.OutOfRange)
	}
	if r.state != nil {
		r.state.Done = append(r.state.Done, s.String())
		if err := r.state.save(r.path); err != nil {
			r.failures = append(r.failures, err)
		}
	}
	r.report()
}

// report calls Options.Progress; r.mu is held.
func (r *runner) report() {
	if r.opts.Progress == nil {
		return
	}
	p := Progress{Slices: r.sum.Slices, Done: r.sum.Done + r.sum.Skipped, Running: len(r.live), Totals: r.sum}
	for _, s := range r.live {
		p.Totals.add(s)
	}
	r.opts.Progress(p)
}

// Sets returns the --set overrides that give the plan's sources the
// slice's range, in the config fields their plugins name.
func Sets(p *plan.Plan, s Slice) []string {
	var sets []string
	for _, st := range p.Stages {
		if st.Kind != plan.SourceStage || st.Plugin.Spec.TimeRange == nil {
			continue
		}
		tr := st.Plugin.Spec.TimeRange
		sets = append(sets,
			fmt.Sprintf("sources.%s.config.%s=%q", st.Name, tr.From, formatTime(s.From)),
			fmt.Sprintf("sources.%s.config.%s=%q", st.Name, tr.To, formatTime(s.To)))
	}
	return sets
}
