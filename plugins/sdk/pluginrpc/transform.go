package pluginrpc

import (
	"context"
	"errors"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// remoteTransform is a transform running in a plugin process.
type remoteTransform struct {
	c      *Client
	plugin string
	id     uint64 // the instance, once open
	open   bool
}

var _ sdk.Transform = (*remoteTransform)(nil)

// Open opens an instance of the transform in the plugin process and
// returns its output columns. The Settings' Logger is not used: the
// plugin logs through the process.
func (t *remoteTransform) Open(ctx context.Context, req sdk.TransformOpenRequest) ([]string, error) {
	if t.open {
		return nil, errors.New("transform is already open")
	}
	resp, err := t.c.transform.Open(ctx, &pb.TransformOpenRequest{
		Plugin:   t.plugin,
		Config:   req.Config,
		Columns:  req.Columns,
		Name:     req.Settings.Name,
		Pipeline: req.Settings.Pipeline,
	})
	if err != nil {
		return nil, callError(ctx, err)
	}
	t.id, t.open = resp.Instance, true
	return resp.Columns, nil
}

// Process runs a batch of rows through the plugin's transform.
func (t *remoteTransform) Process(ctx context.Context, in sdk.Rows) (sdk.Rows, error) {
	if !t.open {
		return sdk.Rows{}, errors.New("process with a transform that is not open")
	}
	req, err := encodeRowsRequest(wire.ProcessRequestInstance, wire.ProcessRequestRows, t.id, in)
	if err != nil {
		return sdk.Rows{}, err
	}
	reply := &rowsReply{}
	if err := t.c.hot(ctx, pb.Transform_Process_FullMethodName, req, reply); err != nil {
		return sdk.Rows{}, callError(ctx, err)
	}
	return reply.rows, nil
}

// Close closes the instance in the plugin process. Closing a transform
// that is not open does nothing.
func (t *remoteTransform) Close(ctx context.Context) error {
	if !t.open {
		return nil
	}
	t.open = false
	if _, err := t.c.transform.Close(ctx, &pb.TransformCloseRequest{Instance: t.id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}
