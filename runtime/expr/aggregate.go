package expr

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/schema"
)

// Aggregate is one parsed `name: func(args)` aggregate expression.
type Aggregate struct {
	Func  string   // count, sum, avg, min, max, first, last, count_distinct, approx_count_distinct, approx_percentile
	Arg   *Program // nil for count()
	Param float64  // approx_percentile's p (a constant in (0,1])
	Pos   diag.Pos // the function name
}

// aggregateFuncs are the aggregate functions, in documentation order.
var aggregateFuncs = []string{
	"count", "sum", "avg", "min", "max", "first", "last",
	"count_distinct", "approx_count_distinct", "approx_percentile",
}

func isAggregate(name string) bool {
	for _, f := range aggregateFuncs {
		if f == name {
			return true
		}
	}
	return false
}

// CompileAggregate parses an aggregate such as `sum(amount)`, `count()` or
// `approx_percentile(latency, 0.99)` and compiles its argument against
// env. sum and avg need a number, min and max an orderable value (number,
// string, timestamp or duration).
func CompileAggregate(e config.Expr, env *Env) (*Aggregate, diag.Diagnostics) {
	m := newMapper(e)
	var ds diag.Diagnostics
	if strings.TrimSpace(e.Text) == "" {
		ds.Add(m.start(), "", "empty aggregate: want a call such as count() or sum(amount)")
		return nil, ds
	}
	if ds := checkLimits(m); len(ds) > 0 {
		return nil, ds
	}
	// Parse as an ordinary expression, so that the argument reads as it
	// would anywhere else (sum(x) is then expr's list builtin, which is
	// fine at the top). count() is not valid there; if that parse fails,
	// parse again with the aggregate names as plain functions.
	cfg := newConfig(env)
	tree, err := parse(e.Text, cfg)
	shaped := false
	if err != nil {
		shape := newConfig(env)
		for _, name := range aggregateFuncs {
			shape.Functions[name] = &builtin.Function{Name: name}
		}
		st, serr := parse(e.Text, shape)
		if serr != nil {
			return nil, errorDiags(m, serr)
		}
		tree, shaped = st, true
	}
	name, nameNode, args, ok := callParts(tree.Node)
	if !ok {
		at := m.rune(startOf(tree.Node))
		if containsAggregate(tree.Node) {
			ds.Add(at, "", "an aggregate must be a single call such as sum(amount); compute with aggregates in a later map")
		} else {
			ds.Add(at, "", "an aggregate must be a call such as count() or sum(amount)")
		}
		return nil, ds
	}
	a := &Aggregate{Func: name, Pos: m.rune(nameNode.Location().From)}
	if !isAggregate(name) {
		ds.Add(a.Pos, "", "unknown aggregate %q%s; aggregates are %s", name, diag.Hint(name, aggregateFuncs), strings.Join(aggregateFuncs, ", "))
		return nil, ds
	}
	switch {
	case name == "count" && len(args) > 1:
		ds.Add(a.Pos, "", "count takes at most one argument, got %d", len(args))
	case name == "approx_percentile" && len(args) != 2:
		ds.Add(a.Pos, "", "approx_percentile takes two arguments, a value and p in (0, 1], got %d", len(args))
	case name != "count" && name != "approx_percentile" && len(args) != 1:
		ds.Add(a.Pos, "", "%s takes one argument, got %d", name, len(args))
	}
	if len(ds) > 0 {
		return nil, ds
	}
	if name == "approx_percentile" {
		p, ok := constNumber(args[1])
		if !ok || !(p > 0 && p <= 1) {
			ds.Add(m.rune(startOf(args[1])), "", "approx_percentile: p must be a number in (0, 1], got %s", args[1].String())
			return nil, ds
		}
		a.Param = p
	}
	if len(args) == 0 {
		return a, nil
	}
	if nested := findNested(args[0]); nested != nil {
		ds.Add(m.rune(nested.Location().From), "", "aggregates cannot be nested: %s inside %s", nested.String(), name)
		return nil, ds
	}
	if shaped {
		return nil, errorDiags(m, err) // the ordinary parse's error
	}
	// The argument's subtree keeps the whole text as its source, so
	// positions stay right.
	arg := args[0]
	prog, ds := compileTree(&parser.Tree{Node: arg, Source: tree.Source}, cfg, env, m)
	if ds.HasErrors() {
		return nil, ds
	}
	t := prog.Type()
	switch name {
	case "sum", "avg", "approx_percentile":
		if !isNumeric(t) {
			ds.Add(m.rune(startOf(arg)), "", "%s needs a number (int, float or decimal), got %s", name, typeName(t))
		}
	case "min", "max":
		if !isOrderable(t) {
			ds.Add(m.rune(startOf(arg)), "", "%s needs an orderable value (number, string, timestamp or duration), got %s", name, typeName(t))
		}
	}
	if ds.HasErrors() {
		return nil, ds
	}
	a.Arg = prog
	return a, ds
}

func isNumeric(t schema.Type) bool {
	switch t.Kind {
	case schema.Int, schema.Float, schema.Decimal, schema.Any:
		return true
	}
	return false
}

func isOrderable(t schema.Type) bool {
	switch t.Kind {
	case schema.Int, schema.Float, schema.Decimal, schema.Any,
		schema.String, schema.Timestamp, schema.Duration:
		return true
	}
	return false
}

// constNumber returns the value of a numeric literal.
func constNumber(n ast.Node) (float64, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, true
	}
	return 0, false
}

// findNested returns a call of an aggregate inside an aggregate's
// argument: count(), or a function that is only an aggregate. sum, min,
// max, first, last and count with arguments are also expr's list
// functions (sum(items), max(a, b)) and stay allowed.
func findNested(root ast.Node) ast.Node {
	var found ast.Node
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		if found != nil {
			return
		}
		call, ok := (*node).(*ast.CallNode)
		if !ok {
			return
		}
		id, ok := call.Callee.(*ast.IdentifierNode)
		if !ok || !isAggregate(id.Value) {
			return
		}
		if _, isList := builtin.Index[id.Value]; !isList || len(call.Arguments) == 0 {
			found = call
		}
	}))
	return found
}

// containsAggregate reports whether a call of an aggregate occurs in node.
func containsAggregate(root ast.Node) bool {
	found := false
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		if name, _, _, ok := callParts(*node); ok && isAggregate(name) {
			found = true
		}
	}))
	return found
}

// callParts splits a call of a function or builtin by name.
func callParts(node ast.Node) (name string, at ast.Node, args []ast.Node, ok bool) {
	switch n := node.(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			return id.Value, id, n.Arguments, true
		}
	case *ast.BuiltinNode:
		return n.Name, n, n.Arguments, true
	}
	return "", nil, nil, false
}

// startOf is the smallest rune offset of the nodes of a subtree: where the
// subexpression's text begins (for a + b, the a).
func startOf(root ast.Node) int {
	from := root.Location().From
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		if f := (*node).Location().From; f < from {
			from = f
		}
	}))
	return from
}
