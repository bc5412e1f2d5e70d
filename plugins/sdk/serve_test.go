package sdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

func intValue(v int64) *pb.Value { return &pb.Value{Kind: &pb.Value_IntValue{IntValue: v}} }

func stringValue(s string) *pb.Value { return &pb.Value{Kind: &pb.Value_StringValue{StringValue: s}} }

func nanos(t time.Time) *int64 {
	n := t.UnixNano()
	return &n
}

// TestAppendReadResponse checks the hand-written encoding of a batch
// against the generated code's reading of it.
func TestAppendReadResponse(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 17, 23, 58, 0, 5, time.UTC)
	epoch := time.Unix(0, 0).UTC()
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	batch := Batch{
		CaughtUp: true,
		Messages: []Message{
			{Payload: []byte(`{"a":1}`), Position: Position{Partition: "in.jsonl", Offset: 8, Line: 1}},
			{Fields: []Field{{"a", int64(1)}, {"b", "x"}}, Time: t0, Position: Position{Partition: "p1", Offset: 1}},
			{Fields: []Field{{"a", int64(2)}, {"b", "y"}}, Time: epoch, Position: Position{Partition: "p1", Offset: 2}},
			{Fields: []Field{{"b", "z"}}, Time: far, Position: Position{Partition: "in.jsonl", Offset: 20, Line: 2}},
			{Payload: []byte{}, Reject: "bad row", Meta: []Field{{"key", "k1"}}},
		},
	}
	b, err := appendReadResponse(nil, batch, fmt.Errorf("last one: %w", ErrEndOfInput))
	if err != nil {
		t.Fatal(err)
	}
	var got pb.SourceReadResponse
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := &pb.SourceReadResponse{
		Batch: &pb.Batch{
			CaughtUp:   true,
			Layouts:    []*pb.Layout{{Names: []string{"a", "b"}}, {Names: []string{"b"}}},
			Partitions: []string{"in.jsonl", "p1", ""},
			Messages: []*pb.Message{
				{Payload: []byte(`{"a":1}`), Offset: 8, Line: 1},
				{Layout: 1, Values: []*pb.Value{intValue(1), stringValue("x")}, Time: nanos(t0), Partition: 1, Offset: 1},
				{Layout: 1, Values: []*pb.Value{intValue(2), stringValue("y")}, Time: nanos(epoch), Partition: 1, Offset: 2},
				{Layout: 2, Values: []*pb.Value{stringValue("z")}, WideTime: &pb.WideTime{Seconds: far.Unix()}, Offset: 20, Line: 2},
				{Reject: "bad row", Meta: []*pb.Field{{Name: "key", Value: stringValue("k1")}}, Partition: 2},
			},
		},
		Error: &pb.Error{Message: "last one: end of input", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_END_OF_INPUT}},
	}
	if diff := cmp.Diff(want, &got, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestAppendBatchPartitions covers batches with more partitions than are
// looked up one by one.
func TestAppendBatchPartitions(t *testing.T) {
	t.Parallel()
	var batch Batch
	var wantParts []string
	for i := range 100 {
		p := "part-" + strconv.Itoa(i%40)
		if i < 40 {
			wantParts = append(wantParts, p)
		}
		batch.Messages = append(batch.Messages, Message{Payload: []byte("x"), Position: Position{Partition: p, Offset: int64(i)}})
	}
	b, err := appendBatch(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.Batch
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantParts, got.Partitions); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	for i, m := range got.Messages {
		if p := got.Partitions[m.Partition]; p != batch.Messages[i].Position.Partition || m.Offset != int64(i) {
			t.Errorf("message %d: partition %s offset %d", i, p, m.Offset)
		}
	}
}

func TestAppendBatchBadValue(t *testing.T) {
	t.Parallel()
	batch := Batch{Messages: []Message{{Fields: []Field{{"f", struct{}{}}}, Position: Position{Partition: "p", Offset: 3}}}}
	_, err := appendBatch(nil, batch)
	if want := "message 0 (p@3): field f: unsupported value type struct {}"; err == nil || err.Error() != want {
		t.Errorf("appendBatch() error = %v, want %q", err, want)
	}
}

func TestErrorToPB(t *testing.T) {
	t.Parallel()
	cfgA := &ConfigError{Path: "a", Msg: "bad a"}
	cfgB := &ConfigError{Msg: "bad"}
	tests := []struct {
		name string
		err  error
		want *pb.Error
	}{
		{"plain", errors.New("boom"), &pb.Error{Message: "boom"}},
		{"end of input", ErrEndOfInput, &pb.Error{Message: "end of input", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_END_OF_INPUT}}},
		{"wrapped backoff", fmt.Errorf("kafka: %w", ErrBackoff), &pb.Error{Message: "kafka: back off", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_BACKOFF}}},
		{"not connected", ErrNotConnected, &pb.Error{Message: "not connected", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_NOT_CONNECTED}}},
		{"canceled", context.Canceled, &pb.Error{Message: "context canceled", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_CANCELED}}},
		{"deadline", fmt.Errorf("poll: %w", context.DeadlineExceeded), &pb.Error{Message: "poll: context deadline exceeded", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_DEADLINE_EXCEEDED}}},
		{"config", cfgA, &pb.Error{Message: "a: bad a", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_CONFIG}, ConfigErrors: []*pb.ConfigError{{Path: "a", Msg: "bad a"}}}},
		{
			"joined config and not connected",
			errors.Join(cfgA, fmt.Errorf("x: %w", cfgB), ErrNotConnected),
			&pb.Error{
				Message:      "a: bad a\nx: bad\nnot connected",
				Kinds:        []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_NOT_CONNECTED, pb.ErrorKind_ERROR_KIND_CONFIG},
				ConfigErrors: []*pb.ConfigError{{Path: "a", Msg: "bad a"}, {Msg: "bad"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, errorToPB(tt.err), protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerPluginList(t *testing.T) {
	t.Parallel()
	ok := Plugin{Spec: Spec{Name: "ok", Kind: KindSink}, NewSink: func() Sink { return nil }}
	s := newServer([]Plugin{
		ok,
		{Spec: Spec{Name: "Bad", Kind: KindSource}, NewSource: func() Source { return nil }},
		{Spec: Spec{Name: "nosrc", Kind: KindSource}},
		ok,
	}, hclog.NewNullLogger())
	want := "plugin name \"Bad\" must match ^[a-z][a-z0-9_]*$\n" +
		"plugin nosrc: no constructor for kind source\n" +
		"plugin sink ok served twice"
	if s.err == nil || s.err.Error() != want {
		t.Errorf("newServer() error = %v, want %q", s.err, want)
	}
	_, err := pluginService{s: s}.GetSpec(context.Background(), &pb.GetSpecRequest{})
	if err == nil {
		t.Error("GetSpec() succeeded with a malformed plugin list")
	}
}
