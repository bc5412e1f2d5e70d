package config

import (
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// Keys allowed in each mapping of a pipeline file.
var (
	pipelineKeys   = []string{"version", "name", "mode", "trigger", "plugin_dirs", "sources", "transforms", "sinks", "dead_letter", "checkpoint"}
	triggerKeys    = []string{"every", "once", "available_now", "max_records"}
	sourceKeys     = []string{"name", "plugin", "config", "format", "schema", "event_time", "watermark", "isolation", "scale_out"}
	watermarkKeys  = []string{"lateness", "idle_timeout"}
	transformKeys  = []string{"name", "from", "filter", "map", "aggregate", "window", "group_by", "emit", "update_every", "allowed_lateness", "late", "dedupe", "plugin", "config", "isolation"}
	dedupeKeys     = []string{"key", "within"}
	windowKeys     = []string{"tumbling", "sliding", "session"}
	slidingKeys    = []string{"size", "slide"}
	sessionKeys    = []string{"gap"}
	sinkKeys       = []string{"name", "from", "plugin", "config", "key", "isolation"}
	deadLetterKeys = []string{"plugin", "config", "isolation"}
	checkpointKeys = []string{"dir", "every"}
)

// extensionPrefix starts top-level keys that flowctl ignores, a place to
// define YAML anchors for the rest of the file (as in Docker Compose).
const extensionPrefix = "x-"

// Enumerations.
var (
	modes      = []string{string(Batch), string(MicroBatch), string(Stream)}
	formats    = []string{"json", "csv", "raw"}
	emits      = []string{"final", "updates"}
	lates      = []string{"drop", "dead_letter"}
	isolations = []string{"in-process", "out-of-process"}
)

// Defaults.
const (
	defaultFormat          = "json"
	defaultEmit            = "final"
	defaultLate            = "drop"
	defaultIsolation       = "out-of-process"
	defaultCheckpointEvery = 10 * time.Second
)

// transformKinds are the keys that make a transform what it is; exactly
// one must be present.
var transformKinds = []string{"filter", "map", "aggregate", "dedupe", "plugin"}

// Keys that belong to another key of a transform.
var transformNeeds = []struct{ key, needs string }{
	{"window", "aggregate"},
	{"group_by", "aggregate"},
	{"emit", "aggregate"},
	{"update_every", "aggregate"},
	{"allowed_lateness", "aggregate"},
	{"late", "aggregate"},
	{"config", "plugin"},
	{"isolation", "plugin"},
}

// Names that a window gives its output rows.
var windowFields = []string{"window_start", "window_end"}

func (l *loader) pipeline(root *yaml.Node) *Pipeline {
	p := &Pipeline{File: l.file, Dir: filepath.Dir(l.file)}
	f, ok := l.fields(root, "", pipelineKeys, extensionPrefix)
	if !ok {
		return nil
	}
	l.require(f, "version", "name", "sources", "sinks")
	if v := f.get("version"); v != nil {
		p.Version, p.VersionPos = l.version(v)
	}
	// Defaults are placed at the `name:` key, or the file's start.
	defaultPos := l.start()
	if v := f.get("name"); v != nil {
		p.Name = l.name(v, "name", "pipeline name", pipelineNameRE, "use letters, digits, _, - and ., not starting with - or .")
		defaultPos = l.pos(f.key["name"])
	}
	p.Mode = String{Value: string(Batch), Pos: defaultPos}
	if v := f.get("mode"); v != nil {
		p.Mode = l.enum(v, "mode", "mode", modes)
	}
	if v := f.get("trigger"); v != nil {
		p.Trigger = l.trigger(v, "trigger")
	}
	if v := f.get("plugin_dirs"); v != nil {
		p.PluginDirs = l.list(v, "plugin_dirs", l.nonEmpty)
	}
	if v := f.get("sources"); v != nil {
		l.sequence(v, "sources", func(n *yaml.Node, path string) {
			if s := l.source(n, path, p.Dir); s != nil {
				p.Sources = append(p.Sources, s)
			}
		})
		if len(p.Sources) == 0 && l.deref(v).Kind == yaml.SequenceNode && !l.stopped {
			l.diags.Add(l.pos(l.deref(v)), "sources", "a pipeline needs at least one source")
		}
	}
	if v := f.get("transforms"); v != nil && !isNull(l.deref(v)) {
		l.sequence(v, "transforms", func(n *yaml.Node, path string) {
			if t := l.transform(n, path); t != nil {
				p.Transforms = append(p.Transforms, t)
			}
		})
	}
	if v := f.get("sinks"); v != nil {
		l.sequence(v, "sinks", func(n *yaml.Node, path string) {
			if s := l.sink(n, path); s != nil {
				p.Sinks = append(p.Sinks, s)
			}
		})
		if len(p.Sinks) == 0 && l.deref(v).Kind == yaml.SequenceNode && !l.stopped {
			l.diags.Add(l.pos(l.deref(v)), "sinks", "a pipeline needs at least one sink")
		}
	}
	if v := f.get("dead_letter"); v != nil {
		p.DeadLetter = l.deadLetter(v, "dead_letter")
	}
	p.Checkpoint = Checkpoint{Pos: defaultPos}
	if v := f.get("checkpoint"); v != nil {
		l.checkpoint(v, "checkpoint", &p.Checkpoint)
	}
	if !p.Checkpoint.Dir.Pos.IsValid() {
		p.Checkpoint.Dir = String{Value: ".flowctl/" + p.Name.Value, Pos: p.Checkpoint.Pos, Env: p.Name.Env}
	}
	if !p.Checkpoint.Every.Set {
		p.Checkpoint.Every = Duration{Value: defaultCheckpointEvery, Pos: p.Checkpoint.Pos}
	}
	l.uniqueNames(p)
	// Longest first, so that a secret containing another is hidden whole.
	p.secrets = slices.Clone(l.secrets)
	slices.SortFunc(p.secrets, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	p.secrets = slices.Compact(p.secrets)
	return p
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// version reads `version:`, which must be 1.
func (l *loader) version(n *yaml.Node) (int, diag.Pos) {
	n = l.deref(n)
	pos := l.pos(n)
	if l.unusable(n) {
		return 0, pos
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		l.diags.Add(pos, "version", "expected an integer, got %s", kindName(n))
		return 0, pos
	}
	if v != 1 {
		l.diags.Add(pos, "version", "unsupported version %d; this flowctl reads version 1", v)
	}
	return v, pos
}

func (l *loader) trigger(n *yaml.Node, path string) *Trigger {
	f, ok := l.fields(n, path, triggerKeys)
	if !ok {
		return nil
	}
	t := &Trigger{Pos: l.pos(f.node)}
	var kinds []string
	for _, k := range f.order {
		if k != "max_records" {
			kinds = append(kinds, k)
		}
	}
	if v := f.get("max_records"); v != nil {
		t.MaxRecords = l.positiveInt(v, field(path, "max_records"))
	}
	switch len(kinds) {
	case 0:
		if f.unknown == 0 {
			l.diags.Add(t.Pos, path, "a trigger needs one of every, once or available_now")
		}
	case 1:
	default:
		l.diags.Add(l.pos(f.key[kinds[1]]), path, "a trigger has one kind; found both %q and %q", kinds[0], kinds[1])
	}
	if v := f.get("every"); v != nil {
		t.Every = l.duration(v, field(path, "every"), positive)
	}
	for _, k := range []string{"once", "available_now"} {
		v := f.get(k)
		if v == nil {
			continue
		}
		b, ok := l.boolean(v, field(path, k))
		if ok && !b.Value {
			l.diags.Add(b.Pos, field(path, k), "must be true; to run continuously use every")
		}
		if k == "once" {
			t.Once = b
		} else {
			t.AvailableNow = b
		}
	}
	return t
}

// pluginRef reads the plugin, config and isolation keys of f into r.
func (l *loader) pluginRef(f *fields, r *PluginRef) {
	if v := f.get("plugin"); v != nil {
		r.Plugin = l.pluginName(v, field(f.path, "plugin"))
	}
	if v := f.get("config"); v != nil {
		r.Config = l.config(v, field(f.path, "config"))
	}
	r.Isolation = String{Value: defaultIsolation, Pos: r.Pos}
	if v := f.get("isolation"); v != nil {
		r.Isolation = l.enum(v, field(f.path, "isolation"), "isolation", isolations)
	}
}

// config reads an opaque `config:` block: a mapping, or null for none.
func (l *loader) config(n *yaml.Node, path string) *yaml.Node {
	n = l.deref(n)
	switch {
	case isNull(n):
		return nil
	case n.Kind != yaml.MappingNode:
		l.diags.Add(l.pos(n), path, "expected a mapping, got %s", kindName(n))
		return nil
	}
	return n
}

func (l *loader) source(n *yaml.Node, path, dir string) *Source {
	f, ok := l.fields(n, path, sourceKeys)
	if !ok {
		return nil
	}
	l.require(f, "name", "plugin")
	s := &Source{Pos: l.pos(n)}
	s.PluginRef.Pos = s.Pos
	if v := f.get("name"); v != nil {
		s.Name = l.stageName(v, field(path, "name"))
	}
	l.pluginRef(f, &s.PluginRef)
	s.Format = String{Value: defaultFormat, Pos: s.Pos}
	if v := f.get("format"); v != nil {
		s.Format = l.enum(v, field(path, "format"), "format", formats)
	}
	if v := f.get("schema"); v != nil {
		s.Schema = l.nonEmpty(v, field(path, "schema"))
		if s.Schema.Value != "" {
			s.SchemaAbs = s.Schema.Value
			if !filepath.IsAbs(s.SchemaAbs) {
				s.SchemaAbs = filepath.Join(dir, s.SchemaAbs)
			}
		}
	}
	if v := f.get("event_time"); v != nil {
		s.EventTime = l.expr(v, field(path, "event_time"))
	}
	if v := f.get("scale_out"); v != nil {
		s.ScaleOut, _ = l.boolean(v, field(path, "scale_out"))
	}
	if v := f.get("watermark"); v != nil {
		wpath := field(path, "watermark")
		if w, ok := l.fields(v, wpath, watermarkKeys); ok {
			if v := w.get("lateness"); v != nil {
				s.Watermark.Lateness = l.duration(v, field(wpath, "lateness"), nonNegative)
			}
			if v := w.get("idle_timeout"); v != nil {
				s.Watermark.IdleTimeout = l.duration(v, field(wpath, "idle_timeout"), nonNegative)
			}
		}
	}
	return s
}

func (l *loader) transform(n *yaml.Node, path string) *Transform {
	f, ok := l.fields(n, path, transformKeys)
	if !ok {
		return nil
	}
	l.require(f, "name", "from")
	t := &Transform{Pos: l.pos(n)}
	if v := f.get("name"); v != nil {
		t.Name = l.stageName(v, field(path, "name"))
	}
	if v := f.get("from"); v != nil {
		t.From = l.list(v, field(path, "from"), l.stageName)
	}

	var kinds []string
	for _, k := range f.order {
		if slices.Contains(transformKinds, k) {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		if !f.suggested(transformKinds...) {
			l.diags.Add(t.Pos, path, "a transform needs one of filter, map, aggregate, dedupe or plugin")
		}
	case 1:
	default:
		for _, k := range kinds[1:] {
			l.diags.Add(l.pos(f.key[k]), path, "%q cannot be combined with %q; a transform does one thing, so split it in two", k, kinds[0])
		}
	}
	for _, r := range transformNeeds {
		if f.get(r.key) != nil && f.get(r.needs) == nil {
			l.diags.Add(l.pos(f.key[r.key]), path, "%q is only valid with %q", r.key, r.needs)
		}
	}

	if v := f.get("filter"); v != nil {
		t.Filter = l.expr(v, field(path, "filter"))
	}
	if v := f.get("map"); v != nil {
		t.Map = l.exprMap(v, field(path, "map"))
	}
	if v := f.get("aggregate"); v != nil {
		t.Aggregate = l.exprMap(v, field(path, "aggregate"))
		t.Emit = String{Value: defaultEmit, Pos: t.Pos}
		t.Late = String{Value: defaultLate, Pos: t.Pos}
	}
	if v := f.get("window"); v != nil {
		t.Window = l.window(v, field(path, "window"))
	}
	if v := f.get("group_by"); v != nil {
		t.GroupBy = l.list(v, field(path, "group_by"), l.nonEmpty)
	}
	if v := f.get("emit"); v != nil {
		t.Emit = l.enum(v, field(path, "emit"), "emit", emits)
	}
	if v := f.get("update_every"); v != nil {
		t.UpdateEvery = l.duration(v, field(path, "update_every"), nonNegative)
		if f.get("aggregate") != nil && t.Emit.Value == "final" {
			l.diags.Add(l.pos(f.key["update_every"]), path, `"update_every" is only valid with emit: updates`)
		}
	}
	if v := f.get("allowed_lateness"); v != nil {
		t.AllowedLateness = l.duration(v, field(path, "allowed_lateness"), nonNegative)
	}
	if v := f.get("late"); v != nil {
		t.Late = l.enum(v, field(path, "late"), "late", lates)
	}
	if f.get("aggregate") != nil && f.get("window") == nil {
		for _, k := range []string{"allowed_lateness", "late"} {
			if f.get(k) != nil {
				l.diags.Add(l.pos(f.key[k]), path, "%q is only valid with %q", k, "window")
			}
		}
	}
	if f.get("aggregate") != nil {
		l.outputClashes(t, path)
	}
	if v := f.get("dedupe"); v != nil {
		t.Dedupe = l.dedupe(v, field(path, "dedupe"))
	}
	if f.get("plugin") != nil {
		t.Plugin = &PluginRef{Pos: l.pos(f.key["plugin"])}
		l.pluginRef(f, t.Plugin)
	}
	return t
}

func (l *loader) dedupe(n *yaml.Node, path string) *Dedupe {
	f, ok := l.fields(n, path, dedupeKeys)
	if !ok {
		return nil
	}
	l.require(f, "key", "within")
	d := &Dedupe{Pos: l.pos(f.node)}
	if v := f.get("key"); v != nil {
		d.Key = l.list(v, field(path, "key"), l.nonEmpty)
		if len(d.Key) == 0 {
			l.diags.Add(l.pos(v), field(path, "key"), "list at least one field")
		}
	}
	if v := f.get("within"); v != nil {
		d.Within = l.duration(v, field(path, "within"), positive)
	}
	return d
}

// outputClashes reports aggregate fields named like the window's or the
// group_by fields, which come first in an aggregation's output rows.
func (l *loader) outputClashes(t *Transform, path string) {
	taken := map[string]string{}
	if t.Window != nil {
		for _, w := range windowFields {
			taken[w] = "is set by the window"
		}
	}
	for _, g := range t.GroupBy {
		if _, ok := taken[g.Value]; !ok && g.Value != "" {
			taken[g.Value] = "is a group_by field"
		}
	}
	for _, a := range t.Aggregate {
		if why, ok := taken[a.Name.Value]; ok {
			l.diags.Add(a.Name.Pos, field(path, "aggregate"), "output field %s %s", show(a.Name), why)
		}
	}
}

// exprMap reads a mapping of output field names to expressions, in order.
func (l *loader) exprMap(n *yaml.Node, path string) []MapField {
	n = l.deref(n)
	if n.Kind != yaml.MappingNode {
		l.diags.Add(l.pos(n), path, "expected a mapping of field names to expressions, got %s", kindName(n))
		return nil
	}
	es := l.entries(n, path)
	if len(es) == 0 {
		l.diags.Add(l.pos(n), path, "needs at least one field")
		return nil
	}
	out := make([]MapField, 0, len(es))
	for _, e := range es {
		k := l.deref(e.key)
		if k.Kind != yaml.ScalarNode {
			l.diags.Add(l.pos(e.key), path, "keys must be strings, got %s", kindName(k))
			continue
		}
		fpath := field(path, k.Value)
		name := String{Value: k.Value, Pos: l.pos(k)}
		if in := l.env[k]; in != nil {
			name.Env = refList(in.names)
		}
		if !l.unusable(k) && !stageNameRE.MatchString(k.Value) {
			l.diags.Add(name.Pos, path, "invalid field name %s: use letters, digits and _, not starting with a digit", l.quote(k))
		}
		out = append(out, MapField{Name: name, Expr: *l.expr(e.val, fpath)})
	}
	return out
}

func (l *loader) window(n *yaml.Node, path string) *Window {
	f, ok := l.fields(n, path, windowKeys)
	if !ok {
		return nil
	}
	w := &Window{Pos: l.pos(f.node)}
	switch len(f.order) {
	case 0:
		if f.unknown == 0 {
			l.diags.Add(w.Pos, path, "a window needs one of tumbling, sliding or session")
		}
		return w
	case 1:
	default:
		l.diags.Add(l.pos(f.key[f.order[1]]), path, "a window has one kind; found both %q and %q", f.order[0], f.order[1])
	}
	w.Kind = WindowKind(f.order[0])
	switch w.Kind {
	case Tumbling:
		w.Size = l.duration(f.get("tumbling"), field(path, "tumbling"), positive)
	case Sliding:
		spath := field(path, "sliding")
		s, ok := l.fields(f.get("sliding"), spath, slidingKeys)
		if !ok {
			return w
		}
		l.require(s, "size", "slide")
		if v := s.get("size"); v != nil {
			w.Size = l.duration(v, field(spath, "size"), positive)
		}
		if v := s.get("slide"); v != nil {
			w.Slide = l.duration(v, field(spath, "slide"), positive)
		}
		if size, slide := w.Size.Value, w.Slide.Value; size > 0 && slide > 0 {
			switch {
			case slide > size:
				l.diags.Add(w.Slide.Pos, field(spath, "slide"), "slide %s is longer than size %s", l.showDuration(s.get("slide"), slide), l.showDuration(s.get("size"), size))
			case size%slide != 0:
				l.diags.Add(w.Slide.Pos, field(spath, "slide"), "slide %s does not divide size %s", l.showDuration(s.get("slide"), slide), l.showDuration(s.get("size"), size))
			}
		}
	case Session:
		spath := field(path, "session")
		s, ok := l.fields(f.get("session"), spath, sessionKeys)
		if !ok {
			return w
		}
		l.require(s, "gap")
		if v := s.get("gap"); v != nil {
			w.Gap = l.duration(v, field(spath, "gap"), positive)
		}
	}
	return w
}

// showDuration renders a valid duration for a message, unless it came
// from the environment.
func (l *loader) showDuration(n *yaml.Node, d time.Duration) string {
	if in := l.env[l.deref(n)]; in != nil {
		return "(from " + refList(in.names) + ")"
	}
	return d.String()
}

func (l *loader) sink(n *yaml.Node, path string) *Sink {
	f, ok := l.fields(n, path, sinkKeys)
	if !ok {
		return nil
	}
	l.require(f, "name", "from", "plugin")
	s := &Sink{Pos: l.pos(n)}
	s.PluginRef.Pos = s.Pos
	if v := f.get("name"); v != nil {
		s.Name = l.stageName(v, field(path, "name"))
	}
	if v := f.get("from"); v != nil {
		s.From = l.list(v, field(path, "from"), l.stageName)
	}
	l.pluginRef(f, &s.PluginRef)
	if v := f.get("key"); v != nil {
		s.Key = l.list(v, field(path, "key"), l.nonEmpty)
	}
	return s
}

func (l *loader) deadLetter(n *yaml.Node, path string) *PluginRef {
	f, ok := l.fields(n, path, deadLetterKeys)
	if !ok {
		return nil
	}
	l.require(f, "plugin")
	r := &PluginRef{Pos: l.pos(f.node)}
	l.pluginRef(f, r)
	return r
}

func (l *loader) checkpoint(n *yaml.Node, path string, c *Checkpoint) {
	f, ok := l.fields(n, path, checkpointKeys)
	if !ok {
		return
	}
	c.Pos = l.pos(f.node)
	if v := f.get("dir"); v != nil {
		c.Dir = l.nonEmpty(v, field(path, "dir"))
	}
	if v := f.get("every"); v != nil {
		c.Every = l.duration(v, field(path, "every"), positive)
	}
}

// uniqueNames reports stage names used twice: sources, transforms and sinks
// share one namespace. The later use, in file order, is the one reported.
func (l *loader) uniqueNames(p *Pipeline) {
	type use struct {
		name  String
		entry diag.Pos
		path  string
	}
	var uses []use
	for i, s := range p.Sources {
		uses = append(uses, use{s.Name, s.Pos, index("sources", i)})
	}
	for i, t := range p.Transforms {
		uses = append(uses, use{t.Name, t.Pos, index("transforms", i)})
	}
	for i, s := range p.Sinks {
		uses = append(uses, use{s.Name, s.Pos, index("sinks", i)})
	}
	sort.SliceStable(uses, func(i, j int) bool { return before(uses[i].name.Pos, uses[j].name.Pos) })
	first := map[string]diag.Pos{}
	for _, u := range uses {
		if u.name.Value == "" {
			continue
		}
		if at, ok := first[u.name.Value]; ok {
			pos, path := u.name.Pos, field(u.path, "name")
			if pos == at {
				// The same node, named twice through an alias.
				pos, path = u.entry, u.path
			}
			l.diags.Add(pos, path, "duplicate stage name %s (first at line %d)", show(u.name), at.Line)
			continue
		}
		first[u.name.Value] = u.name.Pos
	}
}

func before(a, b diag.Pos) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

// show renders a string for a message: quoted, or, when it came from the
// environment, the variables it came from.
func show(s String) string {
	if s.Env != "" {
		return "(from " + s.Env + ")"
	}
	return strconv.Quote(s.Value)
}
