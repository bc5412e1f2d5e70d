package pluginrpc

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"google.golang.org/protobuf/proto"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// batchToPB builds a SourceReadResponse with the generated types, as a
// plugin in another language would, to check the hand-written decoder
// against the schema.
func batchToPB(tb testing.TB, batch sdk.Batch) *pb.SourceReadResponse {
	tb.Helper()
	out := &pb.Batch{CaughtUp: batch.CaughtUp}
	layouts := map[string]uint32{}
	parts := map[string]uint32{}
	for _, m := range batch.Messages {
		pm := &pb.Message{Payload: m.Payload, Reject: m.Reject, Offset: m.Position.Offset, Line: m.Position.Line}
		if len(m.Fields) > 0 {
			var names []string
			key := ""
			for _, f := range m.Fields {
				names = append(names, f.Name)
				key += f.Name + "\x00"
				v, err := wire.ToPB(f.Value, sdk.Absent)
				if err != nil {
					tb.Fatal(err)
				}
				pm.Values = append(pm.Values, v)
			}
			l, ok := layouts[key]
			if !ok {
				out.Layouts = append(out.Layouts, &pb.Layout{Names: names})
				l = uint32(len(out.Layouts))
				layouts[key] = l
			}
			pm.Layout = l
		}
		for _, f := range m.Meta {
			v, err := wire.ToPB(f.Value, sdk.Absent)
			if err != nil {
				tb.Fatal(err)
			}
			pm.Meta = append(pm.Meta, &pb.Field{Name: f.Name, Value: v})
		}
		if !m.Time.IsZero() {
			if y := m.Time.Year(); y > 1700 && y < 2200 {
				t := m.Time.UnixNano()
				pm.Time = &t
			} else {
				pm.WideTime = &pb.WideTime{Seconds: m.Time.Unix(), Nanos: int32(m.Time.Nanosecond())}
			}
		}
		p, ok := parts[m.Position.Partition]
		if !ok {
			p = uint32(len(out.Partitions))
			out.Partitions = append(out.Partitions, m.Position.Partition)
			parts[m.Position.Partition] = p
		}
		pm.Partition = p
		out.Messages = append(out.Messages, pm)
	}
	return &pb.SourceReadResponse{Batch: out}
}

func encodeBatchForTest(tb testing.TB, batch sdk.Batch) []byte {
	tb.Helper()
	b, err := proto.Marshal(batchToPB(tb, batch))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// generateSource opens an in-process generate source.
func generateSource(tb testing.TB, config string) sdk.Source {
	tb.Helper()
	src := generate.Plugin().NewSource()
	if err := src.Open(context.Background(), sdk.OpenRequest{Config: []byte(config)}); err != nil {
		tb.Fatal(err)
	}
	return src
}

// TestDecodeMoreResults decodes a response of several results written by
// the generated code, as a plugin in another language would write it.
func TestDecodeMoreResults(t *testing.T) {
	t.Parallel()
	src := generateSource(t, `{"count": 5000, "fields": {"n": "i"}}`)
	var want []readResult
	for range 3 {
		batch, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, readResult{batch: batch})
	}
	resp := batchToPB(t, want[0].batch)
	for _, r := range want[1:] {
		more := batchToPB(t, r.batch)
		resp.More = append(resp.More, &pb.SourceReadResult{Batch: more.Batch})
	}
	resp.More = append(resp.More, &pb.SourceReadResult{Error: &pb.Error{Message: "end of input", Kinds: []pb.ErrorKind{pb.ErrorKind_ERROR_KIND_END_OF_INPUT}}})
	want = append(want, readResult{err: sdk.ErrEndOfInput})
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var reply readReply
	if err := reply.UnmarshalWire(b); err != nil {
		t.Fatal(err)
	}
	got := reply.results()
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range want {
		if diff := cmp.Diff(want[i].batch, got[i].batch, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("result %d batch (-want +got):\n%s", i, diff)
		}
		if got[i].err != want[i].err {
			t.Errorf("result %d error %v, want %v", i, got[i].err, want[i].err)
		}
	}
}
