package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/builtin"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

// library is the function library added to expr's builtins. Each entry is
// typed (Types or Validate) so that misuse is a compile error. Every
// function returns null when a value argument is null, except coalesce,
// concat (which skip nulls) and starts_with/ends_with (false).
var library = []*builtin.Function{
	{
		Name: "parse_time",
		Func: parseTime,
		// The most common form goes last: its mismatch is the one the
		// checker reports.
		Types: sigs(
			new(func(string, string) time.Time),
			new(func(string) time.Time),
		),
	},
	{
		Name:  "format_time",
		Func:  formatTime,
		Types: sigs(new(func(time.Time, string) string)),
	},
	{
		Name: "from_unix_ms",
		Func: fromUnixMs,
		Types: sigs(
			new(func(float64) time.Time),
			new(func(int64) time.Time),
		),
	},
	{
		Name:  "unix_ms",
		Func:  timeFunc("unix_ms", func(t time.Time) any { return t.UnixMilli() }),
		Types: sigs(new(func(time.Time) int64)),
	},
	datePart("year", func(t time.Time) int64 { return int64(t.Year()) }),
	datePart("month", func(t time.Time) int64 { return int64(t.Month()) }),
	datePart("day", func(t time.Time) int64 { return int64(t.Day()) }),
	datePart("hour", func(t time.Time) int64 { return int64(t.Hour()) }),
	datePart("minute", func(t time.Time) int64 { return int64(t.Minute()) }),
	datePart("second", func(t time.Time) int64 { return int64(t.Second()) }),
	datePart("weekday", func(t time.Time) int64 { return int64(t.Weekday()) }),
	{
		Name:  "date",
		Func:  timeFunc("date", func(t time.Time) any { return t.Format(time.DateOnly) }),
		Types: sigs(new(func(time.Time) string)),
	},
	{
		Name: "truncate_time",
		Func: truncateTime,
		Types: sigs(
			new(func(time.Time, string) time.Time),
			new(func(time.Time, time.Duration) time.Time),
		),
	},
	{
		Name:  "starts_with",
		Func:  stringTest("starts_with", strings.HasPrefix),
		Types: sigs(new(func(string, string) bool)),
	},
	{
		Name:  "ends_with",
		Func:  stringTest("ends_with", strings.HasSuffix),
		Types: sigs(new(func(string, string) bool)),
	},
	{
		Name:  "substr",
		Func:  substr,
		Types: sigs(new(func(string, int64, int64) string)),
	},
	{
		Name:     "concat",
		Func:     concat,
		Validate: validateConcat,
	},
	{
		Name:     "coalesce",
		Func:     coalesce,
		Validate: validateCoalesce,
	},
	{
		Name:  "to_int",
		Func:  convFunc("to_int", toInt),
		Types: sigs(new(func(any) int64)),
	},
	{
		Name:  "to_float",
		Func:  convFunc("to_float", toFloat),
		Types: sigs(new(func(any) float64)),
	},
	{
		Name:  "to_string",
		Func:  convFunc("to_string", func(v any) (any, error) { return formatValue(v), nil }),
		Types: sigs(new(func(any) string)),
	},
	{
		Name:  "to_decimal",
		Func:  convFunc("to_decimal", toDecimal),
		Types: sigs(new(func(any) decimal.Decimal)),
	},
}

// sigs turns pointers to func values into their types.
func sigs(fns ...any) []reflect.Type {
	out := make([]reflect.Type, len(fns))
	for i, f := range fns {
		out[i] = reflect.TypeOf(f).Elem()
	}
	return out
}

// valueType is the user-facing type name of a runtime value.
func valueType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "int"
	case float32, float64:
		return "float"
	case string:
		return "string"
	case time.Time:
		return "timestamp"
	case time.Duration:
		return "duration"
	case decimal.Decimal:
		return "decimal"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return userTypes(fmt.Sprintf("%T", v))
}

// asFloat64 returns v as a float64 when it is a float or an integer.
func asFloat64(v any) (float64, bool) {
	if f, ok := record.Float64(v); ok {
		return f, true
	}
	if i, ok := record.Int64(v); ok {
		return float64(i), true
	}
	return 0, false
}

func wantError(fn, want string, got any) error {
	return fmt.Errorf("%s: want %s, got %s", fn, want, valueType(got))
}

func parseTime(args ...any) (any, error) {
	if len(args) == 0 || len(args) > 2 {
		return nil, fmt.Errorf("parse_time: want 1 or 2 arguments, got %d", len(args))
	}
	if args[0] == nil {
		return nil, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, wantError("parse_time", "a string", args[0])
	}
	if len(args) == 1 {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("parse_time: cannot parse %q as an RFC 3339 timestamp", s)
		}
		return t.UTC(), nil
	}
	layout, ok := args[1].(string)
	if !ok {
		return nil, wantError("parse_time", "a string layout", args[1])
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return nil, fmt.Errorf("parse_time: cannot parse %q with layout %q", s, layout)
	}
	return t.UTC(), nil
}

func formatTime(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("format_time: want 2 arguments, got %d", len(args))
	}
	if args[0] == nil {
		return nil, nil
	}
	t, ok := args[0].(time.Time)
	if !ok {
		return nil, wantError("format_time", "a timestamp", args[0])
	}
	layout, ok := args[1].(string)
	if !ok {
		return nil, wantError("format_time", "a string layout", args[1])
	}
	return t.UTC().Format(layout), nil
}

func fromUnixMs(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("from_unix_ms: want 1 argument, got %d", len(args))
	}
	if args[0] == nil {
		return nil, nil
	}
	if n, ok := record.Int64(args[0]); ok {
		return time.UnixMilli(n).UTC(), nil
	}
	f, ok := args[0].(float64)
	if !ok {
		return nil, wantError("from_unix_ms", "a number", args[0])
	}
	t, ok := msTime(f)
	if !ok {
		return nil, fmt.Errorf("from_unix_ms: %v is out of range", f)
	}
	return t, nil
}

// msTime converts epoch milliseconds with a fraction to a time.
func msTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.Abs(f) > 9e15 {
		return time.Time{}, false
	}
	whole := math.Floor(f)
	ns := math.Round((f - whole) * 1e6)
	return time.UnixMilli(int64(whole)).Add(time.Duration(ns)).UTC(), true
}

// timeFunc wraps a function of one timestamp.
func timeFunc(name string, f func(time.Time) any) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s: want 1 argument, got %d", name, len(args))
		}
		if args[0] == nil {
			return nil, nil
		}
		t, ok := args[0].(time.Time)
		if !ok {
			return nil, fmt.Errorf("%s: want a timestamp, got %s (parse text with parse_time)", name, valueType(args[0]))
		}
		return f(t.UTC()), nil
	}
}

func datePart(name string, f func(time.Time) int64) *builtin.Function {
	return &builtin.Function{
		Name:  name,
		Func:  timeFunc(name, func(t time.Time) any { return f(t) }),
		Types: sigs(new(func(time.Time) int64)),
	}
}

// minNanoTime and maxNanoTime bound the times whose Unix nanoseconds fit
// an int64.
var (
	minNanoTime = time.Unix(0, math.MinInt64).UTC()
	maxNanoTime = time.Unix(0, math.MaxInt64).UTC()
)

func truncateTime(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("truncate_time: want 2 arguments, got %d", len(args))
	}
	if args[0] == nil || args[1] == nil {
		return nil, nil
	}
	t, ok := args[0].(time.Time)
	if !ok {
		return nil, wantError("truncate_time", "a timestamp", args[0])
	}
	var d time.Duration
	switch x := args[1].(type) {
	case time.Duration:
		d = x
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			return nil, fmt.Errorf("truncate_time: invalid duration %q", x)
		}
	default:
		return nil, wantError("truncate_time", "a duration", args[1])
	}
	if d <= 0 {
		return nil, fmt.Errorf("truncate_time: duration must be positive, got %s", d)
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return nil, fmt.Errorf("truncate_time: timestamp %s is out of range", t.UTC().Format(time.RFC3339))
	}
	// Aligned to the Unix epoch, like windows.
	ns := t.UnixNano()
	r := ns % int64(d)
	if r < 0 {
		r += int64(d)
	}
	return time.Unix(0, ns-r).UTC(), nil
}

// stringTest wraps a string predicate; null input gives false.
func stringTest(name string, f func(s, x string) bool) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: want 2 arguments, got %d", name, len(args))
		}
		if args[0] == nil || args[1] == nil {
			return false, nil
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, wantError(name, "a string", args[0])
		}
		x, ok := args[1].(string)
		if !ok {
			return nil, wantError(name, "a string", args[1])
		}
		return f(s, x), nil
	}
}

// substr returns length runes of s from rune start (0-based), clamped to
// the end of s.
func substr(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("substr: want 3 arguments, got %d", len(args))
	}
	if args[0] == nil || args[1] == nil || args[2] == nil {
		return nil, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, wantError("substr", "a string", args[0])
	}
	start, ok := record.Int64(args[1])
	if !ok {
		return nil, wantError("substr", "an int start", args[1])
	}
	n, ok := record.Int64(args[2])
	if !ok {
		return nil, wantError("substr", "an int length", args[2])
	}
	if start < 0 || n < 0 {
		return nil, fmt.Errorf("substr: start and length must not be negative, got %d and %d", start, n)
	}
	from := runeOffset(s, start)
	to := from + runeOffset(s[from:], n)
	return s[from:to], nil
}

// runeOffset is the byte offset of rune n of s, or len(s).
func runeOffset(s string, n int64) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

func isList(v any) bool {
	switch v.(type) {
	case nil, string, []byte:
		return false
	}
	k := reflect.TypeOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array
}

func isListType(t reflect.Type) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return false
	}
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8
}

func isUnknownType(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

func validateConcat(args []reflect.Type) (reflect.Type, error) {
	lists, others, unknown := 0, 0, 0
	for _, t := range args {
		switch {
		case isUnknownType(t):
			unknown++
		case isListType(t):
			lists++
		default:
			others++
		}
	}
	switch {
	case lists > 0 && others > 0:
		return anyType, errors.New("concat: cannot mix lists and other values")
	case lists > 0:
		return listType, nil
	case others == 0 && unknown > 0:
		return anyType, nil
	}
	return stringType, nil
}

// concat joins strings (other values are formatted as by to_string, nulls
// are skipped) or, when given lists, concatenates them.
func concat(args ...any) (any, error) {
	for _, a := range args {
		if isList(a) {
			return concatLists(args)
		}
	}
	var b strings.Builder
	for _, a := range args {
		switch x := a.(type) {
		case nil:
		case string:
			b.WriteString(x)
		default:
			b.WriteString(formatValue(x))
		}
	}
	return b.String(), nil
}

func concatLists(args []any) (any, error) {
	var out []any
	for _, a := range args {
		if a == nil {
			continue
		}
		if !isList(a) {
			return nil, fmt.Errorf("concat: cannot mix lists and %s", valueType(a))
		}
		v := reflect.ValueOf(a)
		for i := 0; i < v.Len(); i++ {
			out = append(out, v.Index(i).Interface())
		}
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func validateCoalesce(args []reflect.Type) (reflect.Type, error) {
	if len(args) == 0 {
		return anyType, errors.New("coalesce: want at least 1 argument")
	}
	var out reflect.Type
	for _, t := range args {
		switch {
		case t == nil:
			continue // null literal
		case t.Kind() == reflect.Interface:
			return anyType, nil
		}
		if isIntKind(t) && t != durationType {
			t = int64Type
		}
		if out == nil {
			out = t
		} else if out != t {
			return anyType, nil
		}
	}
	if out == nil {
		return anyType, nil
	}
	return out, nil
}

func isIntKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}

// convFunc wraps a conversion of one value; null converts to null.
func convFunc(name string, f func(any) (any, error)) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s: want 1 argument, got %d", name, len(args))
		}
		if args[0] == nil {
			return nil, nil
		}
		out, err := f(args[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return out, nil
	}
}

func toInt(v any) (any, error) {
	if i, ok := record.Int64(v); ok {
		return i, nil
	}
	switch x := v.(type) {
	case float64, float32:
		f, _ := asFloat64(x)
		if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
			return nil, fmt.Errorf("%v is out of range for int", f)
		}
		return int64(f), nil
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot convert %q to int", x)
		}
		return i, nil
	case decimal.Decimal:
		b := x.Truncate(0).BigInt()
		if !b.IsInt64() {
			return nil, fmt.Errorf("%s is out of range for int", x)
		}
		return b.Int64(), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return nil, fmt.Errorf("cannot convert %s to int", valueType(v))
}

func toFloat(v any) (any, error) {
	if f, ok := asFloat64(v); ok {
		return f, nil
	}
	switch x := v.(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("cannot convert %q to float", x)
		}
		return f, nil
	case decimal.Decimal:
		return x.InexactFloat64(), nil
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	}
	return nil, fmt.Errorf("cannot convert %s to float", valueType(v))
}

func toDecimal(v any) (any, error) {
	switch x := v.(type) {
	case decimal.Decimal:
		return x, nil
	case string:
		d, err := decimal.NewFromString(strings.TrimSpace(x))
		if err != nil {
			return nil, fmt.Errorf("cannot convert %q to decimal", x)
		}
		return d, nil
	}
	return asDecimal(v)
}

// asDecimal converts a number to a decimal.
func asDecimal(v any) (decimal.Decimal, error) {
	if d, ok := v.(decimal.Decimal); ok {
		return d, nil
	}
	if i, ok := record.Int64(v); ok {
		return decimal.NewFromInt(i), nil
	}
	if f, ok := asFloat64(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return decimal.Decimal{}, fmt.Errorf("cannot convert %v to decimal", f)
		}
		return decimal.NewFromFloat(f), nil
	}
	return decimal.Decimal{}, fmt.Errorf("cannot convert %s to decimal", valueType(v))
}

// formatValue renders a value as text: timestamps as RFC 3339 in UTC,
// floats without exponent in the usual range, lists and objects as JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case decimal.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
	}
	if i, ok := record.Int64(v); ok {
		return strconv.FormatInt(i, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
