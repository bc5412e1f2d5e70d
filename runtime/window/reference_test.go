package window

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
)

// This file checks the Operator against a brute-force reference: windows
// found by testing every candidate span, sessions by sorting each key's
// records, aggregates computed directly from each window's records, and,
// for streaming, a record-by-record simulation of watermarks and lateness.

type rec struct {
	key     []any
	kenc    string
	t       int64
	v       any
	arrival int
}

type refWindow struct {
	kenc string
	span Span
	recs []rec
}

func (w refWindow) id() string { return fmt.Sprintf("%q[%d,%d)", w.kenc, w.span.Start, w.span.End) }

// scenario is one random test case.
type scenario struct {
	spec     Spec
	kind     schema.Kind
	pctl     float64
	delay    int64 // watermark = max event time seen - delay
	lateness int64 // allowed lateness
	emit     Emit
	recs     []rec // in arrival order
}

var aggNames = []string{"count()", agg.Count, agg.Sum, agg.Avg, agg.Min, agg.Max, agg.First, agg.Last, agg.CountDistinct, agg.ApproxCountDistinct, agg.ApproxPercentile}

func (sc *scenario) funcs(t *testing.T) []*agg.Func {
	t.Helper()
	fs := make([]*agg.Func, len(aggNames))
	for i, n := range aggNames {
		var err error
		if n == "count()" {
			fs[i], err = agg.NewNoArg(agg.Count)
		} else {
			fs[i], err = agg.New(n, schema.Type{Kind: sc.kind}, sc.pctl)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func (sc *scenario) String() string {
	return fmt.Sprintf("%v size=%v slide=%v gap=%v kind=%d delay=%v lateness=%v emit=%v records=%d",
		sc.spec.Kind, time.Duration(sc.spec.Size), time.Duration(sc.spec.Slide), time.Duration(sc.spec.Gap),
		sc.kind, time.Duration(sc.delay), time.Duration(sc.lateness), sc.emit, len(sc.recs))
}

const sec = int64(time.Second)

// newScenario makes random records for a window kind. With bounded, no
// record arrives more than delay behind the largest event time before it;
// otherwise some arrive much later.
func newScenario(rng *rand.Rand, kind Kind, bounded bool) *scenario {
	sc := &scenario{
		kind:     []schema.Kind{schema.Int, schema.Float, schema.Decimal, schema.Any}[rng.IntN(4)],
		pctl:     []float64{0, 0.25, 0.5, 0.9, 1}[rng.IntN(5)],
		delay:    int64(rng.IntN(20)) * sec,
		lateness: []int64{0, 5 * sec, 30 * sec}[rng.IntN(3)],
		emit:     Emit(rng.IntN(2)),
	}
	switch kind {
	case Global:
		sc.spec = Spec{Kind: Global}
	case Tumbling:
		sc.spec = Spec{Kind: Tumbling, Size: 10 * sec}
	case Sliding:
		slide := []int64{3, 5, 10}[rng.IntN(3)] * sec
		sc.spec = Spec{Kind: Sliding, Size: 30 * sec, Slide: slide}
	case Session:
		sc.spec = Spec{Kind: Session, Gap: int64(3+rng.IntN(8)) * sec}
	}
	n := 20 + rng.IntN(150)
	nkeys := 1 + rng.IntN(5)
	type pending struct {
		r     rec
		order float64
	}
	ps := make([]pending, n)
	span := int64(60+rng.IntN(240)) * sec
	for i := range ps {
		var r rec
		k := rng.IntN(nkeys)
		if rng.IntN(4) == 0 {
			r.key = []any{fmt.Sprint("k", k), int64(k % 2)}
		} else {
			r.key = []any{fmt.Sprint("k", k)}
		}
		r.kenc = encodeKey(r.key)
		// Whole seconds make window boundaries frequent; some sub-second
		// times and negative times too.
		r.t = rng.Int64N(span/sec)*sec - 20*sec
		if rng.IntN(5) == 0 {
			r.t += rng.Int64N(sec)
		}
		r.v = randValue(rng, sc.kind)
		order := float64(r.t)
		if bounded {
			order += rng.Float64() * float64(sc.delay)
		} else if rng.IntN(4) == 0 {
			order += rng.Float64() * float64(span)
		}
		ps[i] = pending{r, order}
	}
	slices.SortStableFunc(ps, func(a, b pending) int { return cmp.Compare(a.order, b.order) })
	for i := range ps {
		ps[i].r.arrival = i
		sc.recs = append(sc.recs, ps[i].r)
	}
	return sc
}

func randValue(rng *rand.Rand, k schema.Kind) any {
	if rng.IntN(10) == 0 {
		return nil
	}
	if k == schema.Any {
		k = []schema.Kind{schema.Int, schema.Float, schema.Decimal}[rng.IntN(3)]
	}
	switch k {
	case schema.Int:
		return rng.Int64N(200) - 100
	case schema.Float:
		return float64(rng.Int64N(20000)-10000) / 64 // exact in binary
	}
	return decimal.New(rng.Int64N(20000)-10000, -int32(rng.IntN(3)))
}

func encodeKey(key []any) string {
	var b []byte
	for _, v := range key {
		var err error
		if b, err = agg.AppendKey(b, v); err != nil {
			panic(err)
		}
	}
	return string(b)
}

// refSpans returns the tumbling or sliding windows containing t by trying
// every span on the grid near t.
func refSpans(s Spec, t int64) []Span {
	if s.Kind == Global {
		return []Span{GlobalSpan}
	}
	size, slide := s.Size, s.Slide
	if s.Kind == Tumbling {
		slide = size
	}
	var out []Span
	k0 := t/slide - size/slide - 2
	for k := k0; k <= t/slide+2; k++ {
		sp := Span{k * slide, k*slide + size}
		if sp.Start <= t && t < sp.End {
			out = append(out, sp)
		}
	}
	return out
}

// refBatch computes every window of the records (all of them on time).
func refBatch(sc *scenario, recs []rec) []refWindow {
	if sc.spec.Kind == Session {
		return refSessions(sc.spec.Gap, recs)
	}
	byID := map[string]*refWindow{}
	var order []string
	for _, r := range recs {
		for _, sp := range refSpans(sc.spec, r.t) {
			w := refWindow{kenc: r.kenc, span: sp}
			id := w.id()
			if byID[id] == nil {
				byID[id] = &w
				order = append(order, id)
			}
			byID[id].recs = append(byID[id].recs, r)
		}
	}
	out := make([]refWindow, len(order))
	for i, id := range order {
		out[i] = *byID[id]
	}
	return out
}

// refSessions splits each key's records, sorted by time, at gaps of at
// least gap.
func refSessions(gap int64, recs []rec) []refWindow {
	byKey := map[string][]rec{}
	for _, r := range recs {
		byKey[r.kenc] = append(byKey[r.kenc], r)
	}
	var out []refWindow
	for k, rs := range byKey {
		slices.SortStableFunc(rs, func(a, b rec) int { return cmp.Compare(a.t, b.t) })
		cur := refWindow{kenc: k}
		for i, r := range rs {
			if i > 0 && r.t-rs[i-1].t >= gap {
				cur.span = Span{cur.recs[0].t, rs[i-1].t + gap}
				out = append(out, cur)
				cur = refWindow{kenc: k}
			}
			cur.recs = append(cur.recs, r)
		}
		cur.span = Span{cur.recs[0].t, rs[len(rs)-1].t + gap}
		out = append(out, cur)
	}
	return out
}

// refStream simulates the stream: the watermark a record meets is the
// largest event time before it minus the delay. It returns which records
// are late and the final windows.
func refStream(sc *scenario) (late []bool, windows []refWindow) {
	late = make([]bool, len(sc.recs))
	wm := int64(math.MinInt64)
	maxT := int64(math.MinInt64)
	expired := func(end int64) bool { return end+sc.lateness <= wm }
	if sc.spec.Kind != Session {
		perWindow := map[string]*refWindow{}
		var order []string
		for i, r := range sc.recs {
			ok := false
			for _, sp := range refSpans(sc.spec, r.t) {
				if sp.End != math.MaxInt64 && expired(sp.End) || sp.End == math.MaxInt64 && wm == math.MaxInt64 {
					continue
				}
				ok = true
				w := refWindow{kenc: r.kenc, span: sp}
				id := w.id()
				if perWindow[id] == nil {
					perWindow[id] = &w
					order = append(order, id)
				}
				perWindow[id].recs = append(perWindow[id].recs, r)
			}
			late[i] = !ok
			maxT = max(maxT, r.t)
			wm = max(wm, maxT-sc.delay)
		}
		for _, id := range order {
			windows = append(windows, *perWindow[id])
		}
		return late, windows
	}
	gap := sc.spec.Gap
	active := map[string][]*refWindow{}
	for i, r := range sc.recs {
		// Sessions expired by the watermark are final.
		for k, ss := range active {
			kept := ss[:0]
			for _, s := range ss {
				if expired(s.span.End) {
					windows = append(windows, *s)
				} else {
					kept = append(kept, s)
				}
			}
			active[k] = kept
		}
		proto := Span{r.t, r.t + gap}
		var overlap []*refWindow
		var rest []*refWindow
		for _, s := range active[r.kenc] {
			if s.span.Start < proto.End && proto.Start < s.span.End {
				overlap = append(overlap, s)
			} else {
				rest = append(rest, s)
			}
		}
		if len(overlap) == 0 && expired(proto.End) {
			late[i] = true
		} else {
			m := &refWindow{kenc: r.kenc, span: proto, recs: []rec{r}}
			for _, s := range overlap {
				m.span = Span{min(m.span.Start, s.span.Start), max(m.span.End, s.span.End)}
				m.recs = append(m.recs, s.recs...)
			}
			active[r.kenc] = append(rest, m)
		}
		maxT = max(maxT, r.t)
		wm = max(wm, maxT-sc.delay)
	}
	for _, ss := range active {
		for _, s := range ss {
			windows = append(windows, *s)
		}
	}
	return late, windows
}

// refValues computes the aggregates of a window's records directly.
func refValues(sc *scenario, recs []rec) []any {
	byArrival := slices.Clone(recs)
	slices.SortFunc(byArrival, func(a, b rec) int { return cmp.Compare(a.arrival, b.arrival) })
	var vals []any
	var times []int64
	for _, r := range byArrival {
		if r.v != nil {
			vals = append(vals, r.v)
			times = append(times, r.t)
		}
	}
	out := make([]any, len(aggNames))
	out[0] = int64(len(recs))
	out[1] = int64(len(vals))
	if len(vals) == 0 {
		out[8], out[9] = int64(0), int64(0)
		return out
	}
	out[2] = refSum(vals)
	out[3] = toFloat(out[2]) / float64(len(vals))
	mn, mx := vals[0], vals[0]
	first, last := 0, 0
	distinct := map[string]bool{}
	var fs []float64
	for i, v := range vals {
		if toFloat(v) < toFloat(mn) {
			mn = v
		}
		if toFloat(v) > toFloat(mx) {
			mx = v
		}
		if times[i] < times[first] {
			first = i
		}
		if times[i] >= times[last] {
			last = i
		}
		distinct[distinctKey(v)] = true
		fs = append(fs, toFloat(v))
	}
	out[4], out[5], out[6], out[7] = mn, mx, vals[first], vals[last]
	out[8] = int64(len(distinct))
	out[9] = int64(len(distinct))
	slices.Sort(fs)
	idx := sc.pctl * float64(len(fs)-1)
	lo := int(math.Floor(idx))
	hi := min(lo+1, len(fs)-1)
	out[10] = fs[lo] + (idx-float64(lo))*(fs[hi]-fs[lo])
	return out
}

// refSum is the sum of schemaless values: an int64 while all are ints, a
// float64 once a float appears, an exact decimal once a decimal appears.
func refSum(vals []any) any {
	hasFloat, hasDecimal := false, false
	for _, v := range vals {
		switch v.(type) {
		case float64:
			hasFloat = true
		case decimal.Decimal:
			hasDecimal = true
		}
	}
	switch {
	case hasDecimal:
		d := decimal.Zero
		for _, v := range vals {
			switch x := v.(type) {
			case int64:
				d = d.Add(decimal.NewFromInt(x))
			case float64:
				d = d.Add(decimal.NewFromFloat(x))
			case decimal.Decimal:
				d = d.Add(x)
			}
		}
		return d
	case hasFloat:
		f := 0.0
		for _, v := range vals {
			f += toFloat(v)
		}
		return f
	}
	var n int64
	for _, v := range vals {
		n += v.(int64)
	}
	return n
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case decimal.Decimal:
		return x.InexactFloat64()
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

func distinctKey(v any) string {
	if d, ok := v.(decimal.Decimal); ok {
		return "decimal:" + d.Normalize().String()
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// checkValues compares an operator row's values with the reference.
func checkValues(sc *scenario, got, want []any) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i, name := range aggNames {
		g, w := got[i], want[i]
		if w == nil || g == nil {
			if g != nil || w != nil {
				return fmt.Errorf("%s = %v, want %v", name, g, w)
			}
			continue
		}
		ok := true
		switch name {
		case "count()", agg.Count, agg.CountDistinct:
			ok = g == w
		case agg.ApproxCountDistinct:
			d := math.Abs(float64(g.(int64) - w.(int64)))
			ok = d <= math.Max(1, 0.02*float64(w.(int64)))
		case agg.Sum:
			ok = sameNumberType(g, w) && near(toFloat(g), toFloat(w), 1e-9)
			if sc.kind == schema.Decimal || sc.kind == schema.Int {
				ok = ok && exactEqual(g, w)
			}
		case agg.Avg:
			tol := 1e-9
			if _, isDec := g.(decimal.Decimal); isDec {
				tol = 1e-6
			}
			ok = near(toFloat(g), toFloat(w), tol)
		case agg.Min, agg.Max:
			ok = toFloat(g) == toFloat(w)
		case agg.First, agg.Last:
			ok = exactEqual(g, w)
		case agg.ApproxPercentile:
			ok = near(g.(float64), w.(float64), 1e-9)
		}
		if !ok {
			return fmt.Errorf("%s = %v (%T), want %v (%T)", name, g, g, w, w)
		}
	}
	return nil
}

func sameNumberType(a, b any) bool { return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) }

func exactEqual(a, b any) bool {
	if x, ok := a.(decimal.Decimal); ok {
		y, ok := b.(decimal.Decimal)
		return ok && x.Equal(y)
	}
	return a == b
}

func near(a, b, tol float64) bool {
	return a == b || math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// run feeds the scenario to an operator. With stream, it advances the
// watermark after each record (and flushes at random); otherwise it adds
// everything, then advances to +inf. It returns the operator's verdict on
// each record and every row, in emission order, with the index of the call
// that emitted it.
type emitted struct {
	Row
	call int
}

func run(t *testing.T, sc *scenario, stream bool, rng *rand.Rand) (late []bool, rows []emitted) {
	t.Helper()
	op := NewOperator(Config{Spec: sc.spec, Aggs: sc.funcs(t), AllowedLateness: sc.lateness, Emit: sc.emit})
	call := 0
	emit := func(r Row) { rows = append(rows, emitted{r, call}) }
	maxT := int64(math.MinInt64)
	late = make([]bool, len(sc.recs))
	for i, r := range sc.recs {
		l, err := op.Add(r.key, r.t, argsFor(r))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		late[i] = l
		if !stream {
			continue
		}
		maxT = max(maxT, r.t)
		call++
		op.Advance(maxT-sc.delay, emit)
		if rng.IntN(3) == 0 {
			call++
			op.Flush(emit)
		}
	}
	call++
	op.Advance(math.MaxInt64, emit)
	call++
	op.Flush(emit)
	if n := op.OpenWindows(); n != 0 {
		t.Errorf("%d windows left after +inf", n)
	}
	return late, rows
}

func argsFor(r rec) []any {
	args := make([]any, len(aggNames))
	for i := 1; i < len(args); i++ {
		args[i] = r.v
	}
	return args
}

// finalRows returns the last row emitted for each key-window.
func finalRows(rows []emitted) map[string]emitted {
	out := map[string]emitted{}
	for _, r := range rows {
		w := refWindow{kenc: encodeKey(r.Key), span: r.Span}
		out[w.id()] = r
	}
	return out
}

// compare checks the final rows against the reference windows. For
// sessions, rows of spans the reference does not have must lie inside a
// reference session of their key: they were merged into it later.
func compare(t *testing.T, sc *scenario, rows []emitted, want []refWindow) {
	t.Helper()
	got := finalRows(rows)
	wantIDs := map[string]bool{}
	for _, w := range want {
		id := w.id()
		wantIDs[id] = true
		r, ok := got[id]
		if !ok {
			t.Errorf("%v: no row for window %s", sc, id)
			continue
		}
		if !r.Final {
			t.Errorf("%v: last row of %s is not final", sc, id)
		}
		if err := checkValues(sc, r.Values, refValues(sc, w.recs)); err != nil {
			t.Errorf("%v: window %s: %v", sc, id, err)
		}
	}
	for id, r := range got {
		if wantIDs[id] {
			continue
		}
		if sc.spec.Kind != Session {
			t.Errorf("%v: unexpected row %s", sc, id)
			continue
		}
		kenc := encodeKey(r.Key)
		inside := false
		for _, w := range want {
			if w.kenc == kenc && w.span.Start <= r.Span.Start && r.Span.End <= w.span.End {
				inside = true
			}
		}
		if !inside {
			t.Errorf("%v: unexpected row %s", sc, id)
		}
	}
	// Within one call, rows come by End, then Start, then by the arrival
	// of the window's first record.
	firstArrival := map[string]int{}
	for _, w := range want {
		firstArrival[w.id()] = slices.MinFunc(w.recs, func(a, b rec) int { return cmp.Compare(a.arrival, b.arrival) }).arrival
	}
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if a.call != b.call {
			continue
		}
		if b.Span.End < a.Span.End || b.Span.End == a.Span.End && b.Span.Start < a.Span.Start {
			t.Errorf("%v: row %v emitted after %v in the same call", sc, b.Span, a.Span)
		}
		if a.Span != b.Span {
			continue
		}
		fa, oka := firstArrival[refWindow{kenc: encodeKey(a.Key), span: a.Span}.id()]
		fb, okb := firstArrival[refWindow{kenc: encodeKey(b.Key), span: b.Span}.id()]
		if oka && okb && fa > fb {
			t.Errorf("%v: window %v of key %v (first record %d) emitted before key %v (first record %d)", sc, a.Span, a.Key, fa, b.Key, fb)
		}
	}
}

var windowKinds = []Kind{Global, Tumbling, Sliding, Session}

// TestBatchMatchesReference: all Adds, then Advance(+inf).
func TestBatchMatchesReference(t *testing.T) {
	for _, kind := range windowKinds {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(150) {
				rng := rand.New(rand.NewPCG(seed, uint64(kind)))
				sc := newScenario(rng, kind, rng.IntN(2) == 0)
				late, rows := run(t, sc, false, rng)
				if slices.Contains(late, true) {
					t.Fatalf("seed %d: %v: a record is late in batch mode", seed, sc)
				}
				final := 0
				for _, r := range rows {
					if r.Final {
						final++
					}
				}
				want := refBatch(sc, sc.recs)
				if final != len(want) {
					t.Errorf("seed %d: %v: %d final rows, want one per window: %d", seed, sc, final, len(want))
				}
				compare(t, sc, rows, want)
				if t.Failed() {
					t.Fatalf("seed %d failed", seed)
				}
			}
		})
	}
}

// TestStreamBoundedDisorder: records arrive at most the watermark delay
// behind the largest event time before them, so nothing is late, every
// window closes once, and the rows are the batch rows.
func TestStreamBoundedDisorder(t *testing.T) {
	for _, kind := range windowKinds {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(150) {
				rng := rand.New(rand.NewPCG(seed, 100+uint64(kind)))
				sc := newScenario(rng, kind, true)
				late, rows := run(t, sc, true, rng)
				if i := slices.Index(late, true); i >= 0 {
					t.Fatalf("seed %d: %v: record %d is late", seed, sc, i)
				}
				want := refBatch(sc, sc.recs)
				finals := map[string]int{}
				for _, r := range rows {
					if r.Final {
						finals[refWindow{kenc: encodeKey(r.Key), span: r.Span}.id()]++
					}
				}
				for _, w := range want {
					if n := finals[w.id()]; n != 1 {
						t.Errorf("seed %d: %v: window %s has %d final rows, want 1", seed, sc, w.id(), n)
					}
				}
				compare(t, sc, rows, want)
				if t.Failed() {
					t.Fatalf("seed %d failed", seed)
				}
			}
		})
	}
}

// TestStreamUnboundedDisorder: a simulation decides which records are late
// (the watermark a record meets is the largest event time before it minus
// the delay); the operator must call exactly those late, and its final
// rows must be the reference windows of the records it took.
func TestStreamUnboundedDisorder(t *testing.T) {
	for _, kind := range windowKinds {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			sawLate := 0
			for seed := range uint64(150) {
				rng := rand.New(rand.NewPCG(seed, 200+uint64(kind)))
				sc := newScenario(rng, kind, false)
				gotLate, rows := run(t, sc, true, rng)
				wantLate, want := refStream(sc)
				for i := range wantLate {
					if gotLate[i] != wantLate[i] {
						t.Errorf("seed %d: %v: record %d (t=%v) late=%v, want %v", seed, sc, i, sc.recs[i].t, gotLate[i], wantLate[i])
					}
					if wantLate[i] {
						sawLate++
					}
				}
				compare(t, sc, rows, want)
				if t.Failed() {
					t.Fatalf("seed %d failed", seed)
				}
			}
			if kind != Global && sawLate == 0 {
				t.Error("no scenario had a late record")
			}
		})
	}
}

func TestRefSpans(t *testing.T) {
	// The reference and Assign agree, in order.
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		slide := []int64{1, 2, 3, 5}[rng.IntN(4)]
		s := Spec{Kind: Sliding, Size: slide * int64(1+rng.IntN(4)), Slide: slide}
		if rng.IntN(2) == 0 {
			s = Spec{Kind: Tumbling, Size: 1 + rng.Int64N(7)}
		}
		ts := rng.Int64N(200) - 100
		got := s.Assign(ts, nil)
		if want := refSpans(s, ts); !slices.Equal(got, want) {
			t.Fatalf("%+v.Assign(%d) = %v, want %v", s, ts, got, want)
		}
	}
}
