package sdk

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// reader is the state of a source instance's reads; the instance's mutex
// guards it.
type reader struct {
	// The read-ahead, while one runs, and results read and not yet sent
	// that a stopped read-ahead left.
	ahead   *readAhead
	pending []readResult
	// The results sent to the host, and those of the last response, sent
	// again if the host did not receive it.
	sent uint64
	last []readResult
}

// readResult is what one Source.Read returned, and its encoding once
// made.
type readResult struct {
	batch Batch
	err   error
	// The result encoded as a SourceReadResponse (or a SourceReadResult,
	// which has the same fields), ahead of the call that sends it, or the
	// error encoding it gave; both nil until then, and once sent.
	enc    *wire.Encoded
	encErr error
}

// more reports whether the source has more to give right away after this
// result: it had messages, no error and was not caught up.
func (r *readResult) more() bool {
	return r.err == nil && len(r.batch.Messages) > 0 && !r.batch.CaughtUp
}

// encode encodes the result ahead of the call that sends it.
func (r *readResult) encode() {
	r.enc, r.encErr = wire.Encode(func(b []byte) ([]byte, error) { return appendReadResponse(b, r.batch, r.err) })
}

// take returns the result's encoding, the one made ahead, which is sent
// once, or else one made now.
func (r *readResult) take() (*wire.Encoded, error) {
	if r.enc == nil && r.encErr == nil {
		r.encode()
	}
	enc, err := r.enc, r.encErr
	r.enc, r.encErr = nil, nil
	return enc, err
}

// readAhead reads a source ahead of the host on a goroutine of its own,
// up to depth results beyond those the host has taken, encoding each as
// soon as it is read. It stops after a result with no more to come, or
// when cancelled.
type readAhead struct {
	results chan readResult // in order; closed when the goroutine ends
	slots   chan struct{}   // one per result read and not yet taken
	cancel  context.CancelFunc
}

// startReadAhead starts reading src ahead. The reads run under a context
// that keeps ctx's values but not its cancellation, since the call that
// starts them returns before they do.
func startReadAhead(ctx context.Context, src Source, depth int) *readAhead {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &readAhead{results: make(chan readResult, depth), slots: make(chan struct{}, depth), cancel: cancel}
	go func() {
		defer close(a.results)
		for {
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var res readResult
			res.batch, res.err = src.Read(ctx)
			if ctx.Err() == nil {
				res.encode()
			}
			a.results <- res // a slot is taken: there is room
			if !res.more() || ctx.Err() != nil {
				return
			}
		}
	}()
	return a
}

// next returns the next result the read-ahead has, waiting for it if wait
// is set; ok is false if it has none (it ended, or has none ready and
// wait is not set). A wait that ctx ends returns ctx's error.
func (a *readAhead) next(ctx context.Context, wait bool) (res readResult, ok bool, err error) {
	if !wait {
		select {
		case res, ok = <-a.results:
		default:
			return res, false, nil
		}
	} else {
		select {
		case res, ok = <-a.results:
		case <-ctx.Done():
			return res, false, ctx.Err()
		}
	}
	if ok {
		<-a.slots
	}
	return res, ok, nil
}

// settle stops the read-ahead, if one runs, and keeps what it read for
// the next Read. The read under way is cancelled; if that made it return
// the context's error, the error is dropped: by the SDK's contract a
// cancelled Read has consumed nothing, so the next Read reads it again.
func (r *reader) settle() {
	a := r.ahead
	if a == nil {
		return
	}
	r.ahead = nil
	a.cancel()
	for res := range a.results {
		if res.err != nil && errors.Is(res.err, context.Canceled) {
			res.err = nil
			res.enc, res.encErr = nil, nil
		}
		if res.err != nil || len(res.batch.Messages) > 0 || res.batch.CaughtUp || len(res.batch.Partitions) > 0 {
			r.pending = append(r.pending, res)
		}
	}
}

// take returns the next results for a response, at least one and at most
// max: those a stopped read-ahead left, else the read-ahead's (waiting
// for the first), else one read now; then as many more as the read-ahead
// has ready. It keeps a read-ahead running while the source has more to
// give. A status means the call had no result.
func (r *reader) take(ctx context.Context, src Source, max int) ([]readResult, error) {
	n := min(max, len(r.pending))
	out := append([]readResult(nil), r.pending[:n]...)
	r.pending = r.pending[n:]
	if len(out) == 0 && r.ahead != nil {
		res, ok, err := r.ahead.next(ctx, true)
		if err != nil {
			// The read-ahead goes on; the next Read takes its result.
			return nil, statusError(err)
		}
		if ok {
			out = append(out, res)
		} else {
			r.ahead = nil
		}
	}
	if len(out) == 0 {
		var res readResult
		res.batch, res.err = src.Read(ctx)
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(res.err, ctxErr) && len(res.batch.Messages) == 0 {
			// Cancelled by the host, the source read nothing.
			return nil, statusError(res.err)
		}
		out = append(out, res)
	}
	for r.ahead != nil && len(out) < max && out[len(out)-1].more() {
		res, ok, _ := r.ahead.next(ctx, false)
		if !ok {
			break
		}
		out = append(out, res)
	}
	if r.ahead == nil && len(r.pending) == 0 && out[len(out)-1].more() {
		r.ahead = startReadAhead(ctx, src, max)
	}
	return out, nil
}

// handleRead serves Source.Read, encoding batches straight from the
// source's messages. The source's error, if any, is in the response; a
// status means the call had no result. The results of the last response
// are kept until the host asks for the next, and sent again if the host
// did not get them.
//
// Once a Read returned a batch with more to come (messages, no error, not
// caught up), the source goes on reading on a goroutine of its own, and
// each batch is encoded as soon as it is read, while earlier ones cross
// to the host and the host handles them. The host says how many results
// it takes in one response (max_results; one for an older host): a
// response holds the next result, waited for if need be, and those after
// it that are ready, up to that many, and the source reads at most that
// many results beyond those sent, so flow control stays the host's. A
// caught-up source is not read ahead, since the read would only wait.
// Close stops the read-ahead first (a cancelled Read consumes
// nothing) and keeps what it had already read; Ack runs beside reads.
func (s *server) handleRead(ctx context.Context, dec func(any) error) (any, error) {
	req := new(pb.SourceReadRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	in, err := s.sources.get(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	r := &in.reader
	switch {
	case req.Seq == r.sent:
	case len(r.last) > 0 && req.Seq+uint64(len(r.last)) == r.sent:
		// The host missed the last response.
		return r.respond(r.last)
	default:
		return nil, statusError(fmt.Errorf("read %d of a source that sent %d", req.Seq, r.sent))
	}
	results, err := r.take(ctx, in.plugin, max(int(req.MaxResults), 1))
	if err != nil {
		return nil, err
	}
	// A result after the first that cannot be encoded waits for the next
	// call, which fails with its error.
	for i := 1; i < len(results); i++ {
		if results[i].enc == nil && results[i].encErr == nil {
			results[i].encode()
		}
		if results[i].encErr != nil {
			r.pending = append(results[i:len(results):len(results)], r.pending...)
			results = results[:i]
			break
		}
	}
	r.sent += uint64(len(results))
	r.last = results
	return r.respond(results)
}

// respond encodes a response of results: the first in the response's own
// fields, the others as its more field.
func (r *reader) respond(results []readResult) (any, error) {
	first, err := results[0].take()
	if err != nil {
		return nil, statusError(err)
	}
	if len(results) == 1 {
		return first, nil
	}
	rest := make([]*wire.Encoded, len(results)-1)
	for i := range rest {
		if rest[i], err = results[i+1].take(); err != nil {
			return nil, statusError(err)
		}
	}
	return wire.NewParts(first, wire.ReadResponseMore, rest...), nil
}
