package schema

import (
	"fmt"
	"strconv"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
)

// MaxDynamicFields bounds how many distinct top-level field names a
// schemaless decoder takes in. Every record of a source is as long as its
// layout, so payloads that use data as keys would otherwise make the
// layout, and every record, grow without end; a record that would exceed
// the bound is rejected and the source needs a schema.
const MaxDynamicFields = 4096

type format uint8

const (
	formatJSON format = iota
	formatCSV
	formatRaw
)

// Decoder turns source messages into record slot values, by a schema or
// schemaless. It is not safe for concurrent use.
type Decoder struct {
	format format
	r      reader

	// With a schema.
	top    *objPlan
	layout *record.Layout

	// Schemaless.
	dyn       *record.Dynamic
	slots     map[string]int32 // name -> slot, a cache of dyn
	maxFields int              // MaxDynamicFields, lowered by tests
	memo      []memoEntry      // slot of the i-th key of the previous records

	caches  []valueCache      // per slot: boxed values seen often
	keys    map[string]string // interned member names of nested objects
	scratch []any             // list elements being read, as a stack
	raw     [1]sdk.Field
}

type memoEntry struct {
	name string
	slot int32
}

// NewDecoder returns a decoder of messages in format (json, csv or raw;
// empty means json) into records of schema s, or into schemaless records
// when s is nil. s must not change afterwards.
func NewDecoder(s *Schema, formatName string) (*Decoder, error) {
	return NewDecoderLayout(s, formatName, nil)
}

// NewDecoderLayout is NewDecoder for a schemaless source whose growing
// layout is shared: expressions compiled against dyn see the fields the
// decoder adds. A nil dyn, or a non-nil s, behaves as NewDecoder.
func NewDecoderLayout(s *Schema, formatName string, dyn *record.Dynamic) (*Decoder, error) {
	d := &Decoder{}
	switch formatName {
	case "json", "":
		d.format = formatJSON
	case "csv":
		d.format = formatCSV
	case "raw":
		d.format = formatRaw
	default:
		return nil, fmt.Errorf("unknown format %q (want json, csv or raw)", formatName)
	}
	d.raw[0].Name = "value"
	if s == nil {
		d.dyn = dyn
		if d.dyn == nil {
			d.dyn = record.NewDynamic()
		}
		d.slots = make(map[string]int32)
		d.maxFields = MaxDynamicFields
		d.memo = make([]memoEntry, 16)
		for i := range d.memo {
			d.memo[i].slot = -1
		}
		if d.format == formatRaw {
			d.slots["value"] = int32(d.dyn.Intern("value"))
			d.caches = make([]valueCache, 1)
		}
		return d, nil
	}
	if len(s.Fields) == 0 {
		return nil, fmt.Errorf("schema %s declares no fields", s.Name)
	}
	d.top = newObjPlan(s.Fields)
	d.layout = record.NewLayout(s.Names()...)
	d.caches = make([]valueCache, len(s.Fields))
	for i, f := range s.Fields {
		switch f.Type.Kind {
		case String, Decimal, Any:
		default:
			d.caches[i].off = true
		}
	}
	return d, nil
}

// Layout returns the slot names of the records Decode makes: with a
// schema, its field names in order (fixed); schemaless, the current
// layout of Dynamic, which grows as new field names appear.
func (d *Decoder) Layout() *record.Layout {
	if d.dyn != nil {
		return d.dyn.Load()
	}
	return d.layout
}

// Dynamic returns the growing layout of a schemaless decoder, nil with a
// schema.
func (d *Decoder) Dynamic() *record.Dynamic { return d.dyn }

// Decode decodes m into dst[:0], grown as needed, one value per slot of
// the layout, and returns it. A record that does not fit gives a
// *DecodeError; then the returned slice is empty. The values never refer
// to m.Payload, which the source may reuse.
func (d *Decoder) Decode(m *sdk.Message, dst []any) ([]any, error) {
	var err error
	switch {
	case m.Fields != nil:
		dst, err = d.decodeFields(m.Fields, dst, d.format == formatCSV)
	case d.format == formatJSON:
		d.r.reset(m.Payload)
		if d.top != nil {
			dst, err = d.jsonSchema(dst)
		} else {
			dst, err = d.jsonAny(dst)
		}
		d.r.data = nil
		if se, ok := err.(*syntaxError); ok {
			err = &DecodeError{Msg: se.Error()}
		}
	case d.format == formatRaw:
		if d.top != nil {
			d.raw[0].Value = string(m.Payload)
			dst, err = d.decodeFields(d.raw[:], dst, false)
			d.raw[0].Value = nil
		} else {
			dst = d.absent(dst)
			dst[0] = string(m.Payload)
		}
	case len(m.Payload) == 0:
		dst, err = d.decodeFields(nil, dst, true)
	default:
		err = &DecodeError{Msg: "csv needs messages with fields (column name to text), got a payload"}
	}
	if err != nil {
		return dst[:0], err
	}
	return dst, nil
}

// nils sets dst to the schema's slots, all nil.
func (d *Decoder) nils(dst []any) []any {
	n := len(d.top.fields)
	if cap(dst) < n {
		return make([]any, n)
	}
	dst = dst[:n]
	clear(dst)
	return dst
}

// absent sets dst to the current dynamic layout's slots, all Absent.
func (d *Decoder) absent(dst []any) []any {
	n := len(d.dyn.Load().Names)
	if cap(dst) < n {
		dst = make([]any, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = record.Absent
	}
	return dst
}

// put sets dst[slot], growing dst with Absent to reach it.
func put(dst []any, slot int, v any) []any {
	for len(dst) <= slot {
		dst = append(dst, record.Absent)
	}
	dst[slot] = v
	return dst
}

// fillAbsent grows dst with Absent to the current dynamic layout.
func (d *Decoder) fillAbsent(dst []any) []any {
	for n := len(d.dyn.Load().Names); len(dst) < n; {
		dst = append(dst, record.Absent)
	}
	return dst
}

func (d *Decoder) notObject() error {
	r := &d.r
	if r.pos < len(r.data) {
		switch c := r.data[r.pos]; {
		case c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || isNumStart(c):
			return &DecodeError{Msg: "not a JSON object"}
		}
	}
	return r.fail("looking for beginning of value")
}

func isNumStart(c byte) bool { return c == '-' || c >= '0' && c <= '9' }

// jsonSchema decodes a JSON object payload by the schema.
func (d *Decoder) jsonSchema(dst []any) ([]any, error) {
	op := d.top
	dst = d.nils(dst)
	gen := op.next()
	r := &d.r
	r.ws()
	if r.pos >= len(r.data) || r.data[r.pos] != '{' {
		return dst, d.notObject()
	}
	empty, err := r.enter('}')
	if err != nil {
		return dst, err
	}
	for i := 0; !empty; i++ {
		key, err := r.key()
		if err != nil {
			return dst, err
		}
		if k := op.lookup(i, key); k < 0 {
			err = r.skip()
		} else {
			f := &op.fields[k]
			dst[k], err = d.typed(f.plan, &d.caches[k])
			if err != nil {
				return dst, in(err, f.name)
			}
			op.stamp[k] = gen
		}
		if err != nil {
			return dst, err
		}
		more, err := r.next('}', "after object key:value pair")
		if err != nil {
			return dst, err
		}
		empty = !more
	}
	if err := r.end(); err != nil {
		return dst, err
	}
	return dst, op.missing(gen)
}

// jsonAny decodes a JSON object payload without a schema.
func (d *Decoder) jsonAny(dst []any) ([]any, error) {
	dst = d.absent(dst)
	r := &d.r
	r.ws()
	if r.pos >= len(r.data) || r.data[r.pos] != '{' {
		return dst, d.notObject()
	}
	empty, err := r.enter('}')
	if err != nil {
		return dst, err
	}
	for i := 0; !empty; i++ {
		key, err := r.key()
		if err != nil {
			return dst, err
		}
		slot, err := d.slot(i, key)
		if err != nil {
			return dst, err
		}
		v, err := d.anyValue(&d.caches[slot])
		if err != nil {
			return dst, in(err, d.dyn.Load().Names[slot])
		}
		dst = put(dst, slot, v)
		more, err := r.next('}', "after object key:value pair")
		if err != nil {
			return dst, err
		}
		empty = !more
	}
	if err := r.end(); err != nil {
		return dst, err
	}
	return d.fillAbsent(dst), nil
}

// slot returns the dynamic slot of the i-th key of a record, interning the
// name if it is new.
func (d *Decoder) slot(i int, key []byte) (int, error) {
	if i < len(d.memo) {
		if e := &d.memo[i]; e.slot >= 0 && e.name == string(key) {
			return int(e.slot), nil
		}
	}
	s, ok := d.slots[string(key)]
	if !ok {
		return d.intern(i, string(key))
	}
	if i < len(d.memo) {
		d.memo[i] = memoEntry{name: d.dyn.Load().Names[s], slot: s}
	}
	return int(s), nil
}

// slotString is slot for a name held in a string.
func (d *Decoder) slotString(i int, name string) (int, error) {
	if i < len(d.memo) {
		if e := &d.memo[i]; e.slot >= 0 && e.name == name {
			return int(e.slot), nil
		}
	}
	s, ok := d.slots[name]
	if !ok {
		return d.intern(i, name)
	}
	if i < len(d.memo) {
		d.memo[i] = memoEntry{name: d.dyn.Load().Names[s], slot: s}
	}
	return int(s), nil
}

func (d *Decoder) intern(i int, name string) (int, error) {
	if len(d.slots) >= d.maxFields {
		return 0, &DecodeError{Msg: "more than " + strconv.Itoa(d.maxFields) + " distinct field names; declare a schema for this source"}
	}
	s := d.dyn.Intern(name)
	d.slots[name] = int32(s)
	for len(d.caches) <= s {
		d.caches = append(d.caches, valueCache{})
	}
	if i < len(d.memo) {
		d.memo[i] = memoEntry{name: name, slot: int32(s)}
	}
	return s, nil
}

// typed reads one JSON value of type p.t, with c caching boxed values.
func (d *Decoder) typed(p *plan, c *valueCache) (any, error) {
	r := &d.r
	if r.pos >= len(r.data) {
		return nil, r.fail("")
	}
	ch := r.data[r.pos]
	t := p.t
	if ch == 'n' {
		if err := r.lit("null"); err != nil {
			return nil, err
		}
		if t.Optional {
			return nil, nil
		}
		return nil, mismatch(t, "null")
	}
	switch t.Kind {
	case String:
		if ch == '"' {
			b, err := r.str()
			if err != nil {
				return nil, err
			}
			return c.str(b), nil
		}
	case Int:
		if isNumStart(ch) {
			b, isInt, err := r.num()
			if err != nil {
				return nil, err
			}
			if !isInt {
				return nil, mismatch(t, gotNumber(string(b)))
			}
			n, ok := parseInt(b)
			if !ok {
				return nil, mismatch(t, gotNumber(string(b))+" (out of range)")
			}
			return n, nil
		}
	case Float:
		if isNumStart(ch) {
			b, _, err := r.num()
			if err != nil {
				return nil, err
			}
			f, err := parseFloat(b)
			if err != nil {
				return nil, mismatch(t, gotNumber(string(b))+" (out of range)")
			}
			return f, nil
		}
	case Bool:
		switch ch {
		case 't':
			return true, r.lit("true")
		case 'f':
			return false, r.lit("false")
		}
	case Decimal:
		if ch == '"' || isNumStart(ch) {
			var b []byte
			var err error
			if ch == '"' {
				b, err = r.str()
			} else {
				b, _, err = r.num()
			}
			if err != nil {
				return nil, err
			}
			if v, ok := c.get(b); ok {
				return v, nil
			}
			v, err := decimalText(b, t, ch != '"')
			if err == nil {
				c.put(string(b), v)
			}
			return v, err
		}
	case Timestamp:
		switch {
		case ch == '"':
			b, err := r.str()
			if err != nil {
				return nil, err
			}
			if tm, ok := parseTimeText(b); ok {
				return tm, nil
			}
			return nil, mismatch(t, gotString(string(b)))
		case isNumStart(ch):
			b, isInt, err := r.num()
			if err != nil {
				return nil, err
			}
			if n, ok := parseInt(b); ok && isInt {
				return time.UnixMilli(n).UTC(), nil
			}
			return nil, mismatch(t, gotNumber(string(b)))
		}
	case Duration:
		if ch == '"' {
			b, err := r.str()
			if err != nil {
				return nil, err
			}
			if dur, err := time.ParseDuration(b2s(b)); err == nil {
				return dur, nil
			}
			return nil, mismatch(t, gotString(string(b)))
		}
	case List:
		if ch == '[' {
			return d.typedList(p)
		}
	case Object:
		if ch == '{' {
			if p.obj == nil {
				return d.anyObject()
			}
			return d.typedObject(p.obj)
		}
	case Any:
		return d.anyValue(c)
	}
	return nil, d.wrongKind(t)
}

// wrongKind reads the value at r.pos and reports that it is not a t.
func (d *Decoder) wrongKind(t *Type) error {
	r := &d.r
	switch ch := r.data[r.pos]; {
	case ch == '"':
		b, err := r.str()
		if err != nil {
			return err
		}
		return mismatch(t, gotString(string(b)))
	case isNumStart(ch):
		b, _, err := r.num()
		if err != nil {
			return err
		}
		return mismatch(t, gotNumber(string(b)))
	case ch == 't':
		if err := r.lit("true"); err != nil {
			return err
		}
		return mismatch(t, "bool true")
	case ch == 'f':
		if err := r.lit("false"); err != nil {
			return err
		}
		return mismatch(t, "bool false")
	case ch == '{':
		return mismatch(t, "object")
	case ch == '[':
		return mismatch(t, "array")
	}
	return r.fail("looking for beginning of value")
}

func (d *Decoder) typedList(p *plan) (any, error) {
	r := &d.r
	empty, err := r.enter(']')
	if err != nil {
		return nil, err
	}
	if empty {
		r.leave()
		return []any{}, nil
	}
	base := len(d.scratch)
	defer d.popScratch(base)
	for i := 0; ; i++ {
		v, err := d.typed(p.elem, nil)
		if err != nil {
			return nil, at(err, i)
		}
		d.scratch = append(d.scratch, v)
		more, err := r.next(']', "after array element")
		if err != nil {
			return nil, err
		}
		if !more {
			r.leave()
			out := make([]any, len(d.scratch)-base)
			copy(out, d.scratch[base:])
			return out, nil
		}
	}
}

func (d *Decoder) typedObject(op *objPlan) (any, error) {
	r := &d.r
	m := make(map[string]any, len(op.fields))
	gen := op.next()
	empty, err := r.enter('}')
	if err != nil {
		return nil, err
	}
	for i := 0; !empty; i++ {
		key, err := r.key()
		if err != nil {
			return nil, err
		}
		if k := op.lookup(i, key); k < 0 {
			if err := r.skip(); err != nil {
				return nil, err
			}
		} else {
			f := &op.fields[k]
			v, err := d.typed(f.plan, nil)
			if err != nil {
				return nil, in(err, f.name)
			}
			m[f.name] = v
			op.stamp[k] = gen
		}
		more, err := r.next('}', "after object key:value pair")
		if err != nil {
			return nil, err
		}
		empty = !more
	}
	r.leave()
	for k := range op.fields {
		if op.stamp[k] != gen {
			f := &op.fields[k]
			if !f.optional {
				return nil, &DecodeError{Field: f.name, Msg: msgMissing}
			}
			m[f.name] = nil
		}
	}
	return m, nil
}

// anyValue reads one JSON value without a type: objects become
// map[string]any, arrays []any, integers that fit int64 int64, other
// numbers float64.
func (d *Decoder) anyValue(c *valueCache) (any, error) {
	r := &d.r
	if r.pos >= len(r.data) {
		return nil, r.fail("")
	}
	switch ch := r.data[r.pos]; ch {
	case '"':
		b, err := r.str()
		if err != nil {
			return nil, err
		}
		return c.str(b), nil
	case '{':
		return d.anyObject()
	case '[':
		return d.anyList()
	case 't':
		return true, r.lit("true")
	case 'f':
		return false, r.lit("false")
	case 'n':
		return nil, r.lit("null")
	default:
		if !isNumStart(ch) {
			return nil, r.fail("looking for beginning of value")
		}
		b, isInt, err := r.num()
		if err != nil {
			return nil, err
		}
		if isInt {
			if n, ok := parseInt(b); ok {
				return n, nil
			}
		}
		f, err := parseFloat(b)
		if err != nil {
			return nil, &DecodeError{Msg: "number " + shortText(string(b)) + " out of range"}
		}
		return f, nil
	}
}

func (d *Decoder) anyObject() (any, error) {
	r := &d.r
	m := make(map[string]any)
	empty, err := r.enter('}')
	if err != nil {
		return nil, err
	}
	for !empty {
		kb, err := r.key()
		if err != nil {
			return nil, err
		}
		k := d.key(kb)
		v, err := d.anyValue(nil)
		if err != nil {
			return nil, in(err, k)
		}
		m[k] = v
		more, err := r.next('}', "after object key:value pair")
		if err != nil {
			return nil, err
		}
		empty = !more
	}
	r.leave()
	return m, nil
}

func (d *Decoder) anyList() (any, error) {
	r := &d.r
	empty, err := r.enter(']')
	if err != nil {
		return nil, err
	}
	if empty {
		r.leave()
		return []any{}, nil
	}
	base := len(d.scratch)
	defer d.popScratch(base)
	for i := 0; ; i++ {
		v, err := d.anyValue(nil)
		if err != nil {
			return nil, at(err, i)
		}
		d.scratch = append(d.scratch, v)
		more, err := r.next(']', "after array element")
		if err != nil {
			return nil, err
		}
		if !more {
			r.leave()
			out := make([]any, len(d.scratch)-base)
			copy(out, d.scratch[base:])
			return out, nil
		}
	}
}

// popScratch drops the list elements above base, letting go of them.
func (d *Decoder) popScratch(base int) {
	clear(d.scratch[base:])
	d.scratch = d.scratch[:base]
}

// Interning of nested object member names.
const (
	maxInternedKeys = 4096
	maxInternedLen  = 64
)

func (d *Decoder) key(b []byte) string {
	if s, ok := d.keys[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternedLen && len(d.keys) < maxInternedKeys {
		if d.keys == nil {
			d.keys = make(map[string]string)
		}
		d.keys[s] = s
	}
	return s
}

// decodeFields decodes a structured message. With text (csv), string
// values are text: empty is null, others are converted from text.
func (d *Decoder) decodeFields(fs []sdk.Field, dst []any, text bool) ([]any, error) {
	if d.top == nil {
		dst = d.absent(dst)
		for i := range fs {
			f := &fs[i]
			slot, err := d.slotString(i, f.Name)
			if err != nil {
				return dst, err
			}
			v := f.Value
			if _, ok := v.(string); !ok || !text {
				if v, err = normalize(v); err != nil {
					return dst, in(err, f.Name)
				}
			}
			dst = put(dst, slot, v)
		}
		return d.fillAbsent(dst), nil
	}
	op := d.top
	dst = d.nils(dst)
	gen := op.next()
	for i := range fs {
		f := &fs[i]
		k := op.lookupString(i, f.Name)
		if k < 0 {
			continue
		}
		pf := &op.fields[k]
		t := pf.plan.t
		var v any
		var err error
		s, isText := f.Value.(string)
		switch {
		case isText && text && s == "":
			if !t.Optional {
				err = mismatch(t, "empty value")
			}
		case isText && t.Kind != String && t.Kind != Any:
			c := &d.caches[k]
			var ok bool
			if v, ok = c.getString(s); !ok {
				if v, err = fromText(s, t); err == nil {
					c.put(s, v)
				}
			}
		default:
			v, err = convertKeep(f.Value, t)
		}
		if err != nil {
			return dst, in(err, pf.name)
		}
		dst[k] = v
		op.stamp[k] = gen
	}
	return dst, op.missing(gen)
}

// convertKeep is convert, returning v itself (no new boxing) when it
// already is a value of type t.
func convertKeep(v any, t *Type) (any, error) {
	switch x := v.(type) {
	case string:
		if t.Kind == String || t.Kind == Any {
			return v, nil
		}
	case int64:
		if t.Kind == Int || t.Kind == Any {
			return v, nil
		}
	case float64:
		if t.Kind == Float || t.Kind == Any {
			return v, nil
		}
	case bool:
		if t.Kind == Bool || t.Kind == Any {
			return v, nil
		}
	case time.Duration:
		if t.Kind == Duration || t.Kind == Any {
			return v, nil
		}
	case time.Time:
		if (t.Kind == Timestamp || t.Kind == Any) && x.Location() == time.UTC {
			return v, nil
		}
	}
	return convert(v, t)
}
