package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
)

// fuzzSchemas are the schemas FuzzDecode decodes with.
func fuzzSchemas(t testing.TB) []*Schema {
	var out []*Schema
	for _, file := range []string{"../../schemas/payments.v1.yaml", "../../schemas/orders.v1.yaml"} {
		s, ds := Load(file)
		if ds.HasErrors() {
			t.Fatal(render(ds))
		}
		out = append(out, s)
	}
	return append(out, mustSchema(t, allSchema))
}

// FuzzDecode decodes arbitrary payloads with and without a schema, in
// every format. It must never panic; schemaless JSON must agree with
// encoding/json on which payloads are valid and what they hold; decoded
// values must have the types of their schema.
func FuzzDecode(f *testing.F) {
	for _, r := range orderRecords(8) {
		f.Add(r)
	}
	for _, r := range eventRecords(8) {
		f.Add(r)
	}
	for _, kv := range allFields {
		f.Add([]byte(allRecord(kv[0], `null`)))
	}
	for _, s := range []string{
		`{"payment_id":"p","amount":"1.5","store_id":"s","card_id":"c","event_time":1,"tags":[],"device":{"os":"x","version":1}}`,
		`{"a":[1,{"b":"\ud83d\ude00"}],"c":-0.5e-3}`, `[]`, `{"a":1e400}`, "{\"s\":\"\xff\"}", `{"a":"b"`,
		"amount\n12.5\n\nx", `{"":{"":[[]]}}`,
	} {
		f.Add([]byte(s))
	}
	schemas := fuzzSchemas(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		checkSchemalessJSON(t, data)
		for _, s := range schemas {
			for _, format := range []string{"json", "raw"} {
				d, err := NewDecoder(s, format)
				if err != nil {
					t.Fatal(err)
				}
				got, err := d.Decode(&sdk.Message{Payload: data}, nil)
				checkResult(t, s, got, err)
			}
			// CSV: the lines are the cells of the schema's columns, in order.
			d, err := NewDecoder(s, "csv")
			if err != nil {
				t.Fatal(err)
			}
			var fs []sdk.Field
			for i, line := range strings.Split(string(data), "\n") {
				if i < len(s.Fields) {
					fs = append(fs, sdk.Field{Name: s.Fields[i].Name, Value: line})
				}
			}
			got, err := d.Decode(&sdk.Message{Fields: fs}, nil)
			checkResult(t, s, got, err)
			for _, f := range s.Fields {
				v, err := Convert(string(data), f.Type)
				if err == nil {
					checkValue(t, f.Name, v, &f.Type)
				} else if _, ok := err.(*DecodeError); !ok {
					t.Fatalf("Convert error %T: %v", err, err)
				}
			}
		}
		d, err := NewDecoder(nil, "raw")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := d.Decode(&sdk.Message{Payload: data}, nil); err != nil || got[0] != string(orig) {
			t.Fatalf("raw Decode = %q, %v", got, err)
		}
		if !bytes.Equal(orig, data) {
			t.Fatal("Decode changed the payload")
		}
	})
}

func checkResult(t *testing.T, s *Schema, got []any, err error) {
	t.Helper()
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %T: %v", err, err)
		}
		if len(got) != 0 {
			t.Fatalf("values %v returned with error %v", got, err)
		}
		return
	}
	if len(got) != len(s.Fields) {
		t.Fatalf("%d values for %d fields", len(got), len(s.Fields))
	}
	for i := range s.Fields {
		checkValue(t, s.Fields[i].Name, got[i], &s.Fields[i].Type)
	}
}

// checkValue checks that v is a value of type ty.
func checkValue(t *testing.T, path string, v any, ty *Type) {
	t.Helper()
	if v == nil {
		if !ty.Optional {
			t.Fatalf("%s: nil for required %s", path, ty)
		}
		return
	}
	ok := true
	switch ty.Kind {
	case String:
		_, ok = v.(string)
	case Int:
		_, ok = v.(int64)
	case Float:
		_, ok = v.(float64)
	case Bool:
		_, ok = v.(bool)
	case Timestamp:
		var tm time.Time
		tm, ok = v.(time.Time)
		ok = ok && tm.Location() == time.UTC
	case Duration:
		_, ok = v.(time.Duration)
	case Decimal:
		var d decimal.Decimal
		d, ok = v.(decimal.Decimal)
		ok = ok && d.Exponent() == int32(-ty.Scale) && d.NumDigits() <= ty.Precision
	case List:
		var l []any
		if l, ok = v.([]any); ok {
			for i, e := range l {
				checkValue(t, path+"["+strconv.Itoa(i)+"]", e, ty.Elem)
			}
		}
	case Object:
		var m map[string]any
		if m, ok = v.(map[string]any); ok && len(ty.Fields) > 0 {
			if len(m) != len(ty.Fields) {
				t.Fatalf("%s: object %v has %d members, want %d", path, m, len(m), len(ty.Fields))
			}
			for _, f := range ty.Fields {
				checkValue(t, path+"."+f.Name, m[f.Name], &f.Type)
			}
		}
	case Any:
		checkAny(t, path, v)
	}
	if !ok {
		t.Fatalf("%s: %T %v for %s", path, v, v, ty)
	}
}

func checkAny(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, bool, int64, float64, string:
	case []any:
		for i, e := range v {
			checkAny(t, path+"["+strconv.Itoa(i)+"]", e)
		}
	case map[string]any:
		for k, e := range v {
			checkAny(t, path+"."+k, e)
		}
	default:
		t.Fatalf("%s: schemaless value of type %T", path, v)
	}
}

// checkSchemalessJSON compares schemaless decoding of data with
// encoding/json's.
func checkSchemalessJSON(t *testing.T, data []byte) {
	t.Helper()
	d, err := NewDecoder(nil, "json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(&sdk.Message{Payload: data}, nil)
	valid := json.Valid(data)
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	isObject := valid && len(trimmed) > 0 && trimmed[0] == '{'
	if err != nil {
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "invalid JSON"):
			if valid && !strings.HasSuffix(msg, "nesting too deep") {
				t.Fatalf("Decode(%q) = %v, but encoding/json finds it valid", data, err)
			}
		case msg == "not a JSON object":
			if len(trimmed) > 0 && trimmed[0] == '{' {
				t.Fatalf("Decode(%q): not a JSON object", data)
			}
		case strings.HasSuffix(msg, " out of range"):
			// Decoding stops at the first problem, so the rest of the
			// payload may be invalid too.
			num := msg[strings.Index(msg, "number ")+len("number ") : len(msg)-len(" out of range")]
			if !bytes.Contains(data, []byte(strings.TrimSuffix(num, "..."))) {
				t.Fatalf("Decode(%q) = %v, which names no number of the payload", data, err)
			}
		default:
			t.Fatalf("Decode(%q): unexpected error %v", data, err)
		}
		return
	}
	if !isObject {
		t.Fatalf("Decode(%q) succeeded, but it is not a valid JSON object", data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	names := d.Layout().Names
	gotMap := map[string]any{}
	for i, v := range got {
		if v != record.Absent {
			gotMap[names[i]] = v
		}
	}
	if diff := cmp.Diff(numbers(want), gotMap, cmpValues); diff != "" {
		t.Fatalf("Decode(%q) (-encoding/json +got):\n%s", data, diff)
	}
}

// numbers turns json.Number into int64 or float64 as the decoder does.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				return n
			}
		}
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	case []any:
		for i := range v {
			v[i] = numbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = numbers(v[k])
		}
	}
	return v
}

// FuzzParseSchema parses arbitrary schema text. It must never panic; every
// diagnostic must lie within the input; a schema without errors must have
// types that print and parse back as themselves.
func FuzzParseSchema(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"testdata/*.yaml", "../../schemas/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) < 12 {
		f.Fatalf("only %d seed files", len(seeds))
	}
	for _, file := range seeds {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(allSchema))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, ds := Parse("f.yaml", src)
		lines := bytes.Split(src, []byte("\n"))
		for _, d := range ds {
			p := d.Pos
			if p.File != "f.yaml" {
				t.Fatalf("diagnostic %q names file %q", d, p.File)
			}
			if p.Line < 1 || p.Line > len(lines) {
				t.Fatalf("diagnostic %q: line %d outside 1..%d", d, p.Line, len(lines))
			}
			if p.Col < 0 || p.Col > len(lines[p.Line-1])+1 {
				t.Fatalf("diagnostic %q: column %d outside line %q", d, p.Col, lines[p.Line-1])
			}
		}
		if ds.HasErrors() || s == nil {
			return
		}
		var walk func(fs []Field)
		walk = func(fs []Field) {
			for _, fl := range fs {
				if fl.Type.Kind == Object && len(fl.Type.Fields) > 0 {
					walk(fl.Type.Fields)
					continue
				}
				back, err := ParseType(fl.Type.String())
				if err != nil || !reflect.DeepEqual(back, fl.Type) {
					t.Fatalf("field %s: type %s parses back as %v, %v", fl.Name, fl.Type, back, err)
				}
			}
		}
		walk(s.Fields)
		if _, err := NewDecoder(s, "json"); err != nil {
			t.Fatalf("NewDecoder: %v", err)
		}
	})
}

// FuzzParseType checks that any type ParseType accepts prints and parses
// back as itself, and that errors point within the text.
func FuzzParseType(f *testing.F) {
	for _, s := range []string{"string", "decimal(10,2)?", "list<list<int?>>", "decimal( 5 , 1 )", "list<", "strng"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, err := ParseType(s)
		if err != nil {
			var te *TypeError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(s) {
				t.Fatalf("ParseType(%q) error %v", s, err)
			}
			return
		}
		back, err := ParseType(ty.String())
		if err != nil || !back.Equal(ty) {
			t.Fatalf("ParseType(%q) = %s, which parses back as %v, %v", s, ty, back, err)
		}
	})
}
