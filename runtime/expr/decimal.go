package expr

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/shopspring/decimal"
)

// Decimal operators. expr knows nothing of decimal.Decimal, so binary
// operators with a decimal operand (and unary minus on a decimal) are
// rewritten into calls of these functions once types are known. Their
// names cannot be written in an expression.
const decimalPrefix = "decimal "

var decimalOps = map[string]func(a, b decimal.Decimal) (any, error){
	"+": func(a, b decimal.Decimal) (any, error) { return a.Add(b), nil },
	"-": func(a, b decimal.Decimal) (any, error) { return a.Sub(b), nil },
	"*": func(a, b decimal.Decimal) (any, error) { return a.Mul(b), nil },
	"/": func(a, b decimal.Decimal) (any, error) {
		if b.IsZero() {
			return nil, fmt.Errorf("division by zero")
		}
		return a.Div(b), nil
	},
	"%": func(a, b decimal.Decimal) (any, error) {
		if b.IsZero() {
			return nil, fmt.Errorf("division by zero")
		}
		return a.Mod(b), nil
	},
	"<":  func(a, b decimal.Decimal) (any, error) { return a.LessThan(b), nil },
	"<=": func(a, b decimal.Decimal) (any, error) { return a.LessThanOrEqual(b), nil },
	">":  func(a, b decimal.Decimal) (any, error) { return a.GreaterThan(b), nil },
	">=": func(a, b decimal.Decimal) (any, error) { return a.GreaterThanOrEqual(b), nil },
}

// decimalFunctions are the functions the rewritten operators call.
func decimalFunctions() []*builtin.Function {
	var out []*builtin.Function
	for op, f := range decimalOps {
		ret := decimalType
		if isComparison(op) {
			ret = boolType
		}
		out = append(out, &builtin.Function{
			Name:  decimalPrefix + op,
			Func:  decimalBinary(op, f),
			Types: []reflect.Type{reflect.FuncOf([]reflect.Type{anyType, anyType}, []reflect.Type{ret}, false)},
		})
	}
	for _, op := range []string{"==", "!="} {
		out = append(out, &builtin.Function{
			Name:  decimalPrefix + op,
			Func:  decimalEqual(op == "!="),
			Types: []reflect.Type{reflect.FuncOf([]reflect.Type{anyType, anyType}, []reflect.Type{boolType}, false)},
		})
	}
	out = append(out, &builtin.Function{
		Name:  decimalPrefix + "neg",
		Func:  decimalNeg,
		Types: []reflect.Type{reflect.FuncOf([]reflect.Type{anyType}, []reflect.Type{decimalType}, false)},
	})
	return out
}

func isComparison(op string) bool {
	switch op {
	case "<", "<=", ">", ">=", "==", "!=":
		return true
	}
	return false
}

func decimalBinary(op string, f func(a, b decimal.Decimal) (any, error)) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("invalid operation: %s needs 2 operands", op)
		}
		a, errA := asDecimal(args[0])
		b, errB := asDecimal(args[1])
		if errA != nil || errB != nil {
			return nil, fmt.Errorf("invalid operation: %s %s %s", valueType(args[0]), op, valueType(args[1]))
		}
		return f(a, b)
	}
}

func decimalEqual(negate bool) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("invalid operation: == needs 2 operands")
		}
		var eq bool
		switch {
		case args[0] == nil || args[1] == nil:
			eq = args[0] == nil && args[1] == nil
		default:
			a, errA := asDecimal(args[0])
			b, errB := asDecimal(args[1])
			eq = errA == nil && errB == nil && a.Equal(b)
		}
		return eq != negate, nil
	}
}

func decimalNeg(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("invalid operation: - needs 1 operand")
	}
	d, err := asDecimal(args[0])
	if err != nil {
		return nil, fmt.Errorf("invalid operation: -%s", valueType(args[0]))
	}
	return d.Neg(), nil
}

// decimalPatch rewrites operators on decimals into calls of the decimal
// functions. It runs between passes of expr's checker, so the operands'
// types are known; it repeats until nothing changes, so that nested
// operations ((a + b) * c) are rewritten from the inside out.
type decimalPatch struct{ applied bool }

func (p *decimalPatch) Reset()             { p.applied = false }
func (p *decimalPatch) ShouldRepeat() bool { return p.applied }

func (p *decimalPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if _, ok := decimalOps[n.Operator]; !ok && n.Operator != "==" && n.Operator != "!=" {
			return
		}
		l, r := n.Left.Type(), n.Right.Type()
		if l != decimalType && r != decimalType {
			return
		}
		if n.Operator != "==" && n.Operator != "!=" && (!decimalOperand(l) || !decimalOperand(r)) {
			return // left for the checker to report
		}
		ret := decimalType
		if isComparison(n.Operator) {
			ret = boolType
		}
		p.replace(node, decimalPrefix+n.Operator, ret, n.Left, n.Right)
	case *ast.UnaryNode:
		if n.Operator == "-" && n.Node.Type() == decimalType {
			p.replace(node, decimalPrefix+"neg", decimalType, n.Node)
		}
	}
}

func (p *decimalPatch) replace(node *ast.Node, fn string, ret reflect.Type, args ...ast.Node) {
	call := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: fn},
		Arguments: args,
	}
	call.SetType(ret)
	call.SetLocation((*node).Location())
	call.Callee.SetLocation((*node).Location())
	ast.Patch(node, call)
	p.applied = true
}

// decimalOperand reports whether values of type t can meet a decimal in
// arithmetic or ordering: decimals, numbers, and statically unknown values
// (checked at run time).
func decimalOperand(t reflect.Type) bool {
	if t == decimalType || t == durationType {
		return t == decimalType
	}
	switch t.Kind() {
	case reflect.Interface,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
