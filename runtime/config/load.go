package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// Load parses the pipeline file named file, whose content is src.
// lookupEnv resolves ${NAME} references; nil means os.LookupEnv.
//
// Load reports every problem it finds, sorted by position; it never stops
// at the first. The pipeline is nil only when src is not a single YAML
// mapping. Otherwise it is returned even when there are errors, filled as
// far as the file allows, so that later checks can add their own
// diagnostics; values that were invalid are left zero.
func Load(file string, src []byte, lookupEnv func(string) (string, bool)) (*Pipeline, diag.Diagnostics) {
	return LoadWith(file, src, Options{LookupEnv: lookupEnv})
}

// Options tune LoadWith.
type Options struct {
	// LookupEnv resolves ${NAME}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Sets are `path=value` overrides applied to the document before it is
	// read, as `flowctl run --set` gives them; see ApplySet.
	Sets []string
}

// LoadWith is Load with options.
func LoadWith(file string, src []byte, opts Options) (*Pipeline, diag.Diagnostics) {
	lookupEnv := opts.LookupEnv
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	l := &loader{
		sets:   opts.Sets,
		file:   file,
		src:    src,
		lines:  newLines(src),
		lookup: lookupEnv,
		env:    map[*yaml.Node]*interp{},
		open:   map[*yaml.Node]bool{},
	}
	p := l.load()
	if l.stopped {
		l.diags = l.diags[:l.stopAt]
	}
	l.diags.Sort()
	return p, l.diags
}

// LoadFile reads the pipeline file at path and parses it with Load, taking
// ${NAME} references from the process environment.
func LoadFile(path string) (*Pipeline, diag.Diagnostics) {
	return LoadFileWith(path, Options{})
}

// LoadFileWith reads the pipeline file at path and parses it with LoadWith.
func LoadFileWith(path string, opts Options) (*Pipeline, diag.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		var ds diag.Diagnostics
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		ds.Add(diag.Pos{File: path}, "", "%v", err)
		return nil, ds
	}
	return LoadWith(path, src, opts)
}

// loader holds the state of one Load.
type loader struct {
	file   string
	src    []byte
	lines  *lines
	lookup func(string) (string, bool)
	diags  diag.Diagnostics
	sets   []string
	set    map[*yaml.Node]bool // nodes that came from --set values

	env     map[*yaml.Node]*interp // interpolated scalars
	open    map[*yaml.Node]bool    // anchored nodes prepare is inside
	secrets []string               // values substituted

	// Aliases let a small document name the same node many times; visits
	// counts the nodes the AST builder reads so that it can give up.
	visits, budget int
	stopped        bool
	stopAt         int // diagnostics after this one describe a partial read
}

// yamlErrLine matches the line yaml.v3 puts in its syntax errors.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) load() *Pipeline {
	if bytes.HasPrefix(l.src, []byte{0xFE, 0xFF}) || bytes.HasPrefix(l.src, []byte{0xFF, 0xFE}) {
		l.diags.Add(l.start(), "", "file is UTF-16; pipeline files must be UTF-8")
		return nil
	}
	// The YAML reader rejects bad bytes without saying where; find them.
	for off := 0; off < len(l.src); {
		r, size := utf8.DecodeRune(l.src[off:])
		bad := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			bad = "invalid UTF-8; pipeline files must be UTF-8"
		case !printable(r):
			bad = fmt.Sprintf("character %U is not allowed in YAML", r)
		}
		if bad != "" {
			line, col := l.lines.position(off)
			l.diags.Add(diag.Pos{File: l.file, Line: line, Col: col}, "", "%s", bad)
			return nil
		}
		off += size
	}
	dec := yaml.NewDecoder(bytes.NewReader(l.src))
	var doc yaml.Node
	switch err := l.decode(dec, &doc); {
	case errors.Is(err, io.EOF):
		l.diags.Add(l.start(), "", "empty pipeline file")
		return nil
	case err != nil:
		l.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	switch err := l.decode(dec, &extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		l.syntaxError(err) // in a second document; the first is still read
	default:
		l.diags.Add(l.pos(&extra), "", "a pipeline file holds one YAML document; found a second one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		l.diags.Add(l.start(), "", "empty pipeline file")
		return nil
	}
	root := doc.Content[0]
	for _, set := range l.sets {
		val, err := ApplySet(root, set)
		if err != nil {
			l.diags.Add(diag.Pos{File: "--set"}, "", "%v", err)
			continue
		}
		l.markSet(val)
	}
	nodes := l.prepare(root, "")
	l.budget = 8*nodes + 100_000
	if root.Kind != yaml.MappingNode {
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			l.diags.Add(l.start(), "", "empty pipeline file")
		} else {
			l.diags.Add(l.pos(root), "", "a pipeline file must be a mapping, got %s", kindName(root))
		}
		return nil
	}
	return l.pipeline(root)
}

// decode reads the next document, turning a panic inside the YAML parser
// into an error: bad input must never crash the caller.
func (l *loader) decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntaxError reports a YAML syntax error. yaml.v3 gives only a line (and
// none for line 1), which is approximate, so it is kept inside the file.
func (l *loader) syntaxError(err error) {
	msg, line := err.Error(), 1
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	line = min(max(line, 1), l.lines.count())
	l.diags.Add(diag.Pos{File: l.file, Line: line}, "", "invalid YAML: %s", msg)
}

// prepare walks the document once, in the order of the file, before the
// AST is built: it expands ${NAME} in every scalar, and reports duplicate
// mapping keys and aliases to their own ancestors, anywhere, including
// inside opaque `config:` blocks. It does not follow aliases, so every
// node is seen once. It returns the number of nodes.
func (l *loader) prepare(n *yaml.Node, path string) int {
	count := 1
	if n.Anchor != "" {
		l.open[n] = true
		defer delete(l.open, n)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if l.open[n.Alias] {
			l.diags.Add(l.pos(n), path, "alias *%s refers to a node that contains it", n.Value)
		}
	case yaml.ScalarNode:
		l.interpolate(n, path)
	case yaml.SequenceNode:
		for i, c := range n.Content {
			count += l.prepare(c, index(path, i))
		}
	case yaml.MappingNode:
		var seen map[string]*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			count += l.prepare(k, path)
			sub := path
			if k.Kind == yaml.ScalarNode {
				if first, ok := seen[k.Value]; ok {
					l.diags.Add(l.pos(k), path, "duplicate key %s (first at line %d)", l.quote(k), first.Line)
				} else {
					if seen == nil {
						seen = map[string]*yaml.Node{}
					}
					seen[k.Value] = k
				}
				sub = field(path, k.Value)
				if in := l.env[k]; in != nil {
					sub = field(path, in.orig) // the value may be a secret
				}
			}
			count += l.prepare(v, sub)
		}
	}
	return count
}

// markSet notes the nodes of a --set value, whose positions are within
// the value, not the file.
func (l *loader) markSet(n *yaml.Node) {
	if l.set == nil {
		l.set = map[*yaml.Node]bool{}
	}
	l.set[n] = true
	for _, c := range n.Content {
		l.markSet(c)
	}
}

// start is the position of the start of the file.
func (l *loader) start() diag.Pos { return diag.Pos{File: l.file, Line: 1, Col: 1} }

// pos is the position of n, with the column counted in bytes.
func (l *loader) pos(n *yaml.Node) diag.Pos {
	if l.set[n] {
		return diag.Pos{File: "--set", Line: n.Line, Col: n.Column}
	}
	if n.Line < 1 {
		return l.start()
	}
	return diag.Pos{File: l.file, Line: n.Line, Col: l.lines.byteCol(n.Line, max(n.Column, 1))}
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindName names the kind of a node for messages: "expected a string, got
// a list".
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an alias"
}

// quote renders a scalar's value for a message: quoted, or, when it came
// from the environment, the variables it came from.
func (l *loader) quote(n *yaml.Node) string {
	if in := l.env[n]; in != nil {
		return "(from " + refList(in.names) + ")"
	}
	return strconv.Quote(n.Value)
}

// refList renders variable names as "${A}, ${B}".
func refList(names []string) string {
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("${" + name + "}")
	}
	return b.String()
}

// printable reports whether YAML allows r in a document.
func printable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case 0x20 <= r && r <= 0x7E, 0xA0 <= r && r <= 0xD7FF, 0xE000 <= r && r <= 0xFFFD, 0x10000 <= r && r <= 0x10FFFF:
		return true
	}
	return false
}
