package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
)

// stage is a pipeline stage whose plugin runs out of process. Each
// instance the engine makes of it (each Open) runs in a process of its
// own, stopped when the instance closes, so a crash stays within one
// stage. A stage restarts after a failure with backoff.
type stage struct {
	h      *Host
	kind   sdk.Kind
	name   string // the stage's name in the pipeline
	plugin string // the plugin's name
	target target
	// commits says the plugin's sinks implement sdk.Committer.
	commits bool

	mu       sync.Mutex
	restarts restarts
}

// label names the stage and its plugin in messages: "source in (file)".
func (s *stage) label() string { return fmt.Sprintf("%s %s (%s)", s.kind, s.name, s.plugin) }

// start starts a process for a new instance, after the backoff that the
// stage's failures in a row call for.
func (s *stage) start(ctx context.Context) (*process, error) {
	s.mu.Lock()
	delay := s.h.opts.Backoff.Delay(s.restarts.failures)
	s.mu.Unlock()
	if delay > 0 {
		fmt.Fprintf(s.h.stderr, "%s: restarting the plugin in %s\n", s.label(), delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	return s.h.launch(ctx, s.target, s.label())
}

func (s *stage) failed(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarts.failed(s.h.opts.Backoff, p.start, time.Now())
}

func (s *stage) closed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarts.closed()
}

// instance is what the remote source and sink share: the
// process of one open instance, and its failure once found. A source's
// Ack may come while a Read runs, so the failure is under a lock.
type instance struct {
	st *stage
	p  *process

	mu  sync.Mutex
	err *ProcessError
}

// failure returns the failure found, nil if none.
func (in *instance) failure() *ProcessError {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// open starts the instance's process.
func (in *instance) open(ctx context.Context) error {
	if in.p != nil {
		return fmt.Errorf("%s: already open", in.st.label())
	}
	p, err := in.st.start(ctx)
	if err != nil {
		return err
	}
	in.p = p
	return nil
}

// usable returns the failure that ended the instance, or an error if it
// is not open.
func (in *instance) usable() error {
	switch err := in.failure(); {
	case err != nil:
		return err
	case in.p == nil:
		return fmt.Errorf("%s: not open", in.st.label())
	}
	return nil
}

// check returns err, or, for an error of the transport, the
// ProcessError that says what happened to the process.
func (in *instance) check(err error) error {
	if err == nil || in.p == nil || !errors.Is(err, pluginrpc.ErrTransport) {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err == nil {
		in.err = in.p.failure(err)
		in.st.failed(in.p)
	}
	return in.err
}

// openFailed stops the process of an instance whose Open failed; the
// SDK's server has already closed the plugin's instance.
func (in *instance) openFailed(err error) error {
	err = in.check(err)
	in.p.stop(false)
	if in.failure() == nil {
		in.st.closed()
	}
	in.p = nil
	return err
}

// close calls closeFn, bounded by the host's close timeout when ctx has
// no deadline, and stops the process, after the sink's output arrived
// when drain is set. A plugin that does not close in time is killed.
// Closing an instance whose failure was already reported does nothing
// more and returns nil.
func (in *instance) close(ctx context.Context, closeFn func(context.Context) error, drain bool) error {
	p := in.p
	if p == nil {
		return nil
	}
	if in.failure() != nil {
		p.stop(false)
		in.p = nil
		return nil
	}
	err := closeWithin(ctx, closeFn, in.st.h.closeTimeout, p)
	err = in.check(err)
	// The process marks the end of a sink's output once the sink closed.
	p.stop(drain && err == nil)
	in.p = nil
	if in.failure() == nil {
		in.st.closed()
	}
	return err
}

// closeWithin calls closeFn and, if ctx has no deadline and the call
// does not return within timeout, kills p, which ends the call.
func closeWithin(ctx context.Context, closeFn func(context.Context) error, timeout time.Duration, p *process) error {
	if _, ok := ctx.Deadline(); ok {
		return closeFn(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- closeFn(ctx) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		p.kill()
		<-done
		return fmt.Errorf("%w: Close did not return within %s", pluginrpc.ErrTransport, timeout)
	}
}

// source is a source whose instances run in processes of their own.
type source struct {
	instance
	src   sdk.Source
	acker sdk.Acker
}

var (
	_ sdk.Source     = (*source)(nil)
	_ sdk.Acker      = (*source)(nil)
	_ sdk.Rebalancer = (*source)(nil)
)

// Open starts a process and opens the plugin's source in it.
func (s *source) Open(ctx context.Context, req sdk.OpenRequest) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	s.src = s.p.rpc.NewSource(s.st.plugin)
	if err := s.src.Open(ctx, req); err != nil {
		return s.openFailed(err)
	}
	s.acker, _ = s.src.(sdk.Acker)
	return nil
}

// Read reads a batch from the plugin's source.
func (s *source) Read(ctx context.Context) (sdk.Batch, error) {
	if err := s.usable(); err != nil {
		return sdk.Batch{}, err
	}
	b, err := s.src.Read(ctx)
	return b, s.check(err)
}

// Ack passes positions on to the plugin's source.
func (s *source) Ack(ctx context.Context, positions []sdk.Position) error {
	if err := s.usable(); err != nil {
		return err
	}
	if s.acker == nil {
		return nil
	}
	return s.check(s.acker.Ack(ctx, positions))
}

// Rebalance passes the call on to the plugin's source; it fails if that
// does not implement sdk.Rebalancer.
func (s *source) Rebalance(ctx context.Context, released []string) (sdk.Assignment, error) {
	if err := s.usable(); err != nil {
		return sdk.Assignment{}, err
	}
	r, ok := s.src.(sdk.Rebalancer)
	if !ok {
		return sdk.Assignment{}, fmt.Errorf("%s: the plugin does not share its partitions", s.st.label())
	}
	a, err := r.Rebalance(ctx, released)
	return a, s.check(err)
}

// Close closes the plugin's source and stops its process.
func (s *source) Close(ctx context.Context) error {
	return s.close(ctx, func(ctx context.Context) error { return s.src.Close(ctx) }, false)
}

// sink is a sink whose instances run in processes of their own. It
// implements sdk.Flusher; committingSink adds sdk.Committer.
type sink struct {
	instance
	sink sdk.Sink
}

var (
	_ sdk.Sink    = (*sink)(nil)
	_ sdk.Flusher = (*sink)(nil)
)

// Open starts a process and opens the plugin's sink in it.
func (s *sink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	// The client learns from the spec whether the plugin's sinks commit.
	if _, err := s.p.rpc.Specs(ctx); err != nil {
		return s.openFailed(err)
	}
	s.sink = s.p.rpc.NewSink(s.st.plugin)
	if _, commits := s.sink.(sdk.Committer); commits != s.st.commits {
		return s.openFailed(fmt.Errorf("%s: the plugin changed whether its sinks commit with checkpoints since its spec was read", s.st.label()))
	}
	if err := s.sink.Open(ctx, req); err != nil {
		return s.openFailed(err)
	}
	return nil
}

// Write writes rows to the plugin's sink.
func (s *sink) Write(ctx context.Context, rows sdk.Rows) error {
	if err := s.usable(); err != nil {
		return err
	}
	return s.check(s.sink.Write(ctx, rows))
}

// Flush flushes the plugin's sink if it buffers.
func (s *sink) Flush(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	f, ok := s.sink.(sdk.Flusher)
	if !ok {
		return nil
	}
	return s.check(f.Flush(ctx))
}

// Close closes the plugin's sink, waits for what it printed to arrive
// and stops its process.
func (s *sink) Close(ctx context.Context) error {
	return s.close(ctx, func(ctx context.Context) error { return s.sink.Close(ctx) }, true)
}

// committingSink is a sink whose plugin implements sdk.Committer.
type committingSink struct{ *sink }

var _ sdk.Committer = committingSink{}

func (s committingSink) committer() (sdk.Committer, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	c, ok := s.sink.sink.(sdk.Committer)
	if !ok {
		return nil, fmt.Errorf("%s: the plugin's sink does not commit with checkpoints", s.st.label())
	}
	return c, nil
}

// Committed asks the plugin's sink for its latest checkpoint.
func (s committingSink) Committed(ctx context.Context) (uint64, error) {
	c, err := s.committer()
	if err != nil {
		return 0, err
	}
	id, err := c.Committed(ctx)
	return id, s.check(err)
}

// Recover brings the plugin's sink to checkpoint id.
func (s committingSink) Recover(ctx context.Context, id uint64) error {
	c, err := s.committer()
	if err != nil {
		return err
	}
	return s.check(c.Recover(ctx, id))
}

// Prepare stages what the plugin's sink was given under checkpoint id.
func (s committingSink) Prepare(ctx context.Context, id uint64) error {
	c, err := s.committer()
	if err != nil {
		return err
	}
	return s.check(c.Prepare(ctx, id))
}

// Commit makes what the plugin's sink staged under id visible.
func (s committingSink) Commit(ctx context.Context, id uint64) error {
	c, err := s.committer()
	if err != nil {
		return err
	}
	return s.check(c.Commit(ctx, id))
}

// newSource and newSink make the stage's instances.
func (s *stage) newSource() sdk.Source { return &source{instance: instance{st: s}} }

func (s *stage) newSink() sdk.Sink {
	k := &sink{instance: instance{st: s}}
	if s.commits {
		return committingSink{k}
	}
	return k
}
