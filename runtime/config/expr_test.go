package config

import (
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
			want: Expr{Text: "a > 10", Pos: at(8, 13), Lines: lines(at(8, 13)), Env: []string{"A"}},
		},
		{
			name: "interpolated literal block keeps its lines",
			body: "    filter: |-\n      a > ${A}\n      && b\n",
			want: Expr{Text: "a > 10\n&& b", Pos: at(8, 13), Lines: lines(at(9, 7), at(10, 7)), Env: []string{"A"}},
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

// TestLinesTable checks the line index against the YAML scanner's idea of
// a line break.
func TestLinesTable(t *testing.T) {
	tests := []struct {
		src       string
		wantLines []string
	}{
		{"", []string{""}},
		{"a", []string{"a"}},
		{"a\n", []string{"a", ""}},
		{"a\r\nb", []string{"a", "b"}},
		{"a\rb\n", []string{"a", "b", ""}},
		{"a\u2028b\u0085c", []string{"a", "b", "c"}},
		{"\xEF\xBB\xBFa\nb", []string{"a", "b"}},
	}
	for _, tt := range tests {
		lt := newLines([]byte(tt.src))
		var got []string
		for i := 1; i <= lt.count(); i++ {
			got = append(got, string(lt.text(i)))
		}
		if diff := cmp.Diff(tt.wantLines, got); diff != "" {
			t.Errorf("lines of %q (-want +got):\n%s", tt.src, diff)
		}
	}
	lt := newLines([]byte("ab\nxéy z\n"))
	for _, c := range []struct{ line, col, want int }{
		{1, 1, 1}, {1, 3, 3}, {2, 2, 2}, {2, 3, 4}, {2, 4, 5}, {2, 6, 7}, {2, 9, 10}, {9, 4, 4},
	} {
		if got := lt.byteCol(c.line, c.col); got != c.want {
			t.Errorf("byteCol(%d, %d) = %d, want %d", c.line, c.col, got, c.want)
		}
	}
	for _, c := range []struct{ off, line, col int }{{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {8, 2, 6}} {
		if line, col := lt.position(c.off); line != c.line || col != c.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", c.off, line, col, c.line, c.col)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"name", "from", "filter", "map", "aggregate", "window", "group_by"}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"filtr", "filter", true},
		{"form", "from", true}, // a swap is one edit
		{"Name", "name", true}, // case is ignored
		{"grop_by", "group_by", true},
		{"aggregates", "aggregate", true},
		{"xyz", "", false},
		{"windw", "window", true},
		{"mpa", "map", true},
		{"ma", "map", true},
		{"grouping", "", false}, // three edits for eight letters is too many
	}
	for _, tt := range tests {
		got, ok := Closest(tt.in, keys)
		if got != tt.want && tt.ok || ok != tt.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
