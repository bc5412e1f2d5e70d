package pluginrpc

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// readResult is one Read result: a batch and the error that came with
// it.
type readResult struct {
	batch sdk.Batch
	err   error
}

// more reports whether the source had more to give right away after
// this result: messages, no error, not caught up.
func (r *readResult) more() bool {
	return r.err == nil && len(r.batch.Messages) > 0 && !r.batch.CaughtUp
}

// field decodes field num of a SourceReadResponse or SourceReadResult,
// the batch or the error, and skips any other.
func (r *readResult) field(rd *wire.Reader, num protowire.Number, typ protowire.Type) error {
	switch num {
	case wire.ReadResponseBatch:
		m, err := rd.Message(typ)
		if err != nil {
			return err
		}
		r.batch, err = decodeBatch(m)
		return err
	case wire.ReadResponseError:
		e, err := rd.Error(typ)
		if err != nil {
			return err
		}
		r.err = errorFromPB(e)
		return nil
	}
	return rd.Skip(num, typ)
}

// readReply is a flowctl.plugin.v1.SourceReadResponse, decoded straight
// into batches: the first result, and the ones after it.
type readReply struct {
	readResult
	more []readResult
}

var _ wire.Unmarshaler = (*readReply)(nil)

// UnmarshalWire implements wire.Unmarshaler.
func (r *readReply) UnmarshalWire(b []byte) error {
	rd := wire.NewReader(b, sdk.Absent)
	for !rd.Done() {
		num, typ, err := rd.Next()
		if err != nil {
			return err
		}
		if num != wire.ReadResponseMore {
			if err := r.field(&rd, num, typ); err != nil {
				return err
			}
			continue
		}
		m, err := rd.Message(typ)
		if err != nil {
			return err
		}
		var res readResult
		for !m.Done() {
			num, typ, err := m.Next()
			if err != nil {
				return err
			}
			if err := res.field(&m, num, typ); err != nil {
				return fmt.Errorf("result %d: %w", len(r.more)+1, err)
			}
		}
		r.more = append(r.more, res)
	}
	return nil
}

// results returns the reply's results in order.
func (r *readReply) results() []readResult {
	return append([]readResult{r.readResult}, r.more...)
}

// decodeBatch decodes a Batch in two passes: first what the messages refer
// to (layouts, partitions), which may come anywhere in the batch, then the
// messages. All messages' fields share one backing array.
func decodeBatch(rd wire.Reader) (sdk.Batch, error) {
	var (
		batch      sdk.Batch
		layouts    [][]string
		partitions []string
		count      int
	)
	first := rd
	for !first.Done() {
		num, typ, err := first.Next()
		if err != nil {
			return batch, err
		}
		switch num {
		case wire.BatchMessages:
			count++
			err = first.Skip(num, typ)
		case wire.BatchCaughtUp:
			var v uint64
			v, err = first.Varint(typ)
			batch.CaughtUp = v != 0
		case wire.BatchLayouts:
			var l []string
			l, err = decodeLayout(&first, typ)
			layouts = append(layouts, l)
		case wire.BatchPartitions:
			var p string
			p, err = first.String(typ)
			partitions = append(partitions, p)
		case wire.BatchKnown:
			var p string
			p, err = first.String(typ)
			batch.Partitions = append(batch.Partitions, p)
		default:
			err = first.Skip(num, typ)
		}
		if err != nil {
			return batch, err
		}
	}
	if count == 0 {
		return batch, nil
	}
	batch.Messages = make([]sdk.Message, count)
	i := 0
	var fields []sdk.Field
	if len(layouts) > 0 {
		fields = make([]sdk.Field, 0, count*len(layouts[0]))
	}
	for !rd.Done() {
		num, typ, err := rd.Next()
		if err != nil {
			return batch, err
		}
		if num != wire.BatchMessages {
			if err := rd.Skip(num, typ); err != nil {
				return batch, err
			}
			continue
		}
		m, err := rd.Message(typ)
		if err != nil {
			return batch, err
		}
		if fields, err = decodeMessage(m, &batch.Messages[i], fields, layouts, partitions); err != nil {
			return batch, fmt.Errorf("message %d: %w", i, err)
		}
		i++
	}
	return batch, nil
}

func decodeLayout(rd *wire.Reader, typ protowire.Type) ([]string, error) {
	m, err := rd.Message(typ)
	if err != nil {
		return nil, err
	}
	var names []string
	for !m.Done() {
		num, typ, err := m.Next()
		if err != nil {
			return nil, err
		}
		if num != wire.LayoutNames {
			if err := m.Skip(num, typ); err != nil {
				return nil, err
			}
			continue
		}
		n, err := m.String(typ)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

// decodeMessage decodes a Message into msg, appending its fields to
// fields, and returns fields.
func decodeMessage(rd wire.Reader, msg *sdk.Message, fields []sdk.Field, layouts [][]string, partitions []string) ([]sdk.Field, error) {
	start := len(fields)
	layout := 0
	part := uint64(0)
	for !rd.Done() {
		num, typ, err := rd.Next()
		if err != nil {
			return fields, err
		}
		switch num {
		case wire.MessagePayload:
			msg.Payload, err = rd.CopyBytes(typ)
		case wire.MessageLayout:
			var v uint64
			v, err = rd.Varint(typ)
			if err == nil && (v == 0 || v > uint64(len(layouts))) {
				err = fmt.Errorf("layout %d of %d", v, len(layouts))
			}
			layout = int(v)
		case wire.MessageValues:
			var v any
			if v, err = rd.Value(typ); err == nil {
				fields = append(fields, sdk.Field{Value: v})
			}
		case wire.MessageMeta:
			var f sdk.Field
			f, err = decodeField(&rd, typ)
			msg.Meta = append(msg.Meta, f)
		case wire.MessageTime:
			var v uint64
			v, err = rd.Fixed64(typ)
			msg.Time = time.Unix(0, int64(v)).UTC()
		case wire.MessageWideTime:
			msg.Time, err = rd.WideTime(typ)
		case wire.MessagePartition:
			part, err = rd.Varint(typ)
		case wire.MessageOffset:
			var v uint64
			v, err = rd.Varint(typ)
			msg.Position.Offset = int64(v)
		case wire.MessageLine:
			var v uint64
			v, err = rd.Varint(typ)
			msg.Position.Line = int64(v)
		case wire.MessageReject:
			msg.Reject, err = rd.String(typ)
		default:
			err = rd.Skip(num, typ)
		}
		if err != nil {
			return fields, err
		}
	}
	switch {
	case part < uint64(len(partitions)):
		msg.Position.Partition = partitions[part]
	case part > 0:
		return fields, fmt.Errorf("partition %d of %d", part, len(partitions))
	}
	n := len(fields) - start
	if layout == 0 {
		if n > 0 {
			return fields, fmt.Errorf("%d values without a layout", n)
		}
		return fields, nil
	}
	names := layouts[layout-1]
	if n != len(names) {
		return fields, fmt.Errorf("%d values for %d field names", n, len(names))
	}
	fs := fields[start:len(fields):len(fields)]
	for i := range fs {
		fs[i].Name = names[i]
	}
	msg.Fields = fs
	return fields, nil
}

// decodeField decodes a Field (message metadata).
func decodeField(rd *wire.Reader, typ protowire.Type) (sdk.Field, error) {
	var f sdk.Field
	m, err := rd.Message(typ)
	if err != nil {
		return f, err
	}
	for !m.Done() {
		num, typ, err := m.Next()
		if err != nil {
			return f, err
		}
		switch num {
		case wire.FieldName:
			f.Name, err = m.String(typ)
		case wire.FieldValue:
			f.Value, err = m.Value(typ)
		default:
			err = m.Skip(num, typ)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// rowsReply is a flowctl.plugin.v1.TransformProcessResponse, decoded
// straight into rows.
type rowsReply struct{ rows sdk.Rows }

var _ wire.Unmarshaler = (*rowsReply)(nil)

// UnmarshalWire implements wire.Unmarshaler.
func (r *rowsReply) UnmarshalWire(b []byte) error {
	rd := wire.NewReader(b, sdk.Absent)
	for !rd.Done() {
		num, typ, err := rd.Next()
		if err != nil {
			return err
		}
		if num != wire.ProcessResponseRows {
			if err := rd.Skip(num, typ); err != nil {
				return err
			}
			continue
		}
		if r.rows.Columns, r.rows.Rows, err = rd.Rows(typ); err != nil {
			return err
		}
	}
	return nil
}

// encodeRowsRequest encodes a request of an instance id and rows: a
// SinkWriteRequest or a TransformProcessRequest, by its field numbers.
func encodeRowsRequest(instanceNum, rowsNum protowire.Number, id uint64, rows sdk.Rows) (*wire.Encoded, error) {
	return wire.Encode(func(b []byte) ([]byte, error) {
		b = protowire.AppendTag(b, instanceNum, protowire.VarintType)
		b = protowire.AppendVarint(b, id)
		return wire.AppendRows(b, rowsNum, rows.Columns, rows.Rows, sdk.Absent)
	})
}

func kindToPB(k sdk.Kind) pb.Kind {
	switch k {
	case sdk.KindSource:
		return pb.Kind_KIND_SOURCE
	case sdk.KindSink:
		return pb.Kind_KIND_SINK
	case sdk.KindTransform:
		return pb.Kind_KIND_TRANSFORM
	}
	return pb.Kind_KIND_UNSPECIFIED
}

func kindFromPB(k pb.Kind) (sdk.Kind, error) {
	switch k {
	case pb.Kind_KIND_SOURCE:
		return sdk.KindSource, nil
	case pb.Kind_KIND_SINK:
		return sdk.KindSink, nil
	case pb.Kind_KIND_TRANSFORM:
		return sdk.KindTransform, nil
	}
	return "", fmt.Errorf("unknown plugin kind %s", k)
}

func specFromPB(s *pb.Spec) (sdk.Spec, error) {
	kind, err := kindFromPB(s.Kind)
	if err != nil {
		return sdk.Spec{}, err
	}
	fields, err := fieldSpecsFromPB(s.Fields)
	if err != nil {
		return sdk.Spec{}, err
	}
	return sdk.Spec{
		Name:    s.Name,
		Kind:    kind,
		Version: s.Version,
		Summary: s.Summary,
		Fields:  fields,
		Times:   s.Times,
		// Backfills: sdk.Spec.TimeRange and Instances.
		TimeRange: timeRangeFromPB(s.TimeRange),
		Instances: s.Instances,
		ScaleOut:  s.ScaleOut,
	}, nil
}

func timeRangeFromPB(r *pb.TimeRange) *sdk.TimeRange {
	if r == nil {
		return nil
	}
	return &sdk.TimeRange{From: r.From, To: r.To}
}

func fieldSpecsFromPB(fs []*pb.FieldSpec) ([]sdk.FieldSpec, error) {
	if fs == nil {
		return nil, nil
	}
	out := make([]sdk.FieldSpec, len(fs))
	for i, f := range fs {
		sub, err := fieldSpecsFromPB(f.Fields)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", f.Name, err)
		}
		out[i] = sdk.FieldSpec{
			Name:     f.Name,
			Type:     sdk.Type(f.Type),
			Elem:     sdk.Type(f.Elem),
			Fields:   sub,
			Required: f.Required,
			Secret:   f.Secret,
			Enum:     f.Enum,
			Doc:      f.Doc,
		}
		if f.Default != nil {
			if out[i].Default, err = wire.FromPB(f.Default, sdk.Absent); err != nil {
				return nil, fmt.Errorf("%s: default: %w", f.Name, err)
			}
		}
	}
	return out, nil
}

func positionsToPB(ps []sdk.Position) []*pb.Position {
	out := make([]*pb.Position, len(ps))
	for i, p := range ps {
		out[i] = &pb.Position{Partition: p.Partition, Offset: p.Offset, Line: p.Line}
	}
	return out
}
