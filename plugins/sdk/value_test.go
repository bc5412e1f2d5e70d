package sdk_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

type stringer struct{ s string }

func (s stringer) String() string { return "<" + s.s + ">" }

func TestFormatTime(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole seconds", time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC), "2026-03-17T23:58:00Z"},
		{"nanos trimmed", time.Date(2026, 3, 17, 23, 58, 0, 250_000_000, time.UTC), "2026-03-17T23:58:00.25Z"},
		{"all nanos", time.Date(2026, 3, 17, 23, 58, 0, 123456789, time.UTC), "2026-03-17T23:58:00.123456789Z"},
		{"zone converted to UTC", time.Date(2026, 3, 18, 0, 58, 0, 0, paris), "2026-03-17T23:58:00Z"},
		{"zero time", time.Time{}, "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sdk.FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"int64", int64(-42), `-42`},
		{"int64 min", int64(math.MinInt64), `-9223372036854775808`},
		{"int", 7, `7`},
		{"int32", int32(-7), `-7`},
		{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`},
		{"uint8", uint8(255), `255`},
		{"float integral", 3.0, `3`},
		{"float fraction", 0.1, `0.1`},
		{"float negative zero", math.Copysign(0, -1), `-0`},
		{"float small uses exponent", 1e-7, `1e-7`},
		{"float at 1e-6 is plain", 1e-6, `0.000001`},
		{"float large uses exponent", 1e21, `1e+21`},
		{"float below 1e21 is plain", 1e20, `100000000000000000000`},
		{"float NaN", math.NaN(), `null`},
		{"float +Inf", math.Inf(1), `null`},
		{"float -Inf", math.Inf(-1), `null`},
		{"float32", float32(0.1), `0.1`},
		{"float32 NaN", float32(math.NaN()), `null`},
		{"string plain", "hello", `"hello"`},
		{"string empty", "", `""`},
		{"string escapes", "a\"b\\c\nd\re\tf\bg\fh", `"a\"b\\c\nd\re\tf\bg\fh"`},
		{"string control", "\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"string html kept", "<a href='x'>&</a>", `"<a href='x'>&</a>"`},
		{"string unicode kept", "héllo, 世界 🙂", `"héllo, 世界 🙂"`},
		{"string line separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"string invalid utf8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"bytes", []byte("hi!?"), `"aGkhPw=="`},
		{"bytes empty", []byte{}, `""`},
		{"time", time.Date(2026, 3, 17, 23, 58, 0, 500, time.UTC), `"2026-03-17T23:58:00.0000005Z"`},
		{"time zone", time.Date(2026, 3, 17, 23, 58, 0, 0, time.FixedZone("X", -3600)), `"2026-03-18T00:58:00Z"`},
		{"duration", 90 * time.Minute, `"1h30m0s"`},
		{"duration small", 1500 * time.Microsecond, `"1.5ms"`},
		{"duration zero", time.Duration(0), `"0s"`},
		{"duration negative", -2 * time.Second, `"-2s"`},
		{"decimal keeps scale", decimal.RequireFromString("12.50"), `12.50`},
		{"decimal negative fraction", decimal.RequireFromString("-0.05"), `-0.05`},
		{"decimal integer", decimal.RequireFromString("42"), `42`},
		{"decimal positive exponent", decimal.New(12, 2), `1200`},
		{"decimal zero value", decimal.Decimal{}, `0`},
		{"decimal zero with scale", decimal.New(0, -2), `0.00`},
		{"decimal zero positive exponent", decimal.New(0, 3), `0`},
		{"decimal huge", decimal.RequireFromString("-123456789012345678901234567890.123456789"), `-123456789012345678901234567890.123456789`},
		{"decimal tiny", decimal.New(1, -30), `0.000000000000000000000000000001`},
		{"list", []any{int64(1), "a", nil, []any{}}, `[1,"a",null,[]]`},
		{"list empty", []any{}, `[]`},
		{"map sorted", map[string]any{"b": int64(2), "a": int64(1), "c": map[string]any{"z": nil, "y": true}}, `{"a":1,"b":2,"c":{"y":true,"z":null}}`},
		{"map empty", map[string]any{}, `{}`},
		{"map many keys", manyKeys(20), manyKeysJSON(20)},
		{"fallback stringer", stringer{"x"}, `"<x>"`},
		{"fallback other", struct{ A int }{3}, `"{3}"`},
		{"fallback error", fmt.Errorf("bad \"thing\""), `"bad \"thing\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("x:")
			got := sdk.AppendJSON(prefix, tt.in)
			if string(got) != "x:"+tt.want {
				t.Errorf("AppendJSON(%#v) = %s, want x:%s", tt.in, got, tt.want)
			}
			if !json.Valid(got[2:]) {
				t.Errorf("AppendJSON(%#v) = %s, not valid JSON", tt.in, got[2:])
			}
		})
	}
}

func manyKeys(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("k%02d", n-i)] = int64(i)
	}
	return m
}

func manyKeysJSON(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for k := 1; k <= n; k++ {
		if k > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%02d":%d`, k, n-k)
	}
	b.WriteByte('}')
	return b.String()
}

// marshalStd is encoding/json's rendering of v without HTML escaping, the
// reference for strings and floats.
func marshalStd(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\x00", "\x1b", "\x7f", "é", "世", "🙂", "\u2028", "\u2029", "\xff", "\xe4\xb8", "<", "&"}
	for i := range 5000 {
		var b strings.Builder
		for range rng.IntN(12) {
			if rng.IntN(4) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
		}
		s := b.String()
		got := string(sdk.AppendJSON(nil, s))
		if want := marshalStd(t, s); got != want {
			t.Fatalf("case %d: AppendJSON(%q) = %s, want %s", i, s, got, want)
		}
	}
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		var f float64
		switch i % 3 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(50)-25))
		default:
			f = float64(rng.IntN(1_000_000)) / 100
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if got, want := string(sdk.AppendJSON(nil, f)), marshalStd(t, f); got != want {
			t.Fatalf("AppendJSON(%v) = %s, want %s", f, got, want)
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			continue
		}
		if got, want := string(sdk.AppendJSON(nil, f32)), marshalStd(t, f32); got != want {
			t.Fatalf("AppendJSON(float32 %v) = %s, want %s", f32, got, want)
		}
	}
}

func TestAppendJSONDecimalExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		coef := rng.Int64() >> rng.IntN(63)
		if rng.IntN(2) == 0 {
			coef = -coef
		}
		exp := int32(rng.IntN(30) - 20)
		d := decimal.New(coef, exp)
		got := string(sdk.AppendJSON(nil, d))
		back, err := decimal.NewFromString(got)
		if err != nil {
			t.Fatalf("AppendJSON(%v) = %s, not a decimal: %v", d, got, err)
		}
		if !back.Equal(d) {
			t.Fatalf("AppendJSON(%v) = %s, reads back as %v", d, got, back)
		}
		if strings.ContainsAny(got, "eE") {
			t.Fatalf("AppendJSON(%v) = %s, want plain notation", d, got)
		}
		if exp < 0 && coef != 0 {
			frac := got[strings.IndexByte(got, '.')+1:]
			if len(frac) != int(-exp) {
				t.Fatalf("AppendJSON(%v) = %s, want %d fraction digits", d, got, -exp)
			}
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("AppendJSON(%v) = %s, not valid JSON", d, got)
		}
	}
}

func TestAppendJSONScalarsDoNotAllocate(t *testing.T) {
	scalars := []any{
		nil, true, int64(-12345678), 42, 3.14159, 1e-9, "plain string",
		"esc\"aped\n\u2028", []byte("some bytes"),
		time.Date(2026, 3, 17, 23, 58, 0, 123, time.UTC),
		90*time.Minute + 1500*time.Microsecond,
		decimal.RequireFromString("-1234.5600"),
	}
	buf := make([]byte, 0, 256)
	for _, v := range scalars {
		allocs := testing.AllocsPerRun(100, func() {
			buf = sdk.AppendJSON(buf[:0], v)
		})
		if allocs != 0 {
			t.Errorf("AppendJSON(%#v) allocates %v times", v, allocs)
		}
	}
}

func TestAppendJSONObject(t *testing.T) {
	t.Parallel()
	absent := &struct{ x int }{}
	skipAbsent := func(v any) bool { return v == any(absent) }
	tests := []struct {
		name    string
		columns []string
		values  []any
		skip    func(any) bool
		want    string
	}{
		{"empty", nil, nil, nil, `{}`},
		{"column order kept", []string{"z", "a", "m"}, []any{int64(1), "x", nil}, nil, `{"z":1,"a":"x","m":null}`},
		{"skip leaves values out", []string{"a", "b", "c"}, []any{absent, nil, absent}, skipAbsent, `{"b":null}`},
		{"skip everything", []string{"a"}, []any{absent}, skipAbsent, `{}`},
		{"nil skip keeps nil", []string{"a"}, []any{nil}, nil, `{"a":null}`},
		{"sdk.Absent left out", []string{"a", "b", "c"}, []any{int64(1), sdk.Absent, nil}, nil, `{"a":1,"c":null}`},
		{"missing values are null", []string{"a", "b"}, []any{true}, nil, `{"a":true,"b":null}`},
		{"extra values ignored", []string{"a"}, []any{true, false}, nil, `{"a":true}`},
		{"column names escaped", []string{"we\"ird\n"}, []any{int64(1)}, nil, `{"we\"ird\n":1}`},
		{"nested", []string{"l", "m"}, []any{[]any{int64(1)}, map[string]any{"k": "v"}}, nil, `{"l":[1],"m":{"k":"v"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(sdk.AppendJSONObject(nil, tt.columns, tt.values, tt.skip))
			if got != tt.want {
				t.Errorf("AppendJSONObject() = %s, want %s", got, tt.want)
			}
		})
	}
}

// randomValue returns a random value of the SDK's value types.
func randomValue(rng *rand.Rand, depth int) any {
	n := 11
	if depth < 3 {
		n = 13
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return rng.Int64() >> rng.IntN(64)
	case 3:
		if rng.IntN(10) == 0 {
			return math.NaN()
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
	case 4, 5:
		return randomString(rng)
	case 6:
		b := make([]byte, rng.IntN(10))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case 7:
		return time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).UTC()
	case 8:
		return time.Duration(rng.Int64() >> rng.IntN(64))
	case 9:
		return decimal.New(rng.Int64N(1e12)-5e11, int32(rng.IntN(12)-8))
	case 10:
		return stringer{randomString(rng)}
	case 11:
		l := make([]any, rng.IntN(4))
		for i := range l {
			l[i] = randomValue(rng, depth+1)
		}
		return l
	default:
		m := make(map[string]any)
		for range rng.IntN(4) {
			m[randomString(rng)] = randomValue(rng, depth+1)
		}
		return m
	}
}

func randomString(rng *rand.Rand) string {
	runes := []rune{'a', 'b', ' ', '"', '\\', '\n', '\t', 0, 0x1f, 'é', '世', '🙂', 0x2028}
	r := make([]rune, rng.IntN(8))
	for i := range r {
		r[i] = runes[rng.IntN(len(runes))]
	}
	return string(r)
}

// sameJSON reports whether got, decoded by encoding/json with UseNumber,
// carries the value want.
func sameJSON(want, got any) error {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Errorf("got %#v, want null", got)
		}
		return nil
	case bool:
		if got != w {
			return fmt.Errorf("got %#v, want %v", got, w)
		}
		return nil
	case int64:
		if n, ok := got.(json.Number); !ok || string(n) != strconv.FormatInt(w, 10) {
			return fmt.Errorf("got %#v, want %d", got, w)
		}
		return nil
	case float64:
		if math.IsNaN(w) {
			return sameJSON(nil, got)
		}
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("got %#v, want %v", got, w)
		}
		if f, err := n.Float64(); err != nil || f != w {
			return fmt.Errorf("got %s, want %v", n, w)
		}
		return nil
	case decimal.Decimal:
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("got %#v, want %v", got, w)
		}
		if d, err := decimal.NewFromString(string(n)); err != nil || !d.Equal(w) || d.Exponent() != min(w.Exponent(), 0) {
			return fmt.Errorf("got %s, want %v (exponent %d)", n, w, w.Exponent())
		}
		return nil
	case string:
		if !utf8.ValidString(w) {
			w = strings.ToValidUTF8(w, "\uFFFD")
		}
		if got != w {
			return fmt.Errorf("got %#v, want %q", got, w)
		}
		return nil
	case []byte:
		s, ok := got.(string)
		if !ok {
			return fmt.Errorf("got %#v, want base64", got)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !bytes.Equal(b, w) {
			return fmt.Errorf("got %q, want base64 of %x", s, w)
		}
		return nil
	case time.Time:
		s, ok := got.(string)
		if !ok {
			return fmt.Errorf("got %#v, want a timestamp", got)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !tm.Equal(w) || tm.Location() != time.UTC {
			return fmt.Errorf("got %q, want %v", s, w)
		}
		return nil
	case time.Duration:
		s, ok := got.(string)
		if !ok {
			return fmt.Errorf("got %#v, want a duration", got)
		}
		d, err := time.ParseDuration(s)
		if err != nil || d != w {
			return fmt.Errorf("got %q, want %v", s, w)
		}
		return nil
	case []any:
		l, ok := got.([]any)
		if !ok || len(l) != len(w) {
			return fmt.Errorf("got %#v, want %d elements", got, len(w))
		}
		for i := range w {
			if err := sameJSON(w[i], l[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		m, ok := got.(map[string]any)
		if !ok || len(m) != len(w) {
			return fmt.Errorf("got %#v, want %d members", got, len(w))
		}
		for k, v := range w {
			if err := sameJSON(v, m[k]); err != nil {
				return fmt.Errorf(".%s: %w", k, err)
			}
		}
		return nil
	default:
		return sameJSON(fmt.Sprint(w), got)
	}
}

func TestAppendJSONObjectRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	absent := new(int)
	skip := func(v any) bool { p, ok := v.(*int); return ok && p == absent }
	var buf []byte
	for i := range 3000 {
		n := rng.IntN(6)
		columns := make([]string, n)
		values := make([]any, n)
		var wantCols []string
		var wantVals []any
		for j := range n {
			columns[j] = fmt.Sprintf("c%d_%s", j, randomString(rng))
			values[j] = randomValue(rng, 0)
			if rng.IntN(5) == 0 {
				values[j] = absent
				continue
			}
			wantCols = append(wantCols, strings.ToValidUTF8(columns[j], "\uFFFD"))
			wantVals = append(wantVals, values[j])
		}
		buf = sdk.AppendJSONObject(buf[:0], columns, values, skip)

		dec := json.NewDecoder(bytes.NewReader(buf))
		dec.UseNumber()
		var gotCols []string
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("case %d: %s: want an object, got %v %v", i, buf, tok, err)
		}
		for j := 0; dec.More(); j++ {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("case %d: %s: %v", i, buf, err)
			}
			gotCols = append(gotCols, tok.(string))
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("case %d: %s: %v", i, buf, err)
			}
			if j >= len(wantVals) {
				t.Fatalf("case %d: %s: more members than the %d expected", i, buf, len(wantVals))
			}
			if err := sameJSON(wantVals[j], v); err != nil {
				t.Fatalf("case %d: %s: member %q: %v", i, buf, tok, err)
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
			t.Fatalf("case %d: %s: want the end of the object, got %v %v", i, buf, tok, err)
		}
		if _, err := dec.Token(); err == nil {
			t.Fatalf("case %d: %s: trailing data", i, buf)
		}
		if diff := cmp.Diff(wantCols, gotCols); diff != "" {
			t.Fatalf("case %d: %s: columns (-want +got):\n%s", i, buf, diff)
		}
	}
}

func TestFormatText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"absent", sdk.Absent, ""},
		{"string raw", "a \"quoted\", comma\nline", "a \"quoted\", comma\nline"},
		{"bool", true, "true"},
		{"int64", int64(-3), "-3"},
		{"int", 12, "12"},
		{"float", 2.5, "2.5"},
		{"float integral", 2.0, "2"},
		{"float large", 1e22, "1e+22"},
		{"float NaN", math.NaN(), "NaN"},
		{"float +Inf", math.Inf(1), "+Inf"},
		{"float -Inf", math.Inf(-1), "-Inf"},
		{"float32 NaN", float32(math.NaN()), "NaN"},
		{"time", time.Date(2026, 3, 17, 23, 58, 0, 0, time.FixedZone("X", 7200)), "2026-03-17T21:58:00Z"},
		{"duration", 5 * time.Minute, "5m0s"},
		{"decimal", decimal.RequireFromString("12.50"), "12.50"},
		{"decimal huge", decimal.RequireFromString("123456789012345678901234567890.10"), "123456789012345678901234567890.10"},
		{"bytes", []byte{0, 1, 2}, "AAEC"},
		{"list", []any{int64(1), "a"}, `[1,"a"]`},
		{"map", map[string]any{"b": nil, "a": 1.5}, `{"a":1.5,"b":null}`},
		{"stringer", stringer{"s"}, "<s>"},
		{"other", struct{ A, B int }{1, 2}, "{1 2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sdk.FormatText(tt.in); got != tt.want {
				t.Errorf("FormatText(%#v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkAppendJSONObject(b *testing.B) {
	columns := []string{"payment_id", "amount", "store_id", "channel", "event_time", "score", "ok"}
	values := []any{
		"p-000123456", decimal.RequireFromString("123.45"), "store-17", nil,
		time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC), 0.875, true,
	}
	buf := sdk.AppendJSONObject(nil, columns, values, nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = sdk.AppendJSONObject(buf[:0], columns, values, nil)
	}
}

func ExampleAppendJSONObject() {
	columns := []string{"store", "revenue", "orders", "window_end", "note"}
	values := []any{
		"ABC", decimal.RequireFromString("12.50"), int64(3),
		time.Date(2026, 3, 17, 23, 0, 0, 0, time.UTC), nil,
	}
	line := sdk.AppendJSONObject(nil, columns, values, nil)
	fmt.Println(string(line))
	// Output: {"store":"ABC","revenue":12.50,"orders":3,"window_end":"2026-03-17T23:00:00Z","note":null}
}

func ExampleAppendJSON() {
	buf := sdk.AppendJSON(nil, map[string]any{"tags": []any{"a", "b"}, "ratio": 0.25, "wait": 90 * time.Second})
	fmt.Println(string(buf))
	// Output: {"ratio":0.25,"tags":["a","b"],"wait":"1m30s"}
}

func ExampleFormatText() {
	for _, v := range []any{nil, "plain, text", decimal.RequireFromString("-0.50"), time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC), []any{int64(1), "x"}} {
		fmt.Printf("%q\n", sdk.FormatText(v))
	}
	// Output:
	// ""
	// "plain, text"
	// "-0.50"
	// "2026-03-17T23:58:00Z"
	// "[1,\"x\"]"
}

func ExampleFormatTime() {
	fmt.Println(sdk.FormatTime(time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)))
	// Output: 2026-03-17T23:58:00Z
}
