package schema

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

func mustType(t *testing.T, s string) Type {
	t.Helper()
	ty, err := ParseType(s)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

type (
	myInt    int16
	myString string
	myBool   bool
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		v    any
		typ  string
		want any
		err  string
	}{
		{"string", "x", "string", "x", ""},
		{"string from int", 1, "string", nil, "want string, got number 1"},
		{"string from bytes", []byte("x"), "string", nil, "want string, got bytes"},
		{"string from named string", myString("x"), "string", "x", ""},
		{"int from named string", myString("5"), "int", int64(5), ""},
		{"bool from named bool", myBool(true), "bool", true, ""},
		{"string from named bool", myBool(true), "string", nil, "want string, got bool true"},
		{"null optional", nil, "string?", nil, ""},
		{"null required", nil, "string", nil, "want string, got null"},
		{"absent optional", record.Absent, "int?", nil, ""},
		{"absent required", record.Absent, "int", nil, "want int, got null"},
		{"int from int", 7, "int", int64(7), ""},
		{"int from named int", myInt(-3), "int", int64(-3), ""},
		{"int from uint32", uint32(9), "int", int64(9), ""},
		{"int from integral float", 3.0, "int", int64(3), ""},
		{"int from fraction", 3.5, "int", nil, "want int, got number 3.5"},
		{"int from huge float", 1e19, "int", nil, "want int, got number 1e+19"},
		{"int from json.Number", json.Number("12"), "int", int64(12), ""},
		{"int from json.Number fraction", json.Number("1.5"), "int", nil, "want int, got number 1.5"},
		{"int from text", "-12", "int", int64(-12), ""},
		{"int from decimal", decimal.New(120, -1), "int", int64(12), ""},
		{"int from decimal fraction", decimal.New(125, -1), "int", nil, "want int, got number 12.5"},
		{"int from bool", true, "int", nil, "want int, got bool true"},
		{"float from int64", int64(2), "float", 2.0, ""},
		{"float from float32", float32(0.25), "float", 0.25, ""},
		{"float from decimal", decimal.New(25, -2), "float", 0.25, ""},
		{"float from text", "1e3", "float", 1000.0, ""},
		{"float from json.Number", json.Number("0.5"), "float", 0.5, ""},
		{"bool", false, "bool", false, ""},
		{"bool from text", "True", "bool", true, ""},
		{"bool from int", 1, "bool", nil, "want bool, got number 1"},
		{"decimal from float", 0.1, "decimal(3,2)", dec("0.10"), ""},
		{"decimal from int", 12, "decimal(4,2)", dec("12.00"), ""},
		{"decimal from int too wide", 123, "decimal(4,2)", nil, "want decimal(4,2), got number 123 (more than 2 digits before the point)"},
		{"decimal from uint64", uint64(math.MaxUint64), "decimal(20,0)", dec("18446744073709551615"), ""},
		{"decimal from decimal", decimal.New(5, 0), "decimal(3,1)", dec("5.0"), ""},
		{"decimal from decimal fraction", decimal.New(5, -3), "decimal(3,1)", nil, "want decimal(3,1), got number 0.005 (more than 1 digits after the point)"},
		{"decimal from text", "-1.5", "decimal(3,1)", dec("-1.5"), ""},
		{"decimal from json.Number", json.Number("2.5e1"), "decimal(3,1)", dec("25.0"), ""},
		{"decimal from NaN", math.NaN(), "decimal(3,1)", nil, "want decimal(3,1), got number NaN"},
		{"decimal from bool", true, "decimal(3,1)", nil, "want decimal(3,1), got bool true"},
		{"timestamp", time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", -3600)), "timestamp", utc("2026-01-02T04:04:05.000000006Z"), ""},
		{"timestamp from millis", int64(1000), "timestamp", utc("1970-01-01T00:00:01Z"), ""},
		{"timestamp from text", "2026-01-02T03:04:05+02:00", "timestamp", utc("2026-01-02T01:04:05Z"), ""},
		{"timestamp from bool", true, "timestamp", nil, "want timestamp, got bool true"},
		{"duration", time.Second, "duration", time.Second, ""},
		{"duration from text", "2m", "duration", 2 * time.Minute, ""},
		{"duration from int", 5, "duration", nil, "want duration, got number 5"},
		{"list", []any{"a", nil}, "list<string?>", []any{"a", nil}, ""},
		{"list from typed slice", []int{1, 2}, "list<float>", []any{1.0, 2.0}, ""},
		{"list from array", [2]string{"a", "b"}, "list<string>", []any{"a", "b"}, ""},
		{"list nil", []any(nil), "list<int>?", nil, ""},
		{"list nil required", []int(nil), "list<int>", nil, "want list<int>, got null"},
		{"list element", []any{1, "x"}, "list<int>", nil, "[1]: want int, got string \"x\""},
		{"list from map", map[string]any{}, "list<int>", nil, "want list<int>, got object"},
		{"list from bytes", []byte{1}, "list<int>", nil, "want list<int>, got bytes"},
		{"list from JSON text", `[1, 2]`, "list<int>", []any{int64(1), int64(2)}, ""},
		{"object any", map[string]int{"a": 1}, "object", map[string]any{"a": int64(1)}, ""},
		{"object from JSON text", `{"a":[1]}`, "object", map[string]any{"a": []any{int64(1)}}, ""},
		{"object from list", []any{}, "object", nil, "want object, got array"},
		{"any", int32(5), "any", int64(5), ""},
		{"any list", []string{"a"}, "any", []any{"a"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Convert(tt.v, mustType(t, tt.typ))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Convert(%#v, %s) = %#v, %v; want error %q", tt.v, tt.typ, got, err, tt.err)
				}
				if _, ok := err.(*DecodeError); !ok {
					t.Errorf("error is %T, want *DecodeError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert(%#v, %s): %v", tt.v, tt.typ, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpValues); diff != "" {
				t.Errorf("Convert(%#v, %s) (-want +got):\n%s", tt.v, tt.typ, diff)
			}
		})
	}
}

func TestConvertObject(t *testing.T) {
	s := mustSchema(t, "name: o\nfields:\n  o:\n    a: int\n    b: list<string>?\n    c:\n      d: bool\n")
	typ := s.Fields[0].Type
	got, err := Convert(map[string]any{"a": 1.0, "c": map[string]any{"d": "true"}, "zz": 1}, typ)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(1), "b": nil, "c": map[string]any{"d": true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	errs := []struct {
		v   any
		err string
	}{
		{map[string]any{"c": map[string]any{"d": true}}, `missing required field "a"`},
		{map[string]any{"a": 1, "c": map[string]any{}}, `missing required field "c.d"`},
		{map[string]any{"a": 1, "b": []any{1}, "c": map[string]any{"d": true}}, `b[0]: want string, got number 1`},
		{map[string]any{"a": 1, "c": map[string]any{"d": 1}}, `c.d: want bool, got number 1`},
		{"{", `want object as JSON text, got string "{" (invalid JSON at byte 2: unexpected end of input)`},
	}
	for _, tt := range errs {
		if _, err := Convert(tt.v, typ); err == nil || err.Error() != tt.err {
			t.Errorf("Convert(%v) err = %v, want %q", tt.v, err, tt.err)
		}
	}
}

func TestToTime(t *testing.T) {
	tests := []struct {
		v    any
		want time.Time
		err  string
	}{
		{"2026-03-17T23:58:00Z", utc("2026-03-17T23:58:00Z"), ""},
		{"2026-03-17T23:58:00.5-07:00", utc("2026-03-18T06:58:00.5Z"), ""},
		{"2026-03-17T23:58:00.123456789123+00:00", utc("2026-03-17T23:58:00.123456789Z"), ""},
		{[]byte("1773791880000"), utc("2026-03-17T23:58:00Z"), ""},
		{int64(1773791880000), utc("2026-03-17T23:58:00Z"), ""},
		{1773791880000.5, utc("2026-03-17T23:58:00.0005Z"), ""},
		{-0.5, utc("1969-12-31T23:59:59.9995Z"), ""},
		{int32(-1), utc("1969-12-31T23:59:59.999Z"), ""},
		{json.Number("1000"), utc("1970-01-01T00:00:01Z"), ""},
		{json.Number("1.5"), utc("1970-01-01T00:00:00.0015Z"), ""},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)), utc("2025-12-31T23:00:00Z"), ""},
		{"2026-13-01T00:00:00Z", time.Time{}, `want timestamp, got string "2026-13-01T00:00:00Z"`},
		{"", time.Time{}, `want timestamp, got string ""`},
		{math.Inf(1), time.Time{}, `want timestamp, got number +Inf`},
		{1e300, time.Time{}, `want timestamp, got number 1e+300`},
		{nil, time.Time{}, `want timestamp, got null`},
		{true, time.Time{}, `want timestamp, got bool true`},
	}
	for _, tt := range tests {
		got, err := ToTime(tt.v)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ToTime(%#v) = %v, %v; want error %q", tt.v, got, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ToTime(%#v): %v", tt.v, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ToTime(%#v) = %v, want %v in UTC", tt.v, got, tt.want)
		}
	}
}

func TestNormalizeKeepsContainers(t *testing.T) {
	in := []any{int64(1), "a", map[string]any{"b": []any{true}}}
	got, err := normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	if &got.([]any)[0] != &in[0] {
		t.Error("normalize copied a list that needed no change")
	}
	in2 := map[string]any{"a": []any{int32(1)}}
	got2, err := normalize(in2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"a": []any{int64(1)}}, got2); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"a": []any{int32(1)}}, in2); diff != "" {
		t.Errorf("normalize changed its input (-want +got):\n%s", diff)
	}
}
