package parquet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/internal/jsonvalue"
)

// metaKey is the file metadata entry in which the parquet sink records
// each column's type; it tells durations and JSON columns apart.
const metaKey = "flowctl.columns"

// column is one entry of the metaKey metadata.
type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// decoder turns the Parquet values of one column into SDK values.
type decoder func(v pq.Value) (any, error)

// julianUnixEpoch is the Julian day of 1970-01-01, for INT96 timestamps.
const julianUnixEpoch = 2440588

// decoderOf returns the decoder of a top-level leaf column from its
// physical and logical type; flowctlType, from the sink's metadata, marks
// durations.
func decoderOf(n pq.Node, flowctlType string) (decoder, error) {
	typ := n.Type()
	var lt format.LogicalTypeValue
	if l := typ.LogicalType(); l != nil {
		lt = l.Value
	}
	switch typ.Kind() {
	case pq.Boolean:
		return func(v pq.Value) (any, error) { return v.Boolean(), nil }, nil
	case pq.Int32:
		switch lt := lt.(type) {
		case *format.DateType:
			return func(v pq.Value) (any, error) { return time.Unix(int64(v.Int32())*86400, 0).UTC(), nil }, nil
		case *format.DecimalType:
			return func(v pq.Value) (any, error) { return decimal.New(int64(v.Int32()), -lt.Scale), nil }, nil
		case *format.TimeType:
			return func(v pq.Value) (any, error) { return time.Duration(v.Int32()) * time.Millisecond, nil }, nil
		case *format.IntType:
			if !lt.IsSigned {
				return func(v pq.Value) (any, error) { return int64(uint32(v.Int32())), nil }, nil
			}
		}
		return func(v pq.Value) (any, error) { return int64(v.Int32()), nil }, nil
	case pq.Int64:
		switch lt := lt.(type) {
		case *format.TimestampType:
			unit := lt.Unit.Value.Duration()
			return func(v pq.Value) (any, error) { return fromUnits(v.Int64(), unit), nil }, nil
		case *format.DecimalType:
			return func(v pq.Value) (any, error) { return decimal.New(v.Int64(), -lt.Scale), nil }, nil
		case *format.TimeType:
			unit := lt.Unit.Value.Duration()
			return func(v pq.Value) (any, error) { return time.Duration(v.Int64()) * unit, nil }, nil
		}
		if flowctlType == "duration" {
			return func(v pq.Value) (any, error) { return time.Duration(v.Int64()), nil }, nil
		}
		return func(v pq.Value) (any, error) { return v.Int64(), nil }, nil
	case pq.Int96:
		return func(v pq.Value) (any, error) {
			b := v.ByteArray()
			if len(b) != 12 {
				return nil, fmt.Errorf("INT96 value of %d bytes", len(b))
			}
			nanos := int64(binary.LittleEndian.Uint64(b[:8]))
			days := int64(binary.LittleEndian.Uint32(b[8:]))
			return time.Unix((days-julianUnixEpoch)*86400, nanos).UTC(), nil
		}, nil
	case pq.Float:
		return func(v pq.Value) (any, error) { return float64(v.Float()), nil }, nil
	case pq.Double:
		return func(v pq.Value) (any, error) { return v.Double(), nil }, nil
	case pq.ByteArray, pq.FixedLenByteArray:
		return bytesDecoder(lt), nil
	}
	return nil, fmt.Errorf("unsupported Parquet type %s", typ)
}

// bytesDecoder decodes BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY columns.
func bytesDecoder(lt format.LogicalTypeValue) decoder {
	switch lt := lt.(type) {
	case *format.StringType, *format.EnumType:
		return func(v pq.Value) (any, error) { return string(v.ByteArray()), nil }
	case *format.JsonType:
		return func(v pq.Value) (any, error) { return jsonvalue.Decode(v.ByteArray()) }
	case *format.DecimalType:
		return func(v pq.Value) (any, error) { return decimal.NewFromBigInt(signedBig(v.ByteArray()), -lt.Scale), nil }
	case *format.UUIDType:
		return func(v pq.Value) (any, error) { return formatUUID(v.ByteArray()), nil }
	}
	return func(v pq.Value) (any, error) { return bytes.Clone(v.ByteArray()), nil }
}

// fromUnits converts n units since the Unix epoch to a UTC time.
func fromUnits(n int64, unit time.Duration) time.Time {
	switch unit {
	case time.Millisecond:
		return time.UnixMilli(n).UTC()
	case time.Microsecond:
		return time.UnixMicro(n).UTC()
	}
	return time.Unix(0, n).UTC()
}

// signedBig reads big-endian two's complement bytes.
func signedBig(b []byte) *big.Int {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return u
}

func formatUUID(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// statTime decodes a row group's min or max statistic of a timestamp or
// date column; ok is false if it cannot.
func statTime(n pq.Node, b []byte) (time.Time, bool) {
	typ := n.Type()
	l := typ.LogicalType()
	if l == nil {
		return time.Time{}, false
	}
	switch lt := l.Value.(type) {
	case *format.TimestampType:
		if typ.Kind() != pq.Int64 || len(b) != 8 {
			return time.Time{}, false
		}
		return fromUnits(int64(binary.LittleEndian.Uint64(b)), lt.Unit.Value.Duration()), true
	case *format.DateType:
		if typ.Kind() != pq.Int32 || len(b) != 4 {
			return time.Time{}, false
		}
		return time.Unix(int64(int32(binary.LittleEndian.Uint32(b)))*86400, 0).UTC(), true
	}
	return time.Time{}, false
}

// isTime reports whether a column holds timestamps or dates.
func isTime(n pq.Node) bool {
	if n.Type().Kind() == pq.Int96 {
		return true
	}
	l := n.Type().LogicalType()
	if l == nil {
		return false
	}
	switch l.Value.(type) {
	case *format.TimestampType, *format.DateType:
		return true
	}
	return false
}
