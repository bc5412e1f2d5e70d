package wire

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// Field numbers of the hot messages, which both ends encode and decode by
// hand. TestFieldNumbers checks them against the generated descriptors.
const (
	// flowctl.plugin.v1.SourceReadResponse, whose fields 1 and 2 are
	// also those of a SourceReadResult
	ReadResponseBatch protowire.Number = 1
	ReadResponseError protowire.Number = 2
	ReadResponseMore  protowire.Number = 3

	// flowctl.plugin.v1.Batch
	BatchMessages   protowire.Number = 1
	BatchCaughtUp   protowire.Number = 2
	BatchLayouts    protowire.Number = 3
	BatchPartitions protowire.Number = 4
	BatchKnown      protowire.Number = 5

	// flowctl.plugin.v1.Layout
	LayoutNames protowire.Number = 1

	// flowctl.plugin.v1.Message
	MessagePayload   protowire.Number = 1
	MessageLayout    protowire.Number = 2
	MessageValues    protowire.Number = 3
	MessageMeta      protowire.Number = 4
	MessageTime      protowire.Number = 5
	MessageWideTime  protowire.Number = 6
	MessagePartition protowire.Number = 7
	MessageOffset    protowire.Number = 8
	MessageLine      protowire.Number = 9
	MessageReject    protowire.Number = 10

	// flowctl.plugin.v1.Field
	FieldName  protowire.Number = 1
	FieldValue protowire.Number = 2

	// flowctl.plugin.v1.SinkWriteRequest
	WriteRequestInstance protowire.Number = 1
	WriteRequestRows     protowire.Number = 2

	// flowctl.plugin.v1.TransformProcessRequest
	ProcessRequestInstance protowire.Number = 1
	ProcessRequestRows     protowire.Number = 2

	// flowctl.plugin.v1.TransformProcessResponse
	ProcessResponseRows protowire.Number = 1
)

// AppendMessage appends field num holding m, encoded by the generated
// code; for the few plain messages inside hot ones (an Error).
func AppendMessage(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(proto.Size(m)))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
}

// Error reads a field holding a flowctl.plugin.v1.Error.
func (r *Reader) Error(typ protowire.Type) (*pb.Error, error) {
	b, err := r.Bytes(typ)
	if err != nil {
		return nil, err
	}
	e := new(pb.Error)
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}

// ToPB converts a value to the generated Value type, for messages that
// are not hot (spec defaults).
func ToPB(v, absent any) (*pb.Value, error) {
	b, err := appendValueBody(nil, v, absent)
	if err != nil {
		return nil, err
	}
	m := new(pb.Value)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// FromPB converts a generated Value back to a Go value.
func FromPB(m *pb.Value, absent any) (any, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	r := NewReader(b, absent)
	return r.valueBody()
}
