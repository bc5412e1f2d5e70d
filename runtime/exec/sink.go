package exec

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/record"
)

// sinkRT feeds one sink from its own goroutine: the engine fills a batch of
// rows and hands it over a bounded channel, so a slow sink slows the
// engine down instead of growing a queue. Every call into the sink is made
// from that goroutine.
type sinkRT struct {
	st        *plan.Stage
	sink      sdk.Sink
	committer sdk.Committer // the sink, when it takes part in checkpoints
	batch     int
	instance  string // Options.Instance, for the sink's Settings
	// linger, when positive, makes the goroutine flush the sink once no
	// rows have arrived for that long (stream mode's prompt flushing).
	linger time.Duration

	cols []string
	rows [][]any

	ch      chan sinkMsg
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	written atomic.Int64
	closed  bool
}

// sinkMsg is rows to write, or a call to make on the sink goroutine once
// everything before it was written (done receives its result).
type sinkMsg struct {
	rows sdk.Rows
	call func(context.Context) error
	done chan error
}

// open opens the sink; it is started (its goroutine runs) by run, after
// recovery.
func (k *sinkRT) open(ctx context.Context, pipeline string) error {
	k.sink = k.st.Plugin.NewSink()
	req := sdk.SinkOpenRequest{Config: k.st.Config.JSON, Key: k.st.Key, Settings: sdk.Settings{Name: k.st.Name, Pipeline: pipeline, Instance: k.instance}}
	if k.st.Out.Dyn == nil {
		req.Columns = k.st.Out.Names
	}
	if err := k.sink.Open(ctx, req); err != nil {
		return fmt.Errorf("sink %s: open: %w", k.st.Name, err)
	}
	k.committer, _ = k.sink.(sdk.Committer)
	return nil
}

// run starts the sink's goroutine.
func (k *sinkRT) run(ctx context.Context) {
	k.ch = make(chan sinkMsg, 2)
	k.wg.Add(1)
	go k.loop(ctx)
}

func (k *sinkRT) loop(ctx context.Context) {
	defer k.wg.Done()
	dirty := false
	var timer *time.Timer
	var expired <-chan time.Time
	for {
		var m sinkMsg
		var ok bool
		select {
		case m, ok = <-k.ch:
		case <-expired:
			expired = nil
			if dirty && k.error() == nil {
				k.setError(k.flush(ctx))
				dirty = false
			}
			continue
		}
		if !ok {
			if timer != nil {
				timer.Stop()
			}
			return
		}
		if m.done != nil {
			err := k.error()
			if err == nil {
				err = m.call(ctx)
				k.setError(err)
				dirty = false
			}
			m.done <- err
			continue
		}
		if k.error() != nil {
			continue // drain
		}
		if err := k.sink.Write(ctx, m.rows); err != nil {
			k.setError(fmt.Errorf("sink %s: write: %w", k.st.Name, err))
			continue
		}
		k.written.Add(int64(len(m.rows.Rows)))
		dirty = true
		if k.linger > 0 {
			if timer == nil {
				timer = time.NewTimer(k.linger)
			} else {
				timer.Reset(k.linger)
			}
			expired = timer.C
		}
	}
}

// flush makes a sink that takes no part in checkpoints write what it
// buffers (an exactly-once sink's rows wait for Prepare, never here).
func (k *sinkRT) flush(ctx context.Context) error {
	if f, ok := k.sink.(sdk.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return fmt.Errorf("sink %s: flush: %w", k.st.Name, err)
		}
	}
	return nil
}

func (k *sinkRT) setError(err error) {
	k.mu.Lock()
	if k.err == nil {
		k.err = err
	}
	k.mu.Unlock()
}

func (k *sinkRT) error() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// add appends a record to the pending batch.
func (k *sinkRT) add(ctx context.Context, r *record.Record) error {
	return k.addValues(ctx, r.Values)
}

func (k *sinkRT) addValues(ctx context.Context, vals []any) error {
	cols := k.columns()
	if len(vals) < len(cols) {
		padded := make([]any, len(cols))
		n := copy(padded, vals)
		for i := n; i < len(cols); i++ {
			padded[i] = record.Absent
		}
		vals = padded
	}
	if len(cols) != len(k.cols) && k.rows != nil {
		// A schemaless layout grew: rows of one batch share their columns.
		if err := k.send(ctx); err != nil {
			return err
		}
	}
	k.cols = cols
	k.rows = append(k.rows, vals)
	if len(k.rows) >= k.batch {
		return k.send(ctx)
	}
	return nil
}

func (k *sinkRT) columns() []string {
	if k.st.Out.Dyn != nil {
		return k.st.Out.Dyn.Load().Names
	}
	return k.st.Out.Names
}

// send hands the pending batch to the sink goroutine.
func (k *sinkRT) send(ctx context.Context) error {
	if len(k.rows) == 0 {
		return k.error()
	}
	rows := sdk.Rows{Columns: k.cols, Rows: k.rows}
	k.rows = make([][]any, 0, k.batch)
	select {
	case k.ch <- sinkMsg{rows: rows}:
	case <-ctx.Done():
		return cause(ctx)
	}
	return k.error()
}

// start sends what is pending and then asks the sink goroutine to make
// call once everything before it is written. The result arrives on the
// returned channel; wait collects it.
func (k *sinkRT) start(ctx context.Context, call func(context.Context) error) (chan error, error) {
	if err := k.send(ctx); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	select {
	case k.ch <- sinkMsg{call: call, done: done}:
		return done, nil
	case <-ctx.Done():
		return nil, cause(ctx)
	}
}

func wait(ctx context.Context, done chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return cause(ctx)
	}
}

// prepare makes everything the sink was given durable: staged under
// checkpoint id for a Committer, flushed otherwise.
func (k *sinkRT) prepare(ctx context.Context, id uint64) (chan error, error) {
	if k.committer == nil {
		return k.start(ctx, k.flush)
	}
	return k.start(ctx, func(ctx context.Context) error {
		if err := k.committer.Prepare(ctx, id); err != nil {
			return fmt.Errorf("sink %s: prepare checkpoint %d: %w", k.st.Name, id, err)
		}
		return nil
	})
}

// commitID makes what a Committer staged under id visible.
func (k *sinkRT) commitID(ctx context.Context, id uint64) (chan error, error) {
	if k.committer == nil {
		return nil, nil
	}
	return k.start(ctx, func(ctx context.Context) error {
		if err := k.committer.Commit(ctx, id); err != nil {
			return fmt.Errorf("sink %s: commit checkpoint %d: %w", k.st.Name, id, err)
		}
		return nil
	})
}

func (k *sinkRT) stop() {
	if !k.closed && k.ch != nil {
		k.closed = true
		close(k.ch)
		k.wg.Wait()
	}
}

func (k *sinkRT) close(ctx context.Context) error {
	k.stop()
	if err := k.sink.Close(ctx); err != nil {
		return fmt.Errorf("sink %s: close: %w", k.st.Name, err)
	}
	return nil
}
