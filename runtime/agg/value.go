package agg

import (
	"cmp"
	"math"
	"math/big"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

// isNull reports whether v is nil or record.Absent: a missing argument,
// skipped by every aggregate but count().
func isNull(v any) bool { return v == nil || v == record.Absent }

// class orders values of different kinds for min and max of schemaless
// fields: booleans, then numbers (compared by value across int, float and
// decimal), strings, bytes, timestamps, durations.
type class uint8

const (
	classNone class = iota
	classBool
	classNumber
	classString
	classBytes
	classTime
	classDuration
)

func classOf(v any) class {
	switch v.(type) {
	case bool:
		return classBool
	case int64, float64, decimal.Decimal, int, int32, int16, int8, uint8, uint16, uint32, uint, uint64, float32:
		return classNumber
	case string:
		return classString
	case []byte:
		return classBytes
	case time.Time:
		return classTime
	case time.Duration:
		return classDuration
	}
	return classNone
}

// compare orders two non-null scalar values (see class). Floats order as
// cmp.Compare does: NaN before every other number.
func compare(a, b any) int {
	ca, cb := classOf(a), classOf(b)
	if ca != cb {
		return cmp.Compare(ca, cb)
	}
	switch ca {
	case classBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case classNumber:
		return compareNumbers(a, b)
	case classString:
		return cmp.Compare(a.(string), b.(string))
	case classBytes:
		return cmp.Compare(string(a.([]byte)), string(b.([]byte)))
	case classTime:
		return a.(time.Time).Compare(b.(time.Time))
	case classDuration:
		return cmp.Compare(a.(time.Duration), b.(time.Duration))
	}
	return 0
}

// compareNumbers compares two numbers of any numeric Go type exactly.
func compareNumbers(a, b any) int {
	if i, ok := record.Int64(a); ok {
		if j, ok := record.Int64(b); ok {
			return cmp.Compare(i, j)
		}
		if g, ok := record.Float64(b); ok {
			return compareIntFloat(i, g)
		}
		if d, ok := b.(decimal.Decimal); ok {
			return decimal.NewFromInt(i).Cmp(d)
		}
		return 0
	}
	if f, ok := record.Float64(a); ok {
		if j, ok := record.Int64(b); ok {
			return -compareIntFloat(j, f)
		}
		if g, ok := record.Float64(b); ok {
			return cmp.Compare(f, g)
		}
		if d, ok := b.(decimal.Decimal); ok {
			return compareFloatDecimal(f, d)
		}
		return 0
	}
	if d, ok := a.(decimal.Decimal); ok {
		if j, ok := record.Int64(b); ok {
			return d.Cmp(decimal.NewFromInt(j))
		}
		if g, ok := record.Float64(b); ok {
			return -compareFloatDecimal(g, d)
		}
		if e, ok := b.(decimal.Decimal); ok {
			return d.Cmp(e)
		}
	}
	return 0
}

// compareIntFloat compares an int64 with a float64 exactly.
func compareIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1
	case f >= math.MaxInt64: // 2^63: above every int64
		return -1
	case f < math.MinInt64:
		return 1
	}
	t := int64(f) // truncates toward zero, exact for |f| < 2^63
	if c := cmp.Compare(i, t); c != 0 {
		return c
	}
	frac := f - float64(t)
	switch {
	case frac > 0:
		return -1
	case frac < 0:
		return 1
	}
	return 0
}

func compareFloatDecimal(f float64, d decimal.Decimal) int {
	switch {
	case math.IsNaN(f) || math.IsInf(f, -1):
		return -1
	case math.IsInf(f, 1):
		return 1
	}
	return decimal.NewFromFloat(f).Cmp(d)
}

// int128 is a signed 128-bit integer, enough that sums of int64 values
// never overflow in practice (2^64 values of 2^63).
type int128 struct {
	lo uint64
	hi int64
}

func (x *int128) add64(v int64) {
	s := x.lo + uint64(v)
	carry := int64(0)
	if s < x.lo {
		carry = 1
	}
	x.hi += carry
	if v < 0 {
		x.hi--
	}
	x.lo = s
}

func (x *int128) add(y int128) {
	s := x.lo + y.lo
	carry := int64(0)
	if s < x.lo {
		carry = 1
	}
	x.hi += y.hi + carry
	x.lo = s
}

// int64 returns x and whether it fits in an int64.
func (x int128) int64() (int64, bool) {
	v := int64(x.lo)
	return v, (x.hi == 0 && v >= 0) || (x.hi == -1 && v < 0)
}

func (x int128) float64() float64 {
	if v, ok := x.int64(); ok {
		return float64(v)
	}
	return x.float64Slow()
}

func (x int128) float64Slow() float64 {
	f, _ := new(big.Float).SetInt(x.big()).Float64()
	return f
}

func (x int128) big() *big.Int {
	b := new(big.Int).SetInt64(x.hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(x.lo))
}

// decimal returns x as a decimal.
func (x int128) decimal() decimal.Decimal {
	if v, ok := x.int64(); ok {
		return decimal.NewFromInt(v)
	}
	return decimal.NewFromBigInt(x.big(), 0)
}

// value returns x as an int64 when it fits, else exactly as a decimal.
func (x int128) value() any {
	if v, ok := x.int64(); ok {
		return v
	}
	return x.decimal()
}

// pow10 holds the powers of ten that fit in an int64.
var pow10 = [...]int64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// smallDecimal splits d into an int64 coefficient and an exponent when the
// coefficient fits in 18 digits, without allocating.
func smallDecimal(d decimal.Decimal) (c int64, e int32, ok bool) {
	if d.NumDigits() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

// mulPow10 returns c·10^n and whether it fits in an int64.
func mulPow10(c int64, n int64) (int64, bool) {
	if n == 0 || c == 0 {
		return c, true
	}
	if n < 0 || n >= int64(len(pow10)) {
		return 0, false
	}
	p := pow10[n]
	r := c * p
	if r/p != c {
		return 0, false
	}
	return r, true
}

// decSum is an exact running sum of decimals held as an int64 coefficient
// and an exponent, the exponent being the smallest of the inputs (as
// decimal.Decimal.Add does). It reports overflow instead of allocating;
// callers then carry the excess in a decimal.Decimal.
type decSum struct {
	c int64
	e int32
}

// add adds c2·10^e2 and reports false, leaving s unchanged, if the result
// does not fit.
func (s *decSum) add(c2 int64, e2 int32) bool {
	c1, e1 := s.c, s.e
	switch {
	case e2 < e1:
		var ok bool
		if c1, ok = mulPow10(c1, int64(e1)-int64(e2)); !ok {
			return false
		}
		e1 = e2
	case e2 > e1:
		var ok bool
		if c2, ok = mulPow10(c2, int64(e2)-int64(e1)); !ok {
			return false
		}
	}
	r := c1 + c2
	if (c1 >= 0) == (c2 >= 0) && (r >= 0) != (c1 >= 0) {
		return false
	}
	s.c, s.e = r, e1
	return true
}

func (s decSum) decimal() decimal.Decimal { return decimal.New(s.c, s.e) }

// addInt64 returns a+b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	r := a + b
	if (a >= 0) == (b >= 0) && (r >= 0) != (a >= 0) {
		return 0, false
	}
	return r, true
}
