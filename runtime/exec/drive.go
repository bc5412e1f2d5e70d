package exec

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/window"
)

// lingerStream is how long a sink waits for more rows before flushing in
// stream mode.
const lingerStream = 2 * time.Millisecond

// run opens the sinks and sources, starts a reader per source and hands
// over to the mode's driver. The drivers differ only in when they wait,
// flush and commit: records and watermarks go through the same code.
func (e *engine) run(ctx context.Context, cancel context.CancelCauseFunc) (err error) {
	// Sinks get a context of their own: a stop signal ends reading, but
	// what was read is still written and flushed.
	sinkCtx, sinkCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer sinkCancel(nil)
	var opened []*sinkRT
	defer func() {
		if err != nil {
			sinkCancel(err)
		}
		for _, k := range opened {
			if cerr := k.close(sinkCtx); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	// Stages open in parallel: each may start a plugin process.
	sinks := e.allSinks()
	sinkErrs := inParallel(len(sinks), func(i int) error {
		k := sinks[i]
		err := k.open(sinkCtx, e.plan.Pipeline.Name.Value)
		if e.plan.Mode == config.Stream && k.committer == nil {
			// Rows of an exactly-once sink wait for their checkpoint;
			// the others are flushed once no rows came for a while.
			k.linger = lingerStream
		}
		return err
	})
	for i, k := range sinks {
		if sinkErrs[i] == nil {
			opened = append(opened, k)
		}
	}
	if err := firstError(sinkErrs); err != nil {
		return err
	}
	if err := e.recover(sinkCtx); err != nil {
		return err
	}
	for _, k := range opened {
		k.run(sinkCtx)
	}
	srcErrs := inParallel(len(e.srcs), func(i int) error {
		return e.srcs[i].open(ctx, e.plan.Pipeline.Name.Value, e.batch)
	})
	for i, s := range e.srcs {
		if srcErrs[i] == nil {
			defer s.close(context.WithoutCancel(ctx))
		}
	}
	if err := firstError(srcErrs); err != nil {
		return err
	}
	chunks := make(chan *chunk, 2*len(e.srcs))
	var readers sync.WaitGroup
	// Runs before the sources' Close (deferred above): no Read may be in
	// flight when a source is closed.
	defer func() {
		cancel(nil)
		readers.Wait()
	}()
	for _, s := range e.srcs {
		readers.Go(func() { s.read(ctx, e.opts.Now, chunks, cancel) })
	}
	d := driver{e: e, ctx: ctx, sinkCtx: sinkCtx, chunks: chunks, live: len(e.srcs)}
	switch e.plan.Mode {
	case config.MicroBatch:
		err = d.microBatch()
	case config.Stream:
		err = d.stream()
	default:
		err = d.batch()
	}
	if errors.Is(err, errStopped) {
		e.stopped = true
	} else if err != nil {
		return err
	} else {
		// Every source ended: the watermark jumps to the end of time and
		// every window closes.
		for _, s := range e.srcs {
			if err := e.sourceWatermark(sinkCtx, s, maxWatermark); err != nil {
				return err
			}
		}
		if err := e.flushOperators(sinkCtx, true); err != nil {
			return err
		}
	}
	return d.commit(true)
}

// errStopped means the run was stopped from outside before its input
// ended; what was read is still committed.
var errStopped = errors.New("stopped")

// driver runs the engine loop of one mode.
type driver struct {
	e       *engine
	ctx     context.Context // reading: cancelled by a stop
	sinkCtx context.Context // writing: cancelled only by errors
	chunks  chan *chunk
	pending *chunk // micro-batch: the part of a chunk left for the next trigger
	live    int    // sources not ended
}

// receive waits for the next chunk or a tick. It returns errStopped when
// the run is stopped from outside, and the cause when it failed.
func (d *driver) receive(tick <-chan time.Time) (c *chunk, ticked bool, err error) {
	select {
	case c = <-d.chunks:
		return c, false, nil
	case <-tick:
		return nil, true, nil
	case <-d.ctx.Done():
		if err := cause(d.ctx); !errors.Is(err, context.Canceled) {
			return nil, false, err
		}
		return nil, false, errStopped
	}
}

// handle processes a chunk with the engine's shared record path.
func (d *driver) handle(c *chunk) error {
	if err := d.e.process(d.sinkCtx, c); err != nil {
		return err
	}
	c.src.caughtUp = c.caughtUp
	if c.last {
		d.live--
		c.src.done = true
		if !d.e.batch {
			// A finished source no longer holds the watermark back.
			return d.e.sourceWatermark(d.sinkCtx, c.src, maxWatermark)
		}
	}
	return nil
}

// batch reads everything; the watermark moves once, at the end.
func (d *driver) batch() error {
	for d.live > 0 {
		c, _, err := d.receive(nil)
		if err != nil {
			return err
		}
		if err := d.handle(c); err != nil {
			return err
		}
		d.e.progress()
	}
	return nil
}

// stream processes chunks as they come, emits what the windows produced
// after each one, and commits every CommitEvery.
func (d *driver) stream() error {
	e := d.e
	ticker := time.NewTicker(e.tickInterval())
	defer ticker.Stop()
	lastCommit := e.opts.Now()
	for d.live > 0 {
		c, ticked, err := d.receive(ticker.C)
		if err != nil {
			return err
		}
		if ticked {
			if err := e.expireIdle(d.sinkCtx); err != nil {
				return err
			}
		} else if err := d.handle(c); err != nil {
			return err
		}
		if err := e.flushOperators(d.sinkCtx, false); err != nil {
			return err
		}
		if err := e.flushSinks(d.sinkCtx); err != nil {
			return err
		}
		if now := e.opts.Now(); now.Sub(lastCommit) >= e.opts.CommitEvery {
			lastCommit = now
			if err := d.commit(false); err != nil {
				return err
			}
		}
		e.progress()
	}
	return nil
}

// microBatch runs triggers: each reads what the sources have available
// (at most MaxRecords), processes it record by record exactly as stream
// mode does, emits, and commits.
func (d *driver) microBatch() error {
	e := d.e
	t := e.plan.Trigger
	next := e.opts.Now()
	for {
		if wait := next.Sub(e.opts.Now()); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-d.ctx.Done():
				timer.Stop()
				if err := cause(d.ctx); !errors.Is(err, context.Canceled) {
					return err
				}
				return errStopped
			}
		}
		next = e.opts.Now().Add(t.Every)
		e.triggers.Add(1)
		read, caughtUp, err := d.trigger(t.MaxRecords)
		if err != nil {
			return err
		}
		if err := e.expireIdle(d.sinkCtx); err != nil {
			return err
		}
		if err := e.flushOperators(d.sinkCtx, true); err != nil {
			return err
		}
		if err := d.commit(false); err != nil {
			return err
		}
		e.progress()
		switch {
		case d.live == 0:
			return nil
		case t.Once:
			return errStopped
		case t.AvailableNow && caughtUp && read == 0:
			return errStopped
		}
	}
}

// trigger reads chunks until every live source is caught up (its last
// chunk said so and nothing of it is pending) or has ended, or limit
// records were read. It reports what it read and whether
// it stopped because the sources were caught up.
func (d *driver) trigger(limit int64) (read int64, caughtUp bool, err error) {
	for d.live > 0 && (limit <= 0 || read < limit) {
		var c *chunk
		if d.pending != nil {
			c, d.pending = d.pending, nil
		} else {
			select {
			case c = <-d.chunks:
			default:
				if d.allCaughtUp() {
					return read, true, nil
				}
				if c, _, err = d.receive(nil); err != nil {
					return read, false, err
				}
			}
		}
		if n := int64(len(c.recs)); limit > 0 && read+n > limit {
			// Split: the rest waits for the next trigger, with the
			// rejected records, whose positions may lie anywhere in the
			// chunk: a checkpoint after this trigger must not cover
			// records it has not processed.
			k := int(limit - read)
			d.pending = &chunk{src: c.src, recs: c.recs[k:], bad: c.bad, last: c.last, caughtUp: c.caughtUp, readAt: c.readAt}
			c = &chunk{src: c.src, recs: c.recs[:k], readAt: c.readAt}
		}
		read += int64(len(c.recs) + len(c.bad))
		if err := d.handle(c); err != nil {
			return read, false, err
		}
	}
	return read, d.live == 0, nil
}

func (d *driver) allCaughtUp() bool {
	if d.pending != nil {
		return false
	}
	for _, s := range d.e.srcs {
		if !s.done && !s.caughtUp {
			return false
		}
	}
	return true
}

// commit takes a checkpoint: the sinks make everything durable, the state
// is saved, and the sources are acknowledged. The final commit also stops
// the sink goroutines.
func (d *driver) commit(final bool) error {
	e := d.e
	if err := e.takeCheckpoint(d.sinkCtx); err != nil {
		return err
	}
	if final {
		for _, k := range e.allSinks() {
			k.stop()
		}
	}
	return e.firstSinkError()
}

// tickInterval is how often stream mode looks at processing time: for
// idle partitions and emit:updates intervals.
func (e *engine) tickInterval() time.Duration {
	d := 100 * time.Millisecond
	for _, s := range e.stages {
		if s.st.IdleTimeout > 0 {
			d = min(d, max(time.Duration(s.st.IdleTimeout)/2, time.Millisecond))
		}
		if s.st.UpdateEvery > 0 {
			d = min(d, max(time.Duration(s.st.UpdateEvery)/2, time.Millisecond))
		}
	}
	return d
}

// expireIdle lets partitions that were silent for their idle timeout stop
// holding the watermark back.
func (e *engine) expireIdle(ctx context.Context) error {
	now := e.opts.Now().UnixNano()
	for _, s := range e.srcs {
		if s.expireIdle(now) {
			if wm := s.watermark(); wm > s.stage.wm {
				s.stage.wm = wm
			}
			if err := e.propagate(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushOperators emits what the window operators hold for emission:
// re-emitted rows of windows updated by late records, and, for emit:
// updates, the current rows of changed windows once their interval has
// passed (always, when force is set).
func (e *engine) flushOperators(ctx context.Context, force bool) error {
	now := e.opts.Now().UnixNano()
	for _, s := range e.stages {
		if s.op == nil {
			continue
		}
		if s.st.Emit == window.Updates && !force && now-s.lastUpdate < s.st.UpdateEvery {
			continue
		}
		s.lastUpdate = now
		var err error
		s.op.Flush(func(row window.Row) {
			if err == nil {
				err = e.emitRow(ctx, s, row)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// progress reports running totals when asked to.
func (e *engine) progress() {
	if e.opts.Progress == nil {
		return
	}
	if now := e.opts.Now(); now.Sub(e.lastProgress) >= e.opts.ProgressEvery {
		e.lastProgress = now
		e.opts.Progress(e.summary())
	}
}

// inParallel runs f for 0..n-1 at once and returns each one's error.
func inParallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

// firstError returns the first non-nil error, in stage order.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
