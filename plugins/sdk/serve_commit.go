package sdk

import (
	"context"
	"fmt"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// committer returns the open sink instance with that id, or an error if
// there is none or its sink does not implement Committer.
func (v sinkService) committer(id uint64) (*instance[Sink], error) {
	in, err := v.s.sinks.get(id)
	if err != nil {
		return nil, err
	}
	if in.committer == nil {
		return nil, fmt.Errorf("sink instance %d does not commit with checkpoints (it does not implement sdk.Committer)", id)
	}
	return in, nil
}

// commitCall runs call on the Committer of sink instance id, one call on
// the instance at a time.
func (v sinkService) commitCall(id uint64, call func(Committer) error) error {
	in, err := v.committer(id)
	if err != nil {
		return statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := call(in.committer); err != nil {
		return statusError(err)
	}
	return nil
}

func (v sinkService) Committed(ctx context.Context, req *pb.SinkCommittedRequest) (*pb.SinkCommittedResponse, error) {
	var id uint64
	err := v.commitCall(req.Instance, func(c Committer) error {
		var err error
		id, err = c.Committed(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &pb.SinkCommittedResponse{Checkpoint: id}, nil
}

func (v sinkService) Recover(ctx context.Context, req *pb.SinkRecoverRequest) (*pb.SinkRecoverResponse, error) {
	err := v.commitCall(req.Instance, func(c Committer) error { return c.Recover(ctx, req.Checkpoint) })
	if err != nil {
		return nil, err
	}
	return &pb.SinkRecoverResponse{}, nil
}

func (v sinkService) Prepare(ctx context.Context, req *pb.SinkPrepareRequest) (*pb.SinkPrepareResponse, error) {
	err := v.commitCall(req.Instance, func(c Committer) error { return c.Prepare(ctx, req.Checkpoint) })
	if err != nil {
		return nil, err
	}
	return &pb.SinkPrepareResponse{}, nil
}

func (v sinkService) Commit(ctx context.Context, req *pb.SinkCommitRequest) (*pb.SinkCommitResponse, error) {
	err := v.commitCall(req.Instance, func(c Committer) error { return c.Commit(ctx, req.Checkpoint) })
	if err != nil {
		return nil, err
	}
	return &pb.SinkCommitResponse{}, nil
}

// Delivery serves the Delivery hook of a sink plugin. A plugin without
// one gives at-least-once, as the SDK says of a nil hook.
func (p pluginService) Delivery(_ context.Context, req *pb.DeliveryRequest) (*pb.DeliveryResponse, error) {
	pl, err := p.s.lookup(KindSink, req.Plugin)
	if err != nil {
		return nil, statusError(err)
	}
	if pl.Delivery == nil {
		return &pb.DeliveryResponse{Delivery: pb.Delivery_DELIVERY_AT_LEAST_ONCE}, nil
	}
	rep := pl.Delivery(DeliveryRequest{Config: req.Config, Key: req.Key})
	var d pb.Delivery
	switch rep.Delivery {
	case "":
		d = pb.Delivery_DELIVERY_UNSPECIFIED
	case AtLeastOnce:
		d = pb.Delivery_DELIVERY_AT_LEAST_ONCE
	case Idempotent:
		d = pb.Delivery_DELIVERY_IDEMPOTENT
	case ExactlyOnce:
		d = pb.Delivery_DELIVERY_EXACTLY_ONCE
	default:
		return nil, statusError(fmt.Errorf("sink %s: the Delivery hook returned the unknown guarantee %q", req.Plugin, rep.Delivery))
	}
	return &pb.DeliveryResponse{Delivery: d, Reason: rep.Reason}, nil
}
