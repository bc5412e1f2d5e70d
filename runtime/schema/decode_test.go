package schema

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
)

// cmpValues compares decoded values: decimals by value and exponent,
// times by instant and location, record.Absent by identity.
var cmpValues = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }),
	cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }),
	cmp.FilterValues(func(a, b any) bool { return a == record.Absent || b == record.Absent },
		cmp.Comparer(func(a, b any) bool { return a == b })),
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

const allSchema = `name: all.v1
fields:
  s: string
  i: int
  f: float
  b: bool
  ts: timestamp
  dur: duration
  dec: decimal(6,2)
  tags: list<string>
  opt: int?
  dev:
    os: string
    ver: int?
  any: any?
  obj: object?
  big: decimal(38,10)?
  lol: list<list<int>?>?
`

func mustSchema(t testing.TB, src string) *Schema {
	t.Helper()
	s, ds := Parse("test.yaml", []byte(src))
	if ds.HasErrors() {
		t.Fatalf("schema: %s", render(ds))
	}
	return s
}

// allFields are valid JSON texts for every field of allSchema, in order.
var allFields = [][2]string{
	{"s", `"text"`}, {"i", `42`}, {"f", `1.5`}, {"b", `true`},
	{"ts", `"2026-03-17T23:58:00Z"`}, {"dur", `"90s"`}, {"dec", `12.5`},
	{"tags", `["a","b"]`}, {"dev", `{"os":"ios"}`},
}

// allRecord renders a JSON record of allSchema with field key set to raw
// (appended when not among allFields), or removed when raw is empty.
func allRecord(key, raw string) string {
	var b strings.Builder
	b.WriteByte('{')
	found := false
	for _, kv := range allFields {
		v := kv[1]
		if kv[0] == key {
			found = true
			if raw == "" {
				continue
			}
			v = raw
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + kv[0] + `":` + v)
	}
	if !found && raw != "" {
		b.WriteString(`,"` + key + `":` + raw)
	}
	b.WriteByte('}')
	return b.String()
}

func TestDecodeJSONSchemaFields(t *testing.T) {
	s := mustSchema(t, allSchema)
	slot := map[string]int{}
	for i, n := range s.Names() {
		slot[n] = i
	}
	tests := []struct {
		name, key, raw string
		want           any
		err            string
	}{
		{"string", "s", `"héllo"`, "héllo", ""},
		{"string escapes", "s", `"a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00"`, "a\"b\\c/\b\f\n\r\té😀", ""},
		{"string lone surrogate", "s", `"\ud83d!"`, "\uFFFD!", ""},
		{"string invalid utf8", "s", "\"a\xffb\"", "a\uFFFDb", ""},
		{"string empty", "s", `""`, "", ""},
		{"string from number", "s", `3`, nil, `s: want string, got number 3`},
		{"string null", "s", `null`, nil, `s: want string, got null`},
		{"string missing", "s", ``, nil, `missing required field "s"`},
		{"string from bool", "s", `true`, nil, `s: want string, got bool true`},
		{"string from object", "s", `{"a":1}`, nil, `s: want string, got object`},
		{"string from array", "s", `[]`, nil, `s: want string, got array`},
		{"int", "i", `-17`, int64(-17), ""},
		{"int min", "i", `-9223372036854775808`, int64(math.MinInt64), ""},
		{"int max", "i", `9223372036854775807`, int64(math.MaxInt64), ""},
		{"int overflow", "i", `9223372036854775808`, nil, `i: want int, got number 9223372036854775808 (out of range)`},
		{"int with point", "i", `3.0`, nil, `i: want int, got number 3.0`},
		{"int fraction", "i", `3.5`, nil, `i: want int, got number 3.5`},
		{"int exponent", "i", `1e3`, nil, `i: want int, got number 1e3`},
		{"int from string", "i", `"3"`, nil, `i: want int, got string "3"`},
		{"float", "f", `-0.125`, -0.125, ""},
		{"float from int", "f", `3`, 3.0, ""},
		{"float exponent", "f", `1.5e300`, 1.5e300, ""},
		{"float long", "f", `0.30000000000000004441`, 0.30000000000000004, ""},
		{"float overflow", "f", `1e400`, nil, `f: want float, got number 1e400 (out of range)`},
		{"float from string", "f", `"1.5"`, nil, `f: want float, got string "1.5"`},
		{"bool false", "b", `false`, false, ""},
		{"bool from string", "b", `"true"`, nil, `b: want bool, got string "true"`},
		{"bool from number", "b", `1`, nil, `b: want bool, got number 1`},
		{"timestamp offset", "ts", `"2026-03-17T23:58:00.123456789+01:30"`, utc("2026-03-17T22:28:00.123456789Z"), ""},
		{"timestamp epoch ms", "ts", `1773791880000`, utc("2026-03-17T23:58:00Z"), ""},
		{"timestamp epoch ms negative", "ts", `-1500`, utc("1969-12-31T23:59:58.5Z"), ""},
		{"timestamp epoch ms text", "ts", `"1773791880000"`, utc("2026-03-17T23:58:00Z"), ""},
		{"timestamp lowercase", "ts", `"2026-03-17t23:58:00z"`, utc("2026-03-17T23:58:00Z"), ""},
		{"timestamp fractional ms", "ts", `1.5`, nil, `ts: want timestamp, got number 1.5`},
		{"timestamp text", "ts", `"yesterday"`, nil, `ts: want timestamp, got string "yesterday"`},
		{"timestamp bad day", "ts", `"2026-02-30T00:00:00Z"`, nil, `ts: want timestamp, got string "2026-02-30T00:00:00Z"`},
		{"timestamp no zone", "ts", `"2026-03-17T23:58:00"`, nil, `ts: want timestamp, got string "2026-03-17T23:58:00"`},
		{"timestamp bool", "ts", `false`, nil, `ts: want timestamp, got bool false`},
		{"duration", "dur", `"1h30m"`, 90 * time.Minute, ""},
		{"duration words", "dur", `"5 minutes"`, nil, `dur: want duration, got string "5 minutes"`},
		{"duration number", "dur", `90`, nil, `dur: want duration, got number 90`},
		{"decimal", "dec", `12.5`, dec("12.50"), ""},
		{"decimal string", "dec", `"-0.01"`, dec("-0.01"), ""},
		{"decimal max", "dec", `9999.99`, dec("9999.99"), ""},
		{"decimal exponent", "dec", `1.5e2`, dec("150.00"), ""},
		{"decimal trailing zeros", "dec", `"1.000000"`, dec("1.00"), ""},
		{"decimal leading zeros", "dec", `"0001.5"`, dec("1.50"), ""},
		{"decimal zero", "dec", `-0.000`, dec("0.00"), ""},
		{"decimal point only fraction", "dec", `".5"`, dec("0.50"), ""},
		{"decimal too many integer digits", "dec", `12345.6`, nil, `dec: want decimal(6,2), got number 12345.6 (more than 4 digits before the point)`},
		{"decimal too many fraction digits", "dec", `1.234`, nil, `dec: want decimal(6,2), got number 1.234 (more than 2 digits after the point)`},
		{"decimal small exponent", "dec", `1e-3`, nil, `dec: want decimal(6,2), got number 1e-3 (more than 2 digits after the point)`},
		{"decimal not a number", "dec", `"abc"`, nil, `dec: want decimal(6,2), got string "abc"`},
		{"decimal empty string", "dec", `""`, nil, `dec: want decimal(6,2), got string ""`},
		{"decimal bool", "dec", `true`, nil, `dec: want decimal(6,2), got bool true`},
		{"decimal wide", "big", `"1234567890123456789012345678.0123456789"`, dec("1234567890123456789012345678.0123456789"), ""},
		{"decimal wide number", "big", `-98765432109876543210.5`, dec("-98765432109876543210.5000000000"), ""},
		{"decimal wide exact", "big", `0.1000000000`, dec("0.1000000000"), ""},
		{"list", "tags", `["x", "", "z"]`, []any{"x", "", "z"}, ""},
		{"list empty", "tags", `[ ]`, []any{}, ""},
		{"list element", "tags", `["a",1]`, nil, `tags[1]: want string, got number 1`},
		{"list null element", "tags", `[null]`, nil, `tags[0]: want string, got null`},
		{"list not array", "tags", `"a"`, nil, `tags: want list<string>, got string "a"`},
		{"nested lists", "lol", `[[1,2],null,[]]`, []any{[]any{int64(1), int64(2)}, nil, []any{}}, ""},
		{"nested list element", "lol", `[[1],[2,"x"]]`, nil, `lol[1][1]: want int, got string "x"`},
		{"optional null", "opt", `null`, nil, ""},
		{"optional missing", "opt", ``, nil, ""},
		{"optional present", "opt", `7`, int64(7), ""},
		{"optional wrong", "opt", `"x"`, nil, `opt: want int, got string "x"`},
		{"object", "dev", `{"ver":3,"extra":[1,{"a":2}],"os":"ios"}`, map[string]any{"os": "ios", "ver": int64(3)}, ""},
		{"object optional missing", "dev", `{"os":"ios"}`, map[string]any{"os": "ios", "ver": nil}, ""},
		{"object required missing", "dev", `{}`, nil, `missing required field "dev.os"`},
		{"object member", "dev", `{"os":1}`, nil, `dev.os: want string, got number 1`},
		{"object optional member", "dev", `{"os":"x","ver":"1"}`, nil, `dev.ver: want int, got string "1"`},
		{"object not object", "dev", `"x"`, nil, `dev: want object, got string "x"`},
		{"object null", "dev", `null`, nil, `dev: want object, got null`},
		{"object duplicate member", "dev", `{"os":"a","os":"b"}`, map[string]any{"os": "b", "ver": nil}, ""},
		{"any", "any", `{"a":[1,2.5,"x",null,true,{}]}`, map[string]any{"a": []any{int64(1), 2.5, "x", nil, true, map[string]any{}}}, ""},
		{"any scalar", "any", `"x"`, "x", ""},
		{"free object", "obj", `{"k":{"j":[]}}`, map[string]any{"k": map[string]any{"j": []any{}}}, ""},
		{"free object wrong", "obj", `[1]`, nil, `obj: want object, got array`},
		{"unknown key skipped", "zzz", `{"a":[1,{"b":"c"}],"d":null}`, nil, ""},
		{"unknown key bad JSON", "zzz", `[1,}`, nil, `invalid JSON at byte 133: invalid character '}' looking for beginning of value`},
		{"long value shortened", "s", `"` + strings.Repeat("x", 100) + `"` + `:`, nil, `invalid JSON at byte 108: invalid character ':' after object key:value pair`},
		{"long value in message", "i", `"` + strings.Repeat("é", 40) + `"`, nil, `i: want int, got string "` + strings.Repeat("é", 32) + `..."`},
	}
	d, err := NewDecoder(s, "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := allRecord(tt.key, tt.raw)
			got, err := d.Decode(&sdk.Message{Payload: []byte(payload)}, nil)
			if tt.err != "" {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Decode(%s) = %v, %v; want error %q", payload, got, err, tt.err)
				}
				if diff := cmp.Diff(tt.err, err.Error()); diff != "" {
					t.Errorf("Decode(%s) error (-want +got):\n%s", payload, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", payload, err)
			}
			if len(got) != len(s.Fields) {
				t.Fatalf("got %d values, want %d", len(got), len(s.Fields))
			}
			if i, ok := slot[tt.key]; ok {
				if diff := cmp.Diff(tt.want, got[i], cmpValues); diff != "" {
					t.Errorf("Decode(%s)[%s] (-want +got):\n%s", payload, tt.key, diff)
				}
			}
		})
	}
}

// TestDecodeJSONSchemaRecord checks a whole record, and that a reused dst
// keeps nothing of the previous record.
func TestDecodeJSONSchemaRecord(t *testing.T) {
	s := mustSchema(t, allSchema)
	d, err := NewDecoder(s, "json")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]any, 20)
	for i := range dst {
		dst[i] = "stale"
	}
	full := `{"lol":[[7]],"big":1,"obj":{},"any":null,"dev":{"os":"x","ver":null},"opt":1,"tags":[],"dec":"1","dur":"1s","ts":0,"b":false,"f":0,"i":0,"s":""}`
	got, err := d.Decode(&sdk.Message{Payload: []byte(full)}, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"", int64(0), 0.0, false, utc("1970-01-01T00:00:00Z"), time.Second, dec("1.00"),
		[]any{}, int64(1), map[string]any{"os": "x", "ver": nil}, nil, map[string]any{}, dec("1.0000000000"),
		[]any{[]any{int64(7)}}}
	if diff := cmp.Diff(want, got, cmpValues); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, err = d.Decode(&sdk.Message{Payload: []byte(allRecord("", ""))}, got)
	if err != nil {
		t.Fatal(err)
	}
	for i := 10; i < len(got); i++ {
		if got[i] != nil {
			t.Errorf("slot %d (%s) = %v after reuse, want nil", i, s.Fields[i].Name, got[i])
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	deep := `{"any":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`
	tests := []struct{ payload, err string }{
		{``, `invalid JSON at byte 1: unexpected end of input`},
		{"  \n", `invalid JSON at byte 4: unexpected end of input`},
		{`[1,2]`, `not a JSON object`},
		{`"x"`, `not a JSON object`},
		{`42`, `not a JSON object`},
		{`-1`, `not a JSON object`},
		{`null`, `not a JSON object`},
		{`x`, `invalid JSON at byte 1: invalid character 'x' looking for beginning of value`},
		{"\x00", `invalid JSON at byte 1: invalid character '\x00' looking for beginning of value`},
		{"\xff", `invalid JSON at byte 1: invalid character byte 0xff looking for beginning of value`},
		{`{`, `invalid JSON at byte 2: unexpected end of input`},
		{`{"s":"a",}`, `invalid JSON at byte 10: invalid character '}' looking for beginning of object key string`},
		{`{"s" "a"}`, `invalid JSON at byte 6: invalid character '"' after object key`},
		{`{"s":"a" "i":1}`, `invalid JSON at byte 10: invalid character '"' after object key:value pair`},
		{`{"s":"a"} {}`, `invalid JSON at byte 11: invalid character '{' after top-level value`},
		{"{\"s\":\"a\x01\"}", `invalid JSON at byte 8: invalid character '\x01' in string literal`},
		{`{"s":"\q"}`, `invalid JSON at byte 8: invalid character 'q' in string escape code`},
		{`{"s":"\u12G4"}`, `invalid JSON at byte 11: invalid character 'G' in \u hexadecimal character escape`},
		{`{"i":01}`, `invalid JSON at byte 7: invalid character '1' after object key:value pair`},
		{`{"i":-}`, `invalid JSON at byte 7: invalid character '}' in numeric literal`},
		{`{"f":1.}`, `invalid JSON at byte 8: invalid character '}' after decimal point in numeric literal`},
		{`{"f":1e}`, `invalid JSON at byte 8: invalid character '}' in exponent of numeric literal`},
		{`{"b":tru}`, `invalid JSON at byte 9: invalid character '}' in literal true (expecting 'e')`},
		{`{"b":nul`, `invalid JSON at byte 9: unexpected end of input`},
		{`{"s":"abc`, `invalid JSON at byte 10: unexpected end of input`},
		{`{"s":"abc\`, `invalid JSON at byte 11: unexpected end of input`},
		{`{"s":"ab\u12`, `invalid JSON at byte 13: unexpected end of input`},
		{`{'s':1}`, `invalid JSON at byte 2: invalid character '\'' looking for beginning of object key string`},
		{`{"zzz":NaN}`, `invalid JSON at byte 8: invalid character 'N' looking for beginning of value`},
		{deep, `invalid JSON at byte 1007: nesting too deep`},
	}
	for _, schemaless := range []bool{false, true} {
		var s *Schema
		if !schemaless {
			s = mustSchema(t, allSchema)
		}
		d, err := NewDecoder(s, "json")
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			_, err := d.Decode(&sdk.Message{Payload: []byte(tt.payload)}, nil)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("schemaless=%v Decode(%q): err = %v, want *DecodeError", schemaless, tt.payload, err)
				continue
			}
			if de.Field != "" || de.Error() != tt.err {
				t.Errorf("schemaless=%v Decode(%q) = %q (field %q), want %q", schemaless, tt.payload, de.Error(), de.Field, tt.err)
			}
		}
	}
}

func TestDecodeJSONSchemaless(t *testing.T) {
	d, err := NewDecoder(nil, "json")
	if err != nil {
		t.Fatal(err)
	}
	if d.Dynamic() == nil {
		t.Fatal("Dynamic() = nil for a schemaless decoder")
	}
	A := record.Absent
	steps := []struct {
		payload string
		want    []any
		layout  []string
	}{
		{`{"a":1,"b":"x"}`, []any{int64(1), "x"}, []string{"a", "b"}},
		{`{"c":true,"a":2}`, []any{int64(2), A, true}, []string{"a", "b", "c"}},
		{`{"b":null}`, []any{A, nil, A}, []string{"a", "b", "c"}},
		{`{}`, []any{A, A, A}, []string{"a", "b", "c"}},
		{`{"a":1.0,"b":-0,"c":12345678901234567890,"d":1e2,"e":-9223372036854775808}`,
			[]any{1.0, int64(0), 1.2345678901234567e19, 100.0, int64(math.MinInt64)}, []string{"a", "b", "c", "d", "e"}},
		{`{"a":{"x":[1,"y",{"z":null}],"w":{}},"b":[]}`,
			[]any{map[string]any{"x": []any{int64(1), "y", map[string]any{"z": nil}}, "w": map[string]any{}}, []any{}, A, A, A}, nil},
		{`{"a":1,"a":2}`, []any{int64(2), A, A, A, A}, nil},
		{`{"":"empty key","a\u00e9":"\u00e9"}`, []any{A, A, A, A, A, "empty key", "é"}, []string{"a", "b", "c", "d", "e", "", "aé"}},
		{`{"b":"1","a":"2"}`, []any{"2", "1", A, A, A, A, A}, nil},
		{`{"a":"2","b":"1"}`, []any{"2", "1", A, A, A, A, A}, nil},
	}
	var dst []any
	for _, st := range steps {
		dst, err = d.Decode(&sdk.Message{Payload: []byte(st.payload)}, dst)
		if err != nil {
			t.Fatalf("Decode(%s): %v", st.payload, err)
		}
		if diff := cmp.Diff(st.want, dst, cmpValues); diff != "" {
			t.Errorf("Decode(%s) (-want +got):\n%s", st.payload, diff)
		}
		if st.layout != nil {
			if diff := cmp.Diff(st.layout, d.Layout().Names); diff != "" {
				t.Errorf("layout after %s (-want +got):\n%s", st.payload, diff)
			}
		}
	}
}

func TestDecodeJSONSchemalessErrors(t *testing.T) {
	tests := []struct{ payload, err string }{
		{`{"a":1e400}`, `a: number 1e400 out of range`},
		{`{"a":[1,-1e999]}`, `a[1]: number -1e999 out of range`},
		{`{"a":{"b":[{"c":1e999}]}}`, `a.b[0].c: number 1e999 out of range`},
	}
	for _, tt := range tests {
		d, err := NewDecoder(nil, "json")
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Decode(&sdk.Message{Payload: []byte(tt.payload)}, nil)
		if err == nil || err.Error() != tt.err {
			t.Errorf("Decode(%s) = %v, want %q", tt.payload, err, tt.err)
		}
	}
}

func TestDecodeMaxDynamicFields(t *testing.T) {
	d, err := NewDecoder(nil, "json")
	if err != nil {
		t.Fatal(err)
	}
	if d.maxFields != MaxDynamicFields {
		t.Fatalf("maxFields = %d, want %d", d.maxFields, MaxDynamicFields)
	}
	d.maxFields = 50
	var b strings.Builder
	b.WriteString(`{"k0":0`)
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&b, `,"k%d":0`, i)
	}
	b.WriteString(`}`)
	_, err = d.Decode(&sdk.Message{Payload: []byte(b.String())}, nil)
	want := "more than 50 distinct field names; declare a schema for this source"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if n := len(d.Layout().Names); n != 50 {
		t.Errorf("layout has %d names, want 50", n)
	}
	// Known names still decode.
	got, err := d.Decode(&sdk.Message{Payload: []byte(`{"k0":5}`)}, nil)
	if err != nil || len(got) != 50 || got[0] != int64(5) {
		t.Errorf("Decode after limit = %v, %v", got, err)
	}
}

// TestDecodeNoAliasing overwrites the payload after decoding and checks
// that no decoded value changed.
func TestDecodeNoAliasing(t *testing.T) {
	payload := `{"s":"plain","i":1,"f":2.5,"b":true,"ts":"2026-03-17T23:58:00Z","dur":"1s","dec":"3.25",` +
		`"tags":["t1","t\u00e92"],"dev":{"os":"linux"},"any":{"k":["v",{"kk":"vv"}]},"obj":{"o":"p"}}`
	for _, schemaless := range []bool{false, true} {
		var s *Schema
		if !schemaless {
			s = mustSchema(t, allSchema)
		}
		d, err := NewDecoder(s, "json")
		if err != nil {
			t.Fatal(err)
		}
		buf := []byte(payload)
		got, err := d.Decode(&sdk.Message{Payload: buf}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := deepCopy(got)
		for i := range buf {
			buf[i] = 'X'
		}
		if diff := cmp.Diff(want, got, cmpValues); diff != "" {
			t.Errorf("schemaless=%v: values changed with the payload (-before +after):\n%s", schemaless, diff)
		}
	}
}

// deepCopy copies v, strings included, so that it shares no memory.
func deepCopy(v any) any {
	switch v := v.(type) {
	case string:
		return strings.Clone(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.Clone(k)] = deepCopy(x)
		}
		return out
	}
	return v
}

func fields(kv ...any) []sdk.Field {
	var fs []sdk.Field
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, sdk.Field{Name: kv[i].(string), Value: kv[i+1]})
	}
	return fs
}

func TestDecodeCSV(t *testing.T) {
	s := mustSchema(t, allSchema)
	base := []any{"s", "x", "i", "42", "f", "1.5", "b", "TRUE", "ts", "1773791880000", "dur", "90s", "dec", "12.5",
		"tags", `["a"]`, "opt", "", "dev", `{"os":"ios","ver":2}`, "any", "", "big", "", "extra", "ignored"}
	with := func(k string, v any) []sdk.Field {
		out := fields(base...)
		for i := range out {
			if out[i].Name == k {
				if v == nil {
					return append(out[:i], out[i+1:]...)
				}
				out[i].Value = v
			}
		}
		return out
	}
	d, err := NewDecoder(s, "csv")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(&sdk.Message{Fields: fields(base...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"x", int64(42), 1.5, true, utc("2026-03-17T23:58:00Z"), 90 * time.Second, dec("12.50"),
		[]any{"a"}, nil, map[string]any{"os": "ios", "ver": int64(2)}, nil, nil, nil, nil}
	if diff := cmp.Diff(want, got, cmpValues); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	errTests := []struct {
		key string
		val any
		err string
	}{
		{"i", "", `i: want int, got empty value`},
		{"s", "", `s: want string, got empty value`},
		{"i", "4x", `i: want int, got string "4x"`},
		{"i", "3.0", `i: want int, got string "3.0"`},
		{"f", "NaN", `f: want float, got string "NaN"`},
		{"b", "yes", `b: want bool, got string "yes"`},
		{"ts", "17/03/2026", `ts: want timestamp, got string "17/03/2026"`},
		{"dur", "1 day", `dur: want duration, got string "1 day"`},
		{"dec", "1,5", `dec: want decimal(6,2), got string "1,5"`},
		{"dec", "0.125", `dec: want decimal(6,2), got string "0.125" (more than 2 digits after the point)`},
		{"tags", "a;b", `tags: want list<string>, got string "a;b"`},
		{"tags", `["a",`, `tags: want list<string> as JSON text, got string "[\"a\"," (invalid JSON at byte 6: unexpected end of input)`},
		{"tags", `["a"] x`, `tags: want list<string> as JSON text, got string "[\"a\"] x" (invalid JSON at byte 7: invalid character 'x' after top-level value)`},
		{"tags", `[1]`, `tags[0]: want string, got number 1`},
		{"dev", `{"ver":1}`, `missing required field "dev.os"`},
		{"s", nil, `missing required field "s"`},
	}
	for _, tt := range errTests {
		_, err := d.Decode(&sdk.Message{Fields: with(tt.key, tt.val)}, nil)
		if err == nil || err.Error() != tt.err {
			t.Errorf("csv %s=%q: err = %v, want %q", tt.key, tt.val, err, tt.err)
		}
	}
	okTests := []struct {
		key  string
		val  any
		slot int
		want any
	}{
		{"ts", "2026-03-17T23:58:00-05:00", 4, utc("2026-03-18T04:58:00Z")},
		{"b", "false", 3, false},
		{"f", "-2", 2, -2.0},
		{"i", "+7", 1, int64(7)},
		{"i", "-0007", 1, int64(-7)},
		{"big", "-1e-10", 12, dec("-0.0000000001")},
		{"opt", "9", 8, int64(9)},
		{"any", "text", 10, "text"},
		{"i", int64(5), 1, int64(5)},
	}
	for _, tt := range okTests {
		got, err := d.Decode(&sdk.Message{Fields: with(tt.key, tt.val)}, nil)
		if err != nil {
			t.Errorf("csv %s=%q: %v", tt.key, tt.val, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got[tt.slot], cmpValues); diff != "" {
			t.Errorf("csv %s=%q (-want +got):\n%s", tt.key, tt.val, diff)
		}
	}
	if _, err := d.Decode(&sdk.Message{Payload: []byte("a,b")}, nil); err == nil ||
		err.Error() != "csv needs messages with fields (column name to text), got a payload" {
		t.Errorf("csv payload: err = %v", err)
	}
}

func TestDecodeCSVSchemaless(t *testing.T) {
	d, err := NewDecoder(nil, "csv")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(&sdk.Message{Fields: fields("id", "1", "note", "", "amount", "1.50")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"1", "", "1.50"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got, err = d.Decode(&sdk.Message{Fields: fields("amount", "2", "id", "3", "new", "n")}, got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"3", record.Absent, "2", "n"}, got, cmpValues); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"id", "note", "amount", "new"}, d.Layout().Names); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
}

func TestDecodeRaw(t *testing.T) {
	d, err := NewDecoder(nil, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"value"}, d.Layout().Names); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	buf := []byte("a line of text")
	got, err := d.Decode(&sdk.Message{Payload: buf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXX")
	if diff := cmp.Diff([]any{"a line of text"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	s := mustSchema(t, "name: n\nfields:\n  value: int\n")
	d, err = NewDecoder(s, "raw")
	if err != nil {
		t.Fatal(err)
	}
	got, err = d.Decode(&sdk.Message{Payload: []byte("42")}, nil)
	if err != nil || len(got) != 1 || got[0] != int64(42) {
		t.Errorf("raw int: %v, %v", got, err)
	}
	if _, err := d.Decode(&sdk.Message{Payload: []byte("x")}, nil); err == nil || err.Error() != `value: want int, got string "x"` {
		t.Errorf("raw bad int: err = %v", err)
	}
}

type point struct{ X int }

func TestDecodeStructured(t *testing.T) {
	s := mustSchema(t, allSchema)
	loc := time.FixedZone("X", 3600)
	d, err := NewDecoder(s, "json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(&sdk.Message{Fields: fields(
		"s", "x", "i", 42, "f", float32(1.5), "b", true, "ts", time.Date(2026, 3, 17, 12, 0, 0, 0, loc),
		"dur", time.Minute, "dec", 12.5, "tags", []string{"a"}, "dev", map[string]any{"os": "ios", "x": 1},
		"opt", uint8(3), "big", decimal.New(15, -1), "lol", [][]int{{1}, nil})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"x", int64(42), 1.5, true, utc("2026-03-17T11:00:00Z"), time.Minute, dec("12.50"), []any{"a"},
		int64(3), map[string]any{"os": "ios", "ver": nil}, nil, nil, dec("1.5000000000"), []any{[]any{int64(1)}, nil}}
	if diff := cmp.Diff(want, got, cmpValues); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	errTests := []struct {
		key string
		val any
		err string
	}{
		{"i", 1.5, `i: want int, got number 1.5`},
		{"i", uint64(math.MaxUint64), `i: want int, got number 18446744073709551615`},
		{"i", "x", `i: want int, got string "x"`},
		{"s", 3, `s: want string, got number 3`},
		{"dec", 1.125, `dec: want decimal(6,2), got number 1.125 (more than 2 digits after the point)`},
		{"dec", math.Inf(1), `dec: want decimal(6,2), got number +Inf`},
		{"tags", []int{1}, `tags[0]: want string, got number 1`},
		{"dev", point{1}, `dev: want object, got value of type schema.point`},
		{"dev", map[string]any{}, `missing required field "dev.os"`},
		{"ts", "soon", `ts: want timestamp, got string "soon"`},
		{"b", nil, `b: want bool, got null`},
	}
	for _, tt := range errTests {
		fs := fields("s", "x", "i", 1, "f", 1.0, "b", true, "ts", 0, "dur", "1s", "dec", 1, "tags", []any{}, "dev", map[string]any{"os": "x"})
		for i := range fs {
			if fs[i].Name == tt.key {
				fs[i].Value = tt.val
			}
		}
		_, err := d.Decode(&sdk.Message{Fields: fs}, nil)
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s=%#v: err = %v, want %q", tt.key, tt.val, err, tt.err)
		}
	}

	d, err = NewDecoder(nil, "json")
	if err != nil {
		t.Fatal(err)
	}
	got, err = d.Decode(&sdk.Message{Fields: fields("a", 1, "b", float32(0.5), "c", []string{"x"}, "d", map[string]int{"k": 2},
		"e", uint64(math.MaxUint64), "f", record.Absent, "g", []any{int8(1), "s"})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []any{int64(1), 0.5, []any{"x"}, map[string]any{"k": int64(2)}, dec("18446744073709551615"), nil, []any{int64(1), "s"}}
	if diff := cmp.Diff(want, got, cmpValues); diff != "" {
		t.Errorf("schemaless (-want +got):\n%s", diff)
	}
	_, err = d.Decode(&sdk.Message{Fields: fields("p", []any{point{}})}, nil)
	if err == nil || err.Error() != "p[0]: unsupported value of type schema.point" {
		t.Errorf("unsupported value: err = %v", err)
	}
}

func TestNewDecoderErrors(t *testing.T) {
	if _, err := NewDecoder(nil, "xml"); err == nil || err.Error() != `unknown format "xml" (want json, csv or raw)` {
		t.Errorf("NewDecoder(xml) err = %v", err)
	}
	if _, err := NewDecoder(&Schema{Name: "empty"}, "json"); err == nil || err.Error() != "schema empty declares no fields" {
		t.Errorf("NewDecoder(empty schema) err = %v", err)
	}
	s := mustSchema(t, allSchema)
	d, err := NewDecoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Dynamic() != nil {
		t.Error("Dynamic() != nil with a schema")
	}
	if diff := cmp.Diff(s.Names(), d.Layout().Names); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
}

func TestDecodeErrorFormat(t *testing.T) {
	tests := []struct {
		err  DecodeError
		want string
	}{
		{DecodeError{Msg: "not a JSON object"}, "not a JSON object"},
		{DecodeError{Field: "a.b", Msg: msgMissing}, `missing required field "a.b"`},
		{DecodeError{Field: "tags[2]", Msg: "want string, got null"}, "tags[2]: want string, got null"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestDecodeAllocs checks that, once warm, decoding allocates nothing but
// the boxes of new values: records of small integers, bools, nulls and
// recurring strings decode without allocating.
func TestDecodeAllocs(t *testing.T) {
	s := mustSchema(t, "name: a\nfields:\n  n: int\n  ok: bool\n  status: string\n  note: string?\n  any: any?\n")
	payloads := [][]byte{
		[]byte(`{"n":1,"ok":true,"status":"paid","note":null,"any":"x"}`),
		[]byte(`{"status":"refunded","ok":false,"n":200}`),
	}
	fs := fields("n", "7", "ok", "true", "status", "paid", "note", "")
	for _, schemaless := range []bool{false, true} {
		var sch *Schema
		if !schemaless {
			sch = s
		}
		for _, format := range []string{"json", "csv"} {
			d, err := NewDecoder(sch, format)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]any, 0, 8)
			payloads := payloads
			if !schemaless {
				// Keys the schema does not declare are skipped, not kept.
				payloads = append(payloads, []byte(`{"n":3,"ok":true,"status":"paid","unknown":[1,{"a":"b"}]}`))
			}
			run := func() {
				for _, p := range payloads {
					m := sdk.Message{Payload: p}
					if format == "csv" {
						m = sdk.Message{Fields: fs}
					}
					if dst, err = d.Decode(&m, dst); err != nil {
						t.Fatal(err)
					}
				}
			}
			run()
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Errorf("schemaless=%v %s: %.1f allocations per run, want 0", schemaless, format, n)
			}
		}
	}
}
