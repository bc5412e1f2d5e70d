// Package exec runs a compiled plan. One engine serves every mode: records
// flow through the stages one at a time, and the shared window operators
// (package window) do all event-time work. The modes differ only in when
// the watermark moves (batch: once, at the end of the input; micro-batch
// and stream: after each record, from the records before it) and in when
// sinks are flushed.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/window"
)

// Options tune a run.
type Options struct {
	// Stderr receives rejected records when the pipeline has no dead
	// letter sink, and plugin log lines. Defaults to os.Stderr.
	Stderr io.Writer
	// SinkBatch is the number of rows handed to a sink per Write.
	SinkBatch int
	// Progress, if set, is called about every ProgressEvery with running
	// totals.
	Progress      func(Summary)
	ProgressEvery time.Duration
	// Now is the processing-time clock (triggers, idle timeouts, update
	// intervals); nil means time.Now.
	Now func() time.Time
	// CommitEvery is how often stream mode takes a checkpoint: commits
	// every sink, saves the state and acknowledges the sources. Defaults
	// to the pipeline's checkpoint.every.
	CommitEvery time.Duration
	// Checkpoints, if set, is where micro-batch and stream runs save their
	// checkpoints and resume from. Batch runs neither save nor resume.
	Checkpoints *checkpoint.Store
	// FromScratch discards the stored checkpoints before the run.
	FromScratch bool
	// MaxRestarts is how many times in a row a run restarts after a plugin
	// process died without a checkpoint in between; default 5.
	MaxRestarts int
	// Instance is handed to every source and sink as Settings.Instance:
	// this run is one of several concurrent runs of the pipeline (a
	// backfill slice).
	Instance string
	// TimeRange, if set, drops the records whose event time lies outside
	// it as they leave their source (see TimeRange).
	TimeRange *TimeRange
	// Partitions, if set, limits the sources to these partitions
	// (sdk.OpenRequest.Partitions): the run is one partition of a
	// scaled-out pipeline (runtime/scaleout).
	Partitions []string
	// Acked, if set, is called after each checkpoint with the positions
	// each source was acknowledged up to.
	Acked func(ctx context.Context, source string, positions []sdk.Position)
}

// NoWatermark and EndOfTime bound watermarks: a watermark that has not
// moved yet, and the one that closes every window.
const (
	NoWatermark = minWatermark
	EndOfTime   = maxWatermark
)

// Summary counts what a run did.
type Summary struct {
	Pipeline     string
	Mode         config.Mode
	Read         int64 // records read from sources
	Written      int64 // rows written to sinks (not counting dead letters)
	DeadLettered int64 // records sent to the dead letter sink, or reported when there is none
	Late         int64 // records too late for every window (dropped or dead-lettered)
	Duplicates   int64 // records dropped by dedupe stages
	OutOfRange   int64 // records outside Options.TimeRange, dropped (counted in Read too)
	Watermark    int64 // the lowest operator watermark, Unix ns
	Triggers     int64 // micro-batch triggers run
	Checkpoints  int64 // checkpoints taken (commits, in batch mode)
	Stopped      bool  // the run was stopped (a signal) before its input ended
	Failed       bool  // the run ended with an error
	Elapsed      time.Duration
}

// String is the one-line summary printed at the end of a run.
func (s Summary) String() string {
	rate := float64(s.Read) / max(s.Elapsed.Seconds(), 1e-9)
	how := "finished"
	switch {
	case s.Failed:
		how = "failed"
	case s.Stopped:
		how = "stopped"
	}
	line := fmt.Sprintf("%s: %s run %s in %s: read %d records (%s/s), wrote %d rows, dead-lettered %d, late %d",
		s.Pipeline, s.Mode, how, s.Elapsed.Round(time.Millisecond), s.Read, human(rate), s.Written, s.DeadLettered, s.Late)
	if s.OutOfRange > 0 {
		line += fmt.Sprintf(", out of range %d", s.OutOfRange)
	}
	return line
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

// Run executes the plan until its sources are exhausted, ctx is
// cancelled, or an error stops it.
func Run(ctx context.Context, p *plan.Plan, opts Options) (Summary, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.SinkBatch <= 0 {
		opts.SinkBatch = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 5
	}
	if opts.CommitEvery <= 0 {
		opts.CommitEvery = p.Pipeline.Checkpoint.Every.Value
	}
	if opts.CommitEvery <= 0 {
		opts.CommitEvery = 10 * time.Second
	}
	start := time.Now()
	var total Summary
	for failures := 0; ; {
		e := newEngine(p, opts)
		opts.FromScratch = false // a restart resumes from what this attempt saves
		runCtx, cancel := context.WithCancelCause(ctx)
		err := e.run(runCtx, cancel)
		cancel(nil)
		sum := e.summary()
		total = sum.Plus(total) // the latest attempt's watermark and state stand
		total.Elapsed = time.Since(start)
		if err == nil || !errors.Is(err, pluginrpc.ErrTransport) || ctx.Err() != nil {
			total.Failed = err != nil
			return total, err
		}
		// A plugin process died. Its host restarts it (with backoff);
		// the run resumes from the last checkpoint, so what the dead
		// process had not committed is done again, and exactly-once
		// sinks see it once.
		if sum.Checkpoints > 0 {
			failures = 0
		}
		if failures++; failures > opts.MaxRestarts {
			total.Failed = true
			return total, fmt.Errorf("%w (gave up after %d restarts without progress)", err, opts.MaxRestarts)
		}
		e.logf("%v; restarting from the last checkpoint (%d of %d)", err, failures, opts.MaxRestarts)
	}
}

// Plus returns s with the counts of o added; s's other fields (watermark,
// state, elapsed time) stand. It sums a restarted run's attempts, and the
// runs of a scaled-out process's partitions.
func (s Summary) Plus(o Summary) Summary {
	s.Read += o.Read
	s.Written += o.Written
	s.DeadLettered += o.DeadLettered
	s.Late += o.Late
	s.Duplicates += o.Duplicates
	s.OutOfRange += o.OutOfRange
	s.Triggers += o.Triggers
	s.Checkpoints += o.Checkpoints
	return s
}

type engine struct {
	plan   *plan.Plan
	opts   Options
	stages []*stageRT
	srcs   []*sourceRT
	sinks  []*sinkRT
	dlq    *sinkRT
	batch  bool

	read, dead, late atomic.Int64
	dupes            atomic.Int64
	triggers         atomic.Int64
	checkpoints      atomic.Int64
	nextID           uint64        // id of the next checkpoint
	lastCheckpoint   time.Duration // how long saving the last checkpoint took
	stopped          bool
	lastProgress     time.Time
	reported         int // rejected records printed without a dead letter sink
}

func newEngine(p *plan.Plan, opts Options) *engine {
	e := &engine{plan: p, opts: opts, batch: p.Mode == config.Batch}
	e.stages = make([]*stageRT, len(p.Stages))
	for i, st := range p.Stages {
		e.stages[i] = &stageRT{st: st, wm: minWatermark}
	}
	for _, s := range e.stages {
		for _, in := range s.st.Inputs {
			e.stages[in.Index].outs = append(e.stages[in.Index].outs, s)
		}
		switch s.st.Kind {
		case plan.SourceStage:
			src := newSourceRT(s)
			src.instance = opts.Instance
			src.partitions = opts.Partitions
			src.limit(opts.TimeRange)
			e.srcs = append(e.srcs, src)
		case plan.DedupeStage:
			s.dedupe = window.NewDedupe(s.st.DedupeWithin)
		case plan.AggregateStage:
			s.op = window.NewOperator(opConfig(s.st))
			s.key = make([]any, len(s.st.GroupBy))
			s.args = make([]any, len(s.st.Aggs))
		case plan.SinkStage:
			s.sink = &sinkRT{st: s.st, batch: opts.SinkBatch, instance: opts.Instance}
			if s.st == p.DeadLetter {
				e.dlq = s.sink
			} else {
				e.sinks = append(e.sinks, s.sink)
			}
		}
	}
	return e
}

func (e *engine) summary() Summary {
	s := Summary{
		Pipeline: e.plan.Pipeline.Name.Value, Mode: e.plan.Mode,
		Read: e.read.Load(), DeadLettered: e.dead.Load(), Late: e.late.Load(), Duplicates: e.dupes.Load(),
		Watermark: maxWatermark, Triggers: e.triggers.Load(), Checkpoints: e.checkpoints.Load(), Stopped: e.stopped,
	}
	s.OutOfRange = e.outOfRange()
	s.Read += s.OutOfRange
	for _, k := range e.sinks {
		s.Written += k.written.Load()
	}
	for _, st := range e.stages {
		if st.op != nil {
			s.Watermark = min(s.Watermark, st.op.Watermark())
		}
	}
	return s
}

// opConfig is the window operator configuration of an aggregate stage.
func opConfig(st *plan.Stage) window.Config {
	return window.Config{
		Spec: st.Window, Aggs: st.AggFuncs,
		AllowedLateness: st.AllowedLateness, Emit: st.Emit,
	}
}

// stageRT is the run-time state of one stage.
type stageRT struct {
	st   *plan.Stage
	outs []*stageRT
	wm   int64 // watermark: min over the upstream sources

	op   *window.Operator
	key  []any
	args []any

	sink *sinkRT

	dedupe  *window.Dedupe
	scratch []byte // the dedupe key being encoded

	idle       bool  // a source whose partitions are all idle: it holds no watermark back
	lastUpdate int64 // processing time of the last emit:updates flush, Unix ns
}

// chunk is a decoded batch from one source.
type chunk struct {
	src      *sourceRT
	recs     []record.Record
	bad      []rejected
	last     bool     // the source ended
	caughtUp bool     // the source delivered everything available
	readAt   int64    // processing time the source returned it, Unix ns
	known    []string // partitions the source declared (sdk.Batch.Partitions)
}

// rejected is a record that never became a record: it did not decode, or
// its event time could not be computed.
type rejected struct {
	raw    any
	reason string
	pos    sdk.Position
}

func cause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func (e *engine) process(ctx context.Context, c *chunk) error {
	src := c.src
	s := src.stage
	e.read.Add(int64(len(c.recs) + len(c.bad)))
	for i := range c.bad {
		b := &c.bad[i]
		if err := e.reject(ctx, b.raw, b.reason, s.st.Name, b.pos); err != nil {
			return err
		}
	}
	now := c.readAt
	if len(c.known) > 0 && !e.batch {
		src.declare(c.known, now)
	}
	if len(c.recs) > 0 && s.idle {
		s.idle = false
	}
	for i := range c.recs {
		r := &c.recs[i]
		for _, o := range s.outs {
			if err := e.push(ctx, o, r); err != nil {
				return err
			}
		}
		p := src.partition(r.Pos.Partition, now)
		p.pos = r.Pos
		if !e.batch && r.Time != record.NoTime && r.Time > p.maxT {
			first := p.maxT == math.MinInt64
			p.maxT = r.Time
			// Only a new partition, or the one holding the minimum, can
			// move the source watermark.
			if !first && src.minPart != nil && p != src.minPart {
				continue
			}
			if wm := src.watermark(); wm > s.wm {
				if err := e.sourceWatermark(ctx, src, wm); err != nil {
					return err
				}
			}
		}
	}
	// Rejected records count as read: their positions are covered too, so
	// a restore does not dead-letter them twice.
	for i := range c.bad {
		pos := c.bad[i].pos
		if pos.Partition == "" {
			continue
		}
		if p := src.part(pos.Partition); p.pos.Partition == "" || pos.Offset > p.pos.Offset {
			p.pos = pos
		}
	}
	return e.firstSinkError()
}

// sourceWatermark moves a source's watermark and advances every stage
// downstream, in topological order, so rows a window emits reach the next
// window before its own watermark moves.
func (e *engine) sourceWatermark(ctx context.Context, src *sourceRT, wm int64) error {
	if wm <= src.stage.wm {
		return nil
	}
	src.stage.wm = wm
	return e.propagate(ctx, src)
}

// propagate recomputes the watermarks downstream of src.
func (e *engine) propagate(ctx context.Context, src *sourceRT) error {
	for _, s := range e.stages[src.stage.st.Index+1:] {
		if s.st.Kind == plan.SourceStage || !containsInt(s.st.Sources, src.stage.st.Index) {
			continue
		}
		w, active := int64(maxWatermark), false
		for _, si := range s.st.Sources {
			if src := e.stages[si]; !src.idle {
				w, active = min(w, src.wm), true
			}
		}
		if !active || w <= s.wm {
			continue // every input is idle: nothing holds the watermark, nothing moves it
		}
		s.wm = w
		if s.dedupe != nil {
			s.dedupe.Forget(w)
		}
		if s.op != nil {
			var err error
			s.op.Advance(w, func(row window.Row) {
				if err == nil {
					err = e.emitRow(ctx, s, row)
				}
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *engine) emitRow(ctx context.Context, s *stageRT, row window.Row) error {
	vals := make([]any, 0, len(s.st.Out.Names))
	t := record.NoTime
	if s.st.Windowed {
		vals = append(vals, time.Unix(0, row.Span.Start).UTC(), time.Unix(0, row.Span.End).UTC())
		t = row.Span.End - 1
	}
	vals = append(vals, row.Key...)
	vals = append(vals, row.Values...)
	r := &record.Record{Values: vals, Time: t, Source: -1}
	for _, o := range s.outs {
		if err := e.push(ctx, o, r); err != nil {
			return err
		}
	}
	return nil
}

// push hands one record to a stage.
func (e *engine) push(ctx context.Context, s *stageRT, r *record.Record) error {
	st := s.st
	switch st.Kind {
	case plan.FilterStage:
		ok, err := st.Filter.EvalBool(r)
		if err != nil {
			return e.rejectRecord(ctx, r, st, err)
		}
		if !ok {
			return nil
		}
		for _, o := range s.outs {
			if err := e.push(ctx, o, r); err != nil {
				return err
			}
		}
	case plan.MapStage:
		vals := make([]any, len(st.Map))
		for i, p := range st.Map {
			v, err := p.Eval(r)
			if err != nil {
				return e.rejectRecord(ctx, r, st, fmt.Errorf("%s: %w", st.Out.Names[i], err))
			}
			vals[i] = v
		}
		out := &record.Record{Values: vals, Time: r.Time, Source: r.Source, Pos: r.Pos, Meta: r.Meta}
		for _, o := range s.outs {
			if err := e.push(ctx, o, out); err != nil {
				return err
			}
		}
	case plan.AggregateStage:
		for i, slot := range st.GroupBy {
			v := r.Get(slot)
			if v == record.Absent {
				v = nil
			}
			s.key[i] = v
		}
		for i, a := range st.Aggs {
			if a.Arg == nil {
				s.args[i] = nil
				continue
			}
			v, err := a.Arg.Eval(r)
			if err != nil {
				return e.rejectRecord(ctx, r, st, fmt.Errorf("%s: %w", st.Out.Names[len(st.Out.Names)-len(st.Aggs)+i], err))
			}
			s.args[i] = v
		}
		if st.Windowed && r.Time == record.NoTime {
			return e.rejectRecord(ctx, r, st, errors.New("record has no event time"))
		}
		late, err := s.op.Add(s.key, r.Time, s.args)
		if err != nil {
			return e.rejectRecord(ctx, r, st, err)
		}
		if late {
			e.late.Add(1)
			if st.LateToDLQ {
				return e.rejectRecord(ctx, r, st, errors.New("late"))
			}
		}
	case plan.DedupeStage:
		key, err := dedupeKey(st, r, s.scratch)
		if err != nil {
			return e.rejectRecord(ctx, r, st, err)
		}
		s.scratch = key
		if !s.dedupe.Admit(key, r.Time) {
			e.dupes.Add(1)
			return nil
		}
		for _, o := range s.outs {
			if err := e.push(ctx, o, r); err != nil {
				return err
			}
		}
	case plan.SinkStage:
		return s.sink.add(ctx, r)
	}
	return nil
}

func containsInt(list []int, x int) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func (e *engine) flushSinks(ctx context.Context) error {
	for _, k := range e.sinks {
		if err := k.send(ctx); err != nil {
			return err
		}
	}
	if e.dlq != nil {
		return e.dlq.send(ctx)
	}
	return nil
}

func (e *engine) firstSinkError() error {
	for _, k := range e.sinks {
		if err := k.error(); err != nil {
			return err
		}
	}
	if e.dlq != nil {
		return e.dlq.error()
	}
	return nil
}
