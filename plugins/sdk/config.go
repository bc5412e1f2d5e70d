package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// Kind says what a plugin is.
type Kind string

// The kinds of plugin.
const (
	KindSource    Kind = "source"
	KindSink      Kind = "sink"
	KindTransform Kind = "transform"
)

// Type is the type of a config field.
type Type string

// Config field types.
const (
	TypeString   Type = "string"
	TypeInt      Type = "int"
	TypeFloat    Type = "float"
	TypeBool     Type = "bool"
	TypeDuration Type = "duration" // Go duration text, "90s"
	TypeList     Type = "list"     // a list of Elem
	TypeObject   Type = "object"   // nested Fields, or free-form if Fields is empty
)

// Spec declares a plugin: its name, kind, version and config fields.
type Spec struct {
	Name    string // ^[a-z][a-z0-9_]*$
	Kind    Kind
	Version string
	Summary string
	Fields  []FieldSpec
	// Times, for a source, says it sets Message.Time on every message (an
	// event time or a broker timestamp), so windows can use it when the
	// pipeline declares no event_time.
	Times bool
}

// FieldSpec declares one config field.
type FieldSpec struct {
	Name     string
	Type     Type
	Elem     Type        // element type for TypeList
	Fields   []FieldSpec // members of a TypeObject
	Default  any         // filled in when the field is absent; nil for none
	Required bool
	Secret   bool     // never shown in logs, errors or `plugins inspect` values
	Enum     []string // allowed values of a string field, if restricted
	Doc      string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Check reports whether the spec itself is well formed.
func (s Spec) Check() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("plugin name %q must match %s", s.Name, nameRE)
	}
	switch s.Kind {
	case KindSource, KindSink, KindTransform:
	default:
		return fmt.Errorf("plugin %s: unknown kind %q", s.Name, s.Kind)
	}
	return nil
}

// Diagnostic is a problem a plugin finds in its own config. Path is the
// dotted path of the offending value inside the config block ("brokers[1]");
// the host turns it into a file position.
type Diagnostic struct {
	Path string
	Msg  string
}

// DecodeConfig decodes a config block into v, rejecting unknown fields.
func DecodeConfig(config []byte, v any) error {
	if len(config) == 0 {
		config = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &ConfigError{Msg: err.Error()}
	}
	return nil
}

// Plugin is one plugin: its spec and a constructor for the kind it is.
// Exactly one constructor is set, matching Spec.Kind.
type Plugin struct {
	Spec         Spec
	NewSource    func() Source
	NewSink      func() Sink
	NewTransform func() Transform
	// Validate, if set, checks a config block (JSON, defaults filled in)
	// beyond what the Spec says: formats, combinations of fields. The host
	// calls it at `flowctl validate` and before Open.
	Validate func(config []byte) []Diagnostic
	// Delivery, for a sink, reports the guarantee it gives under a config
	// and key; `flowctl validate` prints it. Nil means at-least-once.
	Delivery func(DeliveryRequest) DeliveryReport
}
