package parquet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/internal/jsonvalue"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// colType is the type of a column, fixed by its first non-null value.
type colType uint8

// The column types; typeNull is a column that has held only nulls.
const (
	typeNull colType = iota
	typeInt64
	typeFloat64
	typeString
	typeBool
	typeBytes
	typeTimestamp
	typeDuration
	typeDecimal
	typeJSON
)

var typeNames = [...]string{"null", "int64", "float64", "string", "bool", "bytes", "timestamp", "duration", "decimal", "json"}

func (t colType) String() string { return typeNames[t] }

// parseType is the inverse of colType.String.
func parseType(s string) (colType, bool) {
	for i, n := range typeNames {
		if n == s {
			return colType(i), true
		}
	}
	return 0, false
}

// typeOf returns the column type of a non-null value; ok is false for a
// Go type the SDK does not exchange.
func typeOf(v any) (t colType, ok bool) {
	switch v.(type) {
	case int64:
		return typeInt64, true
	case float64:
		return typeFloat64, true
	case string:
		return typeString, true
	case bool:
		return typeBool, true
	case []byte:
		return typeBytes, true
	case time.Time:
		return typeTimestamp, true
	case time.Duration:
		return typeDuration, true
	case decimal.Decimal:
		return typeDecimal, true
	case []any, map[string]any:
		return typeJSON, true
	}
	return 0, false
}

// typeName names the type of v for an error message.
func typeName(v any) string {
	if t, ok := typeOf(v); ok {
		return t.String()
	}
	return fmt.Sprintf("%T", v)
}

// isNull reports whether v is a null or a missing value.
func isNull(v any) bool { return v == nil || v == sdk.Absent }

// coder turns values into Parquet values and back, for the sink's
// timestamp unit and decimal scale.
type coder struct {
	nanos bool
	scale int32
}

// node returns the Parquet schema node of a column of type t.
func (c coder) node(t colType) pq.Node {
	var n pq.Node
	switch t {
	case typeInt64, typeDuration:
		n = pq.Leaf(pq.Int64Type)
	case typeFloat64:
		n = pq.Leaf(pq.DoubleType)
	case typeString:
		n = pq.String()
	case typeBool:
		n = pq.Leaf(pq.BooleanType)
	case typeBytes:
		n = pq.Leaf(pq.ByteArrayType)
	case typeTimestamp:
		unit := pq.TimeUnit(pq.Microsecond)
		if c.nanos {
			unit = pq.Nanosecond
		}
		n = pq.Timestamp(unit)
	case typeDecimal:
		n = pq.Decimal(int(c.scale), decimalPrecision, pq.FixedLenByteArrayType(16))
	case typeJSON:
		n = pq.JSON()
	default:
		n = pq.Leaf(pq.NullType)
	}
	return pq.Optional(n)
}

// minNanoTime and maxNanoTime bound the timestamps an int64 of
// nanoseconds since the Unix epoch holds.
var (
	minNanoTime = time.Unix(0, math.MinInt64).UTC()
	maxNanoTime = time.Unix(0, math.MaxInt64).UTC()
)

// maxUnscaled is 10^38, above every unscaled decimal of precision 38.
var maxUnscaled = new(big.Int).Exp(big.NewInt(10), big.NewInt(decimalPrecision), nil)

// value encodes v, a non-null value of column type t, as a Parquet value.
func (c coder) value(t colType, v any) (pq.Value, error) {
	switch t {
	case typeInt64:
		return pq.Int64Value(v.(int64)), nil
	case typeDuration:
		return pq.Int64Value(int64(v.(time.Duration))), nil
	case typeFloat64:
		return pq.DoubleValue(v.(float64)), nil
	case typeString:
		return pq.ByteArrayValue([]byte(v.(string))), nil
	case typeBool:
		return pq.BooleanValue(v.(bool)), nil
	case typeBytes:
		return pq.ByteArrayValue(v.([]byte)), nil
	case typeTimestamp:
		ts := v.(time.Time)
		if !c.nanos {
			return pq.Int64Value(ts.UnixMicro()), nil
		}
		if ts.Before(minNanoTime) || ts.After(maxNanoTime) {
			return pq.Value{}, fmt.Errorf("timestamp %s is outside what nanoseconds hold (1677 to 2262); use timestamp_unit: micros", sdk.FormatTime(ts))
		}
		return pq.Int64Value(ts.UnixNano()), nil
	case typeDecimal:
		b, err := c.decimalBytes(v.(decimal.Decimal))
		if err != nil {
			return pq.Value{}, err
		}
		return pq.FixedLenByteArrayValue(b), nil
	case typeJSON:
		return pq.ByteArrayValue(sdk.AppendJSON(nil, v)), nil
	}
	return pq.Value{}, fmt.Errorf("no Parquet value for a %s column", t)
}

// twoTo128 is 2^128, added to a negative unscaled decimal to make its
// 16-byte two's complement.
var twoTo128 = new(big.Int).Lsh(big.NewInt(1), 128)

// decimalBytes rounds d to the sink's scale (half away from zero) and
// returns its unscaled value as 16 big-endian two's complement bytes.
func (c coder) decimalBytes(d decimal.Decimal) ([]byte, error) {
	u := d.Round(c.scale).Shift(c.scale).BigInt()
	if new(big.Int).Abs(u).Cmp(maxUnscaled) >= 0 {
		return nil, fmt.Errorf("decimal %s has more than %d digits before the point at scale %d", d, decimalPrecision-c.scale, c.scale)
	}
	if u.Sign() < 0 {
		u.Add(u, twoTo128)
	}
	return u.FillBytes(make([]byte, 16)), nil
}

// decode turns a non-null Parquet value of a column of type t back into
// the SDK value it was written from.
func (c coder) decode(t colType, v pq.Value) (any, error) {
	switch t {
	case typeInt64:
		return v.Int64(), nil
	case typeDuration:
		return time.Duration(v.Int64()), nil
	case typeFloat64:
		return v.Double(), nil
	case typeString:
		return string(v.ByteArray()), nil
	case typeBool:
		return v.Boolean(), nil
	case typeBytes:
		return bytes.Clone(v.ByteArray()), nil
	case typeTimestamp:
		if c.nanos {
			return time.Unix(0, v.Int64()).UTC(), nil
		}
		return time.UnixMicro(v.Int64()).UTC(), nil
	case typeDecimal:
		b := v.ByteArray()
		u := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return decimal.NewFromBigInt(u, -c.scale), nil
	case typeJSON:
		return jsonvalue.Decode(v.ByteArray())
	}
	return nil, fmt.Errorf("cannot decode a %s column", t)
}

// metaKey is the file key-value metadata entry that records each
// column's flowctl type, so that durations and JSON read back as such.
const metaKey = "flowctl.columns"

// column is one entry of the metaKey metadata.
type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// schemaOf builds the Parquet schema of a file with these columns, in
// order, all optional.
func (c coder) schemaOf(names []string, types []colType) *pq.Schema {
	g := make(group, len(names))
	for i, n := range names {
		g[i] = field{Node: c.node(types[i]), name: n}
	}
	return pq.NewSchema("flowctl", g)
}

// columnsMeta renders the metaKey metadata of a file.
func columnsMeta(names []string, types []colType) string {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{Name: n, Type: types[i].String()}
	}
	b, _ := json.Marshal(cols)
	return string(b)
}

// group is a Parquet group whose fields keep their order (parquet.Group
// sorts them by name).
type group []pq.Field

func (g group) ID() int                     { return 0 }
func (g group) String() string              { return fmt.Sprintf("group(%d fields)", len(g)) }
func (g group) Type() pq.Type               { return pq.Group{}.Type() }
func (g group) Optional() bool              { return false }
func (g group) Repeated() bool              { return false }
func (g group) Required() bool              { return true }
func (g group) Leaf() bool                  { return false }
func (g group) Fields() []pq.Field          { return g }
func (g group) Encoding() encoding.Encoding { return nil }
func (g group) Compression() compress.Codec { return nil }
func (g group) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }

// field is a named node of a group.
type field struct {
	pq.Node
	name string
}

func (f field) Name() string { return f.name }

// Value is not used: rows are written as parquet.Row values.
func (f field) Value(reflect.Value) reflect.Value { return reflect.Value{} }
