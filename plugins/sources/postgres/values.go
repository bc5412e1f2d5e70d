package postgres

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// useNumberJSON makes json and jsonb columns decode numbers as
// json.Number, so that value turns integers into int64 rather than
// float64.
func useNumberJSON(conn *pgx.Conn) {
	unmarshal := func(data []byte, v any) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		return dec.Decode(v)
	}
	m := conn.TypeMap()
	m.RegisterType(&pgtype.Type{Name: "json", OID: pgtype.JSONOID, Codec: &pgtype.JSONCodec{Marshal: json.Marshal, Unmarshal: unmarshal}})
	m.RegisterType(&pgtype.Type{Name: "jsonb", OID: pgtype.JSONBOID, Codec: &pgtype.JSONBCodec{Marshal: json.Marshal, Unmarshal: unmarshal}})
}

// value turns what pgx decodes a column into (rows.Values) into one of
// the SDK's value types:
//
//	smallint, integer, bigint    int64
//	real, double precision       float64
//	numeric                      decimal.Decimal (NaN and ±Infinity: float64)
//	timestamp, timestamptz, date time.Time in UTC (±infinity: the strings)
//	interval                     time.Duration (a month counts 30 days)
//	text, varchar, char, enums   string
//	bytea                        []byte
//	json, jsonb                  the decoded value: nil, bool, string,
//	                             int64 or float64, []any, map[string]any
//	uuid                         string, "0b6c...-..." form
//	arrays                       []any
//	other types                  their text form
func value(v any) any {
	switch v := v.(type) {
	case nil, bool, string, int64, float64, []byte:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case uint32:
		return int64(v)
	case float32:
		return float64(v)
	case time.Time:
		return v.UTC()
	case pgtype.Numeric:
		return numeric(v)
	case pgtype.InfinityModifier:
		return v.String()
	case pgtype.Interval:
		if !v.Valid {
			return nil
		}
		return time.Duration(v.Microseconds)*time.Microsecond + time.Duration(v.Days)*24*time.Hour +
			time.Duration(v.Months)*30*24*time.Hour
	case [16]byte:
		return uuid(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = value(e)
		}
		return out
	case driver.Valuer:
		dv, err := v.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		return value(dv)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// numeric converts a numeric; NaN and infinities, which a decimal cannot
// hold, become floats.
func numeric(n pgtype.Numeric) any {
	switch {
	case !n.Valid:
		return nil
	case n.NaN:
		return math.NaN()
	case n.InfinityModifier == pgtype.Infinity:
		return math.Inf(1)
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return math.Inf(-1)
	}
	if n.Exp > 0 {
		// An integer with trailing zero digits: keep its scale of 0.
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil)
		return decimal.NewFromBigInt(new(big.Int).Mul(n.Int, scale), 0)
	}
	return decimal.NewFromBigInt(n.Int, n.Exp)
}

// uuid renders a uuid in its canonical form.
func uuid(b [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:])
	return string(buf[:])
}
