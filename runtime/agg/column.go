package agg

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// Column is an array of accumulators of one Func, indexed by slot. Slots
// start empty; Reset empties one for reuse. Count, sum, avg and min and max
// of ints, floats and durations keep their state in pointer-free arrays
// (8 to 24 bytes a slot) and do not allocate in Add. A Column is not safe
// for concurrent use.
type Column interface {
	// Grow makes slots [0, n) valid; new slots are empty. Growing past
	// the capacity allocates exactly n slots, so callers that add slots
	// one by one should grow geometrically.
	Grow(n int)
	// Add adds v with event time t to slot i (see Acc.Add). v must have
	// passed the Func's Check; a value that did not is ignored.
	Add(i int, v any, t int64)
	// Merge adds slot j of src, a column of the same Func (possibly the
	// receiver, with j != i), into slot i, as if its values had been added
	// after slot i's. It panics if src is another kind of column.
	Merge(i int, src Column, j int)
	// Result returns slot i's current value.
	Result(i int) any
	// Reset empties slot i.
	Reset(i int)
	// AppendState appends the state of slots ss, in order, to dst in the
	// binary form described in state.go, and returns it. It fails only on
	// a value AppendValue cannot write (a first or last of a Go type no
	// record holds); dst is then to be discarded.
	AppendState(dst []byte, ss []int32) ([]byte, error)
	// ReadState sets slots ss, which must be valid and empty, from the
	// state at the start of b written by AppendState of a column of the
	// same Func, and returns the rest of b. On malformed or truncated
	// state it returns an error and the column is to be discarded.
	ReadState(b []byte, ss []int32) ([]byte, error)
}

// NewColumn returns an empty column of f's accumulators.
func (f *Func) NewColumn() Column {
	k := f.arg.Kind
	switch f.op {
	case opCount:
		return &countCol{noArg: f.noArg}
	case opSum:
		switch k {
		case schema.Int, schema.Duration:
			return &intSumCol{dur: k == schema.Duration}
		case schema.Float:
			return &floatSumCol{}
		}
		return &numCol{kind: k}
	case opAvg:
		scale := int32(-1)
		if k == schema.Decimal {
			scale = int32(f.arg.Scale) + avgExtraScale
		}
		return &avgCol{numCol: numCol{kind: k}, scale: scale}
	case opMin, opMax:
		switch k {
		case schema.Int, schema.Duration:
			return &minMaxIntCol{max: f.op == opMax, dur: k == schema.Duration}
		case schema.Float:
			return &minMaxFloatCol{max: f.op == opMax}
		}
		return &minMaxCol{max: f.op == opMax, kind: k}
	case opFirst, opLast:
		return &firstLastCol{last: f.op == opLast, kind: k}
	case opCountDistinct:
		return &distinctCol{kind: k}
	case opApproxCountDistinct:
		return &hllCol{kind: k}
	case opApproxPercentile:
		return &percentileCol{p: f.param}
	}
	panic(fmt.Sprintf("agg: no column for op %d", f.op))
}

// grow returns s extended with zero values to length n. Past its capacity
// it allocates exactly n, as callers grow geometrically.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	ns := make([]T, n)
	copy(ns, s)
	return ns
}

// bitset is a growable set of slots.
type bitset []uint64

func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) unset(i int)    { b[i>>6] &^= 1 << (uint(i) & 63) }
func (b *bitset) grow(n int)    { *b = grow(*b, (n+63)>>6) }

func mismatch(dst, src Column) string {
	return fmt.Sprintf("agg: cannot merge a %T into a %T", src, dst)
}

// normalize converts v to the Go type results of kind k hold: int64 for
// every integer, float64 for float32 (and for integers when k is Float),
// decimal.Decimal for integers when k is Decimal. It does not allocate for
// values already in that form.
func normalize(k schema.Kind, v any) any {
	switch v.(type) {
	case int64, float64, string, decimal.Decimal, bool, time.Time, time.Duration:
		if k == schema.Float || k == schema.Decimal {
			break
		}
		return v
	}
	if i, ok := record.Int64(v); ok {
		switch k {
		case schema.Float:
			return float64(i)
		case schema.Decimal:
			return decimal.NewFromInt(i)
		}
		if _, ok := v.(int64); ok {
			return v
		}
		return i
	}
	if f, ok := v.(float32); ok {
		return float64(f)
	}
	return v
}

// countCol counts records (count()) or non-null values (count(x)).
type countCol struct {
	n     []int64
	noArg bool
}

func (c *countCol) Grow(n int) { c.n = grow(c.n, n) }

func (c *countCol) Add(i int, v any, _ int64) {
	if c.noArg || !isNull(v) {
		c.n[i]++
	}
}

func (c *countCol) Merge(i int, src Column, j int) {
	s, ok := src.(*countCol)
	if !ok {
		panic(mismatch(c, src))
	}
	c.n[i] += s.n[j]
}

func (c *countCol) Result(i int) any { return c.n[i] }
func (c *countCol) Reset(i int)      { c.n[i] = 0 }

// Modes of a numeric sum.
const (
	modeNone    uint8 = iota
	modeInt           // w is the sum
	modeBigInt        // a sum of ints beyond int64, held as a decimal
	modeFloat         // w holds the float64 bits of the sum
	modeDecimal       // the sum is w·10^e plus the column's over[i]
)

// num is an exact-where-possible numeric sum: an int64 sum, a float64 sum
// (bits in w), or a decimal sum of coefficient w and exponent e, plus the
// excess in the column's over map once the coefficient overflowed.
type num struct {
	w    int64
	e    int32
	mode uint8
}

func (p *num) float() float64 { return math.Float64frombits(uint64(p.w)) }

func (p *num) setFloat(f float64) {
	p.w = int64(math.Float64bits(f))
	p.e = 0
	p.mode = modeFloat
}

// numCol is the column of sum: see the package documentation for the
// rules of mixed input.
type numCol struct {
	kind schema.Kind
	s    []num
	over map[int]decimal.Decimal // decimal sums beyond an int64 coefficient
}

func (c *numCol) Grow(n int) { c.s = grow(c.s, n) }

func (c *numCol) Reset(i int) {
	c.s[i] = num{}
	c.dropOver(i)
}

func (c *numCol) dropOver(i int) {
	if c.over != nil {
		delete(c.over, i)
	}
}

func (c *numCol) Add(i int, v any, _ int64) {
	switch x := v.(type) {
	case int64:
		c.addInt(i, x)
	case float64:
		c.addFloat(i, x)
	case decimal.Decimal:
		c.addDecimal(i, x, false)
	case time.Duration:
		c.addInt(i, int64(x))
	default:
		if isNull(v) {
			return
		}
		if n, ok := record.Int64(v); ok {
			c.addInt(i, n)
		} else if f, ok := record.Float64(v); ok {
			c.addFloat(i, f)
		}
	}
}

func (c *numCol) addInt(i int, x int64) {
	switch c.kind {
	case schema.Float:
		c.addFloat(i, float64(x))
		return
	case schema.Decimal:
		c.addExact(i, x, 0, false)
		return
	}
	p := &c.s[i]
	switch p.mode {
	case modeNone:
		p.w, p.mode = x, modeInt
	case modeInt:
		if r, ok := addInt64(p.w, x); ok {
			p.w = r
			return
		}
		c.addExact(i, x, 0, true)
	case modeFloat:
		p.setFloat(p.float() + float64(x))
	default:
		c.addExact(i, x, 0, true)
	}
}

func (c *numCol) addFloat(i int, x float64) {
	p := &c.s[i]
	switch p.mode {
	case modeNone:
		p.setFloat(x)
	case modeInt:
		p.setFloat(float64(p.w) + x)
	case modeFloat:
		p.setFloat(p.float() + x)
	case modeBigInt:
		c.toFloat(i, x)
	case modeDecimal:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			c.toFloat(i, x)
			return
		}
		c.addDecimal(i, decimal.NewFromFloat(x), false)
	}
}

// toFloat turns the exact sum of slot i into a float64 sum, plus x.
func (c *numCol) toFloat(i int, x float64) {
	f := c.decTotal(i).InexactFloat64()
	c.dropOver(i)
	c.s[i].setFloat(f + x)
}

// addDecimal adds d, an int when isInt (a sum of ints beyond int64).
func (c *numCol) addDecimal(i int, d decimal.Decimal, isInt bool) {
	p := &c.s[i]
	if p.mode == modeFloat {
		f := p.float()
		if isInt || math.IsNaN(f) || math.IsInf(f, 0) {
			p.setFloat(f + d.InexactFloat64())
			return
		}
		*p = num{}
		c.addDecimal(i, decimal.NewFromFloat(f), false)
	}
	if cf, e, ok := smallDecimal(d); ok {
		c.addExact(i, cf, e, isInt)
		return
	}
	switch p.mode {
	case modeNone:
		// A zero coefficient at d's exponent keeps the sum's exponent the
		// smallest of the inputs'.
		p.w, p.e = 0, d.Exponent()
	case modeInt:
		p.e = 0
	}
	p.mode = exactMode(p.mode, isInt)
	if c.over == nil {
		c.over = make(map[int]decimal.Decimal)
	}
	if o, ok := c.over[i]; ok {
		c.over[i] = o.Add(d)
	} else {
		c.over[i] = d
	}
}

// exactMode is the mode of an exact sum in mode m after adding a decimal,
// or an int when isInt.
func exactMode(m uint8, isInt bool) uint8 {
	if m == modeDecimal || !isInt {
		return modeDecimal
	}
	return modeBigInt
}

// addExact adds cf·10^e to the exact sum of slot i, an int when isInt.
func (c *numCol) addExact(i int, cf int64, e int32, isInt bool) {
	p := &c.s[i]
	switch p.mode {
	case modeNone:
		p.w, p.e, p.mode = cf, e, exactMode(modeNone, isInt)
		return
	case modeFloat:
		c.addDecimal(i, decimal.New(cf, e), isInt)
		return
	case modeInt:
		p.e = 0
	}
	p.mode = exactMode(p.mode, isInt)
	s := decSum{c: p.w, e: p.e}
	if s.add(cf, e) {
		p.w, p.e = s.c, s.e
		return
	}
	// Carry the small sum into the excess and start again from this value.
	if c.over == nil {
		c.over = make(map[int]decimal.Decimal)
	}
	if o, ok := c.over[i]; ok {
		c.over[i] = o.Add(s.decimal())
	} else {
		c.over[i] = s.decimal()
	}
	p.w, p.e = cf, e
}

// decTotal returns the exact sum of slot i (in an exact mode).
func (c *numCol) decTotal(i int) decimal.Decimal {
	p := &c.s[i]
	d := decimal.New(p.w, p.e)
	if c.over != nil {
		if o, ok := c.over[i]; ok {
			return o.Add(d)
		}
	}
	return d
}

func (c *numCol) Merge(i int, src Column, j int) {
	s, ok := src.(*numCol)
	if !ok {
		panic(mismatch(c, src))
	}
	c.merge(i, s, j)
}

func (c *numCol) merge(i int, s *numCol, j int) {
	q := s.s[j]
	switch q.mode {
	case modeInt:
		c.addInt(i, q.w)
	case modeFloat:
		c.addFloat(i, q.float())
	case modeBigInt, modeDecimal:
		isInt := q.mode == modeBigInt
		if s.over != nil {
			if o, ok := s.over[j]; ok {
				c.addDecimal(i, o, isInt)
			}
		}
		c.addExact(i, q.w, q.e, isInt)
	}
}

func (c *numCol) Result(i int) any {
	p := &c.s[i]
	switch p.mode {
	case modeInt:
		if c.kind == schema.Duration {
			return time.Duration(p.w)
		}
		return p.w
	case modeBigInt:
		d := c.decTotal(i)
		if b := d.BigInt(); b.IsInt64() {
			if c.kind == schema.Duration {
				return time.Duration(b.Int64())
			}
			return b.Int64()
		}
		if c.kind == schema.Duration {
			return durationOf(d.InexactFloat64())
		}
		return d
	case modeFloat:
		return p.float()
	case modeDecimal:
		return c.decTotal(i)
	}
	return nil
}

// intSumCol is sum of ints or durations: an int64 a slot, plus the excess
// beyond the int64 range in an int128 for the rare slots that overflow.
type intSumCol struct {
	v    []int64
	has  bitset
	over map[int]int128
	dur  bool
}

func (c *intSumCol) Grow(n int) {
	c.v = grow(c.v, n)
	c.has.grow(n)
}

func (c *intSumCol) Reset(i int) {
	c.v[i] = 0
	c.has.unset(i)
	if c.over != nil {
		delete(c.over, i)
	}
}

func (c *intSumCol) Add(i int, v any, _ int64) {
	var x int64
	switch y := v.(type) {
	case int64:
		x = y
	case time.Duration:
		x = int64(y)
	default:
		var ok bool
		if x, ok = record.Int64(v); !ok {
			return
		}
	}
	c.add(i, x)
}

func (c *intSumCol) add(i int, x int64) {
	c.has.set(i)
	if r, ok := addInt64(c.v[i], x); ok {
		c.v[i] = r
		return
	}
	if c.over == nil {
		c.over = make(map[int]int128)
	}
	o := c.over[i]
	o.add64(c.v[i])
	c.over[i] = o
	c.v[i] = x
}

func (c *intSumCol) Merge(i int, src Column, j int) {
	s, ok := src.(*intSumCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if !s.has.has(j) {
		return
	}
	c.add(i, s.v[j])
	if s.over != nil {
		if o, ok := s.over[j]; ok {
			if c.over == nil {
				c.over = make(map[int]int128)
			}
			x := c.over[i]
			x.add(o)
			c.over[i] = x
		}
	}
}

func (c *intSumCol) Result(i int) any {
	if !c.has.has(i) {
		return nil
	}
	total := int128{lo: uint64(c.v[i]), hi: c.v[i] >> 63}
	if c.over != nil {
		if o, ok := c.over[i]; ok {
			total.add(o)
		}
	}
	if c.dur {
		v, ok := total.int64()
		if !ok {
			v = int64(durationOf(total.float64()))
		}
		return time.Duration(v)
	}
	return total.value()
}

// floatSumCol is sum of floats.
type floatSumCol struct {
	v   []float64
	has bitset
}

func (c *floatSumCol) Grow(n int) {
	c.v = grow(c.v, n)
	c.has.grow(n)
}

func (c *floatSumCol) Reset(i int) {
	c.v[i] = 0
	c.has.unset(i)
}

func (c *floatSumCol) Add(i int, v any, _ int64) {
	x, ok := v.(float64)
	if !ok {
		if x, ok = record.Float64(v); !ok {
			n, ok := record.Int64(v)
			if !ok {
				return
			}
			x = float64(n)
		}
	}
	c.has.set(i)
	c.v[i] += x
}

func (c *floatSumCol) Merge(i int, src Column, j int) {
	s, ok := src.(*floatSumCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if s.has.has(j) {
		c.has.set(i)
		c.v[i] += s.v[j]
	}
}

func (c *floatSumCol) Result(i int) any {
	if !c.has.has(i) {
		return nil
	}
	return c.v[i]
}

// avgCol is the column of avg: a sum and a count.
type avgCol struct {
	numCol
	n     []int64
	scale int32 // digits after the point of a decimal average; -1: from the inputs
}

func (c *avgCol) Grow(n int) {
	c.numCol.Grow(n)
	c.n = grow(c.n, n)
}

func (c *avgCol) Reset(i int) {
	c.numCol.Reset(i)
	c.n[i] = 0
}

func (c *avgCol) Add(i int, v any, t int64) {
	if isNull(v) {
		return
	}
	c.numCol.Add(i, v, t)
	c.n[i]++
}

func (c *avgCol) Merge(i int, src Column, j int) {
	s, ok := src.(*avgCol)
	if !ok {
		panic(mismatch(c, src))
	}
	c.numCol.merge(i, &s.numCol, j)
	c.n[i] += s.n[j]
}

func (c *avgCol) Result(i int) any {
	n := c.n[i]
	p := &c.s[i]
	var f float64
	switch p.mode {
	case modeNone:
		return nil
	case modeInt:
		f = float64(p.w) / float64(n)
	case modeFloat:
		f = p.float() / float64(n)
	case modeBigInt:
		f = c.decTotal(i).InexactFloat64() / float64(n)
	case modeDecimal:
		d := c.decTotal(i)
		scale := c.scale
		if scale < 0 {
			scale = max(0, -d.Exponent()) + avgExtraScale
		}
		return roundAvg(d, n, scale)
	}
	if c.kind == schema.Duration {
		return durationOf(f)
	}
	return f
}

// minMaxIntCol is min or max of ints or durations.
type minMaxIntCol struct {
	v   []int64
	has bitset
	max bool
	dur bool
}

func (c *minMaxIntCol) Grow(n int) {
	c.v = grow(c.v, n)
	c.has.grow(n)
}

func (c *minMaxIntCol) Reset(i int) {
	c.v[i] = 0
	c.has.unset(i)
}

func (c *minMaxIntCol) Add(i int, v any, _ int64) {
	var x int64
	switch y := v.(type) {
	case int64:
		x = y
	case time.Duration:
		x = int64(y)
	default:
		var ok bool
		if x, ok = record.Int64(v); !ok {
			return
		}
	}
	c.add(i, x)
}

func (c *minMaxIntCol) add(i int, x int64) {
	switch {
	case !c.has.has(i):
		c.has.set(i)
	case c.max && x <= c.v[i], !c.max && x >= c.v[i]:
		return
	}
	c.v[i] = x
}

func (c *minMaxIntCol) Merge(i int, src Column, j int) {
	s, ok := src.(*minMaxIntCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if s.has.has(j) {
		c.add(i, s.v[j])
	}
}

func (c *minMaxIntCol) Result(i int) any {
	switch {
	case !c.has.has(i):
		return nil
	case c.dur:
		return time.Duration(c.v[i])
	}
	return c.v[i]
}

// minMaxFloatCol is min or max of floats.
type minMaxFloatCol struct {
	v   []float64
	has bitset
	max bool
}

func (c *minMaxFloatCol) Grow(n int) {
	c.v = grow(c.v, n)
	c.has.grow(n)
}

func (c *minMaxFloatCol) Reset(i int) {
	c.v[i] = 0
	c.has.unset(i)
}

func (c *minMaxFloatCol) Add(i int, v any, _ int64) {
	x, ok := v.(float64)
	if !ok {
		if x, ok = record.Float64(v); !ok {
			n, ok := record.Int64(v)
			if !ok {
				return
			}
			x = float64(n)
		}
	}
	c.add(i, x)
}

func (c *minMaxFloatCol) add(i int, x float64) {
	if !c.has.has(i) {
		c.has.set(i)
		c.v[i] = x
		return
	}
	d := cmp.Compare(x, c.v[i])
	if (c.max && d > 0) || (!c.max && d < 0) {
		c.v[i] = x
	}
}

func (c *minMaxFloatCol) Merge(i int, src Column, j int) {
	s, ok := src.(*minMaxFloatCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if s.has.has(j) {
		c.add(i, s.v[j])
	}
}

func (c *minMaxFloatCol) Result(i int) any {
	if !c.has.has(i) {
		return nil
	}
	return c.v[i]
}

// minMaxCol is min or max of any other kind, holding the value as given.
type minMaxCol struct {
	v    []any
	max  bool
	kind schema.Kind
}

func (c *minMaxCol) Grow(n int)  { c.v = grow(c.v, n) }
func (c *minMaxCol) Reset(i int) { c.v[i] = nil }

func (c *minMaxCol) Add(i int, v any, _ int64) {
	if isNull(v) || classOf(v) == classNone {
		return
	}
	c.add(i, normalize(c.kind, v))
}

func (c *minMaxCol) add(i int, v any) {
	if c.v[i] == nil {
		c.v[i] = v
		return
	}
	d := compare(v, c.v[i])
	if (c.max && d > 0) || (!c.max && d < 0) {
		c.v[i] = v
	}
}

func (c *minMaxCol) Merge(i int, src Column, j int) {
	s, ok := src.(*minMaxCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if s.v[j] != nil {
		c.add(i, s.v[j])
	}
}

func (c *minMaxCol) Result(i int) any { return c.v[i] }

// firstLastCol is first or last by event time.
type firstLastCol struct {
	e    []timed
	last bool
	kind schema.Kind
}

type timed struct {
	t int64
	v any // nil: no value yet
}

func (c *firstLastCol) Grow(n int)  { c.e = grow(c.e, n) }
func (c *firstLastCol) Reset(i int) { c.e[i] = timed{} }

func (c *firstLastCol) Add(i int, v any, t int64) {
	if isNull(v) {
		return
	}
	c.add(i, normalize(c.kind, v), t)
}

func (c *firstLastCol) add(i int, v any, t int64) {
	e := &c.e[i]
	if e.v == nil || (c.last && t >= e.t) || (!c.last && t < e.t) {
		e.v, e.t = v, t
	}
}

func (c *firstLastCol) Merge(i int, src Column, j int) {
	s, ok := src.(*firstLastCol)
	if !ok {
		panic(mismatch(c, src))
	}
	if q := s.e[j]; q.v != nil {
		c.add(i, q.v, q.t)
	}
}

func (c *firstLastCol) Result(i int) any { return c.e[i].v }
