package expr

import (
	"testing"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

func benchEnv() *Env {
	return NewEnv(
		[]string{"payment_id", "amount", "store_id", "channel", "qty"},
		[]schema.Type{{Kind: schema.String}, {Kind: schema.Int}, {Kind: schema.String}, {Kind: schema.String}, {Kind: schema.Int}},
	)
}

func benchRecord() *record.Record {
	return &record.Record{Values: []any{"p-1", int64(250), "s-17", "web", int64(3)}}
}

func BenchmarkFilter(b *testing.B) {
	p, ds := CompileBool(config.Expr{Text: `amount > 100 && store_id != ""`}, benchEnv())
	if ds.HasErrors() {
		b.Fatal(ds.Err())
	}
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := p.EvalBool(r)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkMap(b *testing.B) {
	env := benchEnv()
	var progs []*Program
	for _, text := range []string{`upper(store_id)`, `amount * qty`, `channel`} {
		p, ds := Compile(config.Expr{Text: text}, env)
		if ds.HasErrors() {
			b.Fatal(ds.Err())
		}
		progs = append(progs, p)
	}
	r := benchRecord()
	out := make([]any, len(progs))
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range progs {
			v, err := p.Eval(r)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = v
		}
	}
}
