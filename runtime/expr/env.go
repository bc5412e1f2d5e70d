package expr

import (
	"reflect"
	"sort"
	"time"

	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/types"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// Env describes the fields visible to expressions: either typed (the
// fields of a record schema, known when the pipeline is validated) or
// dynamic (the growing layout of a schemaless source). An Env is
// immutable and safe for concurrent use.
type Env struct {
	names []string
	types []schema.Type
	index map[string]int // name -> slot; typed envs only
	typed types.Map      // expr's view of the fields; typed envs only
	dyn   *record.Dynamic
}

// NewEnv returns a typed env: names[i] is the field held in slot i of the
// records, and fieldTypes[i] its type. Expressions may only read these fields;
// any other name is a compile error with a did-you-mean hint. A missing
// type is taken as schema.Any; of duplicate names the first one counts.
func NewEnv(names []string, fieldTypes []schema.Type) *Env {
	e := &Env{
		names: names,
		types: make([]schema.Type, len(names)),
		index: make(map[string]int, len(names)),
		typed: make(types.Map, len(names)),
	}
	copy(e.types, fieldTypes)
	for i, n := range names {
		if _, dup := e.index[n]; dup {
			continue
		}
		e.index[n] = i
		e.typed[n] = exprType(e.types[i])
	}
	return e
}

// DynamicEnv returns an env for schemaless records laid out by d. Any
// identifier is allowed and typed as unknown; at run time it is looked up
// in d's current layout, and a name not (yet) in the layout is null.
func DynamicEnv(d *record.Dynamic) *Env {
	if d == nil {
		d = record.NewDynamic()
	}
	return &Env{dyn: d}
}

// MetaName is the name under which expressions read a message's metadata
// (meta.key, meta.headers), unless the record has a field of that name.
const MetaName = "meta"

// isMeta reports whether name reads the metadata rather than a field.
func (e *Env) isMeta(name string) bool {
	if name != MetaName {
		return false
	}
	if e.isTyped() {
		_, isField := e.index[name]
		return !isField
	}
	return true
}

// isTyped reports whether the env knows its fields statically.
func (e *Env) isTyped() bool { return e.dyn == nil }

// field returns the slot and type of a field of a typed env.
func (e *Env) field(name string) (int, schema.Type, bool) {
	i, ok := e.index[name]
	if !ok {
		return -1, schema.Type{}, false
	}
	return i, e.types[i], true
}

// fieldNames returns the names of a typed env's fields, for hints.
func (e *Env) fieldNames() []string {
	out := make([]string, 0, len(e.index))
	for n := range e.index {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// configure sets cfg's environment: a typed map of the fields, or an
// open map[string]any in which every name is unknown.
func (e *Env) configure(cfg *conf.Config) {
	if e.isTyped() {
		env := e.typed
		if _, ok := env[MetaName]; !ok {
			env = make(types.Map, len(e.typed)+1)
			for k, v := range e.typed {
				env[k] = v
			}
			env[MetaName] = types.TypeOf(map[string]any{})
		}
		cfg.WithEnv(env)
		return
	}
	cfg.WithEnv(map[string]any{})
	cfg.Strict = false
}

var (
	anyType      = reflect.TypeFor[any]()
	boolType     = reflect.TypeFor[bool]()
	stringType   = reflect.TypeFor[string]()
	int64Type    = reflect.TypeFor[int64]()
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	decimalType  = reflect.TypeFor[decimal.Decimal]()
	listType     = reflect.TypeFor[[]any]()
)

// exprType is expr's static type for values of a schema type, as they are
// held in records. Nested objects become typed maps, so that members are
// checked too.
func exprType(t schema.Type) types.Type {
	switch t.Kind {
	case schema.String:
		return types.String
	case schema.Int:
		return types.Int64
	case schema.Float:
		return types.Float64
	case schema.Bool:
		return types.Bool
	case schema.Timestamp:
		return types.TypeOf(time.Time{})
	case schema.Duration:
		return types.TypeOf(time.Duration(0))
	case schema.Decimal:
		return types.TypeOf(decimal.Decimal{})
	case schema.List:
		if t.Elem == nil {
			return types.Array(types.Any)
		}
		return types.Array(exprType(*t.Elem))
	case schema.Object:
		m := make(types.Map, len(t.Fields))
		for _, f := range t.Fields {
			m[f.Name] = exprType(f.Type)
		}
		return m
	default:
		return types.Any
	}
}

// schemaType is the schema type of values of expr's nature nt; Any when
// nothing better is known.
func schemaType(nt *nature.Nature) schema.Type {
	if nt == nil || nt.Type == nil || nt.Nil {
		return schema.Type{Kind: schema.Any}
	}
	return reflectSchemaType(nt.Type, nt)
}

func reflectSchemaType(t reflect.Type, nt *nature.Nature) schema.Type {
	switch t {
	case timeType:
		return schema.Type{Kind: schema.Timestamp}
	case durationType:
		return schema.Type{Kind: schema.Duration}
	case decimalType:
		return schema.Type{Kind: schema.Decimal}
	}
	switch t.Kind() {
	case reflect.String:
		return schema.Type{Kind: schema.String}
	case reflect.Bool:
		return schema.Type{Kind: schema.Bool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema.Type{Kind: schema.Int}
	case reflect.Float32, reflect.Float64:
		return schema.Type{Kind: schema.Float}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return schema.Type{Kind: schema.Any} // []byte: no schema kind
		}
		var elem schema.Type
		switch {
		case nt != nil && nt.Ref != nil:
			elem = schemaType(nt.Ref)
		case t.Elem().Kind() == reflect.Interface:
			elem = schema.Type{Kind: schema.Any}
		default:
			elem = reflectSchemaType(t.Elem(), nil)
		}
		return schema.Type{Kind: schema.List, Elem: &elem}
	case reflect.Map:
		out := schema.Type{Kind: schema.Object}
		if nt != nil && nt.TypeData != nil && nt.Strict && len(nt.Fields) > 0 {
			names := make([]string, 0, len(nt.Fields))
			for n := range nt.Fields {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				f := nt.Fields[n]
				out.Fields = append(out.Fields, schema.Field{Name: n, Type: schemaType(&f)})
			}
		}
		return out
	}
	return schema.Type{Kind: schema.Any}
}

// typeName is the user-facing name of a schema type: its kind, without
// a decimal's precision or optionality.
func typeName(t schema.Type) string {
	if t.Kind == schema.List && t.Elem != nil {
		return "list<" + typeName(*t.Elem) + ">"
	}
	return t.Kind.String()
}
