package schema

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

// DecodeError is a record that does not fit its schema or is not valid in
// its format. Field is the path of the offending field ("device.version",
// "tags[2]"), empty when the problem is with the whole record.
type DecodeError struct {
	Field string
	Msg   string
}

// msgMissing is the Msg of the error for a required field that is absent.
const msgMissing = "missing required field"

// Error renders "FIELD: MSG", or MSG alone when Field is empty; a missing
// required field renders as `missing required field "FIELD"`.
func (e *DecodeError) Error() string {
	switch {
	case e.Field == "":
		return e.Msg
	case e.Msg == msgMissing:
		return msgMissing + " " + strconv.Quote(e.Field)
	}
	return e.Field + ": " + e.Msg
}

// in prefixes the field path of err, when it is a *DecodeError, with the
// name of the enclosing field.
func in(err error, name string) error {
	e, ok := err.(*DecodeError)
	if !ok {
		return err
	}
	switch {
	case e.Field == "":
		e.Field = name
	case e.Field[0] == '[':
		e.Field = name + e.Field
	default:
		e.Field = name + "." + e.Field
	}
	return err
}

// at prefixes the field path of err with a list index.
func at(err error, i int) error {
	return in(err, "["+strconv.Itoa(i)+"]")
}

// wantName is the type named in messages: the type without its "?".
func wantName(t *Type) string {
	u := *t
	u.Optional = false
	return u.String()
}

func mismatch(t *Type, got string) error {
	return &DecodeError{Msg: "want " + wantName(t) + ", got " + got}
}

// maxShown bounds how much of a bad value an error message shows.
const maxShown = 64

func shortText(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func gotString(s string) string { return "string " + strconv.Quote(shortText(s)) }

func gotNumber(s string) string { return "number " + shortText(s) }

// describe names a Go value for an error message: its kind and, for
// scalars, the value.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return gotString(v)
	case bool:
		return "bool " + strconv.FormatBool(v)
	case int64:
		return gotNumber(strconv.FormatInt(v, 10))
	case float64:
		return gotNumber(strconv.FormatFloat(v, 'g', -1, 64))
	case decimal.Decimal:
		return gotNumber(v.String())
	case json.Number:
		return gotNumber(string(v))
	case time.Time:
		return "timestamp " + v.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return "duration " + v.String()
	case []byte:
		return "bytes"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if v == record.Absent {
		return "null"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return gotNumber(strconvAny(rv))
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map:
		return "object"
	}
	return "value of type " + reflect.TypeOf(v).String()
}

func strconvAny(rv reflect.Value) string {
	switch {
	case rv.CanInt():
		return strconv.FormatInt(rv.Int(), 10)
	case rv.CanUint():
		return strconv.FormatUint(rv.Uint(), 10)
	default:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	}
}

// Convert converts one value to type t: a value from JSON decoding
// (encoding/json's float64, json.Number, string, bool, []any,
// map[string]any), a text value as read from CSV, or a plugin's
// structured field. Strings are read as text for the other types (see
// the package doc); numbers convert when the value fits the type exactly.
// nil (and record.Absent) is allowed only when t is optional. Lists and
// objects convert member by member; an object keeps only its declared
// members, with nil for optional ones that are absent. Errors are
// *DecodeError, with Field the path below the value ("[2]", "os").
func Convert(v any, t Type) (any, error) {
	return convert(v, &t)
}

func convert(v any, t *Type) (any, error) {
	if v == nil || v == record.Absent {
		if t.Optional {
			return nil, nil
		}
		return nil, mismatch(t, "null")
	}
	if s, ok := v.(string); ok && t.Kind != String && t.Kind != Any {
		return fromText(s, t)
	}
	switch t.Kind {
	case Any:
		return normalize(v)
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Int:
		if n, ok := toInt(v); ok {
			return n, nil
		}
	case Float:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Decimal:
		return toDecimal(v, t)
	case Timestamp:
		if tm, err := ToTime(v); err == nil {
			return tm, nil
		}
	case Duration:
		if d, ok := v.(time.Duration); ok {
			return d, nil
		}
	case List:
		return convertList(v, t)
	case Object:
		return convertObject(v, t)
	}
	// Named string and bool types convert as their underlying values;
	// json.Number is a number.
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String:
		if _, number := v.(json.Number); !number {
			return convert(rv.String(), t)
		}
	case reflect.Bool:
		if _, plain := v.(bool); !plain {
			return convert(rv.Bool(), t)
		}
	}
	return nil, mismatch(t, describe(v))
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case float64:
		if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
			return int64(v), true
		}
		return 0, false
	case json.Number:
		return parseInt(v)
	case decimal.Decimal:
		if v.IsInteger() {
			if n := v.IntPart(); decimal.NewFromInt(n).Equal(v) {
				return n, true
			}
		}
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return rv.Int(), true
	case rv.CanUint():
		u := rv.Uint()
		return int64(u), u <= math.MaxInt64
	case rv.CanFloat():
		return toInt(rv.Float())
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	case decimal.Decimal:
		return v.InexactFloat64(), true
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanFloat():
		return rv.Float(), true
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	}
	return 0, false
}

func toDecimal(v any, t *Type) (any, error) {
	var d decimal.Decimal
	switch x := v.(type) {
	case decimal.Decimal:
		d = x
	case json.Number:
		return decimalText(string(x), t, true)
	default:
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanFloat():
			f := rv.Float()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, mismatch(t, describe(v))
			}
			d = decimal.NewFromFloat(f)
		case rv.CanInt():
			d = decimal.NewFromInt(rv.Int())
		case rv.CanUint():
			d = decimal.NewFromUint64(rv.Uint())
		default:
			return nil, mismatch(t, describe(v))
		}
	}
	out, why, ok := fitDecimal(d, t.Precision, t.Scale)
	if !ok {
		return nil, mismatch(t, describe(v)+" ("+why+")")
	}
	return out, nil
}

func isFloat(v any) bool {
	if v == nil {
		return false
	}
	k := reflect.TypeOf(v).Kind()
	return k == reflect.Float32 || k == reflect.Float64
}

// decimalText converts decimal text; number says whether the text came
// as a number (rather than a string), for the message.
func decimalText[T text](b T, t *Type, number bool) (any, error) {
	d, why, ok := parseDecimal(b, t.Precision, t.Scale)
	if ok {
		return d, nil
	}
	got := gotString(string(b))
	if number {
		got = gotNumber(string(b))
	}
	if why != "" {
		got += " (" + why + ")"
	}
	return nil, mismatch(t, got)
}

func convertList(v any, t *Type) (any, error) {
	elem := t.Elem
	if elem == nil {
		elem = &Type{Kind: Any}
	}
	if in, ok := v.([]any); ok {
		if in == nil {
			return convert(nil, t)
		}
		out := make([]any, len(in))
		for i, x := range in {
			y, err := convert(x, elem)
			if err != nil {
				return nil, at(err, i)
			}
			out[i] = y
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array || rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, mismatch(t, describe(v))
	}
	if rv.Kind() == reflect.Slice && rv.IsNil() {
		return convert(nil, t)
	}
	out := make([]any, rv.Len())
	for i := range out {
		y, err := convert(rv.Index(i).Interface(), elem)
		if err != nil {
			return nil, at(err, i)
		}
		out[i] = y
	}
	return out, nil
}

func convertObject(v any, t *Type) (any, error) {
	m, ok := v.(map[string]any)
	if ok && m == nil {
		return convert(nil, t)
	}
	if !ok {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return nil, mismatch(t, describe(v))
		}
		if rv.IsNil() {
			return convert(nil, t)
		}
		m = make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
	}
	if len(t.Fields) == 0 {
		return normalize(m)
	}
	out := make(map[string]any, len(t.Fields))
	for i := range t.Fields {
		f := &t.Fields[i]
		x, ok := m[f.Name]
		if !ok && !f.Type.Optional {
			return nil, &DecodeError{Field: f.Name, Msg: msgMissing}
		}
		y, err := convert(x, &f.Type)
		if err != nil {
			return nil, in(err, f.Name)
		}
		out[f.Name] = y
	}
	return out, nil
}

// fromText converts a non-empty text value (a CSV cell, a raw payload, a
// string given for a non-string type) to t.
func fromText(s string, t *Type) (any, error) {
	switch t.Kind {
	case String, Any:
		return s, nil
	case Int:
		if n, ok := parseInt(s); ok {
			return n, nil
		}
	case Float:
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	case Bool:
		switch s {
		case "true", "TRUE", "True":
			return true, nil
		case "false", "FALSE", "False":
			return false, nil
		}
	case Decimal:
		return decimalText(s, t, false)
	case Timestamp:
		if tm, ok := parseTimeText(s); ok {
			return tm, nil
		}
	case Duration:
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	case List, Object:
		var d Decoder
		b := []byte(s)
		d.r.reset(b)
		d.r.ws()
		if d.r.pos < len(b) && (t.Kind == List && b[d.r.pos] == '[' || t.Kind == Object && b[d.r.pos] == '{') {
			p := newPlan(t)
			v, err := d.typed(p, nil)
			if err == nil {
				err = d.r.end()
			}
			if se, ok := err.(*syntaxError); ok {
				err = &DecodeError{Msg: "want " + wantName(t) + " as JSON text, got " + gotString(s) + " (" + se.Error() + ")"}
			}
			return v, err
		}
	}
	return nil, mismatch(t, gotString(s))
}

// ToTime converts a value to a timestamp in UTC: a time.Time; RFC 3339
// text with any offset; epoch milliseconds as an integer, a float64 (with
// a fraction for sub-millisecond precision), or digits in text. Errors
// are *DecodeError.
func ToTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		if t, ok := parseTimeText(v); ok {
			return t, nil
		}
	case []byte:
		if t, ok := parseTimeText(v); ok {
			return t, nil
		}
	case float64:
		if t, ok := epochMillis(v); ok {
			return t, nil
		}
	case json.Number:
		if n, ok := parseInt(string(v)); ok {
			return time.UnixMilli(n).UTC(), nil
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			if t, ok := epochMillis(f); ok {
				return t, nil
			}
		}
	default:
		if n, ok := toInt(v); ok && !isFloat(v) {
			return time.UnixMilli(n).UTC(), nil
		}
		if f, ok := toFloat(v); ok {
			if t, ok := epochMillis(f); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, mismatch(&Type{Kind: Timestamp}, describe(v))
}

// normalize turns a Go value into one of the runtime's value types:
// other integer types become int64 (or a decimal when beyond int64),
// float32 float64, json.Number int64 or float64, slices []any, maps with
// string keys map[string]any, record.Absent nil.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Duration, decimal.Decimal:
		return v, nil
	case time.Time:
		return x.UTC(), nil
	case int:
		return int64(x), nil
	case json.Number:
		if n, ok := parseInt(string(x)); ok {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, &DecodeError{Msg: "bad number " + shortText(string(x))}
		}
		return f, nil
	case []any:
		var out []any
		for i, e := range x {
			y, err := normalize(e)
			if err != nil {
				return nil, at(err, i)
			}
			if out == nil && !sameValue(y, e) {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = y
			}
		}
		if out == nil {
			return x, nil
		}
		return out, nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			y, err := normalize(e)
			if err != nil {
				return nil, in(err, k)
			}
			if out == nil && !sameValue(y, e) {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = y
			}
		}
		if out == nil {
			return x, nil
		}
		return out, nil
	}
	if v == record.Absent {
		return nil, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u > math.MaxInt64 {
			return decimal.NewFromUint64(u), nil
		} else {
			return int64(u), nil
		}
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			y, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, at(err, i)
			}
			out[i] = y
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				y, err := normalize(it.Value().Interface())
				if err != nil {
					return nil, in(err, it.Key().String())
				}
				out[it.Key().String()] = y
			}
			return out, nil
		}
	}
	return nil, &DecodeError{Msg: "unsupported value of type " + reflect.TypeOf(v).String()}
}

// sameValue reports whether normalizing kept x as it was (only scalars
// and the same containers compare as the same).
func sameValue(y, x any) bool {
	switch x := x.(type) {
	case []any, map[string]any:
		return reflect.ValueOf(y).UnsafePointer() == reflect.ValueOf(x).UnsafePointer()
	case time.Time:
		return x.Location() == time.UTC
	}
	return reflect.TypeOf(y) == reflect.TypeOf(x)
}
