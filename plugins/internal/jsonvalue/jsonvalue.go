// Package jsonvalue decodes JSON into the SDK's value types, for built-in
// plugins that store values as JSON text (the parquet sink's JSON
// columns) and read them back.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Decode decodes one JSON value: null, bool, string, int64 for integers,
// float64 for other numbers, []any and map[string]any.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("bad JSON value: %w", err)
	}
	return numbers(v), nil
}

// numbers turns the json.Numbers in v into int64 or float64, in place.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i, e := range v {
			v[i] = numbers(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = numbers(e)
		}
	}
	return v
}
