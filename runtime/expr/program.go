package expr

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// EvalError is an error evaluating an expression on a record: a null in
// arithmetic, a division by zero, text parse_time cannot read. The record
// is at fault, not the pipeline.
type EvalError struct {
	Msg string
}

func (e *EvalError) Error() string { return e.Msg }

// Program is one compiled expression. It is not safe for concurrent use:
// give each goroutine its own, made with Clone.
type Program struct {
	prog    *vm.Program
	machine vm.VM
	env     map[string]any // reused: holds exactly the referenced fields
	refs    []string
	slots   []int           // slot of each ref, -1 when not in the layout
	dyn     *record.Dynamic // schemaless: slots follow dyn's layout
	layout  *record.Layout  // the layout slots were resolved against
	typ     schema.Type
	meta    bool           // reads the record's metadata as meta
	metaMap map[string]any // meta, reused from record to record
}

func newProgram(vp *vm.Program, env *Env, refs []string, all bool, typ schema.Type) *Program {
	if all && env.isTyped() {
		refs = refs[:0:0]
		for i, n := range env.names {
			if env.index[n] == i {
				refs = append(refs, n)
			}
		}
	}
	p := &Program{prog: vp, refs: refs, dyn: env.dyn, typ: typ}
	p.slots = make([]int, len(refs))
	for i, n := range refs {
		p.slots[i] = -1
		if env.isTyped() {
			p.slots[i], _, _ = env.field(n)
		}
	}
	p.env = make(map[string]any, len(refs))
	for _, n := range refs {
		p.env[n] = nil
	}
	return p
}

// Clone returns a Program that evaluates the same expression and can be
// used concurrently with p.
func (p *Program) Clone() *Program {
	c := &Program{
		prog:   p.prog,
		refs:   p.refs,
		slots:  slices.Clone(p.slots),
		dyn:    p.dyn,
		layout: p.layout,
		typ:    p.typ,
		meta:   p.meta,
		env:    make(map[string]any, len(p.refs)),
	}
	for _, n := range p.refs {
		c.env[n] = nil
	}
	return c
}

// Type is the static type of the expression's value; Kind is schema.Any
// when it is not known before evaluation. A decimal result has Precision
// and Scale 0 unless the expression reads a decimal field as is.
func (p *Program) Type() schema.Type { return p.typ }

// Refs returns the names of the fields the expression reads, in order of
// first appearance. The slice must not be modified.
func (p *Program) Refs() []string { return p.refs }

// fill puts the referenced fields of r in the env map.
func (p *Program) fill(r *record.Record) {
	if p.dyn != nil {
		if l := p.dyn.Load(); l != p.layout {
			p.layout = l
			for i, n := range p.refs {
				p.slots[i] = l.Index(n)
			}
		}
	}
	for i, n := range p.refs {
		var v any
		if s := p.slots[i]; s >= 0 && r != nil {
			v = r.Get(s)
			if v == record.Absent {
				v = nil
			}
		}
		p.env[n] = v
	}
	if p.meta {
		if p.metaMap == nil {
			p.metaMap = make(map[string]any, 8)
		}
		clear(p.metaMap)
		if r != nil {
			for _, f := range r.Meta {
				p.metaMap[f.Name] = f.Value
			}
		}
		p.env[MetaName] = p.metaMap
	}
}

// Eval evaluates the expression on r. Integers come out as int64 and
// floats as float64, whatever expr computed them as. Errors are
// *EvalError. The result must not be modified: it may be shared with the
// record or the program.
func (p *Program) Eval(r *record.Record) (any, error) {
	out, err := p.run(r)
	if err != nil {
		return nil, err
	}
	return normalize(out), nil
}

func (p *Program) run(r *record.Record) (any, error) {
	p.fill(r)
	out, err := p.machine.Run(p.prog, p.env)
	if err != nil {
		return nil, evalError(err)
	}
	if m, ok := out.(map[string]any); ok && p.meta && sameMap(m, p.metaMap) {
		// `meta` itself: the map is refilled for the next record.
		return maps.Clone(m), nil
	}
	return out, nil
}

func evalError(err error) *EvalError {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &EvalError{Msg: cleanMessage(fe.Message)}
	}
	return &EvalError{Msg: cleanMessage(err.Error())}
}

// EvalBool evaluates a filter on r. A null or non-boolean result is an
// *EvalError.
func (p *Program) EvalBool(r *record.Record) (bool, error) {
	out, err := p.run(r)
	if err != nil {
		return false, err
	}
	switch b := out.(type) {
	case bool:
		return b, nil
	case nil:
		return false, &EvalError{Msg: "filter gave null"}
	}
	return false, &EvalError{Msg: "filter gave " + valueType(out) + ", not a boolean"}
}

// EvalTime evaluates an event_time expression (see CompileTime) on r and
// returns the event time in Unix nanoseconds. Strings are read as RFC 3339,
// numbers as epoch milliseconds.
func (p *Program) EvalTime(r *record.Record) (int64, error) {
	out, err := p.run(r)
	if err != nil {
		return 0, err
	}
	var t time.Time
	switch x := out.(type) {
	case time.Time:
		t = x
	case string:
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return 0, &EvalError{Msg: fmt.Sprintf("event time %q is not an RFC 3339 timestamp", x)}
		}
	case nil:
		return 0, &EvalError{Msg: "event time is null"}
	default:
		if ms, ok := record.Int64(x); ok {
			t = time.UnixMilli(ms)
			break
		}
		f, ok := asFloat64(x)
		if !ok {
			return 0, &EvalError{Msg: "event time must be a timestamp, a string or a number, got " + valueType(out)}
		}
		if t, ok = msTime(f); !ok {
			return 0, &EvalError{Msg: fmt.Sprintf("event time %v is out of range", f)}
		}
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return 0, &EvalError{Msg: fmt.Sprintf("event time %s is out of range", t.UTC().Format(time.RFC3339))}
	}
	return t.UnixNano(), nil
}

// normalize converts a result to the runtime's value representation:
// integers to int64, floats to float64, times to UTC, other slices to
// []any and maps to map[string]any. It never modifies v: what needs a
// change is copied.
func normalize(v any) any {
	if !needsNormalize(v) {
		return v
	}
	switch x := v.(type) {
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	if i, ok := record.Int64(v); ok {
		return i
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = normalize(it.Value().Interface())
		}
		return out
	}
	return v
}

// needsNormalize reports whether normalize would change v.
func needsNormalize(v any) bool {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, time.Duration, []byte, decimal.Decimal:
		return false
	case time.Time:
		return x.Location() != time.UTC
	case []any:
		return slices.ContainsFunc(x, needsNormalize)
	case map[string]any:
		for _, e := range x {
			if needsNormalize(e) {
				return true
			}
		}
		return false
	case float32:
		return true
	}
	if _, ok := record.Int64(v); ok {
		return true
	}
	k := reflect.TypeOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array || k == reflect.Map
}

// sameMap reports whether a and b are the same map.
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
