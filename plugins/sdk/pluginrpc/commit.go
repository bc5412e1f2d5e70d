package pluginrpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// committingSink is a sink running in a plugin process whose sink
// implements sdk.Committer; the commit protocol's calls reach it.
type committingSink struct {
	*remoteSink
}

var (
	_ sdk.Sink      = (*committingSink)(nil)
	_ sdk.Flusher   = (*committingSink)(nil)
	_ sdk.Committer = (*committingSink)(nil)
)

// errNotOpen is the error of a commit protocol call on a sink that is
// not open.
var errNotOpen = errors.New("commit protocol call on a sink that is not open")

// Committed implements sdk.Committer.
func (s *committingSink) Committed(ctx context.Context) (uint64, error) {
	if !s.open {
		return 0, errNotOpen
	}
	resp, err := s.c.sink.Committed(ctx, &pb.SinkCommittedRequest{Instance: s.id})
	if err != nil {
		return 0, callError(ctx, err)
	}
	return resp.Checkpoint, nil
}

// Recover implements sdk.Committer.
func (s *committingSink) Recover(ctx context.Context, id uint64) error {
	if !s.open {
		return errNotOpen
	}
	if _, err := s.c.sink.Recover(ctx, &pb.SinkRecoverRequest{Instance: s.id, Checkpoint: id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Prepare implements sdk.Committer.
func (s *committingSink) Prepare(ctx context.Context, id uint64) error {
	if !s.open {
		return errNotOpen
	}
	if _, err := s.c.sink.Prepare(ctx, &pb.SinkPrepareRequest{Instance: s.id, Checkpoint: id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Commit implements sdk.Committer.
func (s *committingSink) Commit(ctx context.Context, id uint64) error {
	if !s.open {
		return errNotOpen
	}
	if _, err := s.c.sink.Commit(ctx, &pb.SinkCommitRequest{Instance: s.id, Checkpoint: id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Delivery asks the sink plugin of that name which guarantee it gives
// under req, with its Delivery hook (sdk.Plugin.Delivery). A plugin
// without the hook, or one older than the hook, gives at-least-once.
func (c *Client) Delivery(ctx context.Context, name string, req sdk.DeliveryRequest) (sdk.DeliveryReport, error) {
	resp, err := c.plugin.Delivery(ctx, &pb.DeliveryRequest{Plugin: name, Config: req.Config, Key: req.Key})
	if status.Code(err) == codes.Unimplemented && ctx.Err() == nil {
		return sdk.DeliveryReport{Delivery: sdk.AtLeastOnce}, nil
	}
	if err != nil {
		return sdk.DeliveryReport{}, callError(ctx, err)
	}
	rep := sdk.DeliveryReport{Reason: resp.Reason}
	switch resp.Delivery {
	case pb.Delivery_DELIVERY_UNSPECIFIED:
	case pb.Delivery_DELIVERY_AT_LEAST_ONCE:
		rep.Delivery = sdk.AtLeastOnce
	case pb.Delivery_DELIVERY_IDEMPOTENT:
		rep.Delivery = sdk.Idempotent
	case pb.Delivery_DELIVERY_EXACTLY_ONCE:
		rep.Delivery = sdk.ExactlyOnce
	default:
		return sdk.DeliveryReport{}, fmt.Errorf("%w: sink plugin %s: unknown guarantee %s", ErrTransport, name, resp.Delivery)
	}
	return rep, nil
}
