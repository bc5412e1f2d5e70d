// Package config turns a pipeline file into a typed AST in which every
// value carries its position, and reports every problem it finds as a
// positioned diagnostic.
package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// String is a scalar string with its position.
type String struct {
	Value string
	Pos   diag.Pos
	// Env lists the environment variables interpolated into Value, as
	// written ("${USER}, ${PASSWORD}"). When it is not empty Value may hold
	// a secret: a message about it must show Env, never Value.
	Env string
}

// Duration is a Go-style duration ("90s", "5m") with its position.
type Duration struct {
	Value time.Duration
	Pos   diag.Pos
	Set   bool // false when the key was absent
}

// Int is an integer with its position.
type Int struct {
	Value int64
	Pos   diag.Pos
	Set   bool
}

// Bool is a boolean with its position.
type Bool struct {
	Value bool
	Pos   diag.Pos
	Set   bool
}

// Expr is an expression as written in the file. Lines[k] is the file
// position of the first byte of line k (0-based) of Text, so that a
// position inside the expression maps back to the file: line k, byte c of
// Text is at Lines[k] plus c columns. For folded block scalars, where lines
// do not map back, Lines holds just the node's start.
//
// Plain and quoted scalars have one entry in Lines: the first character of
// the text (after the opening quote). A quoted scalar whose Text spans
// several lines (escapes, folding) still has one entry, so a consumer must
// fall back to Pos for lines beyond len(Lines).
type Expr struct {
	Text  string
	Pos   diag.Pos
	Lines []diag.Pos
	// Env lists the environment variables interpolated into Text, as for
	// String. Columns after an interpolation on the same line are
	// approximate, and Text must not be printed when Env is not empty.
	Env string
}

// Mode is the execution mode.
type Mode string

// Modes.
const (
	Batch      Mode = "batch"
	MicroBatch Mode = "micro-batch"
	Stream     Mode = "stream"
)

// Pipeline is a whole pipeline file.
type Pipeline struct {
	File       string // path as given
	Dir        string // folder of File; `schema:` paths resolve against it
	Version    int
	VersionPos diag.Pos // position of the `version:` value
	Name       String
	Mode       String // one of the Mode values; defaults to batch
	Trigger    *Trigger
	PluginDirs []String
	Sources    []*Source
	Transforms []*Transform
	Sinks      []*Sink
	DeadLetter *PluginRef // nil when absent
	Checkpoint Checkpoint

	secrets []string // interpolated values, for Redact
}

// Trigger is the micro-batch trigger: exactly one of Every, Once and
// AvailableNow is set. MaxRecords bounds the records one trigger reads.
type Trigger struct {
	Pos          diag.Pos
	Every        Duration
	Once         Bool
	AvailableNow Bool
	MaxRecords   Int
}

// PluginRef names a plugin and holds its opaque config block.
type PluginRef struct {
	Pos       diag.Pos
	Plugin    String
	Config    *yaml.Node // the `config:` mapping, nil when absent; ${ENV} already replaced
	Isolation String     // "out-of-process" (default) or "in-process"
}

// Source is one entry of `sources:`.
type Source struct {
	Pos  diag.Pos
	Name String
	PluginRef
	Format    String // json (default) | csv | raw
	Schema    String // path as written; empty when absent
	SchemaAbs string // Schema resolved against the pipeline's folder
	EventTime *Expr  // nil when absent
	Watermark Watermark
	// ScaleOut shares the source's partitions among every process that
	// runs the pipeline (a Kafka consumer group); each partition then runs
	// with state of its own.
	ScaleOut Bool
}

// Watermark configures a source's watermark.
type Watermark struct {
	Lateness    Duration
	IdleTimeout Duration
}

// Transform is one entry of `transforms:`. Exactly one of Filter, Map,
// Aggregate (with its window settings) or Plugin is the transform's kind.
type Transform struct {
	Pos    diag.Pos
	Name   String
	From   []String // one or more upstream stage names
	Filter *Expr
	Map    []MapField
	// Windowed or grouped aggregation.
	Window          *Window
	GroupBy         []String
	Aggregate       []MapField
	Emit            String // final (default) | updates
	UpdateEvery     Duration
	AllowedLateness Duration
	Late            String // drop (default) | dead_letter
	// Dedupe drops records whose key was seen recently.
	Dedupe *Dedupe
	// A transform plugin.
	Plugin *PluginRef
}

// Dedupe is a transform's `dedupe:` block: a record whose key fields equal
// those of an earlier record less than Within apart in event time is
// dropped.
type Dedupe struct {
	Pos    diag.Pos
	Key    []String
	Within Duration
}

// MapField is one `name: expression` entry of a map or aggregate.
type MapField struct {
	Name String
	Expr Expr
}

// WindowKind is the kind of a window.
type WindowKind string

// Window kinds.
const (
	Tumbling WindowKind = "tumbling"
	Sliding  WindowKind = "sliding"
	Session  WindowKind = "session"
)

// Window is a transform's `window:` setting.
type Window struct {
	Pos   diag.Pos
	Kind  WindowKind
	Size  Duration // tumbling size, sliding size
	Slide Duration // sliding slide
	Gap   Duration // session gap
}

// Sink is one entry of `sinks:`.
type Sink struct {
	Pos  diag.Pos
	Name String
	From []String
	PluginRef
	Key []String
}

// Checkpoint is the `checkpoint:` block.
type Checkpoint struct {
	Pos   diag.Pos
	Dir   String // defaults to .flowctl/NAME
	Every Duration
}
