package pluginrpc

import (
	"context"
	"errors"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// remoteSource is a source running in a plugin process.
type remoteSource struct {
	c      *Client
	plugin string
	id     uint64 // the instance, once open
	open   bool
	acks   bool   // the plugin's source implements sdk.Acker
	rebal  bool   // the plugin's source implements sdk.Rebalancer
	seq    uint64 // the Read results received from the plugin
	// The results received and not yet returned, whether the last one
	// received had more to come, and the call made ahead, if any.
	queue []readResult
	more  bool
	ahead *readCall
}

// readResults is how many Read results the host takes in one response:
// when the host is slower than the source, the plugin sends as many as
// it has read ahead, up to this, in one call. It is also how far the
// plugin reads ahead of the results it sent.
const readResults = 4

// readCall is a Read call made ahead of the host's next Read (see Read).
type readCall struct {
	done   chan struct{} // closed when the call returned
	cancel context.CancelFunc
	reply  readReply
	err    error // the call had no result
}

var (
	_ sdk.Source     = (*remoteSource)(nil)
	_ sdk.Acker      = (*remoteSource)(nil)
	_ sdk.Rebalancer = (*remoteSource)(nil)
)

// Open opens an instance of the source in the plugin process. The
// Settings' Logger is not used: the plugin logs through the process.
func (s *remoteSource) Open(ctx context.Context, req sdk.OpenRequest) error {
	if s.open {
		return errors.New("source is already open")
	}
	resp, err := s.c.source.Open(ctx, &pb.SourceOpenRequest{
		Plugin:     s.plugin,
		Config:     req.Config,
		Format:     req.Format,
		Resume:     positionsToPB(req.Resume),
		Name:       req.Settings.Name,
		Pipeline:   req.Settings.Pipeline,
		Instance:   req.Settings.Instance,
		Bounded:    req.Bounded,
		Partitions: req.Partitions,
		Coordinate: req.Coordinate,
	})
	if err != nil {
		return callError(ctx, err)
	}
	s.id, s.acks, s.rebal, s.open = resp.Instance, resp.Acks, resp.Rebalances, true
	return nil
}

// Read returns the next batch of the plugin's source, which the plugin
// may have read ahead (see the package documentation).
//
// One call brings the next result and those after it the plugin has
// already read, up to readResults; Read returns them one by one. When at
// most one is left and the source has more to come (the last result had
// messages, no error and was not caught up), the next call is made at
// once, on a goroutine of its own, so that its batches cross and are
// decoded while the host handles these; a later Read takes its results.
// A Read with a cancelled context returns the context's error and takes
// nothing: the batch it would have returned comes with the next Read.
func (s *remoteSource) Read(ctx context.Context) (sdk.Batch, error) {
	if !s.open {
		return sdk.Batch{}, errors.New("read from a source that is not open")
	}
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if len(s.queue) == 0 {
		results, err := s.receive(ctx)
		if err != nil {
			return sdk.Batch{}, err
		}
		s.queue = results
	}
	res := s.queue[0]
	s.queue[0] = readResult{}
	s.queue = s.queue[1:]
	if s.ahead == nil && len(s.queue) <= 1 && s.more {
		s.readAhead(ctx)
	}
	return res.batch, res.err
}

// receive returns the results of the call made ahead, or else of a call
// made now. A call without a result (cancelled, failed in the transport)
// took nothing: the plugin sends its results again on the next call.
func (s *remoteSource) receive(ctx context.Context) ([]readResult, error) {
	reply := &readReply{}
	if a := s.ahead; a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			// The call goes on; the next Read takes its results.
			return nil, ctx.Err()
		}
		s.ahead = nil
		if a.err != nil {
			return nil, a.err
		}
		reply = &a.reply
	} else if err := s.call(ctx, reply); err != nil {
		return nil, err
	}
	results := reply.results()
	s.seq += uint64(len(results))
	s.more = results[len(results)-1].more()
	return results, nil
}

// call makes one Read call for the results after those received.
func (s *remoteSource) call(ctx context.Context, reply *readReply) error {
	req := &pb.SourceReadRequest{Instance: s.id, Seq: s.seq, MaxResults: readResults}
	if err := s.c.hot(ctx, pb.Source_Read_FullMethodName, req, reply); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// readAhead makes the next Read call on a goroutine. The call runs under
// a context that keeps ctx's values but not its cancellation, since the
// Read it belongs to has returned.
func (s *remoteSource) readAhead(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &readCall{done: make(chan struct{}), cancel: cancel}
	s.ahead = a
	go func() {
		defer close(a.done)
		a.err = s.call(ctx, &a.reply)
	}()
}

// settle stops the call made ahead, if any, before Close, which the
// plugin would otherwise serve only once the source has read. Results the call already had are kept for the next Read; a
// call stopped before it had them took nothing, and the plugin sends
// them again.
func (s *remoteSource) settle() {
	a := s.ahead
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
	if a.err != nil {
		s.ahead = nil
	}
}

// Ack passes positions on to the plugin's source if it implements
// sdk.Acker, and does nothing otherwise. It may overlap a Read (see
// sdk.Acker): it leaves the read made ahead alone, and the plugin serves
// it beside the source's reads.
func (s *remoteSource) Ack(ctx context.Context, positions []sdk.Position) error {
	if !s.open || !s.acks {
		return nil
	}
	_, err := s.c.source.Ack(ctx, &pb.SourceAckRequest{Instance: s.id, Positions: positionsToPB(positions)})
	if err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Rebalance calls the plugin's source's Rebalance (see sdk.Rebalancer). It
// fails if the source does not implement it. It may overlap Ack.
func (s *remoteSource) Rebalance(ctx context.Context, released []string) (sdk.Assignment, error) {
	if !s.open || !s.rebal {
		return sdk.Assignment{}, errors.New("the source does not share its partitions (it does not implement sdk.Rebalancer)")
	}
	resp, err := s.c.source.Rebalance(ctx, &pb.SourceRebalanceRequest{Instance: s.id, Released: released})
	if err != nil {
		return sdk.Assignment{}, callError(ctx, err)
	}
	return sdk.Assignment{Assigned: resp.Assigned, Revoked: resp.Revoked, Lost: resp.Lost}, nil
}

// Rebalances reports whether the plugin's source implements
// sdk.Rebalancer; known once the source is open.
func (s *remoteSource) Rebalances() bool { return s.rebal }

// Close closes the instance in the plugin process. Closing a source that
// is not open does nothing.
func (s *remoteSource) Close(ctx context.Context) error {
	if !s.open {
		return nil
	}
	s.settle()
	s.ahead, s.queue = nil, nil
	s.open = false
	if _, err := s.c.source.Close(ctx, &pb.SourceCloseRequest{Instance: s.id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}
