package wire

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of flowctl.plugin.v1.Value and the messages inside it.
const (
	valueNull      = 1
	valueAbsent    = 2
	valueBool      = 3
	valueInt       = 4
	valueDouble    = 5
	valueString    = 6
	valueBytes     = 7
	valueTimestamp = 8
	valueWideTime  = 9
	valueDuration  = 10
	valueDecimal   = 11
	valueList      = 12
	valueMap       = 13

	wideSeconds = 1 // WideTime.seconds
	wideNanos   = 2 // WideTime.nanos
	listValues  = 1 // List.values
	mapKeys     = 1 // Map.keys
	mapValues   = 2 // Map.values
)

// The seconds of the timestamps that timestamp_value holds as int64
// nanoseconds: about 1678 to 2262.
const (
	minNanoSec = math.MinInt64/int64(time.Second) + 1
	maxNanoSec = math.MaxInt64/int64(time.Second) - 1
)

// Begin starts a length-delimited field num (a nested message) and returns
// where its content starts, for End.
func Begin(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0) // the length, fixed by End
	return b, len(b)
}

// End finishes the field Begin started at start, writing its length.
func End(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	for range k - 1 {
		b = append(b, 0)
	}
	copy(b[start-1+k:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// AppendValue appends v as field num, a flowctl.plugin.v1.Value. absent is
// the value that stands for an absent field. Integers of every size cross
// as int64 and float32 as float64; other types not in the SDK's list of
// value types are an error.
func AppendValue(b []byte, num protowire.Number, v, absent any) ([]byte, error) {
	// The common scalars, whose size is known before they are written.
	switch v := v.(type) {
	case int64:
		x := protowire.EncodeZigZag(v)
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = append(b, byte(1+protowire.SizeVarint(x)), valueInt<<3|byte(protowire.VarintType))
		return protowire.AppendVarint(b, x), nil
	case string:
		if len(v) < 0x80-2 {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = append(b, byte(2+len(v)), valueString<<3|byte(protowire.BytesType), byte(len(v)))
			return append(b, v...), nil
		}
	case float64:
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = append(b, 9, valueDouble<<3|byte(protowire.Fixed64Type))
		return protowire.AppendFixed64(b, math.Float64bits(v)), nil
	case time.Time:
		if sec := v.Unix(); sec >= minNanoSec && sec <= maxNanoSec {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = append(b, 9, valueTimestamp<<3|byte(protowire.Fixed64Type))
			return protowire.AppendFixed64(b, uint64(sec*1e9+int64(v.Nanosecond()))), nil
		}
	}
	b, start := Begin(b, num)
	b, err := appendValueBody(b, v, absent)
	if err != nil {
		return b, err
	}
	return End(b, start), nil
}

func appendValueBody(b []byte, v, absent any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		b = protowire.AppendTag(b, valueNull, protowire.VarintType)
		return append(b, 0), nil
	case int64:
		return appendInt(b, v), nil
	case string:
		b = protowire.AppendTag(b, valueString, protowire.BytesType)
		return protowire.AppendString(b, v), nil
	case float64:
		b = protowire.AppendTag(b, valueDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v)), nil
	case bool:
		b = protowire.AppendTag(b, valueBool, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v)), nil
	case time.Time:
		return AppendTime(b, valueTimestamp, valueWideTime, v), nil
	case decimal.Decimal:
		b = protowire.AppendTag(b, valueDecimal, protowire.BytesType)
		b = append(b, 0) // the length, fixed by End
		start := len(b)
		b = appendDecimal(b, v)
		return End(b, start), nil
	case time.Duration:
		b = protowire.AppendTag(b, valueDuration, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(v))), nil
	case []byte:
		b = protowire.AppendTag(b, valueBytes, protowire.BytesType)
		return protowire.AppendBytes(b, v), nil
	case []any:
		return appendList(b, v, absent)
	case map[string]any:
		return appendMap(b, v, absent)
	case int:
		return appendInt(b, int64(v)), nil
	case int32:
		return appendInt(b, int64(v)), nil
	case int16:
		return appendInt(b, int64(v)), nil
	case int8:
		return appendInt(b, int64(v)), nil
	case uint8:
		return appendInt(b, int64(v)), nil
	case uint16:
		return appendInt(b, int64(v)), nil
	case uint32:
		return appendInt(b, int64(v)), nil
	case uint:
		return appendUint(b, uint64(v))
	case uint64:
		return appendUint(b, v)
	case float32:
		return appendValueBody(b, float64(v), absent)
	}
	if v == absent {
		b = protowire.AppendTag(b, valueAbsent, protowire.VarintType)
		return append(b, 0), nil
	}
	return b, fmt.Errorf("unsupported value type %T", v)
}

func appendInt(b []byte, v int64) []byte {
	b = protowire.AppendTag(b, valueInt, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeZigZag(v))
}

func appendUint(b []byte, v uint64) ([]byte, error) {
	if v > math.MaxInt64 {
		return b, fmt.Errorf("unsigned integer %d does not fit an int64", v)
	}
	return appendInt(b, int64(v)), nil
}

func appendList(b []byte, l []any, absent any) ([]byte, error) {
	b, start := Begin(b, valueList)
	for i, e := range l {
		var err error
		if b, err = AppendValue(b, listValues, e, absent); err != nil {
			return b, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return End(b, start), nil
}

// appendMap appends a Map with its keys sorted, so that equal maps encode
// alike.
func appendMap(b []byte, m map[string]any, absent any) ([]byte, error) {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b, start := Begin(b, valueMap)
	for _, k := range keys {
		b = protowire.AppendTag(b, mapKeys, protowire.BytesType)
		b = protowire.AppendString(b, k)
	}
	for _, k := range keys {
		var err error
		if b, err = AppendValue(b, mapValues, m[k], absent); err != nil {
			return b, fmt.Errorf("%s: %w", k, err)
		}
	}
	return End(b, start), nil
}

// AppendTime appends t as field num, an sfixed64 of nanoseconds since the
// Unix epoch, or, when t is outside the years that can hold (about 1678 to
// 2262), as field wideNum, a WideTime.
func AppendTime(b []byte, num, wideNum protowire.Number, t time.Time) []byte {
	sec := t.Unix()
	if sec >= minNanoSec && sec <= maxNanoSec {
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, uint64(sec*1e9+int64(t.Nanosecond())))
	}
	b, start := Begin(b, wideNum)
	b = protowire.AppendTag(b, wideSeconds, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(sec))
	b = protowire.AppendTag(b, wideNanos, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.Nanosecond()))
	return End(b, start)
}

// appendDecimal appends d's exact value as text that keeps its scale:
// coefficient 1250 with exponent -2 is "12.50", coefficient 12 with
// exponent 3 is "12e3".
func appendDecimal(b []byte, d decimal.Decimal) []byte {
	var arr [24]byte
	var digits []byte
	if d.NumDigits() <= 18 {
		digits = strconv.AppendInt(arr[:0], d.CoefficientInt64(), 10)
	} else {
		digits = d.Coefficient().Append(arr[:0], 10)
	}
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	exp := int(d.Exponent())
	switch {
	case exp > 0:
		b = append(b, digits...)
		b = append(b, 'e')
		return strconv.AppendInt(b, int64(exp), 10)
	case exp == 0:
		return append(b, digits...)
	case len(digits) > -exp:
		point := len(digits) + exp
		b = append(b, digits[:point]...)
		b = append(b, '.')
		return append(b, digits[point:]...)
	default:
		b = append(b, '0', '.')
		for range -exp - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
}
