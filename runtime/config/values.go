package config

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// deref follows an alias to the node it names and counts the visit. After
// the budget is spent the builder stops reading (see loader.visits).
func (l *loader) deref(n *yaml.Node) *yaml.Node {
	orig := n
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	if n.Kind == yaml.AliasNode {
		// Not reachable with yaml.v3's parser; keep the builder total.
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: orig.Line, Column: orig.Column}
	}
	l.visits++
	if l.visits > l.budget && !l.stopped {
		l.stopped = true
		l.diags.Add(l.start(), "", "document too complex: aliases expand to too many nodes")
		l.stopAt = len(l.diags)
	}
	return n
}

// entry is one key and value of a mapping.
type entry struct{ key, val *yaml.Node }

// entries lists the pairs of the mapping n in file order, with merge keys
// (`<<: *base`) replaced by the entries they merge in. Keys written in n
// win over merged ones, and earlier merged mappings over later ones, as
// YAML specifies.
func (l *loader) entries(n *yaml.Node, path string) []entry {
	var out []entry
	explicit := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMerge(k) && k.Kind == yaml.ScalarNode {
			explicit[k.Value] = true
		}
	}
	seen := map[string]bool{}
	add := func(k, v *yaml.Node, merged bool) {
		if k.Kind == yaml.ScalarNode {
			if seen[k.Value] || (merged && explicit[k.Value]) {
				return
			}
			seen[k.Value] = true
		}
		out = append(out, entry{k, v})
	}
	// mergeValue merges the value of a `<<` key: a mapping or a list of
	// them. A merged mapping's own keys win over those it merges in.
	var mergeValue, mergeMapping func(v *yaml.Node, depth int)
	mergeValue = func(v *yaml.Node, depth int) {
		if v = l.deref(v); v.Kind == yaml.SequenceNode {
			for _, c := range v.Content {
				mergeMapping(c, depth)
			}
			return
		}
		mergeMapping(v, depth)
	}
	mergeMapping = func(m *yaml.Node, depth int) {
		m = l.deref(m)
		switch {
		case depth > 8:
			l.diags.Add(l.pos(m), path, "merge keys nested too deeply")
			return
		case m.Kind != yaml.MappingNode:
			l.diags.Add(l.pos(m), path, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindName(m))
			return
		}
		for i := 0; i+1 < len(m.Content) && !l.stopped; i += 2 {
			if k := m.Content[i]; !isMerge(k) {
				add(k, m.Content[i+1], true)
			}
		}
		for i := 0; i+1 < len(m.Content) && !l.stopped; i += 2 {
			if isMerge(m.Content[i]) {
				mergeValue(m.Content[i+1], depth+1)
			}
		}
	}
	for i := 0; i+1 < len(n.Content) && !l.stopped; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			mergeValue(v, 0)
			continue
		}
		add(k, v, false)
	}
	return out
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" && k.Value == "<<"
}

// fields is a mapping of known keys.
type fields struct {
	node  *yaml.Node
	path  string
	order []string // keys present, in file order
	key   map[string]*yaml.Node
	val   map[string]*yaml.Node

	unknown int      // unknown keys reported
	hints   []string // keys suggested for unknown ones
}

// suggested reports whether one of keys was suggested for an unknown key,
// so that its absence need not be reported as well.
func (f *fields) suggested(keys ...string) bool {
	for _, k := range keys {
		if slices.Contains(f.hints, k) {
			return true
		}
	}
	return false
}

// fields reads the mapping n, whose keys must be among allowed; unknown
// keys are reported with a suggestion. Keys starting with ignore, when it
// is not empty, are skipped. It reports false, having reported why, when n
// is not a mapping.
func (l *loader) fields(n *yaml.Node, path string, allowed []string, ignore ...string) (*fields, bool) {
	n = l.deref(n)
	if n.Kind != yaml.MappingNode {
		l.diags.Add(l.pos(n), path, "expected a mapping, got %s", kindName(n))
		return nil, false
	}
	f := &fields{node: n, path: path, key: map[string]*yaml.Node{}, val: map[string]*yaml.Node{}}
	for _, e := range l.entries(n, path) {
		k := l.deref(e.key)
		if k.Kind != yaml.ScalarNode {
			l.diags.Add(l.pos(e.key), path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if len(ignore) > 0 && strings.HasPrefix(k.Value, ignore[0]) {
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			hint := ""
			if c, ok := diag.Closest(k.Value, allowed); ok && l.env[k] == nil {
				hint = ` (did you mean "` + c + `"?)`
				f.hints = append(f.hints, c)
			}
			f.unknown++
			l.diags.Add(l.pos(k), path, "unknown key %s%s", l.quote(k), hint)
			continue
		}
		if _, dup := f.val[k.Value]; dup {
			continue // reported by prepare
		}
		f.order = append(f.order, k.Value)
		f.key[k.Value] = k
		f.val[k.Value] = e.val
	}
	return f, true
}

// get is the value of key, or nil when it is absent.
func (f *fields) get(key string) *yaml.Node { return f.val[key] }

// require reports each of keys that is absent.
func (l *loader) require(f *fields, keys ...string) {
	for _, k := range keys {
		if f.val[k] == nil && !f.suggested(k) {
			l.diags.Add(l.pos(f.node), f.path, "missing required key %q", k)
		}
	}
}

// unusable reports whether n is a scalar whose interpolation failed; it
// has been reported and must not be reported again.
func (l *loader) unusable(n *yaml.Node) bool {
	in := l.env[n]
	return in != nil && in.unset
}

// isString reports whether a scalar reads as text: not null, a boolean or
// a number.
func isString(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!null", "!!bool", "!!int", "!!float":
		return false
	}
	return true
}

// str reads a string scalar.
func (l *loader) str(n *yaml.Node, path string) (String, bool) {
	n = l.deref(n)
	s := String{Value: n.Value, Pos: l.pos(n)}
	if in := l.env[n]; in != nil {
		s.Env = refList(in.names)
	}
	if l.unusable(n) {
		return s, false
	}
	if !isString(n) {
		l.diags.Add(s.Pos, path, "expected a string, got %s", kindName(n))
		return String{Pos: s.Pos}, false
	}
	return s, true
}

// nonEmpty reads a string scalar that must not be empty.
func (l *loader) nonEmpty(n *yaml.Node, path string) String {
	s, ok := l.str(n, path)
	if ok && s.Value == "" {
		l.diags.Add(s.Pos, path, "must not be empty")
	}
	return s
}

// Name patterns.
var (
	stageNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pipelineNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	pluginNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// name reads a string matching re; rule says what re wants.
func (l *loader) name(n *yaml.Node, path, what string, re *regexp.Regexp, rule string) String {
	s, ok := l.str(l.deref(n), path)
	if ok && !re.MatchString(s.Value) {
		l.diags.Add(s.Pos, path, "invalid %s %s: %s", what, l.quote(l.deref(n)), rule)
	}
	return s
}

func (l *loader) stageName(n *yaml.Node, path string) String {
	return l.name(n, path, "name", stageNameRE, "use letters, digits and _, not starting with a digit")
}

func (l *loader) pluginName(n *yaml.Node, path string) String {
	return l.name(n, path, "plugin name", pluginNameRE, "use lowercase letters, digits and _, starting with a letter")
}

// enum reads a string that must be one of allowed.
func (l *loader) enum(n *yaml.Node, path, what string, allowed []string) String {
	n = l.deref(n)
	s, ok := l.str(n, path)
	if !ok || slices.Contains(allowed, s.Value) {
		return s
	}
	if hint := diag.Hint(s.Value, allowed); hint != "" && l.env[n] == nil {
		l.diags.Add(s.Pos, path, "invalid %s %s%s", what, l.quote(n), hint)
	} else {
		l.diags.Add(s.Pos, path, "invalid %s %s; want %s", what, l.quote(n), orList(allowed))
	}
	return String{Pos: s.Pos, Env: s.Env}
}

// orList renders "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// durationRule says which durations a key accepts.
type durationRule int

const (
	positive    durationRule = iota // > 0: sizes, gaps, periods
	nonNegative                     // >= 0: lateness, timeouts
)

// duration reads a Go-style duration.
func (l *loader) duration(n *yaml.Node, path string, rule durationRule) Duration {
	n = l.deref(n)
	d := Duration{Pos: l.pos(n), Set: true}
	if l.unusable(n) {
		return d
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.ShortTag() == "!!bool" {
		l.diags.Add(d.Pos, path, "expected a duration, got %s", kindName(n))
		return d
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		l.diags.Add(d.Pos, path, "invalid duration %s; use Go syntax such as 90s, 5m or 1h30m", l.quote(n))
	case v < 0:
		l.diags.Add(d.Pos, path, "duration %s must not be negative", l.quote(n))
	case v == 0 && rule == positive:
		l.diags.Add(d.Pos, path, "duration must be greater than 0")
	default:
		d.Value = v
	}
	return d
}

// boolean reads true or false. It reports false when the value is
// unusable, having reported why.
func (l *loader) boolean(n *yaml.Node, path string) (Bool, bool) {
	n = l.deref(n)
	b := Bool{Pos: l.pos(n), Set: true}
	if l.unusable(n) {
		return b, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b.Value) != nil {
		l.diags.Add(b.Pos, path, "expected a boolean, got %s", kindName(n))
		return b, false
	}
	return b, true
}

// positiveInt reads an integer greater than zero.
func (l *loader) positiveInt(n *yaml.Node, path string) Int {
	n = l.deref(n)
	v := Int{Pos: l.pos(n), Set: true}
	if l.unusable(n) {
		return v
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v.Value) != nil {
		l.diags.Add(v.Pos, path, "expected an integer, got %s", kindName(n))
		return v
	}
	if v.Value <= 0 {
		l.diags.Add(v.Pos, path, "must be greater than 0")
	}
	return v
}

// list reads a non-empty list of strings; a single string is a list of
// one. each checks one element.
func (l *loader) list(n *yaml.Node, path string, each func(n *yaml.Node, path string) String) []String {
	n = l.deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if isString(n) || l.unusable(n) {
			return []String{each(n, path)}
		}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			l.diags.Add(l.pos(n), path, "must not be empty")
			return nil
		}
		out := make([]String, 0, len(n.Content))
		for i, c := range n.Content {
			if l.stopped {
				break
			}
			out = append(out, each(c, index(path, i)))
		}
		return out
	}
	l.diags.Add(l.pos(n), path, "expected a string or a list of strings, got %s", kindName(n))
	return nil
}

// sequence reads a list of mappings, calling each for every element.
func (l *loader) sequence(n *yaml.Node, path string, each func(n *yaml.Node, path string)) {
	n = l.deref(n)
	if n.Kind != yaml.SequenceNode {
		l.diags.Add(l.pos(n), path, "expected a list, got %s", kindName(n))
		return
	}
	for i, c := range n.Content {
		if l.stopped {
			return
		}
		each(c, index(path, i))
	}
}

// expr reads an expression: any scalar that is not null or empty.
func (l *loader) expr(n *yaml.Node, path string) *Expr {
	n = l.deref(n)
	e := &Expr{Text: n.Value, Pos: l.pos(n)}
	text := n.Value
	if in := l.env[n]; in != nil {
		e.Env = refList(in.names)
		text = in.orig
	}
	e.Lines = l.exprLines(n, text)
	switch {
	case l.unusable(n):
	case n.Kind != yaml.ScalarNode:
		l.diags.Add(e.Pos, path, "expected an expression, got %s", kindName(n))
	case n.ShortTag() == "!!null":
		l.diags.Add(e.Pos, path, "missing expression")
	case strings.TrimSpace(n.Value) == "":
		l.diags.Add(e.Pos, path, "empty expression")
	}
	return e
}

// exprLines maps the lines of a scalar's text to file positions (see
// Expr). text is the value as written, before interpolation.
func (l *loader) exprLines(n *yaml.Node, text string) []diag.Pos {
	pos := l.pos(n)
	switch {
	case n.Kind != yaml.ScalarNode:
	case n.Style&yaml.LiteralStyle != 0 && !l.set[n]:
		if lines := l.literalLines(n, text); lines != nil {
			return lines
		}
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		pos.Col++
	}
	return []diag.Pos{pos}
}

// literalLines maps each line of a literal block scalar to its place in the
// file: line k of the text is line k+1 after the `|` indicator, at the
// block's indentation. It returns nil when the source does not read that
// way, so that the caller falls back to the node's start.
func (l *loader) literalLines(n *yaml.Node, text string) []diag.Pos {
	parts := strings.Split(text, "\n")
	indent := -1
	for k, part := range parts {
		if part == "" {
			continue
		}
		src := l.lines.text(n.Line + 1 + k)
		if !strings.HasSuffix(string(src), part) {
			return nil
		}
		in := len(src) - len(part)
		if indent >= 0 && in != indent {
			return nil
		}
		indent = in
	}
	if indent < 0 {
		return nil
	}
	out := make([]diag.Pos, 0, len(parts))
	for k := range parts {
		line := n.Line + 1 + k
		if line > l.lines.count() {
			break
		}
		out = append(out, diag.Pos{File: l.file, Line: line, Col: indent + 1})
	}
	return out
}
