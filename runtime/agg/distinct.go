package agg

import (
	"math"
	"slices"

	"github.com/axiomhq/hyperloglog"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// distinctCol is count_distinct: a set of encoded values per slot.
type distinctCol struct {
	sets []map[string]struct{}
	kind schema.Kind
	buf  []byte
}

func (c *distinctCol) Grow(n int)  { c.sets = grow(c.sets, n) }
func (c *distinctCol) Reset(i int) { c.sets[i] = nil }

func (c *distinctCol) Add(i int, v any, _ int64) {
	if isNull(v) {
		return
	}
	var err error
	if c.buf, err = AppendKey(c.buf[:0], normalize(c.kind, v)); err != nil {
		return
	}
	m := c.sets[i]
	if m == nil {
		m = make(map[string]struct{})
		c.sets[i] = m
	}
	if _, ok := m[string(c.buf)]; !ok {
		m[string(c.buf)] = struct{}{}
	}
}

func (c *distinctCol) Merge(i int, src Column, j int) {
	s, ok := src.(*distinctCol)
	if !ok {
		panic(mismatch(c, src))
	}
	from := s.sets[j]
	if len(from) == 0 {
		return
	}
	m := c.sets[i]
	if m == nil {
		m = make(map[string]struct{}, len(from))
		c.sets[i] = m
	}
	for k := range from {
		m[k] = struct{}{}
	}
}

func (c *distinctCol) Result(i int) any { return int64(len(c.sets[i])) }

// hllCol is approx_count_distinct: a HyperLogLog sketch per slot, made on
// the first value.
type hllCol struct {
	sks  []*hyperloglog.Sketch
	kind schema.Kind
	buf  []byte
}

func (c *hllCol) Grow(n int)  { c.sks = grow(c.sks, n) }
func (c *hllCol) Reset(i int) { c.sks[i] = nil }

func (c *hllCol) Add(i int, v any, _ int64) {
	if isNull(v) {
		return
	}
	var err error
	if c.buf, err = AppendKey(c.buf[:0], normalize(c.kind, v)); err != nil {
		return
	}
	sk := c.sks[i]
	if sk == nil {
		sk = hyperloglog.New14()
		c.sks[i] = sk
	}
	sk.Insert(c.buf)
}

func (c *hllCol) Merge(i int, src Column, j int) {
	s, ok := src.(*hllCol)
	if !ok {
		panic(mismatch(c, src))
	}
	from := s.sks[j]
	if from == nil {
		return
	}
	if c.sks[i] == nil {
		c.sks[i] = from.Clone()
		return
	}
	// Both sketches have precision 14, the only case Merge rejects.
	_ = c.sks[i].Merge(from)
}

func (c *hllCol) Result(i int) any {
	if c.sks[i] == nil {
		return int64(0)
	}
	return int64(c.sks[i].Estimate())
}

// exactPercentileLimit is how many values approx_percentile keeps exactly
// before it switches to a t-digest.
const exactPercentileLimit = 512

// tdigestCompression is the t-digest's compression: about 1% error on the
// rank at the median, much less at the tails.
const tdigestCompression = 100

// percentile is one approx_percentile accumulator: the values, or past
// exactPercentileLimit of them, a t-digest.
type percentile struct {
	vals []float64
	td   *digest
}

func (p *percentile) add(f float64) {
	if p.td != nil {
		p.td.add(f, 1) // false only for NaN, skipped by the caller
		return
	}
	p.vals = append(p.vals, f)
	if len(p.vals) > exactPercentileLimit {
		p.td = newDigest()
		for _, v := range p.vals {
			p.td.add(v, 1)
		}
		p.vals = nil
	}
}

func (p *percentile) merge(q *percentile) {
	if q.td == nil {
		for _, v := range q.vals {
			p.add(v)
		}
		return
	}
	if p.td == nil {
		vals := p.vals
		p.td, p.vals = newDigest(), nil
		for _, v := range vals {
			p.td.add(v, 1)
		}
	}
	p.td.merge(q.td)
}

func (p *percentile) quantile(q float64) any {
	if p.td != nil {
		return p.td.quantile(q)
	}
	n := len(p.vals)
	if n == 0 {
		return nil
	}
	xs := slices.Clone(p.vals)
	slices.Sort(xs)
	return exactQuantile(xs, q)
}

// exactQuantile interpolates linearly between the closest ranks of sorted
// xs, at rank q·(n-1), as a t-digest of single points does.
func exactQuantile(xs []float64, q float64) float64 {
	idx := q * float64(len(xs)-1)
	lo := int(math.Floor(idx))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	frac := idx - float64(lo)
	if frac == 0 {
		return xs[lo]
	}
	return xs[lo] + frac*(xs[lo+1]-xs[lo])
}

// percentileCol is approx_percentile.
type percentileCol struct {
	ps []*percentile
	p  float64
}

func (c *percentileCol) Grow(n int)  { c.ps = grow(c.ps, n) }
func (c *percentileCol) Reset(i int) { c.ps[i] = nil }

func (c *percentileCol) Add(i int, v any, _ int64) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case decimal.Decimal:
		f = x.InexactFloat64()
	default:
		if n, ok := record.Int64(v); ok {
			f = float64(n)
		} else if g, ok := record.Float64(v); ok {
			f = g
		} else {
			return
		}
	}
	if math.IsNaN(f) {
		return
	}
	p := c.ps[i]
	if p == nil {
		p = &percentile{}
		c.ps[i] = p
	}
	p.add(f)
}

func (c *percentileCol) Merge(i int, src Column, j int) {
	s, ok := src.(*percentileCol)
	if !ok {
		panic(mismatch(c, src))
	}
	from := s.ps[j]
	if from == nil {
		return
	}
	if c.ps[i] == nil {
		c.ps[i] = &percentile{}
	}
	c.ps[i].merge(from)
}

func (c *percentileCol) Result(i int) any {
	if c.ps[i] == nil {
		return nil
	}
	return c.ps[i].quantile(c.p)
}

// splitMix is the small deterministic random number generator of
// t-digests; its whole state is one word, saved with the digest.
type splitMix struct{ state uint64 }

func (r *splitMix) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float32 returns a number in [0, 1).
func (r *splitMix) Float32() float32 { return float32(r.next()>>40) / (1 << 24) }

// Intn returns a number in [0, n).
func (r *splitMix) Intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}
