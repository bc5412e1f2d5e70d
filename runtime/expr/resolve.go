package expr

import (
	"slices"
	"sort"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"

	"github.com/flowctl/flowctl/runtime/diag"
)

// funcAlias is the name a call of library function f is rewritten to, so
// that a field with the same name as a function (a schema with a `date`
// field) does not hide the function from expr's checker. Aliases cannot be
// written in an expression.
func funcAlias(name string) string { return "fn " + name }

// predicateBuiltins are expr's builtins whose second argument is a
// predicate (mirrors the parser's table).
var predicateBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"count": true, "sum": true, "find": true, "findIndex": true, "findLast": true,
	"findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// resolver walks a parsed expression before type checking. It collects
// the fields the expression reads, reports unknown names and functions
// with hints, forbids now(), and rewrites $env.name into name and calls
// of library functions into their aliases.
type resolver struct {
	env   *Env
	cfg   *conf.Config
	m     *mapper
	vars  []string // names bound by enclosing `let`s
	refs  []string
	all   bool // the whole env is read ($env)
	meta  bool // the message's metadata is read
	diags diag.Diagnostics
}

func (r *resolver) errorf(node ast.Node, format string, args ...any) {
	r.diags.Add(r.m.rune(node.Location().From), "", format, args...)
}

func (r *resolver) bound(name string) bool { return slices.Contains(r.vars, name) }

func (r *resolver) ref(node ast.Node, name string) {
	if r.env.isMeta(name) {
		r.meta = true
		return
	}
	if r.env.isTyped() {
		if _, _, ok := r.env.field(name); !ok {
			r.errorf(node, "unknown name %q%s", name, diag.Hint(name, r.env.fieldNames()))
			return
		}
	}
	if !slices.Contains(r.refs, name) {
		r.refs = append(r.refs, name)
	}
}

func (r *resolver) walk(node *ast.Node) {
	if node == nil || *node == nil {
		return
	}
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch {
		case r.bound(n.Value):
		case n.Value == "$env":
			if !r.env.isTyped() {
				r.errorf(n, `$env needs a constant field name in a schemaless pipeline, as in $env["name"]`)
				return
			}
			r.all = true
		default:
			r.ref(n, n.Value)
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "$env" && !r.bound("$env") && !n.Method {
			if prop, ok := n.Property.(*ast.StringNode); ok && !r.bound(prop.Value) {
				ident := &ast.IdentifierNode{Value: prop.Value}
				ast.Patch(node, ident)
				r.ref(ident, prop.Value)
				return
			}
		}
		r.walk(&n.Node)
		r.walk(&n.Property)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			r.call(node, n, id)
		} else {
			r.walk(&n.Callee)
		}
		for i := range n.Arguments {
			r.walk(&n.Arguments[i])
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			r.walk(&n.Arguments[i])
		}
	case *ast.VariableDeclaratorNode:
		r.walk(&n.Value)
		r.vars = append(r.vars, n.Name)
		r.walk(&n.Expr)
		r.vars = r.vars[:len(r.vars)-1]
	case *ast.UnaryNode:
		r.walk(&n.Node)
	case *ast.BinaryNode:
		r.walk(&n.Left)
		r.walk(&n.Right)
	case *ast.ChainNode:
		r.walk(&n.Node)
	case *ast.SliceNode:
		r.walk(&n.Node)
		r.walk(&n.From)
		r.walk(&n.To)
	case *ast.PredicateNode:
		r.walk(&n.Node)
	case *ast.SequenceNode:
		for i := range n.Nodes {
			r.walk(&n.Nodes[i])
		}
	case *ast.ConditionalNode:
		r.walk(&n.Cond)
		r.walk(&n.Exp1)
		r.walk(&n.Exp2)
	case *ast.ArrayNode:
		for i := range n.Nodes {
			r.walk(&n.Nodes[i])
		}
	case *ast.MapNode:
		for i := range n.Pairs {
			r.walk(&n.Pairs[i])
		}
	case *ast.PairNode:
		r.walk(&n.Key)
		r.walk(&n.Value)
	}
}

// call resolves the callee of fn(...).
func (r *resolver) call(node *ast.Node, n *ast.CallNode, id *ast.IdentifierNode) {
	name := id.Value
	if r.bound(name) {
		return // calling a `let` variable: the checker reports it
	}
	if name == "now" {
		r.errorf(id, "now() is not allowed: results must not depend on when the pipeline runs; use the record's event time instead")
		return
	}
	if f, ok := r.cfg.Functions[name]; ok {
		alias := funcAlias(name)
		r.cfg.Functions[alias] = f
		id.Value = alias
		return
	}
	if _, ok := r.cfg.Builtins[name]; ok {
		// A field with a builtin's name made the parser read a call of
		// the builtin as a call of the field; make it the builtin again.
		b := &ast.BuiltinNode{Name: name, Arguments: n.Arguments}
		if predicateBuiltins[name] && len(b.Arguments) > 1 {
			p := &ast.PredicateNode{Node: b.Arguments[1]}
			p.SetLocation(b.Arguments[1].Location())
			b.Arguments[1] = p
		}
		ast.Patch(node, b)
		return
	}
	r.errorf(id, "unknown function %q%s", name, diag.Hint(name, r.functionNames()))
}

// functionNames lists the functions an expression may call, for hints.
func (r *resolver) functionNames() []string {
	var out []string
	for n := range r.cfg.Functions {
		if isPublicName(n) {
			out = append(out, n)
		}
	}
	for n := range r.cfg.Builtins {
		if !r.cfg.Disabled[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// isPublicName reports whether a function name can be written in an
// expression (aliases and decimal operators cannot).
func isPublicName(n string) bool {
	for i := 0; i < len(n); i++ {
		if n[i] == ' ' {
			return false
		}
	}
	return true
}
