package agg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/internal/bin"
	"github.com/flowctl/flowctl/runtime/record"
)

// Binary state of columns, for checkpoints. Column.AppendState writes the
// state of a list of slots one after the other; ReadState reads it back
// into empty slots of a column of the same Func. The bytes are part of the
// window operator's snapshot format (package window): changing any of
// them needs a new snapshot version there.
//
// uvarint and varint are those of encoding/binary; u64 is 8 bytes little
// endian; f64 is a float64's bits as a u64; value is a record value in the
// tagged form of AppendValue. Per slot:
//
//	count                     uvarint n
//	sum of int or duration    0 (empty) | 1 varint v | 2 varint v, u64 lo, varint hi
//	                          (2: the sum is v plus the int128 hi·2^64+lo)
//	sum of float              0 | 1 f64
//	sum of decimal or any     num, see below
//	avg                       num, uvarint count
//	min, max of int, duration 0 | 1 varint
//	min, max of float         0 | 1 f64
//	min, max of other kinds   value (nil: empty)
//	first, last               value (nil: empty), then varint event time if not nil
//	count_distinct            uvarint n, n × (uvarint len, the value's AppendKey bytes),
//	                          members in byte order
//	approx_count_distinct     uvarint len (0: empty), the sketch's MarshalBinary bytes
//	approx_percentile         0 (empty) | 1 uvarint n, n × f64 (the exact values, in order)
//	                          | 2 digest: uvarint count, u64 generator state,
//	                            uvarint n, n × f64 means, n × uvarint counts
//
//	num = mode byte, then by mode: 0 (empty) nothing; 1 (int) varint sum;
//	      3 (float) f64 sum; 2 (int beyond int64) and 4 (decimal) varint
//	      coefficient, varint exponent, then 0, or 1 and an exact decimal
//	      (varint exponent, sign byte 0/1/2 for -/0/+, uvarint len,
//	      big-endian magnitude) that the sum also holds.

// maxNesting is how deep lists and objects may nest in a saved value.
const maxNesting = 10000

// maxExponent bounds the decimal exponents of saved state: adding numbers
// whose exponents are far apart takes time in proportion to the distance,
// and nothing real comes near.
const maxExponent = 1 << 20

var errExponent = fmt.Errorf("a decimal exponent beyond ±%d", maxExponent)

func checkExponent(e int32) error {
	if e < -maxExponent || e > maxExponent {
		return errExponent
	}
	return nil
}

// stateReader reads the state that the Append functions write. The first
// error sticks: later reads return zero values, and callers check Err once.
type stateReader struct{ bin.Reader }

func (r *stateReader) f64() float64 { return math.Float64frombits(r.U64()) }

// flag reads a byte that must be below n.
func (r *stateReader) flag(n byte) byte {
	c := r.Byte()
	if c >= n && r.Err == nil {
		r.Fail(fmt.Errorf("bad tag %d", c))
		return 0
	}
	return c
}

// exponent reads a decimal exponent.
func (r *stateReader) exponent() int32 {
	v := r.Varint()
	if v < -maxExponent || v > maxExponent {
		r.Fail(fmt.Errorf("exponent %d out of range", v))
		return 0
	}
	return int32(v)
}

// appendF64 appends the bits of f.
func appendF64(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func (c *countCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		dst = binary.AppendUvarint(dst, uint64(c.n[s]))
	}
	return dst, nil
}

func (c *countCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		c.n[s] = int64(r.Uvarint())
	}
	return r.B, r.Err
}

func (c *intSumCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		i := int(s)
		if !c.has.has(i) {
			dst = append(dst, 0)
			continue
		}
		o, over := c.over[i] // a nil map reads as absent
		if !over {
			dst = binary.AppendVarint(append(dst, 1), c.v[i])
			continue
		}
		dst = binary.AppendVarint(append(dst, 2), c.v[i])
		dst = binary.LittleEndian.AppendUint64(dst, o.lo)
		dst = binary.AppendVarint(dst, o.hi)
	}
	return dst, nil
}

func (c *intSumCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		i := int(s)
		switch r.flag(3) {
		case 1:
			c.has.set(i)
			c.v[i] = r.Varint()
		case 2:
			c.has.set(i)
			c.v[i] = r.Varint()
			o := int128{lo: r.U64(), hi: r.Varint()}
			if c.over == nil {
				c.over = make(map[int]int128)
			}
			c.over[i] = o
		}
	}
	return r.B, r.Err
}

func (c *floatSumCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		if !c.has.has(int(s)) {
			dst = append(dst, 0)
			continue
		}
		dst = appendF64(append(dst, 1), c.v[s])
	}
	return dst, nil
}

func (c *floatSumCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		if r.flag(2) == 1 {
			c.has.set(int(s))
			c.v[s] = r.f64()
		}
	}
	return r.B, r.Err
}

func (c *numCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	var err error
	for _, s := range ss {
		if dst, err = c.appendSlot(dst, int(s)); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *numCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		c.readSlot(&r, int(s))
	}
	return r.B, r.Err
}

func (c *numCol) appendSlot(dst []byte, i int) ([]byte, error) {
	p := &c.s[i]
	dst = append(dst, p.mode)
	switch p.mode {
	case modeInt:
		dst = binary.AppendVarint(dst, p.w)
	case modeFloat:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(p.w))
	case modeBigInt, modeDecimal:
		if err := checkExponent(p.e); err != nil {
			return dst, err
		}
		dst = binary.AppendVarint(dst, p.w)
		dst = binary.AppendVarint(dst, int64(p.e))
		o, over := c.over[i]
		if !over {
			return append(dst, 0), nil
		}
		return appendBigDecimal(append(dst, 1), o)
	}
	return dst, nil
}

func (c *numCol) readSlot(r *stateReader, i int) {
	p := &c.s[i]
	p.mode = r.flag(modeDecimal + 1)
	switch p.mode {
	case modeInt:
		p.w = r.Varint()
	case modeFloat:
		p.w = int64(r.U64())
	case modeBigInt, modeDecimal:
		p.w = r.Varint()
		p.e = r.exponent()
		if r.flag(2) == 1 {
			d := readBigDecimal(r)
			if r.Err != nil {
				return
			}
			if c.over == nil {
				c.over = make(map[int]decimal.Decimal)
			}
			c.over[i] = d
		}
	}
}

// appendBigDecimal appends d exactly: exponent, sign, magnitude.
func appendBigDecimal(dst []byte, d decimal.Decimal) ([]byte, error) {
	if err := checkExponent(d.Exponent()); err != nil {
		return dst, err
	}
	coef := d.Coefficient()
	dst = binary.AppendVarint(dst, int64(d.Exponent()))
	dst = append(dst, byte(coef.Sign()+1))
	mag := coef.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(mag)))
	return append(dst, mag...), nil
}

func readBigDecimal(r *stateReader) decimal.Decimal {
	e := r.exponent()
	sign := r.flag(3)
	mag := r.Bytes(r.Uvarint())
	if r.Err != nil {
		return decimal.Decimal{}
	}
	coef := new(big.Int).SetBytes(mag)
	if (sign == 1) != (coef.Sign() == 0) {
		r.Fail(errors.New("decimal sign does not match its magnitude"))
		return decimal.Decimal{}
	}
	if sign == 0 {
		coef.Neg(coef)
	}
	return decimal.NewFromBigInt(coef, e)
}

func (c *avgCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	var err error
	for _, s := range ss {
		if dst, err = c.appendSlot(dst, int(s)); err != nil {
			return dst, err
		}
		dst = binary.AppendUvarint(dst, uint64(c.n[s]))
	}
	return dst, nil
}

func (c *avgCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		c.readSlot(&r, int(s))
		c.n[s] = int64(r.Uvarint())
		if c.s[s].mode != modeNone && c.n[s] == 0 && r.Err == nil {
			r.Fail(errors.New("average of no values"))
		}
	}
	return r.B, r.Err
}

func (c *minMaxIntCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		if !c.has.has(int(s)) {
			dst = append(dst, 0)
			continue
		}
		dst = binary.AppendVarint(append(dst, 1), c.v[s])
	}
	return dst, nil
}

func (c *minMaxIntCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		if r.flag(2) == 1 {
			c.has.set(int(s))
			c.v[s] = r.Varint()
		}
	}
	return r.B, r.Err
}

func (c *minMaxFloatCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		if !c.has.has(int(s)) {
			dst = append(dst, 0)
			continue
		}
		dst = appendF64(append(dst, 1), c.v[s])
	}
	return dst, nil
}

func (c *minMaxFloatCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		if r.flag(2) == 1 {
			c.has.set(int(s))
			c.v[s] = r.f64()
		}
	}
	return r.B, r.Err
}

func (c *minMaxCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	var err error
	for _, s := range ss {
		if dst, err = AppendValue(dst, c.v[s]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *minMaxCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		c.v[s] = r.value(0)
	}
	return r.B, r.Err
}

func (c *firstLastCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	var err error
	for _, s := range ss {
		e := &c.e[s]
		if dst, err = AppendValue(dst, e.v); err != nil {
			return dst, err
		}
		if e.v != nil {
			dst = binary.AppendVarint(dst, e.t)
		}
	}
	return dst, nil
}

func (c *firstLastCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		e := &c.e[s]
		if e.v = r.value(0); e.v != nil {
			e.t = r.Varint()
		}
	}
	return r.B, r.Err
}

func (c *distinctCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	var members []string
	for _, s := range ss {
		m := c.sets[s]
		dst = binary.AppendUvarint(dst, uint64(len(m)))
		if len(m) == 0 {
			continue
		}
		members = members[:0]
		for k := range m {
			members = append(members, k)
		}
		slices.Sort(members)
		for _, k := range members {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
		}
	}
	return dst, nil
}

func (c *distinctCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		n := r.Count(2)
		if n == 0 {
			continue
		}
		m := make(map[string]struct{}, n)
		for range n {
			m[string(r.Bytes(r.Uvarint()))] = struct{}{}
		}
		c.sets[s] = m
	}
	return r.B, r.Err
}

func (c *hllCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		sk := c.sks[s]
		if sk == nil {
			dst = append(dst, 0)
			continue
		}
		var err error
		if c.buf, err = sk.AppendBinary(c.buf[:0]); err != nil {
			return dst, err
		}
		dst = binary.AppendUvarint(dst, uint64(len(c.buf)))
		dst = append(dst, c.buf...)
	}
	return dst, nil
}

func (c *hllCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		data := r.Bytes(r.Uvarint())
		if len(data) == 0 || r.Err != nil {
			continue
		}
		// Only precision 14 merges with the sketches Add makes.
		if len(data) < 2 || data[1] != 14 {
			r.Fail(errors.New("sketch precision is not 14"))
			break
		}
		sk := new(hyperloglog.Sketch)
		if err := sk.UnmarshalBinary(data); err != nil {
			r.Fail(err)
			break
		}
		c.sks[s] = sk
	}
	return r.B, r.Err
}

func (c *percentileCol) AppendState(dst []byte, ss []int32) ([]byte, error) {
	for _, s := range ss {
		p := c.ps[s]
		switch {
		case p == nil:
			dst = append(dst, 0)
		case p.td == nil:
			dst = binary.AppendUvarint(append(dst, 1), uint64(len(p.vals)))
			for _, v := range p.vals {
				dst = appendF64(dst, v)
			}
		default:
			td := p.td
			dst = binary.AppendUvarint(append(dst, 2), td.count)
			dst = binary.LittleEndian.AppendUint64(dst, td.rng.state)
			dst = binary.AppendUvarint(dst, uint64(len(td.means)))
			for _, m := range td.means {
				dst = appendF64(dst, m)
			}
			for _, n := range td.counts {
				dst = binary.AppendUvarint(dst, n)
			}
		}
	}
	return dst, nil
}

func (c *percentileCol) ReadState(b []byte, ss []int32) ([]byte, error) {
	r := stateReader{bin.Reader{B: b}}
	for _, s := range ss {
		switch r.flag(3) {
		case 1:
			n := r.Count(8)
			p := &percentile{vals: make([]float64, n)}
			for i := range p.vals {
				p.vals[i] = r.f64()
			}
			c.ps[s] = p
		case 2:
			td := readDigest(&r)
			if r.Err != nil {
				return r.B, r.Err
			}
			c.ps[s] = &percentile{td: td}
		}
	}
	return r.B, r.Err
}

// readDigest reads a digest and checks what quantile relies on: at least
// one centroid, sorted means that are numbers, positive counts that sum
// to count.
func readDigest(r *stateReader) *digest {
	td := &digest{count: r.Uvarint(), rng: splitMix{state: r.U64()}}
	n := r.Count(9)
	td.means = make([]float64, n)
	td.counts = make([]uint64, n)
	for i := range td.means {
		td.means[i] = r.f64()
	}
	var sum uint64
	for i := range td.counts {
		td.counts[i] = r.Uvarint()
		sum += td.counts[i]
	}
	if r.Err != nil {
		return nil
	}
	if n == 0 || sum != td.count {
		r.Fail(errors.New("t-digest counts do not add up"))
		return nil
	}
	for i, m := range td.means {
		if math.IsNaN(m) || i > 0 && m < td.means[i-1] || td.counts[i] == 0 {
			r.Fail(errors.New("t-digest centroids are not sorted"))
			return nil
		}
	}
	return td
}

// Tags of AppendValue.
const (
	vNil byte = iota
	vFalse
	vTrue
	vInt     // varint
	vFloat   // f64
	vString  // uvarint len, bytes
	vBytes   // uvarint len, bytes
	vTime    // varint seconds, uvarint nanoseconds; UTC
	vTimeLoc // as vTime; time.Local
	vTimeZone
	vDuration   // varint
	vDecimal    // varint coefficient, varint exponent
	vBigDecimal // see appendBigDecimal
	vList       // uvarint n, n values
	vObject     // uvarint n, n × (uvarint len, name, value), names sorted
	vGoInt      // kind byte, varint
	vUint64     // uvarint
	vFloat32    // 4 bytes little endian
	vAbsent     // record.Absent
	numValueTags
)

// Kinds of vGoInt.
const (
	goInt byte = iota
	goInt8
	goInt16
	goInt32
	goUint
	goUint8
	goUint16
	goUint32
	numGoInts
)

// AppendValue appends to dst a lossless, type-tagged binary form of v, a
// record value: nil, bool, int64, float64, string, []byte, time.Time,
// time.Duration, decimal.Decimal, []any, map[string]any, record.Absent,
// or another Go integer or float32. Unlike AppendKey it keeps every
// distinction: a decimal's exponent (1.50 and 1.5 differ), -0, a NaN's
// bits, a time's zone (UTC, Local, or a fixed zone with its name and
// offset at that instant), the Go type of an integer. Objects are written
// with sorted names, so equal values have equal forms. It fails on any
// other Go type, on lists or objects nested deeper than 10000, and on a
// decimal exponent beyond ±2^20.
func AppendValue(dst []byte, v any) ([]byte, error) { return appendValue(dst, v, 0) }

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, vNil), nil
	case bool:
		if x {
			return append(dst, vTrue), nil
		}
		return append(dst, vFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, vInt), x), nil
	case float64:
		return appendF64(append(dst, vFloat), x), nil
	case string:
		dst = binary.AppendUvarint(append(dst, vString), uint64(len(x)))
		return append(dst, x...), nil
	case []byte:
		dst = binary.AppendUvarint(append(dst, vBytes), uint64(len(x)))
		return append(dst, x...), nil
	case time.Time:
		return appendTime(dst, x), nil
	case time.Duration:
		return binary.AppendVarint(append(dst, vDuration), int64(x)), nil
	case decimal.Decimal:
		c, e, ok := smallDecimal(x)
		if !ok {
			return appendBigDecimal(append(dst, vBigDecimal), x)
		}
		if err := checkExponent(e); err != nil {
			return dst, err
		}
		dst = binary.AppendVarint(append(dst, vDecimal), c)
		return binary.AppendVarint(dst, int64(e)), nil
	case []any:
		if depth >= maxNesting {
			return dst, errTooDeep
		}
		dst = binary.AppendUvarint(append(dst, vList), uint64(len(x)))
		var err error
		for _, e := range x {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		if depth >= maxNesting {
			return dst, errTooDeep
		}
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = binary.AppendUvarint(append(dst, vObject), uint64(len(x)))
		var err error
		for _, k := range names {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			if dst, err = appendValue(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case uint64:
		return binary.AppendUvarint(append(dst, vUint64), x), nil
	case float32:
		return binary.LittleEndian.AppendUint32(append(dst, vFloat32), math.Float32bits(x)), nil
	}
	if isNull(v) {
		return append(dst, vAbsent), nil
	}
	if k, n, ok := goIntOf(v); ok {
		return binary.AppendVarint(append(dst, vGoInt, k), n), nil
	}
	return dst, fmt.Errorf("cannot save a value of type %T", v)
}

var errTooDeep = fmt.Errorf("values nested deeper than %d", maxNesting)

func goIntOf(v any) (byte, int64, bool) {
	switch x := v.(type) {
	case int:
		return goInt, int64(x), true
	case int8:
		return goInt8, int64(x), true
	case int16:
		return goInt16, int64(x), true
	case int32:
		return goInt32, int64(x), true
	case uint:
		return goUint, int64(x), true // the bits; read back as a uint
	case uint8:
		return goUint8, int64(x), true
	case uint16:
		return goUint16, int64(x), true
	case uint32:
		return goUint32, int64(x), true
	}
	return 0, 0, false
}

func appendTime(dst []byte, t time.Time) []byte {
	loc := t.Location()
	tag := vTimeZone
	switch loc {
	case time.UTC:
		tag = vTime
	case time.Local:
		tag = vTimeLoc
	}
	dst = binary.AppendVarint(append(dst, tag), t.Unix())
	dst = binary.AppendUvarint(dst, uint64(t.Nanosecond()))
	if tag != vTimeZone {
		return dst
	}
	name, offset := t.Zone()
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	return binary.AppendVarint(dst, int64(offset))
}

// DecodeValue decodes the value at the start of b, written by AppendValue,
// and returns it with the rest of b.
func DecodeValue(b []byte) (any, []byte, error) {
	r := stateReader{bin.Reader{B: b}}
	v := r.value(0)
	if r.Err != nil {
		return nil, b, fmt.Errorf("malformed value: %w", r.Err)
	}
	return v, r.B, nil
}

// value reads a value written by AppendValue.
func (r *stateReader) value(depth int) any {
	switch tag := r.flag(numValueTags); tag {
	case vNil:
		return nil
	case vFalse:
		return false
	case vTrue:
		return true
	case vInt:
		return r.Varint()
	case vFloat:
		return r.f64()
	case vString:
		return string(r.Bytes(r.Uvarint()))
	case vBytes:
		return slices.Clone(r.Bytes(r.Uvarint()))
	case vTime, vTimeLoc, vTimeZone:
		return r.time(tag)
	case vDuration:
		return time.Duration(r.Varint())
	case vDecimal:
		c := r.Varint()
		return decimal.New(c, r.exponent())
	case vBigDecimal:
		return readBigDecimal(r)
	case vList:
		if depth >= maxNesting {
			r.Fail(errTooDeep)
			return nil
		}
		list := make([]any, r.Count(1))
		for i := range list {
			list[i] = r.value(depth + 1)
		}
		return list
	case vObject:
		if depth >= maxNesting {
			r.Fail(errTooDeep)
			return nil
		}
		n := r.Count(2)
		obj := make(map[string]any, n)
		for range n {
			k := string(r.Bytes(r.Uvarint()))
			obj[k] = r.value(depth + 1)
		}
		return obj
	case vGoInt:
		return goIntValue(r.flag(numGoInts), r.Varint())
	case vUint64:
		return r.Uvarint()
	case vFloat32:
		b := r.Bytes(4)
		if r.Err != nil {
			return nil
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case vAbsent:
		return record.Absent
	}
	return nil // a bad tag: r.Err is set
}

func goIntValue(k byte, n int64) any {
	switch k {
	case goInt:
		return int(n)
	case goInt8:
		return int8(n)
	case goInt16:
		return int16(n)
	case goInt32:
		return int32(n)
	case goUint:
		return uint(n)
	case goUint8:
		return uint8(n)
	case goUint16:
		return uint16(n)
	}
	return uint32(n)
}

func (r *stateReader) time(tag byte) any {
	sec := r.Varint()
	nsec := r.Uvarint()
	if nsec >= 1e9 && r.Err == nil {
		r.Fail(errors.New("nanoseconds out of range"))
	}
	var loc *time.Location
	switch tag {
	case vTime:
		loc = time.UTC
	case vTimeLoc:
		loc = time.Local
	default:
		name := string(r.Bytes(r.Uvarint()))
		offset := r.Varint()
		if (offset < -1e6 || offset > 1e6) && r.Err == nil {
			r.Fail(errors.New("zone offset out of range"))
		}
		if r.Err != nil {
			return nil
		}
		loc = time.FixedZone(name, int(offset))
	}
	if r.Err != nil {
		return nil
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}
