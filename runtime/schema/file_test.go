package schema

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/runtime/diag"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

func render(ds diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestParseGolden loads each testdata/*.bad.yaml and compares its rendered
// diagnostics with the .golden file beside it.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d bad schema files, want at least 10", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".bad.yaml")
		t.Run(name, func(t *testing.T) {
			_, ds := Load(file)
			if !ds.HasErrors() {
				t.Errorf("no errors for %s", file)
			}
			got := render(ds)
			golden := strings.TrimSuffix(file, ".bad.yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadExamples(t *testing.T) {
	pos := func(file string, line, col int) diag.Pos { return diag.Pos{File: file, Line: line, Col: col} }
	const payments = "../../schemas/payments.v1.yaml"
	const orders = "../../schemas/orders.v1.yaml"
	tests := []struct {
		file string
		want *Schema
	}{
		{payments, &Schema{Name: "payments.v1", File: payments, Fields: []Field{
			{Name: "payment_id", Type: Type{Kind: String}, Pos: pos(payments, 4, 3)},
			{Name: "amount", Type: Type{Kind: Decimal, Precision: 10, Scale: 2}, Pos: pos(payments, 5, 3)},
			{Name: "store_id", Type: Type{Kind: String}, Pos: pos(payments, 6, 3)},
			{Name: "card_id", Type: Type{Kind: String}, Pos: pos(payments, 7, 3)},
			{Name: "channel", Type: Type{Kind: String, Optional: true}, Pos: pos(payments, 8, 3)},
			{Name: "event_time", Type: Type{Kind: Timestamp}, Pos: pos(payments, 9, 3)},
			{Name: "tags", Type: Type{Kind: List, Elem: &Type{Kind: String}}, Pos: pos(payments, 10, 3)},
			{Name: "device", Type: Type{Kind: Object, Fields: []Field{
				{Name: "os", Type: Type{Kind: String}, Pos: pos(payments, 12, 5)},
				{Name: "version", Type: Type{Kind: Int, Optional: true}, Pos: pos(payments, 13, 5)},
			}}, Pos: pos(payments, 11, 3)},
		}}},
		{orders, &Schema{Name: "orders.v1", File: orders, Fields: []Field{
			{Name: "order_id", Type: Type{Kind: String}, Pos: pos(orders, 4, 3)},
			{Name: "store_id", Type: Type{Kind: String}, Pos: pos(orders, 5, 3)},
			{Name: "category", Type: Type{Kind: String}, Pos: pos(orders, 6, 3)},
			{Name: "amount", Type: Type{Kind: Decimal, Precision: 12, Scale: 2}, Pos: pos(orders, 7, 3)},
			{Name: "status", Type: Type{Kind: String}, Pos: pos(orders, 8, 3)},
			{Name: "customer_email", Type: Type{Kind: String, Optional: true}, Pos: pos(orders, 9, 3)},
			{Name: "order_time", Type: Type{Kind: Timestamp}, Pos: pos(orders, 10, 3)},
		}}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			got, ds := Load(tt.file)
			if len(ds) != 0 {
				t.Fatalf("diagnostics:\n%s", render(ds))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, ds := Load("testdata/no-such-file.yaml")
	if diff := cmp.Diff("testdata/no-such-file.yaml: read schema: no such file or directory\n", render(ds)); diff != "" {
		t.Error(diff)
	}
}

// TestParsePartial checks that a schema with errors still lists every
// field, typed any where the type is wrong.
func TestParsePartial(t *testing.T) {
	s, ds := Parse("p.yaml", []byte("name: p\nfields:\n  a: int\n  b: strng\n  c: {d: bool}\n"))
	if len(ds) != 1 {
		t.Fatalf("diagnostics:\n%s", render(ds))
	}
	got := map[string]string{}
	for _, f := range s.Fields {
		got[f.Name] = f.Type.String()
	}
	want := map[string]string{"a": "int", "b": "any", "c": "object"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestSchemaNamesTypes(t *testing.T) {
	s, ds := Parse("s.yaml", []byte("name: s\nfields:\n  b: int?\n  a: list<decimal(5,1)>\n"))
	if ds.HasErrors() {
		t.Fatal(render(ds))
	}
	if diff := cmp.Diff([]string{"b", "a"}, s.Names()); diff != "" {
		t.Error(diff)
	}
	var types []string
	for _, ty := range s.Types() {
		types = append(types, ty.String())
	}
	if diff := cmp.Diff([]string{"int?", "list<decimal(5,1)>"}, types); diff != "" {
		t.Error(diff)
	}
}
