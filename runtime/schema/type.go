// Package schema reads record schemas (schemas/*.yaml) and decodes and
// checks records against them.
package schema

import (
	"github.com/flowctl/flowctl/runtime/diag"
)

// Kind is the kind of a field type.
type Kind uint8

// Field type kinds. Any is the type of fields of schemaless records.
const (
	Any Kind = iota
	String
	Int
	Float
	Bool
	Timestamp
	Duration
	Decimal
	List
	Object
)

// Type is a field type. Values of each kind are held in records as:
// String string, Int int64, Float float64, Bool bool, Timestamp time.Time
// (UTC), Duration time.Duration, Decimal decimal.Decimal, List []any,
// Object map[string]any; Any is any of these.
type Type struct {
	Kind      Kind
	Optional  bool    // null or missing is allowed
	Precision int     // Decimal: total digits
	Scale     int     // Decimal: digits after the point
	Elem      *Type   // List: element type
	Fields    []Field // Object: members, in order
}

// Field is a named, typed field of a schema or object.
type Field struct {
	Name string
	Type Type
	Pos  diag.Pos // where it is declared
}

// Schema is a record schema.
type Schema struct {
	Name   string
	File   string
	Fields []Field
}
