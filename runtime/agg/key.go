package agg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

// Type tags of the key encoding. Window snapshots store group keys and
// count_distinct members in this encoding (TestKeyEncodingGolden pins it),
// so a change needs a new snapshot version in package window.
const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagBytes
	tagTime
	tagDuration
	tagDecimal    // normalized coefficient fits in an int64
	tagBigDecimal // larger coefficient
	tagList
	tagMap
)

// canonicalNaN is the one NaN that keys hold.
var canonicalNaN = math.Float64bits(math.NaN())

// AppendKey appends a self-delimiting, type-tagged binary encoding of v to
// dst, so that two values have equal encodings exactly when they are the
// same value of the same kind. Values are canonicalized: nil and
// record.Absent encode alike, every Go integer type as int64, float32 as
// float64, -0 as 0, every NaN alike, a decimal by its value (1.50 and 1.5
// alike), a time by its instant, a map by its sorted entries. Numbers of
// different kinds stay distinct: int 1, float 1.0 and decimal 1 are three
// keys. The encodings of several values concatenated form a composite key.
// AppendKey does not allocate for nil, bool, numbers, strings, bytes,
// times, durations and decimals of up to 18 digits, beyond growing dst.
func AppendKey(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNil), nil
	case bool:
		if x {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt), x), nil
	case string:
		dst = binary.AppendUvarint(append(dst, tagString), uint64(len(x)))
		return append(dst, x...), nil
	case float64:
		return appendFloat(dst, x), nil
	case decimal.Decimal:
		return appendDecimal(dst, x), nil
	case time.Time:
		dst = binary.AppendVarint(append(dst, tagTime), x.Unix())
		return binary.AppendUvarint(dst, uint64(x.Nanosecond())), nil
	case time.Duration:
		return binary.AppendVarint(append(dst, tagDuration), int64(x)), nil
	case []byte:
		dst = binary.AppendUvarint(append(dst, tagBytes), uint64(len(x)))
		return append(dst, x...), nil
	case float32:
		return appendFloat(dst, float64(x)), nil
	case []any:
		dst = binary.AppendUvarint(append(dst, tagList), uint64(len(x)))
		for _, e := range x {
			var err error
			if dst, err = AppendKey(dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = binary.AppendUvarint(append(dst, tagMap), uint64(len(x)))
		for _, k := range names {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			var err error
			if dst, err = AppendKey(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	if isNull(v) {
		return append(dst, tagNil), nil
	}
	if i, ok := record.Int64(v); ok {
		return binary.AppendVarint(append(dst, tagInt), i), nil
	}
	return dst, fmt.Errorf("cannot use a value of type %T as a key", v)
}

func appendFloat(dst []byte, f float64) []byte {
	bits := math.Float64bits(f)
	switch {
	case f == 0:
		bits = 0
	case f != f:
		bits = canonicalNaN
	}
	return binary.LittleEndian.AppendUint64(append(dst, tagFloat), bits)
}

func appendDecimal(dst []byte, d decimal.Decimal) []byte {
	c, e, ok := smallDecimal(d)
	if !ok {
		d = d.Normalize()
		c, e, ok = smallDecimal(d)
	}
	if ok {
		exp := int64(e)
		if c == 0 {
			exp = 0
		}
		for c != 0 && c%10 == 0 && exp < math.MaxInt32 {
			c /= 10
			exp++
		}
		dst = binary.AppendVarint(append(dst, tagDecimal), c)
		return binary.AppendVarint(dst, exp)
	}
	coef := d.Coefficient()
	dst = binary.AppendVarint(append(dst, tagBigDecimal), int64(d.Exponent()))
	dst = append(dst, byte(coef.Sign()+1))
	b := coef.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// errBadKey reports a malformed encoding given to DecodeKey.
var errBadKey = errors.New("malformed key encoding")

// DecodeKey decodes the value at the start of b, encoded by AppendKey, and
// returns it with the rest of b. It returns each value in its canonical
// form: int64, float64, time.Time in UTC, normalized decimals, nil for
// record.Absent.
func DecodeKey(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, b, errBadKey
	}
	tag, b := b[0], b[1:]
	switch tag {
	case tagNil:
		return nil, b, nil
	case tagFalse:
		return false, b, nil
	case tagTrue:
		return true, b, nil
	case tagInt:
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, b, errBadKey
		}
		return v, b[n:], nil
	case tagFloat:
		if len(b) < 8 {
			return nil, b, errBadKey
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], nil
	case tagString, tagBytes:
		s, rest, err := decodeBytes(b)
		if err != nil {
			return nil, b, err
		}
		if tag == tagString {
			return string(s), rest, nil
		}
		return slices.Clone(s), rest, nil
	case tagTime:
		sec, n := binary.Varint(b)
		if n <= 0 {
			return nil, b, errBadKey
		}
		nsec, m := binary.Uvarint(b[n:])
		if m <= 0 || nsec >= 1e9 {
			return nil, b, errBadKey
		}
		return time.Unix(sec, int64(nsec)).UTC(), b[n+m:], nil
	case tagDuration:
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, b, errBadKey
		}
		return time.Duration(v), b[n:], nil
	case tagDecimal:
		c, n := binary.Varint(b)
		if n <= 0 {
			return nil, b, errBadKey
		}
		e, m := binary.Varint(b[n:])
		if m <= 0 || e < math.MinInt32 || e > math.MaxInt32 {
			return nil, b, errBadKey
		}
		return decimal.New(c, int32(e)), b[n+m:], nil
	case tagBigDecimal:
		e, n := binary.Varint(b)
		if n <= 0 || e < math.MinInt32 || e > math.MaxInt32 || len(b) <= n {
			return nil, b, errBadKey
		}
		sign := int(b[n]) - 1
		mag, rest, err := decodeBytes(b[n+1:])
		if err != nil {
			return nil, b, err
		}
		coef := new(big.Int).SetBytes(mag)
		if sign < 0 {
			coef.Neg(coef)
		}
		return decimal.NewFromBigInt(coef, int32(e)), rest, nil
	case tagList:
		n, m := binary.Uvarint(b)
		if m <= 0 || n > uint64(len(b)) {
			return nil, b, errBadKey
		}
		b = b[m:]
		list := make([]any, n)
		for i := range list {
			var err error
			if list[i], b, err = DecodeKey(b); err != nil {
				return nil, b, err
			}
		}
		return list, b, nil
	case tagMap:
		n, m := binary.Uvarint(b)
		if m <= 0 || n > uint64(len(b)) {
			return nil, b, errBadKey
		}
		b = b[m:]
		obj := make(map[string]any, n)
		for range n {
			k, rest, err := decodeBytes(b)
			if err != nil {
				return nil, b, err
			}
			var v any
			if v, b, err = DecodeKey(rest); err != nil {
				return nil, b, err
			}
			obj[string(k)] = v
		}
		return obj, b, nil
	}
	return nil, b, errBadKey
}

func decodeBytes(b []byte) ([]byte, []byte, error) {
	n, m := binary.Uvarint(b)
	if m <= 0 || n > uint64(len(b)-m) {
		return nil, b, errBadKey
	}
	end := m + int(n)
	return b[m:end], b[end:], nil
}

// CheckKey reports whether b is a concatenation of whole encodings that
// DecodeKey accepts (a composite key), nested at most 10000 deep. It does
// not allocate.
func CheckKey(b []byte) error {
	for len(b) > 0 {
		var err error
		if b, err = skipKey(b, 0); err != nil {
			return err
		}
	}
	return nil
}

// skipKey returns b after the encoded value at its start, accepting
// exactly what DecodeKey accepts.
func skipKey(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return b, errBadKey
	}
	tag, b := b[0], b[1:]
	switch tag {
	case tagNil, tagFalse, tagTrue:
		return b, nil
	case tagInt, tagDuration:
		_, n := binary.Varint(b)
		if n <= 0 {
			return b, errBadKey
		}
		return b[n:], nil
	case tagFloat:
		if len(b) < 8 {
			return b, errBadKey
		}
		return b[8:], nil
	case tagString, tagBytes:
		_, rest, err := decodeBytes(b)
		return rest, err
	case tagTime:
		_, n := binary.Varint(b)
		if n <= 0 {
			return b, errBadKey
		}
		nsec, m := binary.Uvarint(b[n:])
		if m <= 0 || nsec >= 1e9 {
			return b, errBadKey
		}
		return b[n+m:], nil
	case tagDecimal:
		_, n := binary.Varint(b)
		if n <= 0 {
			return b, errBadKey
		}
		e, m := binary.Varint(b[n:])
		if m <= 0 || e < math.MinInt32 || e > math.MaxInt32 {
			return b, errBadKey
		}
		return b[n+m:], nil
	case tagBigDecimal:
		e, n := binary.Varint(b)
		if n <= 0 || e < math.MinInt32 || e > math.MaxInt32 || len(b) <= n {
			return b, errBadKey
		}
		_, rest, err := decodeBytes(b[n+1:])
		return rest, err
	case tagList, tagMap:
		n, m := binary.Uvarint(b)
		if m <= 0 || n > uint64(len(b)) || depth >= maxNesting {
			return b, errBadKey
		}
		b = b[m:]
		for range n {
			if tag == tagMap {
				var err error
				if _, b, err = decodeBytes(b); err != nil {
					return b, err
				}
			}
			var err error
			if b, err = skipKey(b, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, errBadKey
}
