package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/window"
)

// Checkpoints, in this engine, need no barriers: records go through the
// stages one at a time on the engine goroutine, so between two records the
// state is consistent by construction. A checkpoint is taken there:
//
//  1. every sink is handed the rows emitted so far and asked to Prepare
//     (stage them durably under the checkpoint id) or, if it does not take
//     part in checkpoints, to flush;
//  2. the operators' state, the sources' positions and watermarks are
//     written to the store;
//  3. the sinks Commit the id, making the staged rows visible;
//  4. the sources are acknowledged up to the positions checkpointed.
//
// A crash before 2 leaves the previous checkpoint in force and the staged
// rows are discarded at recovery; a crash between 2 and 3 is completed at
// recovery (Recover commits what was staged under the id).

// ErrIncompatible is wrapped by the error a run returns when its checkpoint
// was taken by a pipeline whose state layout differs from the one running.
var ErrIncompatible = errors.New("checkpoint does not fit this pipeline")

// recover runs before the sources open. It finds the checkpoint to resume
// from, brings every exactly-once sink to it and restores the operators and
// positions, or, for a fresh start, tells the sinks to start from nothing.
func (e *engine) recover(ctx context.Context) error {
	next := uint64(0)
	committed := map[*sinkRT]uint64{}
	for _, k := range e.allSinks() {
		if k.committer == nil {
			continue
		}
		c, err := k.committer.Committed(ctx)
		if err != nil {
			return fmt.Errorf("sink %s: committed checkpoint: %w", k.st.Name, err)
		}
		committed[k] = c
		next = max(next, c)
	}
	var ck *checkpoint.Checkpoint
	if store := e.opts.Checkpoints; store != nil && !e.batch {
		if e.opts.FromScratch {
			if err := store.Clear(ctx); err != nil {
				return err
			}
		}
		ids, err := store.IDs(ctx)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			latest := ids[len(ids)-1]
			next = max(next, latest)
			if ck, err = e.chooseCheckpoint(ctx, store, latest, committed); err != nil {
				return err
			}
		}
	}
	e.nextID = next + 1
	id := uint64(0)
	if ck != nil {
		id = ck.Meta.ID
		if err := e.restore(ck); err != nil {
			return err
		}
		e.logf("restored checkpoint %d (taken %s) from %s", id, ck.Meta.Taken.Format(time.RFC3339), e.opts.Checkpoints.Where)
	}
	for _, k := range e.allSinks() {
		if k.committer == nil {
			continue
		}
		if err := k.committer.Recover(ctx, id); err != nil {
			return fmt.Errorf("sink %s: recover to checkpoint %d: %w", k.st.Name, id, err)
		}
	}
	return nil
}

// chooseCheckpoint picks the newest checkpoint that every exactly-once sink
// of the run that took it can stand behind: one whose transaction did not
// survive a crash reports an earlier id, and the run resumes from there.
func (e *engine) chooseCheckpoint(ctx context.Context, store *checkpoint.Store, latest uint64, committed map[*sinkRT]uint64) (*checkpoint.Checkpoint, error) {
	ck, err := store.Load(ctx, latest)
	if err != nil {
		return nil, err
	}
	if err := e.compatible(ck.Meta); err != nil {
		return nil, fmt.Errorf("%w: %s (checkpoint %d in %s); run with --from-scratch to discard its state", ErrIncompatible, err, ck.Meta.ID, store.Where)
	}
	limit, by := latest, ""
	for k, c := range committed {
		if c < limit && slices.ContainsFunc(ck.Meta.Sinks, func(s checkpoint.Sink) bool { return s.Name == k.st.Name }) {
			limit, by = c, k.st.Name
		}
	}
	if limit == latest {
		return ck, nil
	}
	if limit == 0 {
		e.logf("sink %s has committed no checkpoint: starting from scratch", by)
		return nil, nil
	}
	older, err := store.LatestAtMost(ctx, limit)
	if err != nil {
		return nil, err
	}
	if older == nil || older.Meta.ID != limit {
		return nil, fmt.Errorf("sink %s has committed checkpoint %d, which %s no longer holds; run with --from-scratch", by, limit, store.Where)
	}
	e.logf("sink %s has committed checkpoint %d, not %d: resuming from %d", by, limit, latest, limit)
	return older, nil
}

// compatible says what changed between the pipeline that took a checkpoint
// and this one, in the terms of the pipeline file.
func (e *engine) compatible(m checkpoint.Meta) error {
	var problems []string
	now := map[string]*stageRT{}
	for _, s := range e.stages {
		now[s.st.Name] = s
	}
	for _, old := range m.Stages {
		s := now[old.Name]
		switch {
		case s == nil || !s.stateful():
			problems = append(problems, fmt.Sprintf("stage %s is no longer in the pipeline", old.Name))
		case describe(s.st) != old.Describe:
			problems = append(problems, fmt.Sprintf("stage %s changed from %q to %q", old.Name, old.Describe, describe(s.st)))
		}
	}
	for _, s := range e.stages {
		if s.stateful() && !slices.ContainsFunc(m.Stages, func(o checkpoint.Stage) bool { return o.Name == s.st.Name }) {
			problems = append(problems, fmt.Sprintf("stage %s is new", s.st.Name))
		}
	}
	for _, old := range m.Sources {
		s := now[old.Name]
		switch {
		case s == nil || s.st.Kind != plan.SourceStage:
			problems = append(problems, fmt.Sprintf("source %s is no longer in the pipeline", old.Name))
		case s.st.Plugin.Spec.Name != old.Plugin:
			problems = append(problems, fmt.Sprintf("source %s changed plugin from %s to %s", old.Name, old.Plugin, s.st.Plugin.Spec.Name))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// describe renders what a stateful stage's state means; two stages with
// the same description can share state. An aggregate's is its group keys
// and output names, then the window operator's own description.
func describe(st *plan.Stage) string {
	if st.Kind == plan.DedupeStage {
		return fmt.Sprintf("dedupe key=[%s]; within=%s", strings.Join(inputNames(st, st.DedupeKey), ", "), time.Duration(st.DedupeWithin))
	}
	outputs := st.Out.Names[len(st.Out.Names)-len(st.Aggs):]
	return fmt.Sprintf("group_by=[%s]; outputs=[%s]; %s",
		strings.Join(inputNames(st, st.GroupBy), ", "), strings.Join(outputs, ", "), opConfig(st).Describe())
}

// inputNames names slots of a stage's input.
func inputNames(st *plan.Stage, slots []int) []string {
	in := st.Inputs[0].Out.Columns() // schemaless layouts hold the names compile interned
	names := make([]string, len(slots))
	for i, slot := range slots {
		if slot < len(in) {
			names[i] = in[slot]
		}
	}
	return names
}

// restore loads operator state, watermarks and source positions.
func (e *engine) restore(ck *checkpoint.Checkpoint) error {
	byName := map[string]*stageRT{}
	for _, s := range e.stages {
		byName[s.st.Name] = s
	}
	for name, data := range ck.State {
		s := byName[name]
		if s != nil && s.dedupe != nil {
			d, err := window.RestoreDedupe(s.st.DedupeWithin, data)
			if err != nil {
				return fmt.Errorf("checkpoint %d: stage %s: %w", ck.Meta.ID, name, err)
			}
			s.dedupe = d
			continue
		}
		if s == nil || s.op == nil {
			continue // reported by compatible
		}
		op, err := window.Restore(opConfig(s.st), bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("checkpoint %d: aggregate %s: %w", ck.Meta.ID, name, err)
		}
		s.op = op
		s.wm = op.Watermark()
	}
	now := e.opts.Now().UnixNano()
	for _, src := range ck.Meta.Sources {
		s := byName[src.Name]
		if s == nil {
			continue
		}
		rt := e.sourceOf(s)
		for _, p := range src.Partitions {
			part := rt.partition(p.Name, now)
			part.maxT = p.MaxTime
			part.pos = sdk.Position{Partition: p.Name, Offset: p.Offset, Line: p.Line}
			rt.resume = append(rt.resume, part.pos)
		}
		rt.minPart = nil
		if wm, ok := ck.Meta.Watermarks[src.Name]; ok {
			s.wm = wm
		}
	}
	return nil
}

// stateful reports whether a stage keeps state in checkpoints.
func (s *stageRT) stateful() bool { return s.op != nil || s.dedupe != nil }

func (e *engine) sourceOf(s *stageRT) *sourceRT {
	for _, rt := range e.srcs {
		if rt.stage == s {
			return rt
		}
	}
	panic("exec: no runtime for source " + s.st.Name)
}

// takeCheckpoint runs steps 1 to 4 above. Without a store (batch runs, and
// runs that asked for none) it still prepares and commits the sinks, so
// exactly-once sinks publish their output.
func (e *engine) takeCheckpoint(ctx context.Context) error {
	id := e.nextID
	sinks := e.allSinks()
	if err := eachSink(ctx, sinks, func(k *sinkRT) (chan error, error) { return k.prepare(ctx, id) }); err != nil {
		return err
	}
	if store := e.opts.Checkpoints; store != nil && !e.batch {
		start := time.Now()
		ck, err := e.snapshot(id)
		if err != nil {
			return err
		}
		if err := store.Save(ctx, ck); err != nil {
			return err
		}
		e.lastCheckpoint = time.Since(start)
	}
	if err := eachSink(ctx, sinks, func(k *sinkRT) (chan error, error) { return k.commitID(ctx, id) }); err != nil {
		return err
	}
	e.nextID++
	e.checkpoints.Add(1)
	for _, s := range e.srcs {
		if s.acker == nil && e.opts.Acked == nil {
			continue
		}
		pos := s.positions()
		if len(pos) == 0 {
			continue
		}
		if s.acker != nil {
			if err := s.acker.Ack(ctx, pos); err != nil {
				return fmt.Errorf("source %s: ack: %w", s.stage.st.Name, err)
			}
		}
		if e.opts.Acked != nil {
			e.opts.Acked(ctx, s.stage.st.Name, pos)
		}
	}
	return e.firstSinkError()
}

// eachSink starts step on every sink, then waits for all of them, so sinks
// prepare and commit in parallel.
func eachSink(ctx context.Context, sinks []*sinkRT, step func(*sinkRT) (chan error, error)) error {
	dones := make([]chan error, len(sinks))
	for i, k := range sinks {
		done, err := step(k)
		if err != nil {
			return err
		}
		dones[i] = done
	}
	var first error
	for _, done := range dones {
		if done == nil {
			continue
		}
		if err := wait(ctx, done); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// snapshot captures the engine's state as checkpoint id.
func (e *engine) snapshot(id uint64) (*checkpoint.Checkpoint, error) {
	ck := &checkpoint.Checkpoint{
		Meta: checkpoint.Meta{
			ID: id, Pipeline: e.plan.Pipeline.Name.Value, Mode: string(e.plan.Mode),
			Taken: time.Now().UTC(), Watermarks: map[string]int64{},
		},
		State: map[string][]byte{},
	}
	for _, s := range e.stages {
		if s.dedupe != nil {
			ck.State[s.st.Name] = s.dedupe.Snapshot()
			ck.Meta.Stages = append(ck.Meta.Stages, checkpoint.Stage{Name: s.st.Name, Describe: describe(s.st)})
		}
		if s.op == nil {
			continue
		}
		var b bytes.Buffer
		if err := s.op.Snapshot(&b); err != nil {
			return nil, fmt.Errorf("checkpoint %d: aggregate %s: %w", id, s.st.Name, err)
		}
		ck.State[s.st.Name] = b.Bytes()
		ck.Meta.Stages = append(ck.Meta.Stages, checkpoint.Stage{Name: s.st.Name, Describe: describe(s.st)})
	}
	for _, rt := range e.srcs {
		src := checkpoint.Source{Name: rt.stage.st.Name, Plugin: rt.stage.st.Plugin.Spec.Name}
		for _, p := range rt.parts {
			if p.pos.Partition == "" {
				continue // declared, or only rejected records: nothing to resume after
			}
			src.Partitions = append(src.Partitions, checkpoint.Partition{
				Name: p.name, Offset: p.pos.Offset, Line: p.pos.Line, MaxTime: p.maxT,
			})
		}
		slices.SortFunc(src.Partitions, func(a, b checkpoint.Partition) int { return strings.Compare(a.Name, b.Name) })
		ck.Meta.Sources = append(ck.Meta.Sources, src)
		ck.Meta.Watermarks[src.Name] = rt.stage.wm
	}
	for _, k := range e.allSinks() {
		d := sdk.AtLeastOnce
		if k.committer != nil {
			d = sdk.ExactlyOnce
		}
		ck.Meta.Sinks = append(ck.Meta.Sinks, checkpoint.Sink{Name: k.st.Name, Plugin: k.st.Plugin.Spec.Name, Delivery: string(d)})
	}
	return ck, nil
}

func (e *engine) allSinks() []*sinkRT {
	if e.dlq == nil {
		return e.sinks
	}
	return append(slices.Clip(e.sinks), e.dlq)
}

func (e *engine) logf(format string, args ...any) {
	fmt.Fprintf(e.opts.Stderr, "flowctl: "+format+"\n", args...)
}
