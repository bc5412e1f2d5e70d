package config

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/runtime/diag"
)

// exprHeader is a pipeline whose last line starts the transform "t"; the
// test cases append its `filter:` or `map:`. The value of `filter:` starts
// at line 8, column 13.
const exprHeader = "version: 1\nname: e\nsources: [{name: s, plugin: file}]\nsinks: [{name: o, from: t, plugin: stdout}]\ntransforms:\n  - name: t\n    from: s\n"

// TestExprLines checks Expr.Text, Pos and Lines for each way of writing a
// scalar: plain, quoted, literal and folded blocks, interpolated, CRLF.
func TestExprLines(t *testing.T) {
	at := func(line, col int) diag.Pos { return diag.Pos{File: "e.yaml", Line: line, Col: col} }
	lines := func(ps ...diag.Pos) []diag.Pos { return ps }
	tests := []struct {
		name  string
		body  string // appended to exprHeader
		field string // map field to check; "" for the filter
		crlf  bool
		want  Expr
	}{
		{
			name: "plain",
			body: "    filter: a > 1\n",
			want: Expr{Text: "a > 1", Pos: at(8, 13), Lines: lines(at(8, 13))},
		},
		{
			name: "plain over two lines folds into one",
			body: "    filter: a >\n      1\n",
			want: Expr{Text: "a > 1", Pos: at(8, 13), Lines: lines(at(8, 13))},
		},
		{
			name: "double quoted",
			body: "    filter: \"a > 1\"\n",
			want: Expr{Text: "a > 1", Pos: at(8, 13), Lines: lines(at(8, 14))},
		},
		{
			name: "single quoted",
			body: "    filter: 'a == ''x'''\n",
			want: Expr{Text: "a == 'x'", Pos: at(8, 13), Lines: lines(at(8, 14))},
		},
		{
			name: "literal block",
			body: "    filter: |\n      a > 1 &&\n        b < 2\n",
			want: Expr{Text: "a > 1 &&\n  b < 2\n", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7), at(11, 7))},
		},
		{
			name: "literal block, strip, comment, leading empty line",
			body: "    filter: |-  # why\n\n      a > 1\n",
			want: Expr{Text: "\na > 1", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7))},
		},
		{
			name: "literal block with an indentation indicator",
			body: "    filter: |2\n        a\n      && b\n",
			want: Expr{Text: "  a\n&& b\n", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7), at(11, 7))},
		},
		{
			name: "literal block with a tab in the text",
			body: "    filter: |-\n      a\t> 1\n",
			want: Expr{Text: "a\t> 1", Pos: at(8, 13), Lines: lines(at(9, 7))},
		},
		{
			name: "literal block, CRLF line ends",
			body: "    filter: |-\n      a > 1\n      && b\n",
			crlf: true,
			want: Expr{Text: "a > 1\n&& b", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7))},
		},
		{
			name: "folded block falls back to the node",
			body: "    filter: >\n      a >\n      1\n",
			want: Expr{Text: "a > 1\n", Pos: at(8, 13), Lines: lines(at(8, 13))},
		},
		{
			name:  "columns count bytes after multibyte text",
			body:  "    map: {a: 'é', b: x + 1}\n",
			field: "b",
			want:  Expr{Text: "x + 1", Pos: at(8, 23), Lines: lines(at(8, 23))},
		},
		{
			name: "interpolated plain",
			body: "    filter: a > ${A}\n",
			want: Expr{Text: "a > 10", Pos: at(8, 13), Lines: lines(at(8, 13)), Env: "${A}"},
		},
		{
			name: "interpolated literal block keeps its lines",
			body: "    filter: |-\n      a > ${A}\n      && b\n",
			want: Expr{Text: "a > 10\n&& b", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7)), Env: "${A}"},
		},
		{
			name: "a scalar that is not text",
			body: "    filter: true\n",
			want: Expr{Text: "true", Pos: at(8, 13), Lines: lines(at(8, 13))},
		},
	}
	env := func(k string) (string, bool) { return map[string]string{"A": "10"}[k], k == "A" }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := exprHeader + tt.body
			if tt.crlf {
				src = strings.ReplaceAll(src, "\n", "\r\n")
			}
			p, ds := Load("e.yaml", []byte(src), env)
			if len(ds) > 0 {
				t.Fatalf("unexpected diagnostics:\n%s", render(ds))
			}
			tr := p.Transforms[0]
			var got *Expr
			if tt.field == "" {
				got = tr.Filter
			} else {
				for i := range tr.Map {
					if tr.Map[i].Name.Value == tt.field {
						got = &tr.Map[i].Expr
					}
				}
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadBlocks checks the expressions of testdata/blocks.good.yaml, one
// per way of writing a scalar, and byte columns after multibyte text.
func TestLoadBlocks(t *testing.T) {
	const file = "testdata/blocks.good.yaml"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, ds := Load(file, src, nil)
	if len(ds) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", render(ds))
	}
	b := astBuilder{file}
	e := func(text string, line, col int, lines ...diag.Pos) Expr {
		return Expr{Text: text, Pos: b.at(line, col), Lines: lines}
	}
	type got struct {
		EventTime Expr
		Filters   []Expr
		Map       []MapField
		GroupBy   []String
	}
	want := got{
		EventTime: e("ts", 6, 17, b.at(6, 18)),
		Filters: []Expr{
			e("amount > 0", 10, 13, b.at(10, 13)),
			e("amount > 1", 13, 13, b.at(13, 14)),
			e("amount > 2 &&\n  store != \"\"\n", 16, 13, b.at(17, 7), b.at(18, 7), b.at(19, 7)),
			e("amount > 3 && store != \"\"", 21, 13, b.at(21, 13)),
		},
		Map: []MapField{
			{Name: b.str("x", 27, 7), Expr: e("\namount * 2", 27, 10, b.at(28, 9), b.at(29, 9))},
			{Name: b.str("y", 30, 7), Expr: e(`"é" + name`, 30, 10, b.at(30, 11))},
		},
		GroupBy: []String{b.str("größe", 33, 16), b.str("store", 33, 25)},
	}
	g := got{EventTime: *p.Sources[0].EventTime, Map: p.Transforms[4].Map, GroupBy: p.Transforms[5].GroupBy}
	for _, tr := range p.Transforms[:4] {
		g.Filters = append(g.Filters, *tr.Filter)
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
