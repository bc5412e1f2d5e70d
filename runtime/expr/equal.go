package expr

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// expr compiles == and != between two plain strings (or two Go ints) into
// opcodes that assert the operands' types, which fails on a null. Fields
// may be optional and library functions return null for null input, so
// for an operand that may be null the type is retagged as one of these
// named types: same kind, but not "simple" to expr's compiler, which then
// emits its generic comparison (null == "x" is false).
type (
	nullableString string
	nullableInt    int
)

var (
	nullableStringType = reflect.TypeFor[nullableString]()
	nullableIntType    = reflect.TypeFor[nullableInt]()
)

// nullSafeEquality retags operands of ==, != that may be null. It runs
// after type checking, before compilation.
func nullSafeEquality(root *ast.Node, env *Env) {
	ast.Walk(root, visitFunc(func(node *ast.Node) {
		n, ok := (*node).(*ast.BinaryNode)
		if !ok || n.Operator != "==" && n.Operator != "!=" {
			return
		}
		for _, side := range []ast.Node{n.Left, n.Right} {
			t := side.Type()
			if t.PkgPath() != "" || !mayBeNull(side, env) {
				continue
			}
			switch t.Kind() {
			case reflect.String:
				side.SetType(nullableStringType)
			case reflect.Int:
				side.SetType(nullableIntType)
			}
		}
	}))
}

// mayBeNull reports whether node may evaluate to null although its static
// type is a string or an int.
func mayBeNull(node ast.Node, env *Env) bool {
	switch n := node.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.ConstantNode, *ast.BinaryNode, *ast.BuiltinNode:
		return false
	case *ast.ConditionalNode:
		return mayBeNull(n.Exp1, env) || mayBeNull(n.Exp2, env)
	case *ast.IdentifierNode, *ast.MemberNode:
		t, ok := declaredType(node, env)
		return !ok || t.Optional || parentOptional(node, env)
	}
	return true
}

// parentOptional reports whether an object holding the member read by
// node may be null.
func parentOptional(node ast.Node, env *Env) bool {
	m, ok := node.(*ast.MemberNode)
	if !ok {
		return false
	}
	t, ok := declaredType(m.Node, env)
	return !ok || t.Optional || parentOptional(m.Node, env)
}
