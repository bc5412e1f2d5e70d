package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
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
	// TimeRange, for a source that can seek by event time, names the
	// config fields that bound what it reads; `flowctl backfill` sets
	// them for each slice of its range. Nil: the source cannot seek, and
	// a backfill refuses the pipeline.
	TimeRange *TimeRange
	// Instances, for a sink, says that concurrent runs of one pipeline
	// with distinct Settings.Instance may write to the same target side
	// by side: what one instance writes, and what its fresh run replaces,
	// is its own. `flowctl backfill`, which runs its slices as instances,
	// refuses sinks without it.
	Instances bool
	// ScaleOut, for a source, says it implements Rebalancer: several
	// processes running the same pipeline with `scale_out: true` share its
	// partitions, each partition's state following it (see Rebalancer).
	ScaleOut bool
}

// TimeRange names the config fields in which a source takes an
// event-time range. The host sets both to RFC 3339 timestamps in UTC
// ("2026-03-01T00:00:00Z"), replacing what the pipeline's config had,
// and the source then reads every message whose event time t is in
// From <= t < To. It may read some others too (the host drops them), but
// should skip what it can (files, partitions, offsets) without reading
// it. The host sets nothing else: what else a source needs to select
// by time (a time column) comes from the pipeline's config, and the
// source's Validate hook reports it missing.
type TimeRange struct {
	From string // the inclusive lower bound's field, e.g. "from"
	To   string // the exclusive upper bound's field, e.g. "to"
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
	if s.ScaleOut && s.Kind != KindSource {
		return fmt.Errorf("plugin %s: ScaleOut is for sources, not a %s", s.Name, s.Kind)
	}
	if s.Instances && s.Kind != KindSink {
		return fmt.Errorf("plugin %s: Instances is for sinks, not a %s", s.Name, s.Kind)
	}
	return s.checkTimeRange()
}

// checkTimeRange checks that a TimeRange names two string fields of a
// source.
func (s Spec) checkTimeRange() error {
	r := s.TimeRange
	if r == nil {
		return nil
	}
	if s.Kind != KindSource {
		return fmt.Errorf("plugin %s: TimeRange is for sources, not a %s", s.Name, s.Kind)
	}
	if r.From == r.To {
		return fmt.Errorf("plugin %s: TimeRange names %q for both bounds", s.Name, r.From)
	}
	for _, name := range []string{r.From, r.To} {
		i := slices.IndexFunc(s.Fields, func(f FieldSpec) bool { return f.Name == name })
		if i < 0 || s.Fields[i].Type != TypeString {
			return fmt.Errorf("plugin %s: TimeRange field %q is not a string field of its config", s.Name, name)
		}
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
