package pluginrpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// remoteSink is a sink running in a plugin process.
type remoteSink struct {
	c       *Client
	plugin  string
	id      uint64 // the instance, once open
	open    bool
	flushes bool // the plugin's sink implements sdk.Flusher
	// commits says the plugin's sinks implement sdk.Committer, and so
	// does this one (committingSink).
	commits bool
}

var (
	_ sdk.Sink    = (*remoteSink)(nil)
	_ sdk.Flusher = (*remoteSink)(nil)
)

// Open opens an instance of the sink in the plugin process. The Settings'
// Logger is not used: the plugin logs through the process.
func (s *remoteSink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	if s.open {
		return errors.New("sink is already open")
	}
	resp, err := s.c.sink.Open(ctx, &pb.SinkOpenRequest{
		Plugin:         s.plugin,
		Config:         req.Config,
		Columns:        req.Columns,
		Key:            req.Key,
		Name:           req.Settings.Name,
		Pipeline:       req.Settings.Pipeline,
		CommitProtocol: true,
		Instance:       req.Settings.Instance,
	})
	if err != nil {
		return callError(ctx, err)
	}
	s.id, s.flushes, s.open = resp.Instance, resp.Flushes, true
	if resp.Commits != s.commits {
		err := fmt.Errorf("sink plugin %s: its sinks commit with checkpoints (sdk.Committer), "+
			"but the client did not know when it made this one; make sinks after getting the plugin's spec (Client.Plugins)", s.plugin)
		if !resp.Commits {
			err = fmt.Errorf("sink plugin %s: its spec says its sinks commit with checkpoints (sdk.Committer), but this one does not", s.plugin)
		}
		if cerr := s.Close(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
		return err
	}
	return nil
}

// Write sends rows to the plugin's sink and returns once the sink has
// taken them. A value of a type the SDK does not list fails the Write
// before anything is sent.
func (s *remoteSink) Write(ctx context.Context, rows sdk.Rows) error {
	if !s.open {
		return errors.New("write to a sink that is not open")
	}
	req, err := encodeRowsRequest(wire.WriteRequestInstance, wire.WriteRequestRows, s.id, rows)
	if err != nil {
		return err
	}
	if err := s.c.hot(ctx, pb.Sink_Write_FullMethodName, req, &pb.SinkWriteResponse{}); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Flush asks the plugin's sink to make what it was given durable, if it
// implements sdk.Flusher; otherwise it does nothing.
func (s *remoteSink) Flush(ctx context.Context) error {
	if !s.open || !s.flushes {
		return nil
	}
	if _, err := s.c.sink.Flush(ctx, &pb.SinkFlushRequest{Instance: s.id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}

// Close closes the instance in the plugin process. Closing a sink that is
// not open does nothing.
func (s *remoteSink) Close(ctx context.Context) error {
	if !s.open {
		return nil
	}
	s.open = false
	if _, err := s.c.sink.Close(ctx, &pb.SinkCloseRequest{Instance: s.id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}
