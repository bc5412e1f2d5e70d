package expr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/schema"
)

// decimalFuncs are the functions behind the decimal operators.
var decimalFuncs = decimalFunctions()

// newConfig returns a fresh expr configuration for env. Configurations
// hold per-compilation state, so each compilation gets its own.
func newConfig(env *Env) *conf.Config {
	cfg := conf.CreateNew()
	env.configure(cfg)
	for _, f := range library {
		cfg.Functions[f.Name] = f
	}
	for _, f := range decimalFuncs {
		cfg.Functions[f.Name] = f
	}
	cfg.Disabled["now"] = true
	delete(cfg.Builtins, "now")
	cfg.Visitors = append(cfg.Visitors, &decimalPatch{})
	return cfg
}

// Compile compiles an expression against env. The diagnostics, if any,
// are positioned in the pipeline file; the Program is nil when there are
// errors.
func Compile(e config.Expr, env *Env) (*Program, diag.Diagnostics) {
	return compileExpr(e, env, nil)
}

// CompileBool compiles a filter: the result must be a bool (or unknown,
// checked when evaluated).
func CompileBool(e config.Expr, env *Env) (*Program, diag.Diagnostics) {
	return compileExpr(e, env, func(t schema.Type) string {
		if t.Kind == schema.Bool || t.Kind == schema.Any {
			return ""
		}
		return "filter must be a boolean expression, got " + typeName(t)
	})
}

// CompileTime compiles an event_time expression: the result must be a
// timestamp, an RFC 3339 string or epoch milliseconds (int), or unknown.
// Evaluate it with EvalTime.
func CompileTime(e config.Expr, env *Env) (*Program, diag.Diagnostics) {
	return compileExpr(e, env, func(t schema.Type) string {
		switch t.Kind {
		case schema.Timestamp, schema.String, schema.Int, schema.Any:
			return ""
		}
		return "event_time must be a timestamp, an RFC 3339 string or epoch milliseconds, got " + typeName(t)
	})
}

// compileExpr parses e and compiles it; check, when not nil, vets the
// result type and returns a message for a wrong one.
func compileExpr(e config.Expr, env *Env, check func(schema.Type) string) (*Program, diag.Diagnostics) {
	m := newMapper(e)
	if strings.TrimSpace(e.Text) == "" {
		var ds diag.Diagnostics
		ds.Add(m.start(), "", "empty expression")
		return nil, ds
	}
	if ds := checkLimits(m); len(ds) > 0 {
		return nil, ds
	}
	cfg := newConfig(env)
	tree, err := parse(e.Text, cfg)
	if err != nil {
		return nil, errorDiags(m, err)
	}
	p, ds := compileTree(tree, cfg, env, m)
	if ds.HasErrors() {
		return nil, ds
	}
	if check != nil {
		if msg := check(p.typ); msg != "" {
			ds.Add(m.start(), "", "%s", msg)
			return nil, ds
		}
	}
	return p, ds
}

// parse parses text, turning a panic in the parser into an error.
func parse(text string, cfg *conf.Config) (tree *parser.Tree, err error) {
	err = safely(func() error {
		var perr error
		tree, perr = parser.ParseWithConfig(text, cfg)
		return perr
	})
	return tree, err
}

// safely runs f, turning a panic into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return f()
}

// errorDiags turns an error from expr into a diagnostic at its position.
func errorDiags(m *mapper, err error) diag.Diagnostics {
	var ds diag.Diagnostics
	var fe *file.Error
	if errors.As(err, &fe) {
		ds.Add(m.rune(fe.From), "", "%s", cleanMessage(fe.Message))
	} else {
		ds.Add(m.start(), "", "%s", cleanMessage(err.Error()))
	}
	return ds
}

// compileTree resolves, type-checks, optimizes and compiles a parsed
// expression (a whole text, or the argument of an aggregate).
func compileTree(tree *parser.Tree, cfg *conf.Config, env *Env, m *mapper) (*Program, diag.Diagnostics) {
	r := &resolver{env: env, cfg: cfg, m: m}
	r.walk(&tree.Node)
	if len(r.diags) > 0 {
		return nil, r.diags
	}
	if err := safely(func() error {
		cfg.Check()
		_, cerr := new(checker.Checker).PatchAndCheck(tree, cfg)
		return cerr
	}); err != nil {
		return nil, checkDiags(m, tree, err)
	}
	typ := resultType(tree.Node, env)
	nullSafeEquality(&tree.Node, env)
	if err := safely(func() error { return optimizer.Optimize(&tree.Node, cfg) }); err != nil {
		return nil, errorDiags(m, err)
	}
	var prog *Program
	if err := safely(func() error {
		vp, cerr := compiler.Compile(tree, cfg)
		if cerr != nil {
			return cerr
		}
		prog = newProgram(vp, env, r.refs, r.all, typ)
		prog.meta = r.meta
		return nil
	}); err != nil {
		return nil, errorDiags(m, err)
	}
	return prog, nil
}

// checkDiags turns a checker error into a diagnostic, adding a hint to
// an unknown member of a typed object.
func checkDiags(m *mapper, tree *parser.Tree, err error) diag.Diagnostics {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return errorDiags(m, err)
	}
	msg := cleanMessage(fe.Message)
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if names := memberNames(tree.Node, fe.From); names != nil {
			msg = fmt.Sprintf("unknown field %q%s", name, diag.Hint(name, names))
		}
	}
	var ds diag.Diagnostics
	ds.Add(m.rune(fe.From), "", "%s", msg)
	return ds
}

// memberNames returns the field names of the object whose member at
// offset from is being read, or nil.
func memberNames(root ast.Node, from int) []string {
	var out []string
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		mn, ok := (*node).(*ast.MemberNode)
		if !ok || out != nil || mn.Property.Location().From != from {
			return
		}
		nt := mn.Node.Nature()
		if nt == nil || nt.TypeData == nil {
			return
		}
		for n := range nt.Fields {
			out = append(out, n)
		}
	}))
	return out
}

type visitFunc func(node *ast.Node)

func (f visitFunc) Visit(node *ast.Node) { f(node) }

// resultType is the static type of an expression's value: the declared
// type when it reads a field (or a member of an object field) as is,
// otherwise what expr's checker inferred.
func resultType(node ast.Node, env *Env) schema.Type {
	if t, ok := declaredType(node, env); ok {
		return t
	}
	return schemaType(node.Nature())
}

func declaredType(node ast.Node, env *Env) (schema.Type, bool) {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		if !env.isTyped() {
			return schema.Type{}, false
		}
		_, t, ok := env.field(n.Value)
		return t, ok
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional {
			return schema.Type{}, false
		}
		base, ok := declaredType(n.Node, env)
		if !ok || base.Kind != schema.Object {
			return schema.Type{}, false
		}
		for _, f := range base.Fields {
			if f.Name == prop.Value {
				return f.Type, true
			}
		}
	}
	return schema.Type{}, false
}
