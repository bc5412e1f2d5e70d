package agg

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// exact compares saved and restored values exactly: decimals by value and
// exponent, floats by their bits, times by instant, zone name and offset.
var exact = cmp.Options{
	cmpValues,
	cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }),
	cmp.Comparer(func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }),
	cmp.Comparer(func(a, b time.Time) bool {
		an, ao := a.Zone()
		bn, bo := b.Zone()
		return a.Equal(b) && an == bn && ao == bo && (a.Location() == time.Local) == (b.Location() == time.Local)
	}),
}

var allKinds = []schema.Kind{
	schema.Int, schema.Float, schema.Decimal, schema.Duration, schema.String, schema.Bool,
	schema.Timestamp, schema.List, schema.Object, schema.Any,
}

// allFuncs returns every aggregate applied to every kind it takes.
func allFuncs(t testing.TB) []*Func {
	t.Helper()
	c, err := NewNoArg(Count)
	if err != nil {
		t.Fatal(err)
	}
	fs := []*Func{c}
	for _, name := range []string{Count, Sum, Avg, Min, Max, First, Last, CountDistinct, ApproxCountDistinct, ApproxPercentile} {
		for _, k := range allKinds {
			typ := schema.Type{Kind: k}
			if k == schema.Decimal {
				typ.Precision, typ.Scale = 12, 2
			}
			if f, err := New(name, typ, 0.9); err == nil {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

var zone = time.FixedZone("CEST", 2*3600)

// randArg returns a random argument for kind k, edge values included.
func randArg(rng *rand.Rand, k schema.Kind) any {
	if rng.IntN(12) == 0 {
		return nil
	}
	if k == schema.Any {
		k = allKinds[rng.IntN(len(allKinds)-1)]
	}
	switch k {
	case schema.Int:
		switch rng.IntN(10) {
		case 0:
			return int64(math.MaxInt64 - rng.Int64N(3))
		case 1:
			return int64(math.MinInt64 + rng.Int64N(3))
		case 2:
			return int(rng.IntN(100))
		}
		return rng.Int64N(2000) - 1000
	case schema.Float:
		switch rng.IntN(20) {
		case 0:
			return math.Copysign(0, -1)
		case 1:
			return math.NaN()
		case 2:
			return float32(1.5)
		}
		return rng.NormFloat64() * 1e3
	case schema.Decimal:
		switch rng.IntN(10) {
		case 0:
			return decimal.New(rng.Int64N(1e18), int32(rng.IntN(5)+20))
		case 1:
			return decimal.RequireFromString("-123456789012345678901234567890.12")
		case 2:
			return rng.Int64N(100)
		}
		return decimal.New(rng.Int64N(200000)-100000, -int32(rng.IntN(4)))
	case schema.Duration:
		if rng.IntN(10) == 0 {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(rng.Int64N(1e12))
	case schema.String:
		return fmt.Sprintf("s%d", rng.IntN(300))
	case schema.Bool:
		return rng.IntN(2) == 0
	case schema.Timestamp:
		ts := time.Unix(1.7e9+rng.Int64N(1e6), rng.Int64N(1e9))
		switch rng.IntN(3) {
		case 0:
			return ts.UTC()
		case 1:
			return ts.In(zone)
		}
		return ts.Local()
	case schema.List:
		return []any{int64(rng.IntN(5)), "x", []any{nil, true}, map[string]any{"a": 1.5}}
	case schema.Object:
		return map[string]any{"n": int64(rng.IntN(5)), "b": []byte{1, 2}, "z": record.Absent, "d": dec("1.50")}
	}
	return nil
}

// fill adds random values to slots [0, n) of c: some slots stay empty,
// one gets enough values to leave the exact percentile.
func fill(rng *rand.Rand, f *Func, c Column, n int) {
	for s := range n {
		count := rng.IntN(20)
		switch {
		case s%5 == 0:
			count = 0
		case s == 3:
			count = 3000
		}
		for range count {
			v := randArg(rng, f.Arg().Kind)
			if f.NoArg() {
				v = nil
			} else if f.Check(v) != nil {
				continue
			}
			c.Add(s, v, rng.Int64N(50))
		}
	}
}

// TestStateRoundTrip saves slots of every aggregate of every kind and reads
// them into other slots of a new column: the results must be the same,
// saving again must give the same bytes, and adding and merging the same
// values afterwards must keep them the same.
func TestStateRoundTrip(t *testing.T) {
	for i, f := range allFuncs(t) {
		t.Run(fmt.Sprintf("%s_%d", f, i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			const n = 16
			src := f.NewColumn()
			src.Grow(n)
			fill(rng, f, src, n)
			order := make([]int32, n)
			for j, p := range rng.Perm(n) {
				order[j] = int32(p)
			}
			b, err := src.AppendState([]byte("head"), order)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("head")) {
				t.Fatal("AppendState dropped dst")
			}
			b = b[len("head"):]
			dst := f.NewColumn()
			dst.Grow(2 * n)
			moved := make([]int32, n)
			for j, s := range order {
				moved[j] = 2*n - 1 - s
			}
			rest, err := dst.ReadState(append(b, 0xAA), moved)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rest, []byte{0xAA}) {
				t.Fatalf("rest %x", rest)
			}
			if f.op != opApproxCountDistinct { // a sketch's encoding is not canonical
				b2, err := dst.AppendState(nil, moved)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, b2) {
					t.Errorf("saving again gave other bytes")
				}
			}
			check := func(when string) {
				t.Helper()
				for s := range n {
					want, got := src.Result(s), dst.Result(2*n-1-s)
					if diff := cmp.Diff(want, got, exact); diff != "" {
						t.Fatalf("%s: slot %d (-saved +restored):\n%s", when, s, diff)
					}
				}
			}
			check("restored")
			// Continue both the same way.
			for s := range n {
				for range rng.IntN(600) {
					v := randArg(rng, f.Arg().Kind)
					if f.Check(v) != nil {
						continue
					}
					ts := rng.Int64N(50)
					src.Add(s, v, ts)
					dst.Add(2*n-1-s, v, ts)
				}
			}
			for s := range n - 1 {
				src.Merge(s, src, s+1)
				dst.Merge(2*n-1-s, dst, 2*n-2-s)
			}
			check("continued")
		})
	}
}

// TestReadStateTruncated: every strict prefix of a state is an error, and
// corrupted bytes never panic.
func TestReadStateTruncated(t *testing.T) {
	for i, f := range allFuncs(t) {
		rng := rand.New(rand.NewPCG(uint64(i), 2))
		const n = 8
		src := f.NewColumn()
		src.Grow(n)
		fill(rng, f, src, n)
		ss := []int32{0, 1, 2, 3, 4, 5, 6, 7}
		b, err := src.AppendState(nil, ss)
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(b)/500)
		for cut := 0; cut < len(b); cut += step {
			dst := f.NewColumn()
			dst.Grow(n)
			if _, err := dst.ReadState(b[:cut:cut], ss); err == nil {
				t.Fatalf("%s: prefix of %d of %d bytes read without error", f, cut, len(b))
			}
		}
		for range 200 {
			c := bytes.Clone(b)
			for range 1 + rng.IntN(3) {
				c[rng.IntN(len(c))] = byte(rng.IntN(256))
			}
			dst := f.NewColumn()
			dst.Grow(n)
			if _, err := dst.ReadState(c, ss); err == nil {
				for _, s := range ss {
					dst.Result(int(s))
				}
			}
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 23, 58, 0, 123, zone)
	values := []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		0.5, math.Copysign(0, -1), math.Inf(-1), math.Float64frombits(0x7ff8000000000123), float32(-2.5),
		"", "héllo", []byte{}, []byte{0, 1}, t0, t0.UTC(), t0.Local(), time.Unix(-5, 7).UTC(), time.Time{},
		time.Duration(-3), dec("1.50"), dec("-0.001"), dec("0"), decimal.New(0, -3),
		dec("123456789012345678901234567890.123"), dec("-123456789012345678901234567890.123"), decimal.New(5, 40),
		[]any{}, []any{int64(1), "a", []any{nil}}, map[string]any{}, map[string]any{"b": int64(2), "a": nil, "c": record.Absent},
		record.Absent, 7, int8(-8), int16(16), int32(-32), uint(math.MaxUint64), uint8(8), uint16(16), uint32(32), uint64(math.MaxUint64),
	}
	for _, v := range values {
		b, err := AppendValue([]byte("prefix"), v)
		if err != nil {
			t.Fatalf("AppendValue(%#v): %v", v, err)
		}
		got, rest, err := DecodeValue(append(b[len("prefix"):], 0xff))
		if err != nil {
			t.Fatalf("DecodeValue(%#v): %v", v, err)
		}
		if !bytes.Equal(rest, []byte{0xff}) {
			t.Errorf("%#v: rest %x", v, rest)
		}
		if diff := cmp.Diff(v, got, exact); diff != "" {
			t.Errorf("round trip of %T (-want +got):\n%s", v, diff)
		}
		if fmt.Sprintf("%T", v) != fmt.Sprintf("%T", got) {
			t.Errorf("%#v came back as %T", v, got)
		}
		for cut := range len(b) - len("prefix") {
			if _, _, err := DecodeValue(b[len("prefix") : len("prefix")+cut]); err == nil {
				t.Errorf("%#v: prefix of %d bytes decoded", v, cut)
			}
		}
	}
}

func TestValueErrors(t *testing.T) {
	deep := any(int64(1))
	for range maxNesting + 1 {
		deep = []any{deep}
	}
	tests := []struct {
		v    any
		want string
	}{
		{struct{}{}, "cannot save a value of type struct {}"},
		{[]any{int64(1), complex(1, 2)}, "cannot save a value of type complex128"},
		{deep, "values nested deeper than 10000"},
		{decimal.New(1, -maxExponent-1), "a decimal exponent beyond ±1048576"},
		{decimal.New(math.MaxInt64, maxExponent+1).Mul(decimal.New(10, 0)), "a decimal exponent beyond ±1048576"},
	}
	for _, tt := range tests {
		_, err := AppendValue(nil, tt.v)
		if err == nil || err.Error() != tt.want {
			t.Errorf("AppendValue(%T) = %v, want %q", tt.v, err, tt.want)
		}
	}
	malformed := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "malformed value: truncated"},
		{"bad tag", []byte{200}, "malformed value: bad tag 200"},
		{"long string", []byte{vString, 5, 'a'}, "malformed value: truncated"},
		{"nanoseconds", []byte{vTime, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "malformed value: nanoseconds out of range"},
		{"exponent", []byte{vDecimal, 2, 0x81, 0x80, 0x80, 0x01}, "malformed value: exponent -1048577 out of range"},
		{"sign", []byte{vBigDecimal, 0, 1, 1, 5}, "malformed value: decimal sign does not match its magnitude"},
		{"list count", []byte{vList, 100, vNil}, "malformed value: truncated"},
		{"go int kind", []byte{vGoInt, 9, 0}, "malformed value: bad tag 9"},
	}
	for _, tt := range malformed {
		_, _, err := DecodeValue(tt.b)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: DecodeValue = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	var b []byte
	for _, v := range []any{
		nil, true, int64(-5), 2.5, "s", []byte{1}, time.Unix(3, 4).UTC(), time.Second,
		dec("1.5"), dec("123456789012345678901234567890.123"), []any{int64(1), []any{"x"}}, map[string]any{"a": int64(1)},
	} {
		var err error
		if b, err = AppendKey(b, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckKey(b); err != nil {
		t.Fatalf("CheckKey of valid keys: %v", err)
	}
	// CheckKey accepts exactly what DecodeKey accepts.
	rng := rand.New(rand.NewPCG(5, 5))
	for range 20000 {
		c := bytes.Clone(b[:rng.IntN(len(b)+1)])
		if len(c) > 0 {
			c[rng.IntN(len(c))] = byte(rng.IntN(256))
		}
		var decErr error
		for rest := c; len(rest) > 0 && decErr == nil; {
			_, rest, decErr = DecodeKey(rest)
		}
		if got := CheckKey(c); (got == nil) != (decErr == nil) {
			t.Fatalf("CheckKey(%x) = %v, DecodeKey: %v", c, got, decErr)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckKey(b) }); n != 0 {
		t.Errorf("CheckKey allocates %v times", n)
	}
}

// TestKeyEncodingGolden pins the key encoding, which window snapshots
// store.
func TestKeyEncodingGolden(t *testing.T) {
	values := []any{
		nil, false, true, int64(-3), int64(1 << 40), 1.5, math.NaN(), "héllo", []byte{0, 255},
		time.Date(2026, 3, 17, 23, 58, 0, 5, time.UTC), 90 * time.Second, dec("1.50"), dec("-12345678901234567890.5"),
		[]any{int64(1), "a"}, map[string]any{"b": int64(2), "a": nil},
	}
	var sb strings.Builder
	for _, v := range values {
		b, err := AppendKey(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%-40s %s\n", fmt.Sprintf("%T %v", v, v), hex.EncodeToString(b))
	}
	golden(t, "key_encoding.golden", sb.String())
}

// TestStateGolden pins the state encoding of each column kind.
func TestStateGolden(t *testing.T) {
	var sb strings.Builder
	for i, f := range allFuncs(t) {
		if f.op == opApproxCountDistinct {
			continue // a sketch's encoding is not canonical; it is the library's
		}
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		c := f.NewColumn()
		c.Grow(3)
		for s := 1; s < 3; s++ {
			for range 2 {
				v := randArg(rng, f.Arg().Kind)
				if f.Check(v) == nil && !isLocal(v) {
					c.Add(s, v, int64(s))
				}
			}
		}
		b, err := c.AppendState(nil, []int32{0, 1, 2})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%-30s %s\n", f, hex.EncodeToString(b))
	}
	golden(t, "state_encoding.golden", sb.String())
}

func isLocal(v any) bool {
	ts, ok := v.(time.Time)
	return ok && ts.Location() == time.Local
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s changed (-want +got); a change needs a new window snapshot version:\n%s", path, diff)
	}
}

// FuzzReadState reads arbitrary bytes as the state of each column kind:
// no panic, and state read without error gives results.
func FuzzReadState(f *testing.F) {
	funcs := allFuncs(f)
	for i, fn := range funcs {
		rng := rand.New(rand.NewPCG(uint64(i), 4))
		c := fn.NewColumn()
		c.Grow(4)
		fill(rng, fn, c, 3) // slot 3 stays empty and small
		b, err := c.AppendState(nil, []int32{0, 1, 2})
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		fn := funcs[int(which)%len(funcs)]
		c := fn.NewColumn()
		c.Grow(3)
		if _, err := c.ReadState(b, []int32{0, 1, 2}); err != nil {
			return
		}
		for s := range 3 {
			c.Result(s)
			c.Add(s, randArg(rand.New(rand.NewPCG(1, 1)), schema.Float), 0)
		}
		c.Merge(0, c, 1)
	})
}
