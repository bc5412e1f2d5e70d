package schema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flowctl/flowctl/runtime/diag"
)

// Kind is the kind of a field type.
type Kind uint8

// Field type kinds. Any is the type of fields of schemaless records.
const (
	Any Kind = iota
	String
	Int
	Float
	Bool
	Timestamp
	Duration
	Decimal
	List
	Object
)

// Type is a field type. Values of each kind are held in records as:
// String string, Int int64, Float float64, Bool bool, Timestamp time.Time
// (UTC), Duration time.Duration, Decimal decimal.Decimal, List []any,
// Object map[string]any; Any is any of these.
type Type struct {
	Kind      Kind
	Optional  bool    // null or missing is allowed
	Precision int     // Decimal: total digits
	Scale     int     // Decimal: digits after the point
	Elem      *Type   // List: element type
	Fields    []Field // Object: members, in order; none for a free-form object
}

// Field is a named, typed field of a schema or object.
type Field struct {
	Name string
	Type Type
	Pos  diag.Pos // where it is declared
}

// Schema is a record schema.
type Schema struct {
	Name   string
	File   string
	Fields []Field
}

// Names returns the names of the top-level fields, in declaration order.
// They are the slot names of the records the schema describes.
func (s *Schema) Names() []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return names
}

// Types returns the types of the top-level fields, in declaration order.
func (s *Schema) Types() []Type {
	types := make([]Type, len(s.Fields))
	for i, f := range s.Fields {
		types[i] = f.Type
	}
	return types
}

// MaxPrecision is the largest decimal precision a schema may declare; it is
// the widest decimal that Parquet and most databases store.
const MaxPrecision = 38

var kindNames = [...]string{
	Any:       "any",
	String:    "string",
	Int:       "int",
	Float:     "float",
	Bool:      "bool",
	Timestamp: "timestamp",
	Duration:  "duration",
	Decimal:   "decimal",
	List:      "list",
	Object:    "object",
}

// String renders the kind's name as written in a schema file.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// String renders the type as ParseType reads it: "decimal(10,2)?",
// "list<string>", "object" (for an object with or without declared fields).
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case Decimal:
		fmt.Fprintf(b, "decimal(%d,%d)", t.Precision, t.Scale)
	case List:
		b.WriteString("list<")
		if t.Elem != nil {
			t.Elem.write(b)
		} else {
			b.WriteString("any")
		}
		b.WriteString(">")
	default:
		b.WriteString(t.Kind.String())
	}
	if t.Optional {
		b.WriteString("?")
	}
}

// Equal reports whether t and u are the same type, including optionality,
// element types and object members (names and types, in order).
func (t Type) Equal(u Type) bool {
	if t.Kind != u.Kind || t.Optional != u.Optional || t.Precision != u.Precision || t.Scale != u.Scale {
		return false
	}
	if (t.Elem == nil) != (u.Elem == nil) || t.Elem != nil && !t.Elem.Equal(*u.Elem) {
		return false
	}
	if len(t.Fields) != len(u.Fields) {
		return false
	}
	for i := range t.Fields {
		if t.Fields[i].Name != u.Fields[i].Name || !t.Fields[i].Type.Equal(u.Fields[i].Type) {
			return false
		}
	}
	return true
}

// TypeError is a problem in a type expression; Offset is the byte offset
// in the text where it was found.
type TypeError struct {
	Offset int
	Msg    string
}

func (e *TypeError) Error() string { return e.Msg }

// maxTypeDepth bounds the nesting of list<...> in a type expression.
const maxTypeDepth = 32

// ParseType parses a type expression: string, int, float, bool, timestamp,
// duration, any, object (free-form), decimal(p,s) with 1 <= p <= 38 and
// 0 <= s <= p, list<T>; a trailing "?" makes the type optional. Spaces
// around the parts are allowed ("decimal(10, 2)"). Objects with declared
// members are written as YAML mappings in a schema file, not as text.
// Errors are *TypeError.
func ParseType(s string) (Type, error) {
	p := typeParser{s: s}
	p.space()
	t, err := p.parse(0)
	if err != nil {
		return Type{}, err
	}
	p.space()
	if p.i < len(p.s) {
		return Type{}, p.errf(p.i, "unexpected %q after type %s", p.s[p.i:], t)
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) errf(at int, format string, args ...any) *TypeError {
	return &TypeError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *typeParser) word() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *typeParser) expect(c byte, what string) error {
	p.space()
	if p.i >= len(p.s) {
		return p.errf(p.i, "missing %q %s", c, what)
	}
	if p.s[p.i] != c {
		return p.errf(p.i, "want %q %s, got %q", c, what, p.s[p.i:])
	}
	p.i++
	return nil
}

func (p *typeParser) parse(depth int) (Type, error) {
	if depth > maxTypeDepth {
		return Type{}, p.errf(p.i, "type is nested too deeply")
	}
	start := p.i
	name := p.word()
	var t Type
	switch name {
	case "string":
		t.Kind = String
	case "int":
		t.Kind = Int
	case "float":
		t.Kind = Float
	case "bool":
		t.Kind = Bool
	case "timestamp":
		t.Kind = Timestamp
	case "duration":
		t.Kind = Duration
	case "any":
		t.Kind = Any
	case "object":
		t.Kind = Object
	case "decimal":
		t.Kind = Decimal
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '(' {
			return Type{}, p.errf(start, "decimal needs a precision and a scale, as in decimal(10,2)")
		}
		p.i++
		prec, err := p.int("precision")
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(',', "between precision and scale"); err != nil {
			return Type{}, err
		}
		scale, err := p.int("scale")
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(')', "after the scale"); err != nil {
			return Type{}, err
		}
		if prec < 1 || prec > MaxPrecision {
			return Type{}, p.errf(start, "decimal precision %d out of range (want 1 to %d)", prec, MaxPrecision)
		}
		if scale > prec {
			return Type{}, p.errf(start, "decimal scale %d exceeds precision %d", scale, prec)
		}
		t.Precision, t.Scale = prec, scale
	case "list":
		t.Kind = List
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '<' {
			return Type{}, p.errf(start, "list needs an element type, as in list<string>")
		}
		p.i++
		p.space()
		elem, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>', "after the list element type"); err != nil {
			return Type{}, err
		}
		t.Elem = &elem
	case "":
		if p.i >= len(p.s) {
			return Type{}, p.errf(p.i, "missing type")
		}
		return Type{}, p.errf(p.i, "want a type name, got %q", p.s[p.i:])
	default:
		return Type{}, p.errf(start, "%s", unknownType(name))
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '?' {
		t.Optional = true
		p.i++
	}
	return t, nil
}

func (p *typeParser) int(what string) (int, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if start == p.i {
		if p.i >= len(p.s) {
			return 0, p.errf(p.i, "missing decimal %s", what)
		}
		return 0, p.errf(p.i, "want decimal %s (a number), got %q", what, p.s[p.i:])
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || n > 1000 {
		return 0, p.errf(start, "decimal %s %s out of range", what, p.s[start:p.i])
	}
	return n, nil
}

// typeNames are the names ParseType knows, for did-you-mean hints.
var typeNames = []string{"string", "int", "float", "bool", "timestamp", "duration", "decimal", "list", "object", "any"}

// typeAliases maps names other systems use to ours.
var typeAliases = map[string]string{
	"str":         "string",
	"text":        "string",
	"varchar":     "string",
	"bytes":       "string",
	"binary":      "string",
	"blob":        "string",
	"integer":     "int",
	"int32":       "int",
	"int64":       "int",
	"long":        "int",
	"bigint":      "int",
	"number":      "float",
	"double":      "float",
	"float32":     "float",
	"float64":     "float",
	"real":        "float",
	"boolean":     "bool",
	"datetime":    "timestamp",
	"time":        "timestamp",
	"date":        "timestamp",
	"timestamptz": "timestamp",
	"interval":    "duration",
	"numeric":     "decimal(p,s)",
	"money":       "decimal(p,s)",
	"array":       "list<T>",
	"slice":       "list<T>",
	"map":         "object",
	"dict":        "object",
	"struct":      "object",
	"record":      "object",
}

func unknownType(name string) string {
	msg := fmt.Sprintf("unknown type %q", name)
	if s := suggest(name, typeNames, typeAliases); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// suggest returns a name for a did-you-mean hint: ours for a name other
// systems use, else the candidate closest to name, else "".
func suggest(name string, candidates []string, aliases map[string]string) string {
	if a, ok := aliases[strings.ToLower(name)]; ok {
		return a
	}
	if c, ok := diag.Closest(name, candidates); ok {
		return c
	}
	return ""
}
