// Package plan compiles a loaded pipeline into what the executors run:
// each stage with its plugin, decoded schema, compiled expressions and the
// layout of the records it emits. Compile is also all of `flowctl
// validate`: every problem it finds is a positioned diagnostic.
package plan

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/expr"
	"github.com/flowctl/flowctl/runtime/graph"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
	"github.com/flowctl/flowctl/runtime/window"
)

// Fields describes the records a stage emits: fixed names and types, or a
// growing layout for schemaless sources (Dyn non-nil).
type Fields struct {
	Names []string
	Types []schema.Type
	Dyn   *record.Dynamic
}

// Env returns the expression environment over these fields.
func (f Fields) Env() *expr.Env {
	if f.Dyn != nil {
		return expr.DynamicEnv(f.Dyn)
	}
	return expr.NewEnv(f.Names, f.Types)
}

// Columns returns the current column names.
func (f Fields) Columns() []string {
	if f.Dyn != nil {
		return f.Dyn.Load().Names
	}
	return f.Names
}

// index returns the slot of name, or -1. Dynamic layouts intern the name.
func (f Fields) index(name string) int {
	if f.Dyn != nil {
		return f.Dyn.Intern(name)
	}
	for i, n := range f.Names {
		if n == name {
			return i
		}
	}
	return -1
}

func (f Fields) typeOf(i int) schema.Type {
	if f.Dyn != nil || i >= len(f.Types) {
		return schema.Type{Kind: schema.Any, Optional: true}
	}
	return f.Types[i]
}

// Plan is a compiled pipeline.
type Plan struct {
	Pipeline   *config.Pipeline
	Graph      *graph.Graph
	Mode       config.Mode
	Stages     []*Stage // in graph order (topological)
	DeadLetter *Stage   // a sink stage, nil when there is none
	Trigger    Trigger  // micro-batch mode
}

// Trigger says when micro-batch mode runs a batch.
type Trigger struct {
	Every        time.Duration // between the starts of triggers; 0 runs them back to back
	Once         bool          // one trigger over what is available, then stop
	AvailableNow bool          // triggers until everything available now is read, then stop
	MaxRecords   int64         // at most this many records a trigger; 0 for no bound
}

// StageKind says what a stage does.
type StageKind int

// Stage kinds.
const (
	SourceStage StageKind = iota
	FilterStage
	MapStage
	AggregateStage
	SinkStage
	DedupeStage
)

// Stage is one compiled node of the graph.
type Stage struct {
	Kind   StageKind
	Name   string
	Index  int // position in Plan.Stages
	Node   *graph.Node
	Inputs []*Stage
	Out    Fields // what it emits (sinks: what they receive)

	// Sources and sinks.
	Plugin sdk.Plugin
	Config *catalog.Config

	// Sources.
	SourceIndex int // index among the pipeline's sources
	Schema      *schema.Schema
	Format      string
	EventTime   *expr.Program // nil: the message's own time, if any
	Lateness    int64         // nanoseconds
	IdleTimeout int64
	ScaleOut    bool // `scale_out: true`: partitions shared among processes (runtime/scaleout)

	// Filter.
	Filter *expr.Program
	// Map.
	Map []*expr.Program
	// Aggregate.
	Window          window.Spec
	Windowed        bool
	GroupBy         []int // slots of the input
	Aggs            []*expr.Aggregate
	AggFuncs        []*agg.Func
	AllowedLateness int64
	Emit            window.Emit
	UpdateEvery     int64
	LateToDLQ       bool

	// Dedupe: the key's slots in the input, and how far apart in event
	// time two records with one key must be to both pass (ns).
	DedupeKey    []int
	DedupeWithin int64

	// Sinks.
	Key []string

	// Upstream sources, by Stage index, for watermarks.
	Sources []int
}

// Compile checks and compiles a loaded pipeline against a catalog of
// plugins. mode overrides the pipeline's mode when non-empty.
func Compile(p *config.Pipeline, cat *catalog.Catalog, mode config.Mode) (*Plan, diag.Diagnostics) {
	var ds diag.Diagnostics
	g, gds := graph.Build(p)
	ds = append(ds, gds...)
	pl := &Plan{Pipeline: p, Graph: g, Mode: config.Mode(p.Mode.Value)}
	if mode != "" {
		pl.Mode = mode
	}
	if pl.Mode == "" {
		pl.Mode = config.Batch
	}
	if t := p.Trigger; t != nil {
		pl.Trigger = Trigger{Every: t.Every.Value, Once: t.Once.Value, AvailableNow: t.AvailableNow.Value, MaxRecords: t.MaxRecords.Value}
		// A trigger is used only in micro-batch mode; a pipeline keeps
		// one for `flowctl run --mode micro-batch` (DESIGN's example).
	}
	if g == nil {
		ds.Sort()
		return pl, ds
	}
	c := compiler{plan: pl, cat: cat, ds: &ds, byNode: map[*graph.Node]*Stage{}, file: p.File}
	for _, n := range g.Nodes {
		c.node(n)
	}
	if p.DeadLetter != nil {
		pl.DeadLetter = c.sinkStage("dead_letter", p.DeadLetter, "dead_letter")
		if pl.DeadLetter != nil {
			pl.DeadLetter.Out = Fields{Names: DeadLetterColumns}
		}
	}
	c.checkScaleOut()
	ds.Sort()
	return pl, ds
}

// DeadLetterColumns are the columns of a dead-letter row.
var DeadLetterColumns = []string{"record", "reason", "source", "position", "at"}

type compiler struct {
	plan   *Plan
	cat    *catalog.Catalog
	ds     *diag.Diagnostics
	byNode map[*graph.Node]*Stage
	file   string
}

func (c *compiler) add(s *Stage) {
	s.Index = len(c.plan.Stages)
	c.plan.Stages = append(c.plan.Stages, s)
	if s.Node != nil {
		c.byNode[s.Node] = s
	}
}

func (c *compiler) plugin(kind sdk.Kind, ref *config.PluginRef, path string) (sdk.Plugin, *catalog.Config, bool) {
	name := ref.Plugin.Value
	pl, ok := c.cat.Lookup(kind, name)
	if !ok {
		c.ds.Add(ref.Plugin.Pos, path+".plugin", "unknown %s plugin %q%s", kind, name, diag.Hint(name, c.cat.Names(kind)))
		return sdk.Plugin{}, nil, false
	}
	cfg, cds := catalog.CheckConfig(pl, ref.Config, c.file, ref.Plugin.Pos, path+".config")
	*c.ds = append(*c.ds, cds...)
	return pl, cfg, !cds.HasErrors()
}

func (c *compiler) node(n *graph.Node) {
	switch n.Kind {
	case graph.SourceNode:
		c.source(n)
	case graph.TransformNode:
		c.transform(n)
	case graph.SinkNode:
		path := fmt.Sprintf("sinks[%d]", indexOf(c.plan.Pipeline.Sinks, n.Sink))
		s := c.sinkStage(n.Name, &n.Sink.PluginRef, path)
		if s == nil {
			return
		}
		s.Node = n
		c.byNode[n] = s
		c.inputs(s, n)
		for _, k := range n.Sink.Key {
			if s.Out.Dyn == nil && s.Out.index(k.Value) < 0 {
				c.ds.Add(k.Pos, path+".key", "key field %q is not a field of %s's input%s", k.Value, n.Name, diag.Hint(k.Value, s.Out.Names))
			}
			s.Key = append(s.Key, k.Value)
		}
	}
}

// addAt adds diagnostics that have no path of their own under path.
func (c *compiler) addAt(path string, ds diag.Diagnostics) {
	for _, d := range ds {
		if d.Path == "" {
			d.Path = path
		}
		*c.ds = append(*c.ds, d)
	}
}

func indexOf[T any](list []*T, x *T) int {
	for i, e := range list {
		if e == x {
			return i
		}
	}
	return -1
}

func (c *compiler) source(n *graph.Node) {
	src := n.Source
	idx := indexOf(c.plan.Pipeline.Sources, src)
	path := fmt.Sprintf("sources[%d]", idx)
	s := &Stage{Kind: SourceStage, Name: n.Name, Node: n, SourceIndex: idx, Format: src.Format.Value}
	if s.Format == "" {
		s.Format = "json"
	}
	s.Plugin, s.Config, _ = c.plugin(sdk.KindSource, &src.PluginRef, path)
	if src.Schema.Value != "" {
		sc, sds := schema.Load(src.SchemaAbs)
		if sc == nil && len(sds) == 0 {
			c.ds.Add(src.Schema.Pos, path+".schema", "cannot read schema %s", src.Schema.Value)
		}
		for _, d := range sds {
			if !d.Pos.IsValid() {
				d.Pos = src.Schema.Pos
			}
			*c.ds = append(*c.ds, d)
		}
		if sc != nil && !sds.HasErrors() {
			s.Schema = sc
			s.Out = Fields{Names: sc.Names(), Types: sc.Types()}
		}
	}
	if s.Schema == nil {
		s.Out = Fields{Dyn: record.NewDynamic()}
	}
	if src.EventTime != nil {
		prog, eds := expr.CompileTime(*src.EventTime, s.Out.Env())
		c.addAt(path+".event_time", eds)
		s.EventTime = prog
	}
	s.Lateness = int64(src.Watermark.Lateness.Value)
	s.IdleTimeout = int64(src.Watermark.IdleTimeout.Value)
	s.ScaleOut = src.ScaleOut.Value
	if s.ScaleOut && s.Plugin.Spec.Name != "" && !s.Plugin.Spec.ScaleOut {
		c.ds.Add(src.ScaleOut.Pos, path+".scale_out", "plugin %s cannot share its partitions among processes%s",
			s.Plugin.Spec.Name, can(c.cat, sdk.KindSource, func(s sdk.Spec) bool { return s.ScaleOut }))
	}
	c.add(s)
	s.Sources = []int{s.Index}
}

func (c *compiler) inputs(s *Stage, n *graph.Node) bool {
	for _, in := range n.Inputs {
		is := c.byNode[in]
		if is == nil {
			return false // the input failed to compile; its errors are reported
		}
		s.Inputs = append(s.Inputs, is)
		for _, src := range is.Sources {
			if !containsInt(s.Sources, src) {
				s.Sources = append(s.Sources, src)
			}
		}
	}
	if len(s.Inputs) == 0 {
		return false
	}
	s.Out = s.Inputs[0].Out
	for _, is := range s.Inputs[1:] {
		if !sameFields(s.Out, is.Out) {
			c.ds.Add(n.Pos, "", "the inputs of %s have different fields (%s has %s, %s has %s): map them to the same fields first",
				n.Name, s.Inputs[0].Name, describe(s.Out), is.Name, describe(is.Out))
			return false
		}
	}
	return true
}

func containsInt(list []int, x int) bool {
	for _, e := range list {
		if e == x {
			return true
		}
	}
	return false
}

func sameFields(a, b Fields) bool {
	if a.Dyn != nil || b.Dyn != nil {
		return a.Dyn == b.Dyn
	}
	if len(a.Names) != len(b.Names) {
		return false
	}
	for i := range a.Names {
		if a.Names[i] != b.Names[i] || a.Types[i].Kind != b.Types[i].Kind {
			return false
		}
	}
	return true
}

func describe(f Fields) string {
	if f.Dyn != nil {
		return "schemaless fields"
	}
	return "[" + strings.Join(f.Names, ", ") + "]"
}

func (c *compiler) transform(n *graph.Node) {
	t := n.Transform
	path := fmt.Sprintf("transforms[%d]", indexOf(c.plan.Pipeline.Transforms, t))
	s := &Stage{Name: n.Name, Node: n}
	if !c.inputs(s, n) {
		c.add(s)
		s.Out = Fields{Names: []string{}}
		return
	}
	in := s.Out
	env := in.Env()
	switch {
	case t.Filter != nil:
		s.Kind = FilterStage
		prog, eds := expr.CompileBool(*t.Filter, env)
		c.addAt(path+".filter", eds)
		s.Filter = prog
	case len(t.Map) > 0:
		s.Kind = MapStage
		out := Fields{}
		for _, mf := range t.Map {
			prog, eds := expr.Compile(mf.Expr, env)
			c.addAt(path+".map."+mf.Name.Value, eds)
			s.Map = append(s.Map, prog)
			typ := schema.Type{Kind: schema.Any, Optional: true}
			if prog != nil {
				typ = prog.Type()
			}
			out.Names = append(out.Names, mf.Name.Value)
			out.Types = append(out.Types, typ)
		}
		s.Out = out
	case len(t.Aggregate) > 0:
		s.Kind = AggregateStage
		c.aggregate(s, t, in, env, path)
	case t.Dedupe != nil:
		s.Kind = DedupeStage
		s.DedupeWithin = int64(t.Dedupe.Within.Value)
		for _, k := range t.Dedupe.Key {
			i := in.index(k.Value)
			if i < 0 {
				c.ds.Add(k.Pos, path+".dedupe.key", "unknown field %q%s", k.Value, diag.Hint(k.Value, in.Names))
				continue
			}
			s.DedupeKey = append(s.DedupeKey, i)
		}
	case t.Plugin != nil:
		c.ds.Add(t.Plugin.Plugin.Pos, path+".plugin", "transform plugins are not available yet")
	}
	c.add(s)
}

func (c *compiler) aggregate(s *Stage, t *config.Transform, in Fields, env *expr.Env, path string) {
	out := Fields{}
	ts := schema.Type{Kind: schema.Timestamp}
	if w := t.Window; w != nil {
		s.Windowed = true
		switch w.Kind {
		case config.Tumbling:
			s.Window = window.Spec{Kind: window.Tumbling, Size: int64(w.Size.Value)}
		case config.Sliding:
			s.Window = window.Spec{Kind: window.Sliding, Size: int64(w.Size.Value), Slide: int64(w.Slide.Value)}
		case config.Session:
			s.Window = window.Spec{Kind: window.Session, Gap: int64(w.Gap.Value)}
		}
		out.Names = append(out.Names, "window_start", "window_end")
		out.Types = append(out.Types, ts, ts)
	} else {
		s.Window = window.Spec{Kind: window.Global}
	}
	seen := map[string]diag.Pos{}
	claim := func(name string, pos diag.Pos) {
		if prev, dup := seen[name]; dup {
			c.ds.Add(pos, path, "output field %q is already defined at %s", name, prev)
		}
		seen[name] = pos
	}
	if s.Windowed {
		claim("window_start", t.Window.Pos)
		claim("window_end", t.Window.Pos)
	}
	for _, g := range t.GroupBy {
		i := in.index(g.Value)
		if i < 0 {
			c.ds.Add(g.Pos, path+".group_by", "unknown field %q%s", g.Value, diag.Hint(g.Value, in.Names))
			continue
		}
		claim(g.Value, g.Pos)
		s.GroupBy = append(s.GroupBy, i)
		out.Names = append(out.Names, g.Value)
		out.Types = append(out.Types, in.typeOf(i))
	}
	for _, a := range t.Aggregate {
		claim(a.Name.Value, a.Name.Pos)
		ag, eds := expr.CompileAggregate(a.Expr, env)
		c.addAt(path+".aggregate."+a.Name.Value, eds)
		typ := schema.Type{Kind: schema.Any, Optional: true}
		if ag != nil {
			var f *agg.Func
			var err error
			if ag.Arg == nil {
				f, err = agg.NewNoArg(ag.Func)
			} else {
				f, err = agg.New(ag.Func, ag.Arg.Type(), ag.Param)
			}
			if err != nil {
				c.ds.Add(a.Expr.Pos, path+".aggregate."+a.Name.Value, "%v", err)
			} else {
				s.AggFuncs = append(s.AggFuncs, f)
				s.Aggs = append(s.Aggs, ag)
				typ = f.ResultType()
			}
		}
		out.Names = append(out.Names, a.Name.Value)
		out.Types = append(out.Types, typ)
	}
	s.AllowedLateness = int64(t.AllowedLateness.Value)
	s.UpdateEvery = int64(t.UpdateEvery.Value)
	if t.Emit.Value == "updates" {
		s.Emit = window.Updates
	}
	s.LateToDLQ = t.Late.Value == "dead_letter"
	s.Out = out
	for _, is := range s.Inputs {
		if is.Kind == AggregateStage && is.Emit == window.Updates {
			c.ds.Add(t.Pos, path, "%s reads the rows of %s, which has emit: updates; only sinks may read intermediate rows", s.Name, is.Name)
		}
	}
	if s.Windowed {
		for _, si := range s.Sources {
			src := c.plan.Stages[si]
			if src.Node.Source.EventTime == nil && !src.Plugin.Spec.Times {
				c.ds.Add(t.Window.Pos, path+".window", "source %s has no event_time, which the window needs (its plugin attaches no time to records)", src.Name)
			}
		}
		for _, is := range s.Inputs {
			if is.Kind == AggregateStage && !is.Windowed {
				c.ds.Add(t.Window.Pos, path+".window", "%s has no event time to window on: its input %s aggregates without a window", s.Name, is.Name)
			}
		}
	}
}

func (c *compiler) sinkStage(name string, ref *config.PluginRef, path string) *Stage {
	s := &Stage{Kind: SinkStage, Name: name}
	s.Plugin, s.Config, _ = c.plugin(sdk.KindSink, ref, path)
	c.add(s)
	return s
}

// EndOfTime is the watermark that closes every window.
const EndOfTime int64 = math.MaxInt64
