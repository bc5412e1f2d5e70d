package schema

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseType(t *testing.T) {
	str := Type{Kind: String}
	tests := []struct {
		in   string
		want Type
		text string // String() of the result
	}{
		{"string", str, "string"},
		{"int", Type{Kind: Int}, "int"},
		{"float?", Type{Kind: Float, Optional: true}, "float?"},
		{"bool", Type{Kind: Bool}, "bool"},
		{"timestamp", Type{Kind: Timestamp}, "timestamp"},
		{"duration ?", Type{Kind: Duration, Optional: true}, "duration?"},
		{"any", Type{Kind: Any}, "any"},
		{"object?", Type{Kind: Object, Optional: true}, "object?"},
		{"decimal(10,2)", Type{Kind: Decimal, Precision: 10, Scale: 2}, "decimal(10,2)"},
		{" decimal ( 38 , 0 ) ? ", Type{Kind: Decimal, Precision: 38, Scale: 0, Optional: true}, "decimal(38,0)?"},
		{"decimal(1,1)", Type{Kind: Decimal, Precision: 1, Scale: 1}, "decimal(1,1)"},
		{"list<string>", Type{Kind: List, Elem: &str}, "list<string>"},
		{"list<string?>?", Type{Kind: List, Optional: true, Elem: &Type{Kind: String, Optional: true}}, "list<string?>?"},
		{"list< list<decimal(5,2)> >", Type{Kind: List, Elem: &Type{Kind: List, Elem: &Type{Kind: Decimal, Precision: 5, Scale: 2}}}, "list<list<decimal(5,2)>>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if err != nil {
				t.Fatalf("ParseType(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseType(%q) (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.text {
				t.Errorf("String() = %q, want %q", s, tt.text)
			}
			again, err := ParseType(got.String())
			if err != nil || !again.Equal(got) {
				t.Errorf("ParseType(String()) = %v, %v; want %v", again, err, got)
			}
		})
	}
}

func TestParseTypeErrors(t *testing.T) {
	tests := []struct {
		in     string
		msg    string
		offset int
	}{
		{"", "missing type", 0},
		{"  ", "missing type", 2},
		{"strng", `unknown type "strng" (did you mean "string"?)`, 0},
		{"String", `unknown type "String" (did you mean "string"?)`, 0},
		{"integer", `unknown type "integer" (did you mean "int"?)`, 0},
		{"double", `unknown type "double" (did you mean "float"?)`, 0},
		{"datetime", `unknown type "datetime" (did you mean "timestamp"?)`, 0},
		{"map", `unknown type "map" (did you mean "object"?)`, 0},
		{"array", `unknown type "array" (did you mean "list<T>"?)`, 0},
		{"numeric", `unknown type "numeric" (did you mean "decimal(p,s)"?)`, 0},
		{"uuid", `unknown type "uuid"`, 0},
		{"list<flaot>", `unknown type "flaot" (did you mean "float"?)`, 5},
		{"decimal", "decimal needs a precision and a scale, as in decimal(10,2)", 0},
		{"decimal(10)", `want ',' between precision and scale, got ")"`, 10},
		{"decimal(10,", "missing decimal scale", 11},
		{"decimal(,2)", `want decimal precision (a number), got ",2)"`, 8},
		{"decimal(0,0)", "decimal precision 0 out of range (want 1 to 38)", 0},
		{"decimal(39,2)", "decimal precision 39 out of range (want 1 to 38)", 0},
		{"decimal(5,6)", "decimal scale 6 exceeds precision 5", 0},
		{"decimal(5,2", "missing ')' after the scale", 11},
		{"decimal(5,2]", `want ')' after the scale, got "]"`, 11},
		{"decimal(1000000,2)", "decimal precision 1000000 out of range", 8},
		{"list", "list needs an element type, as in list<string>", 0},
		{"list<>", `want a type name, got ">"`, 5},
		{"list<int", "missing '>' after the list element type", 8},
		{"list<int,int>", `want '>' after the list element type, got ",int>"`, 8},
		{"int??", `unexpected "?" after type int?`, 4},
		{"int x", `unexpected "x" after type int`, 4},
		{"?", `want a type name, got "?"`, 0},
		{"<int>", `want a type name, got "<int>"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseType(tt.in)
			var te *TypeError
			if !errors.As(err, &te) {
				t.Fatalf("ParseType(%q) err = %v, want a *TypeError", tt.in, err)
			}
			if te.Msg != tt.msg || te.Offset != tt.offset {
				t.Errorf("ParseType(%q) = %q at %d, want %q at %d", tt.in, te.Msg, te.Offset, tt.msg, tt.offset)
			}
		})
	}
}

func TestParseTypeDepth(t *testing.T) {
	in := "int"
	for range maxTypeDepth {
		in = "list<" + in + ">"
	}
	if _, err := ParseType(in); err != nil {
		t.Errorf("%d nested lists: %v", maxTypeDepth, err)
	}
	if _, err := ParseType("list<" + in + ">"); err == nil || err.Error() != "type is nested too deeply" {
		t.Errorf("%d nested lists: err = %v", maxTypeDepth+1, err)
	}
}

func TestTypeEqual(t *testing.T) {
	obj := func(fs ...Field) Type { return Type{Kind: Object, Fields: fs} }
	str := Type{Kind: String}
	tests := []struct {
		a, b Type
		want bool
	}{
		{str, str, true},
		{str, Type{Kind: String, Optional: true}, false},
		{Type{Kind: Decimal, Precision: 5, Scale: 1}, Type{Kind: Decimal, Precision: 5, Scale: 2}, false},
		{Type{Kind: List, Elem: &str}, Type{Kind: List, Elem: &Type{Kind: String}}, true},
		{Type{Kind: List, Elem: &str}, Type{Kind: List}, false},
		{obj(Field{Name: "a", Type: str}), obj(Field{Name: "a", Type: str}), true},
		{obj(Field{Name: "a", Type: str}), obj(Field{Name: "b", Type: str}), false},
		{obj(Field{Name: "a", Type: str}), obj(), false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200).String() = %q", got)
	}
	if got := (Type{Kind: List}).String(); got != "list<any>" {
		t.Errorf("list without Elem = %q", got)
	}
}
