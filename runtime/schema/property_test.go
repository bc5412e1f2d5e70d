package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
)

// gen makes random types and values. For a value it makes both what the
// decoder must produce (want) and what encoding/json is given (enc).
type gen struct {
	rng *rand.Rand
	csv bool // values for CSV cells: no empty strings at the top level
}

func (g *gen) typ(depth int) Type {
	n := 8
	if depth < 3 {
		n = 11
	}
	var t Type
	switch g.rng.IntN(n) {
	case 0:
		t.Kind = String
	case 1:
		t.Kind = Int
	case 2:
		t.Kind = Float
	case 3:
		t.Kind = Bool
	case 4:
		t.Kind = Timestamp
	case 5:
		t.Kind = Duration
	case 6:
		t.Kind = Decimal
		t.Precision = 1 + g.rng.IntN(MaxPrecision)
		t.Scale = g.rng.IntN(t.Precision + 1)
	case 7:
		t.Kind = Any
	case 8:
		t.Kind = List
		e := g.typ(depth + 1)
		t.Elem = &e
	case 9:
		t.Kind = Object
		for i := range 1 + g.rng.IntN(4) {
			t.Fields = append(t.Fields, Field{Name: fmt.Sprintf("m%d", i), Type: g.typ(depth + 1)})
		}
	default:
		t.Kind = Object // free-form
	}
	t.Optional = g.rng.IntN(3) == 0
	return t
}

var sampleRunes = []rune("aZ09 _-.,:;\"\\/\t\n\x00\x1féß€😀\u2028\ufffd{}[]")

func (g *gen) str(minLen int) string {
	var b strings.Builder
	for range minLen + g.rng.IntN(12) {
		b.WriteRune(sampleRunes[g.rng.IntN(len(sampleRunes))])
	}
	return b.String()
}

func (g *gen) int64() int64 {
	switch g.rng.IntN(4) {
	case 0:
		return int64(g.rng.IntN(256))
	case 1:
		return g.rng.Int64() - g.rng.Int64()
	case 2:
		return []int64{math.MaxInt64, math.MinInt64, 0, -1}[g.rng.IntN(4)]
	}
	return g.rng.Int64N(2_000_000) - 1_000_000
}

func (g *gen) float64() float64 {
	switch g.rng.IntN(5) {
	case 0:
		return float64(g.rng.IntN(1000)) / 100
	case 1:
		return g.rng.NormFloat64() * math.Pow(10, float64(g.rng.IntN(600)-300))
	case 2:
		return math.Float64frombits(g.rng.Uint64()&^(0x7ff<<52) | uint64(1+g.rng.IntN(2046))<<52)
	case 3:
		return float64(g.rng.Int64N(1 << 53))
	}
	return g.rng.Float64()
}

// decimalText is random decimal text of at most prec digits, scale after
// the point, and the value it denotes with exponent -scale.
func (g *gen) decimal(prec, scale int) (string, decimal.Decimal) {
	digits := make([]byte, 1+g.rng.IntN(prec))
	for i := range digits {
		digits[i] = byte('0' + g.rng.IntN(10))
	}
	coef := string(digits)
	if g.rng.IntN(2) == 0 {
		coef = "-" + coef
	}
	d, err := decimal.NewFromString(coef)
	if err != nil {
		panic(err)
	}
	d = decimal.NewFromBigInt(d.BigInt(), int32(-scale))
	text := d.StringFixed(int32(scale))
	switch g.rng.IntN(3) {
	case 0:
		text = d.String()
	case 1:
		if !d.IsZero() {
			text = d.Coefficient().String() + "e-" + strconv.Itoa(scale)
		}
	}
	return text, d
}

// value returns what decoding must give and what to encode; omit means
// leave the member out of its object altogether.
func (g *gen) value(t *Type, top bool) (want, enc any, omit bool) {
	if t.Optional && g.rng.IntN(4) == 0 {
		return nil, nil, g.rng.IntN(2) == 0
	}
	switch t.Kind {
	case String:
		min := 0
		if g.csv && top {
			min = 1
		}
		s := g.str(min)
		return s, s, false
	case Int:
		n := g.int64()
		return n, n, false
	case Float:
		f := g.float64()
		return f, f, false
	case Bool:
		b := g.rng.IntN(2) == 0
		return b, b, false
	case Timestamp:
		tm := time.Unix(g.rng.Int64N(10_000_000_000)-5_000_000_000, g.rng.Int64N(1e9)).UTC()
		if g.rng.IntN(2) == 0 {
			ms := tm.UnixMilli()
			return time.UnixMilli(ms).UTC(), ms, false
		}
		zone := time.FixedZone("", (g.rng.IntN(48)-24)*1800)
		return tm, tm.In(zone).Format(time.RFC3339Nano), false
	case Duration:
		d := time.Duration(g.rng.Int64() - g.rng.Int64())
		return d, d.String(), false
	case Decimal:
		text, d := g.decimal(t.Precision, t.Scale)
		if g.rng.IntN(2) == 0 && !g.csv {
			return d, json.Number(text), false
		}
		return d, text, false
	case List:
		n := g.rng.IntN(4)
		want, enc := make([]any, n), make([]any, n)
		for i := range n {
			want[i], enc[i], _ = g.value(t.Elem, false)
		}
		return want, enc, false
	case Object:
		if len(t.Fields) == 0 {
			return g.anyObject(0)
		}
		want, enc := map[string]any{}, map[string]any{}
		for _, f := range t.Fields {
			w, e, omit := g.value(&f.Type, false)
			want[f.Name] = w
			if !omit {
				enc[f.Name] = e
			}
		}
		enc["unknown"] = []any{1, "x"}
		return want, enc, false
	}
	if g.csv && top {
		s := g.str(1)
		return s, s, false
	}
	return g.any(0, !t.Optional)
}

// any makes a schemaless value; JSON numbers that look like integers come
// back as int64.
func (g *gen) any(depth int, nonNull bool) (want, enc any, omit bool) {
	n := 7
	if depth < 3 {
		n = 9
	}
	switch g.rng.IntN(n) {
	case 0:
		if !nonNull {
			return nil, nil, false
		}
		fallthrough
	case 1:
		s := g.str(0)
		return s, s, false
	case 2, 3:
		i := g.int64()
		return i, i, false
	case 4:
		f := g.float64()
		text, err := json.Marshal(f)
		if err != nil {
			panic(err)
		}
		if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return n, f, false // written without point or exponent
		}
		return f, f, false
	case 5, 6:
		b := g.rng.IntN(2) == 0
		return b, b, false
	case 7:
		n := g.rng.IntN(4)
		want, enc := make([]any, n), make([]any, n)
		for i := range n {
			want[i], enc[i], _ = g.any(depth+1, false)
		}
		return want, enc, false
	}
	return g.anyObject(depth + 1)
}

func (g *gen) anyObject(depth int) (want, enc any, omit bool) {
	w, e := map[string]any{}, map[string]any{}
	for range g.rng.IntN(4) {
		k := g.str(0)
		w[k], e[k], _ = g.any(depth+1, false)
	}
	return w, e, false
}

// TestDecodeRoundTrip encodes random records of random schemas with
// encoding/json and checks that decoding gives the originals back.
func TestDecodeRoundTrip(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(11, 12))}
	for range 300 {
		s := &Schema{Name: "random"}
		for i := range 1 + g.rng.IntN(8) {
			s.Fields = append(s.Fields, Field{Name: fmt.Sprintf("f%d", i), Type: g.typ(0)})
		}
		d, err := NewDecoder(s, "json")
		if err != nil {
			t.Fatal(err)
		}
		var dst []any
		for range 20 {
			want := make([]any, len(s.Fields))
			enc := map[string]any{"extra": map[string]any{"x": []any{1.5, nil}}}
			for i := range s.Fields {
				w, e, omit := g.value(&s.Fields[i].Type, true)
				want[i] = w
				if !omit {
					enc[s.Fields[i].Name] = e
				}
			}
			payload, err := json.Marshal(enc)
			if err != nil {
				t.Fatal(err)
			}
			dst, err = d.Decode(&sdk.Message{Payload: payload}, dst)
			if err != nil {
				t.Fatalf("schema %v\nDecode(%s): %v", s.Types(), payload, err)
			}
			if diff := cmp.Diff(want, dst, cmpValues); diff != "" {
				t.Fatalf("schema %v\nDecode(%s) (-want +got):\n%s", s.Types(), payload, diff)
			}
		}
	}
}

// TestDecodeRoundTripCSV writes random records as CSV cells (text) and
// checks that decoding gives the originals back.
func TestDecodeRoundTripCSV(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(13, 14)), csv: true}
	for range 300 {
		s := &Schema{Name: "random"}
		for i := range 1 + g.rng.IntN(8) {
			s.Fields = append(s.Fields, Field{Name: fmt.Sprintf("f%d", i), Type: g.typ(0)})
		}
		d, err := NewDecoder(s, "csv")
		if err != nil {
			t.Fatal(err)
		}
		var dst []any
		for range 20 {
			want := make([]any, len(s.Fields))
			var fs []sdk.Field
			for i, f := range s.Fields {
				w, e, _ := g.value(&s.Fields[i].Type, true)
				want[i] = w
				fs = append(fs, sdk.Field{Name: f.Name, Value: cellText(t, e)})
			}
			g.rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
			dst, err = d.Decode(&sdk.Message{Fields: fs}, dst)
			if err != nil {
				t.Fatalf("schema %v\nDecode(%q): %v", s.Types(), fs, err)
			}
			if diff := cmp.Diff(want, dst, cmpValues); diff != "" {
				t.Fatalf("schema %v\nDecode(%q) (-want +got):\n%s", s.Types(), fs, diff)
			}
		}
	}
}

// cellText writes an encoded value as a CSV cell.
func cellText(t *testing.T, v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeRoundTripSchemaless checks schemaless decoding of random
// objects against the values encoded.
func TestDecodeRoundTripSchemaless(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(15, 16))}
	d, err := NewDecoder(nil, "json")
	if err != nil {
		t.Fatal(err)
	}
	var dst []any
	for range 3000 {
		want, enc := map[string]any{}, map[string]any{}
		for range g.rng.IntN(6) {
			k := fmt.Sprintf("k%d", g.rng.IntN(12))
			want[k], enc[k], _ = g.any(0, false)
		}
		payload, err := json.Marshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		dst, err = d.Decode(&sdk.Message{Payload: payload}, dst)
		if err != nil {
			t.Fatalf("Decode(%s): %v", payload, err)
		}
		names := d.Layout().Names
		if len(dst) != len(names) {
			t.Fatalf("Decode(%s) gave %d values for %d slots", payload, len(dst), len(names))
		}
		got := map[string]any{}
		for i, v := range dst {
			if v != record.Absent {
				got[names[i]] = v
			}
		}
		if diff := cmp.Diff(want, got, cmpValues); diff != "" {
			t.Fatalf("Decode(%s) (-want +got):\n%s", payload, diff)
		}
	}
}
