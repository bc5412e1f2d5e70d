package sdk

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// FormatTime renders a timestamp the way flowctl prints every timestamp:
// RFC 3339 in UTC with trailing zero nanoseconds trimmed, as in
// "2026-03-17T23:58:00Z" or "2026-03-17T23:58:00.25Z".
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// AppendJSON appends v to buf as JSON and returns the extended buffer.
// Each of the value types plugins exchange has one rendering:
//
//	nil                  null
//	bool                 true, false
//	int64, int, ...      a number
//	float64, float32     the shortest number that reads back to the same
//	                     float, as encoding/json writes it (3.0 is "3");
//	                     NaN and ±Inf, which JSON cannot express, are null
//	string               a string, escaped as encoding/json does without
//	                     HTML escaping; invalid UTF-8 becomes U+FFFD
//	[]byte               a base64 (standard encoding) string
//	time.Time            a string, see FormatTime
//	time.Duration        a string, as Duration.String writes it ("1h30m0s")
//	decimal.Decimal      a number with the decimal's exact digits and scale
//	                     ("12.50"), never in exponent notation
//	[]any                an array
//	map[string]any       an object with its keys sorted
//	anything else        the string fmt's %v makes of it
//
// Scalars are appended without allocating when buf has room, except
// decimals with more than 18 digits.
func AppendJSON(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil, absent:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, v)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case float64:
		return appendJSONFloat(buf, v, 64)
	case bool:
		return strconv.AppendBool(buf, v)
	case time.Time:
		buf = append(buf, '"')
		buf = v.UTC().AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"')
	case decimal.Decimal:
		return appendDecimal(buf, v)
	case time.Duration:
		buf = append(buf, '"')
		buf = append(buf, v.String()...)
		return append(buf, '"')
	case []byte:
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, v)
		return append(buf, '"')
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSON(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		return appendJSONMap(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case int32:
		return strconv.AppendInt(buf, int64(v), 10)
	case int16:
		return strconv.AppendInt(buf, int64(v), 10)
	case int8:
		return strconv.AppendInt(buf, int64(v), 10)
	case uint64:
		return strconv.AppendUint(buf, v, 10)
	case uint:
		return strconv.AppendUint(buf, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(buf, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(buf, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(buf, uint64(v), 10)
	case float32:
		return appendJSONFloat(buf, float64(v), 32)
	default:
		return appendJSONString(buf, fmt.Sprint(v))
	}
}

// AppendJSONObject appends one JSON object to buf, {"c1":v1,"c2":v2,...},
// with the members in column order and each value written by AppendJSON.
// Absent values, and values for which skip returns true, are left out; a
// nil skip keeps every other value. A column without a value (values
// shorter than columns) is null.
func AppendJSONObject(buf []byte, columns []string, values []any, skip func(any) bool) []byte {
	buf = append(buf, '{')
	first := true
	for i, c := range columns {
		var v any
		if i < len(values) {
			v = values[i]
		}
		if v == Absent || skip != nil && skip(v) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, c)
		buf = append(buf, ':')
		buf = AppendJSON(buf, v)
	}
	return append(buf, '}')
}

// FormatText renders v as text for a CSV cell or a table: nil and Absent
// are "",
// strings are themselves, timestamps follow FormatTime, decimals keep their
// exact digits, NaN and ±Inf are "NaN", "+Inf" and "-Inf", and everything
// else reads as its JSON (see AppendJSON) without the quotes of a JSON
// string: a duration is "1h30m0s", bytes are base64, a list is "[1,2]".
func FormatText(v any) string {
	switch v := v.(type) {
	case nil, absent:
		return ""
	case string:
		return v
	case time.Time:
		return FormatTime(v)
	case time.Duration:
		return v.String()
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	case float32:
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 32)
		}
	case bool, int64, int, int32, int16, int8, uint64, uint, uint32, uint16, uint8,
		decimal.Decimal, []any, map[string]any:
	default:
		return fmt.Sprint(v)
	}
	var arr [64]byte
	return string(AppendJSON(arr[:0], v))
}

// safeASCII reports, per byte, whether it goes into a JSON string as is.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping like encoding/json
// with HTML escaping off: '"', '\\' and control characters are escaped,
// U+2028 and U+2029 are written as \u2028 and \u2029, and invalid UTF-8
// becomes \ufffd.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendJSONFloat appends f as encoding/json does: the shortest
// representation, in exponent form only below 1e-6 or from 1e21 on, with
// a two-digit negative exponent shortened ("1e-7", not "1e-07").
func appendJSONFloat(buf []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	buf = strconv.AppendFloat(buf, f, format, -1, bits)
	if format == 'e' {
		n := len(buf)
		if n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}

// appendDecimal appends d's exact value in plain notation, keeping its
// scale: coefficient 1250 with exponent -2 is "12.50", coefficient 12 with
// exponent 2 is "1200". It does not depend on the decimal package's global
// formatting options.
func appendDecimal(buf []byte, d decimal.Decimal) []byte {
	var arr [24]byte
	var digits []byte
	if d.NumDigits() <= 18 {
		digits = strconv.AppendInt(arr[:0], d.CoefficientInt64(), 10)
	} else {
		digits = d.Coefficient().Append(arr[:0], 10)
	}
	if digits[0] == '-' {
		buf = append(buf, '-')
		digits = digits[1:]
	}
	exp := int(d.Exponent())
	switch {
	case exp >= 0:
		buf = append(buf, digits...)
		if digits[0] != '0' {
			for range exp {
				buf = append(buf, '0')
			}
		}
	case len(digits) > -exp:
		point := len(digits) + exp
		buf = append(buf, digits[:point]...)
		buf = append(buf, '.')
		buf = append(buf, digits[point:]...)
	default:
		buf = append(buf, '0', '.')
		for range -exp - len(digits) {
			buf = append(buf, '0')
		}
		buf = append(buf, digits...)
	}
	return buf
}

// appendJSONMap appends m as a JSON object with its keys sorted.
func appendJSONMap(buf []byte, m map[string]any) []byte {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = AppendJSON(buf, m[k])
	}
	return append(buf, '}')
}
