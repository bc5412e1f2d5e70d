package expr

import (
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// meta.NAME reads the message's metadata, in typed and schemaless
// pipelines; a field named meta hides it.
func TestMeta(t *testing.T) {
	typed := NewEnv([]string{"n"}, []schema.Type{{Kind: schema.Int}})
	withField := NewEnv([]string{"meta"}, []schema.Type{{Kind: schema.String}})
	r := &record.Record{
		Values: []any{"a field"},
		Meta:   []sdk.Field{{Name: "key", Value: "k1"}, {Name: "headers", Value: map[string]any{"h": "v"}}},
	}
	tests := []struct {
		name string
		env  *Env
		text string
		want any
	}{
		{"typed key", typed, `meta.key`, "k1"},
		{"typed header", typed, `meta.headers.h + "!"`, "v!"},
		{"missing is null", typed, `meta.partition == nil`, true},
		{"schemaless", DynamicEnv(nil), `meta.key`, "k1"},
		{"a field named meta wins", withField, `meta`, "a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ds := Compile(config.Expr{Text: tt.text}, tt.env)
			if ds.HasErrors() {
				t.Fatal(ds.Err())
			}
			got, err := p.Eval(r)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
	if _, ds := Compile(config.Expr{Text: `meta.key`}, typed); ds.HasErrors() {
		t.Errorf("meta in a typed env: %v", ds.Err())
	}
}

// BenchmarkMeta evaluates a filter on a message's metadata, as a Kafka
// pipeline does on every record.
func BenchmarkMeta(b *testing.B) {
	env := NewEnv([]string{"n"}, []schema.Type{{Kind: schema.Int}})
	p, ds := CompileBool(config.Expr{Text: `meta.key == "k1"`}, env)
	if ds.HasErrors() {
		b.Fatal(ds.Err())
	}
	r := &record.Record{
		Values: []any{int64(1)},
		Meta:   []sdk.Field{{Name: "key", Value: "k1"}, {Name: "topic", Value: "t"}, {Name: "partition", Value: int64(3)}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.EvalBool(r); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// The value of `meta` itself outlives the next evaluation.
func TestMetaValueKept(t *testing.T) {
	p, ds := Compile(config.Expr{Text: `meta`}, DynamicEnv(nil))
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	first, err := p.Eval(&record.Record{Meta: []sdk.Field{{Name: "key", Value: "k1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(&record.Record{Meta: []sdk.Field{{Name: "key", Value: "k2"}}}); err != nil {
		t.Fatal(err)
	}
	if got := first.(map[string]any)["key"]; got != "k1" {
		t.Errorf("the first value's key became %v", got)
	}
}
