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
	seq    uint64 // the Read results received
}

var (
	_ sdk.Source = (*remoteSource)(nil)
	_ sdk.Acker  = (*remoteSource)(nil)
)

// Open opens an instance of the source in the plugin process. The
// Settings' Logger is not used: the plugin logs through the process.
func (s *remoteSource) Open(ctx context.Context, req sdk.OpenRequest) error {
	if s.open {
		return errors.New("source is already open")
	}
	resp, err := s.c.source.Open(ctx, &pb.SourceOpenRequest{
		Plugin: s.plugin,
		Config: req.Config,
		Format: req.Format,
		Resume: positionsToPB(req.Resume),
		Name:   req.Settings.Name,
	})
	if err != nil {
		return callError(ctx, err)
	}
	s.id, s.acks, s.open = resp.Instance, resp.Acks, true
	return nil
}

// Read returns the next batch of the plugin's source, which the plugin
// may have read ahead (see the package documentation). A cancelled Read
// returns the context's error; the batch it would have returned comes
// with the next Read.
func (s *remoteSource) Read(ctx context.Context) (sdk.Batch, error) {
	if !s.open {
		return sdk.Batch{}, errors.New("read from a source that is not open")
	}
	reply := &readReply{}
	if err := s.c.hot(ctx, pb.Source_Read_FullMethodName, &pb.SourceReadRequest{Instance: s.id, Seq: s.seq}, reply); err != nil {
		// No result: the plugin sends it again on the next Read.
		return sdk.Batch{}, callError(ctx, err)
	}
	s.seq++
	return reply.batch, reply.err
}

// Ack passes positions on to the plugin's source if it implements
// sdk.Acker, and does nothing otherwise.
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

// Close closes the instance in the plugin process. Closing a source that
// is not open does nothing.
func (s *remoteSource) Close(ctx context.Context) error {
	if !s.open {
		return nil
	}
	s.open = false
	if _, err := s.c.source.Close(ctx, &pb.SourceCloseRequest{Instance: s.id}); err != nil {
		return callError(ctx, err)
	}
	return nil
}
