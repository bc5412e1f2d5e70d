package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// appendReadResponse appends a flowctl.plugin.v1.SourceReadResponse of a
// batch and the error that came with it, if any.
func appendReadResponse(b []byte, batch Batch, readErr error) ([]byte, error) {
	b, start := wire.Begin(b, wire.ReadResponseBatch)
	b, err := appendBatch(b, batch)
	if err != nil {
		return b, err
	}
	b = wire.End(b, start)
	if readErr != nil {
		return wire.AppendMessage(b, wire.ReadResponseError, errorToPB(readErr))
	}
	return b, nil
}

// maxLinear is how many partitions a batch looks through one by one
// before it indexes them.
const maxLinear = 16

// appendBatch appends a Batch's content: the messages, then the field-name
// layouts and partitions they refer to, each sent once.
func appendBatch(b []byte, batch Batch) ([]byte, error) {
	var (
		layouts    [][]string
		partitions []string
		partIndex  map[string]int
		lastLayout = -1
		lastPart   = -1
	)
	for i := range batch.Messages {
		m := &batch.Messages[i]
		var start int
		b, start = wire.Begin(b, wire.BatchMessages)
		if m.Payload != nil {
			b = protowire.AppendTag(b, wire.MessagePayload, protowire.BytesType)
			b = protowire.AppendBytes(b, m.Payload)
		}
		if len(m.Fields) > 0 {
			if lastLayout < 0 || !sameNames(layouts[lastLayout], m.Fields) {
				lastLayout = -1
				for j, l := range layouts {
					if sameNames(l, m.Fields) {
						lastLayout = j
						break
					}
				}
				if lastLayout < 0 {
					names := make([]string, len(m.Fields))
					for j, f := range m.Fields {
						names[j] = f.Name
					}
					lastLayout = len(layouts)
					layouts = append(layouts, names)
				}
			}
			b = protowire.AppendTag(b, wire.MessageLayout, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(lastLayout+1))
			for _, f := range m.Fields {
				var err error
				if b, err = wire.AppendValue(b, wire.MessageValues, f.Value, Absent); err != nil {
					return b, fmt.Errorf("message %d (%s): field %s: %w", i, m.Position, f.Name, err)
				}
			}
		}
		for _, f := range m.Meta {
			var err error
			var fs int
			b, fs = wire.Begin(b, wire.MessageMeta)
			b = protowire.AppendTag(b, wire.FieldName, protowire.BytesType)
			b = protowire.AppendString(b, f.Name)
			if b, err = wire.AppendValue(b, wire.FieldValue, f.Value, Absent); err != nil {
				return b, fmt.Errorf("message %d (%s): meta %s: %w", i, m.Position, f.Name, err)
			}
			b = wire.End(b, fs)
		}
		if !m.Time.IsZero() {
			b = wire.AppendTime(b, wire.MessageTime, wire.MessageWideTime, m.Time)
		}
		if p := m.Position.Partition; lastPart < 0 || partitions[lastPart] != p {
			lastPart = -1
			if partIndex != nil {
				if j, ok := partIndex[p]; ok {
					lastPart = j
				}
			} else {
				for j, q := range partitions {
					if q == p {
						lastPart = j
						break
					}
				}
			}
			if lastPart < 0 {
				lastPart = len(partitions)
				partitions = append(partitions, p)
				if partIndex != nil {
					partIndex[p] = lastPart
				} else if len(partitions) > maxLinear {
					partIndex = make(map[string]int, 2*len(partitions))
					for j, q := range partitions {
						partIndex[q] = j
					}
				}
			}
		}
		if lastPart > 0 {
			b = protowire.AppendTag(b, wire.MessagePartition, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(lastPart))
		}
		if o := m.Position.Offset; o != 0 {
			b = protowire.AppendTag(b, wire.MessageOffset, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(o))
		}
		if l := m.Position.Line; l != 0 {
			b = protowire.AppendTag(b, wire.MessageLine, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(l))
		}
		if m.Reject != "" {
			b = protowire.AppendTag(b, wire.MessageReject, protowire.BytesType)
			b = protowire.AppendString(b, m.Reject)
		}
		b = wire.End(b, start)
	}
	if batch.CaughtUp {
		b = protowire.AppendTag(b, wire.BatchCaughtUp, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	for _, p := range batch.Partitions {
		b = protowire.AppendTag(b, wire.BatchKnown, protowire.BytesType)
		b = protowire.AppendString(b, p)
	}
	for _, names := range layouts {
		var start int
		b, start = wire.Begin(b, wire.BatchLayouts)
		for _, n := range names {
			b = protowire.AppendTag(b, wire.LayoutNames, protowire.BytesType)
			b = protowire.AppendString(b, n)
		}
		b = wire.End(b, start)
	}
	for _, p := range partitions {
		b = protowire.AppendTag(b, wire.BatchPartitions, protowire.BytesType)
		b = protowire.AppendString(b, p)
	}
	return b, nil
}

// sameNames reports whether fields have the names of a layout, in order.
func sameNames(layout []string, fields []Field) bool {
	if len(layout) != len(fields) {
		return false
	}
	for i, n := range layout {
		if fields[i].Name != n {
			return false
		}
	}
	return true
}

// errorKinds are the sentinels a plugin's error is checked against, in
// the order its kinds are listed.
var errorKinds = []struct {
	err  error
	kind pb.ErrorKind
}{
	{ErrEndOfInput, pb.ErrorKind_ERROR_KIND_END_OF_INPUT},
	{ErrBackoff, pb.ErrorKind_ERROR_KIND_BACKOFF},
	{ErrNotConnected, pb.ErrorKind_ERROR_KIND_NOT_CONNECTED},
	{context.Canceled, pb.ErrorKind_ERROR_KIND_CANCELED},
	{context.DeadlineExceeded, pb.ErrorKind_ERROR_KIND_DEADLINE_EXCEEDED},
}

// errorToPB describes err for the host: its text, every sentinel it is
// and the configuration errors it holds.
func errorToPB(err error) *pb.Error {
	e := &pb.Error{Message: err.Error()}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			e.Kinds = append(e.Kinds, k.kind)
		}
	}
	e.ConfigErrors = configErrors(err, nil)
	if len(e.ConfigErrors) > 0 {
		e.Kinds = append(e.Kinds, pb.ErrorKind_ERROR_KIND_CONFIG)
	}
	return e
}

// configErrors appends the *ConfigError values in err's tree to out.
func configErrors(err error, out []*pb.ConfigError) []*pb.ConfigError {
	switch e := err.(type) {
	case *ConfigError:
		return append(out, &pb.ConfigError{Path: e.Path, Msg: e.Msg})
	case interface{ Unwrap() []error }:
		for _, err := range e.Unwrap() {
			out = configErrors(err, out)
		}
	case interface{ Unwrap() error }:
		return configErrors(e.Unwrap(), out)
	}
	return out
}

func kindFromPB(k pb.Kind) Kind {
	switch k {
	case pb.Kind_KIND_SOURCE:
		return KindSource
	case pb.Kind_KIND_SINK:
		return KindSink
	case pb.Kind_KIND_TRANSFORM:
		return KindTransform
	}
	return Kind(k.String())
}

func kindToPB(k Kind) pb.Kind {
	switch k {
	case KindSource:
		return pb.Kind_KIND_SOURCE
	case KindSink:
		return pb.Kind_KIND_SINK
	case KindTransform:
		return pb.Kind_KIND_TRANSFORM
	}
	return pb.Kind_KIND_UNSPECIFIED
}

func specToPB(s Spec) (*pb.Spec, error) {
	fields, err := fieldSpecsToPB(s.Fields)
	if err != nil {
		return nil, err
	}
	return &pb.Spec{
		Name:    s.Name,
		Kind:    kindToPB(s.Kind),
		Version: s.Version,
		Summary: s.Summary,
		Fields:  fields,
		Times:   s.Times,
		// Backfills: sdk.Spec.TimeRange and Instances.
		TimeRange: timeRangeToPB(s.TimeRange),
		Instances: s.Instances,
		ScaleOut:  s.ScaleOut,
	}, nil
}

func timeRangeToPB(r *TimeRange) *pb.TimeRange {
	if r == nil {
		return nil
	}
	return &pb.TimeRange{From: r.From, To: r.To}
}

func fieldSpecsToPB(fs []FieldSpec) ([]*pb.FieldSpec, error) {
	if fs == nil {
		return nil, nil
	}
	out := make([]*pb.FieldSpec, len(fs))
	for i, f := range fs {
		sub, err := fieldSpecsToPB(f.Fields)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", f.Name, err)
		}
		out[i] = &pb.FieldSpec{
			Name:     f.Name,
			Type:     string(f.Type),
			Elem:     string(f.Elem),
			Fields:   sub,
			Required: f.Required,
			Secret:   f.Secret,
			Enum:     f.Enum,
			Doc:      f.Doc,
		}
		if f.Default != nil {
			if out[i].Default, err = wire.ToPB(f.Default, Absent); err != nil {
				return nil, fmt.Errorf("%s: default: %w", f.Name, err)
			}
		}
	}
	return out, nil
}

func positionsFromPB(ps []*pb.Position) []Position {
	if ps == nil {
		return nil
	}
	out := make([]Position, len(ps))
	for i, p := range ps {
		out[i] = Position{Partition: p.Partition, Offset: p.Offset, Line: p.Line}
	}
	return out
}
