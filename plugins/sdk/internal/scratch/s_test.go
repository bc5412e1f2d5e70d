package scratch

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

const cfg = `{"count": 0, "fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`

func open(b *testing.B) sdk.Source {
	src := generate.Plugin().NewSource()
	if err := src.Open(context.Background(), sdk.OpenRequest{Config: []byte(cfg)}); err != nil {
		b.Fatal(err)
	}
	return src
}

func BenchmarkInProcess(b *testing.B) {
	src := open(b)
	n := 0
	for b.Loop() {
		bt, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		n += len(bt.Messages)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func enc(v any) *pb.Value {
	switch v := v.(type) {
	case int64:
		return &pb.Value{Kind: &pb.Value_IntValue{IntValue: v}}
	case string:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: v}}
	}
	return &pb.Value{}
}
func dec(v *pb.Value) any {
	switch k := v.Kind.(type) {
	case *pb.Value_IntValue:
		return k.IntValue
	case *pb.Value_StringValue:
		return k.StringValue
	}
	return nil
}

func BenchmarkPB(b *testing.B) {
	src := open(b)
	n := 0
	var size int
	for b.Loop() {
		bt, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		out := &pb.Batch{Partitions: []string{bt.Messages[0].Position.Partition}}
		out.Layouts = []*pb.Layout{{Names: []string{"amount", "id", "kind"}}}
		for _, m := range bt.Messages {
			pm := &pb.Message{Layout: 1, Offset: m.Position.Offset}
			t := m.Time.UnixNano()
			pm.Time = &t
			for _, f := range m.Fields {
				pm.Values = append(pm.Values, enc(f.Value))
			}
			out.Messages = append(out.Messages, pm)
		}
		data, _ := proto.Marshal(out)
		size = len(data)
		var in pb.Batch
		if err := proto.Unmarshal(data, &in); err != nil {
			b.Fatal(err)
		}
		msgs := make([]sdk.Message, len(in.Messages))
		fields := make([]sdk.Field, len(in.Messages)*3)
		names := in.Layouts[0].Names
		for i, pm := range in.Messages {
			fs := fields[i*3 : i*3+3]
			for j, v := range pm.Values {
				fs[j] = sdk.Field{Name: names[j], Value: dec(v)}
			}
			msgs[i] = sdk.Message{Fields: fs, Time: time.Unix(0, *pm.Time).UTC(), Position: sdk.Position{Partition: in.Partitions[pm.Partition], Offset: pm.Offset}}
		}
		n += len(msgs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(size), "bytes/batch")
}
