package expr

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
)

// TestPositions checks that errors inside an expression are reported at
// the right place in the pipeline file for each way YAML can hold it.
func TestPositions(t *testing.T) {
	t.Parallel()
	at := func(line, col int) diag.Pos { return diag.Pos{File: "p.yaml", Line: line, Col: col} }
	tests := []struct {
		name string
		yaml string // what the file holds, for the reader
		expr config.Expr
		want string
	}{
		{
			name: "plain",
			yaml: `    filter: amount > "x"`,
			expr: config.Expr{Text: `amount > "x"`, Pos: at(7, 13), Lines: []diag.Pos{at(7, 13)}},
			want: "p.yaml:7:20: invalid operation: > (mismatched types decimal and string)",
		},
		{
			name: "double quoted",
			yaml: `    filter: "amount > 'x'"`,
			expr: config.Expr{Text: `amount > 'x'`, Pos: at(7, 13), Lines: []diag.Pos{at(7, 14)}},
			want: "p.yaml:7:21: invalid operation: > (mismatched types decimal and string)",
		},
		{
			name: "single quoted",
			yaml: `  - {name: v, filter: 'qty > "x"'}`,
			expr: config.Expr{Text: `qty > "x"`, Pos: at(3, 23), Lines: []diag.Pos{at(3, 24)}},
			want: "p.yaml:3:28: invalid operation: > (mismatched types int and string)",
		},
		{
			name: "literal block, first line",
			yaml: "    filter: |\n      amount > 'x' &&\n        store_id != ''\n",
			expr: config.Expr{
				Text:  "amount > 'x' &&\n  store_id != ''\n",
				Pos:   at(7, 13),
				Lines: []diag.Pos{at(8, 7), at(9, 7)},
			},
			want: "p.yaml:8:14: invalid operation: > (mismatched types decimal and string)",
		},
		{
			name: "literal block, second line",
			yaml: "    filter: |\n      amount > 0 &&\n        store_id > 1\n",
			expr: config.Expr{
				Text:  "amount > 0 &&\n  store_id > 1\n",
				Pos:   at(7, 13),
				Lines: []diag.Pos{at(8, 7), at(9, 7)},
			},
			want: "p.yaml:9:18: invalid operation: > (mismatched types string and int)",
		},
		{
			name: "literal block, syntax error at the end",
			yaml: "    filter: |\n      amount > 0 &&\n",
			expr: config.Expr{
				Text:  "amount > 0 &&\n",
				Pos:   at(7, 13),
				Lines: []diag.Pos{at(8, 7)},
			},
			want: "p.yaml:8:20: unexpected token EOF",
		},
		{
			name: "folded block falls back to the node",
			yaml: "    filter: >\n      amount >\n        'x'\n",
			expr: config.Expr{
				Text:  "amount >\n  'x'\n",
				Pos:   at(7, 13),
				Lines: []diag.Pos{at(7, 13)},
			},
			want: "p.yaml:7:13: invalid operation: > (mismatched types decimal and string)",
		},
		{
			name: "no lines: the node position",
			expr: config.Expr{Text: `amount > "x"`, Pos: at(7, 13)},
			want: "p.yaml:7:20: invalid operation: > (mismatched types decimal and string)",
		},
		{
			name: "multi-byte runes before the error",
			yaml: `    filter: store_id == "héllo" && amount > "x"`,
			expr: config.Expr{Text: `store_id == "héllo" && amount > "x"`, Pos: at(7, 13), Lines: []diag.Pos{at(7, 13)}},
			want: "p.yaml:7:44: invalid operation: > (mismatched types decimal and string)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ds := Compile(tt.expr, testEnv())
			if diff := cmp.Diff([]string{tt.want}, diagStrings(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"unknown name foo (1:5)\n | foo\n | ....^", "unknown name foo"},
		{"invalid operation: > (mismatched types decimal.Decimal and string)", "invalid operation: > (mismatched types decimal and string)"},
		{"invalid operation: <nil> + int64", "invalid operation: null + int"},
		{"cannot use []interface {} as map[string]interface {}", "cannot use list as object"},
		{"cannot use time.Time and time.Duration and float64", "cannot use timestamp and duration and float"},
		{"runtime error: integer divide by zero", "integer divide by zero"},
		{"interface conversion: interface {} is nil, not string", "unexpected null, want string"},
		{"interface conversion: interface {} is int64, not string", "unexpected int, want string"},
		{"unknown name xint64 (call f(1:2))", "unknown name xint64 (call f(1:2))"},
		{"cannot use string as argument (type time.Time) to call year ", "cannot use string as argument (type timestamp) to call year"},
	}
	for _, tt := range tests {
		if got := cleanMessage(tt.in); got != tt.want {
			t.Errorf("cleanMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
