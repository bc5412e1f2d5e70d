package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// Load reads and parses the schema file at path. Diagnostics name the file
// as path is written.
func Load(path string) (*Schema, diag.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		var ds diag.Diagnostics
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		ds.Add(diag.Pos{File: path}, "", "read schema: %v", err)
		return nil, ds
	}
	return Parse(path, src)
}

// maxNesting bounds how deeply objects may nest in a schema file, and
// maxFields how many fields (members of nested objects included) it may
// declare, aliases expanded.
const (
	maxNesting = 32
	maxFields  = 10000
)

// Parse parses a schema file's text; file names it in diagnostics. It
// reports every problem it finds, each positioned at the offending key or
// value, sorted by position. Unless the text is not a YAML mapping at all,
// it also returns the schema as far as it could read it, with type any for
// fields whose type is wrong, so that callers can keep checking what uses
// it; such a schema must not be used to decode records.
func Parse(file string, src []byte) (*Schema, diag.Diagnostics) {
	p := fileParser{file: file, src: src}
	s := p.parse()
	p.ds.Sort()
	return s, p.ds
}

type fileParser struct {
	file   string
	src    []byte
	lines  []int // byte offset of the start of each line
	ds     diag.Diagnostics
	active map[*yaml.Node]bool // mappings being read, to catch alias cycles
	count  int                 // fields read so far
}

func (p *fileParser) parse() (s *Schema) {
	var doc yaml.Node
	if err := p.unmarshal(&doc); err != nil {
		p.yamlError(err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.ds.Add(diag.Pos{File: p.file, Line: 1, Col: 1}, "", "empty schema file; want name and fields")
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.ds.Add(p.pos(root), "", "want a mapping with name and fields, got %s", nodeKind(root))
		return nil
	}
	s = &Schema{File: p.file}
	var nameNode, fieldsNode *yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.ds.Add(p.pos(k), "", "want a key name, got %s", nodeKind(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.ds.Add(p.pos(k), "", "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		switch k.Value {
		case "name":
			nameNode = v
		case "fields":
			fieldsNode = v
		default:
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if sug := suggest(k.Value, []string{"name", "fields"}, nil); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			} else {
				msg += "; want name and fields"
			}
			p.ds.Add(p.pos(k), "", "%s", msg)
		}
	}
	switch {
	case nameNode == nil:
		p.ds.Add(p.pos(root), "", "missing name")
	default:
		nameNode = resolve(nameNode)
		if nameNode.Kind != yaml.ScalarNode || nameNode.Tag == "!!null" || strings.TrimSpace(nameNode.Value) == "" {
			p.ds.Add(p.pos(nameNode), "name", "want the schema's name, as in payments.v1")
		} else {
			s.Name = nameNode.Value
		}
	}
	if fieldsNode == nil {
		p.ds.Add(p.pos(root), "", "missing fields")
		return s
	}
	s.Fields = p.fields(fieldsNode, "fields", 0)
	return s
}

// unmarshal decodes the source into doc, turning a panic of the YAML
// library on malformed input into an error.
func (p *fileParser) unmarshal(doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: malformed document (%v)", r)
		}
	}()
	return yaml.Unmarshal(p.src, doc)
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlError reports a YAML syntax error at the line the library names.
func (p *fileParser) yamlError(err error) {
	msg := err.Error()
	pos := diag.Pos{File: p.file, Line: 1, Col: 1}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 {
				pos.Line = min(n, p.lineCount())
			}
		}
		msg = msg[len(m[0]):]
	}
	if pos.Line != 1 {
		pos.Col = 0
	}
	p.ds.Add(pos, "", "invalid YAML: %s", msg)
}

// fields reads a mapping of field declarations.
func (p *fileParser) fields(n *yaml.Node, path string, depth int) []Field {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.ds.Add(p.pos(n), path, "want a mapping of field names to types, got %s", nodeKind(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.ds.Add(p.pos(n), path, "no fields declared")
		return nil
	}
	if p.active[n] {
		p.ds.Add(p.pos(n), path, "object contains itself (through an alias)")
		return nil
	}
	if p.active == nil {
		p.active = map[*yaml.Node]bool{}
	}
	p.active[n] = true
	defer delete(p.active, n)
	var fields []Field
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.ds.Add(p.pos(k), path, "want a field name, got %s", nodeKind(k))
			continue
		}
		name := k.Value
		if name == "" {
			p.ds.Add(p.pos(k), path, "empty field name")
			continue
		}
		fpath := path + "." + name
		if p.count++; p.count > maxFields {
			if p.count == maxFields+1 {
				p.ds.Add(p.pos(k), fpath, "too many fields (more than %d, aliases expanded)", maxFields)
			}
			return fields
		}
		if first, dup := seen[name]; dup {
			p.ds.Add(p.pos(k), fpath, "duplicate field %q (first at line %d)", name, first.Line)
			continue
		}
		seen[name] = k
		fields = append(fields, Field{Name: name, Type: p.fieldType(v, fpath, depth), Pos: p.pos(k)})
	}
	return fields
}

// fieldType reads the type of one field: a type expression or a mapping
// of members.
func (p *fileParser) fieldType(n *yaml.Node, path string, depth int) Type {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		if depth+1 >= maxNesting {
			p.ds.Add(p.pos(n), path, "objects nest too deeply (more than %d levels)", maxNesting)
			return Type{Kind: Any}
		}
		if len(n.Content) == 0 {
			p.ds.Add(p.pos(n), path, "no fields declared; write object for an object of any shape")
			return Type{Kind: Any}
		}
		return Type{Kind: Object, Fields: p.fields(n, path, depth+1)}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			p.ds.Add(p.pos(n), path, "missing type")
			return Type{Kind: Any}
		}
		t, err := ParseType(n.Value)
		if err != nil {
			pos := p.pos(n)
			var te *TypeError
			if errors.As(err, &te) {
				pos = p.within(n, te.Offset)
			}
			p.ds.Add(pos, path, "%v", err)
			return Type{Kind: Any}
		}
		return t
	case yaml.SequenceNode:
		p.ds.Add(p.pos(n), path, "want a type or a mapping of fields, got a sequence; write list<T> for a list")
	default:
		p.ds.Add(p.pos(n), path, "want a type or a mapping of fields, got %s", nodeKind(n))
	}
	return Type{Kind: Any}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// pos is the position of a node. The YAML library counts columns in
// characters; positions count bytes.
func (p *fileParser) pos(n *yaml.Node) diag.Pos {
	return p.at(n.Line, n.Column)
}

// within is the position of byte offset off of a scalar's value, when the
// value is written on one line as is (plain or quoted without escapes);
// otherwise the position of the node.
func (p *fileParser) within(n *yaml.Node, off int) diag.Pos {
	pos := p.pos(n)
	if !pos.IsValid() || pos.Col == 0 {
		return pos
	}
	start := p.lineStart(pos.Line) + pos.Col - 1
	quote := 0
	switch n.Style {
	case 0:
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		quote = 1
	default:
		return pos
	}
	lit := start + quote
	if lit+len(n.Value) > len(p.src) || string(p.src[lit:lit+len(n.Value)]) != n.Value {
		return pos
	}
	pos.Col += quote + off
	return pos
}

func (p *fileParser) lineIndex() {
	if p.lines != nil {
		return
	}
	p.lines = []int{0}
	for i, c := range p.src {
		if c == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
}

func (p *fileParser) lineCount() int {
	p.lineIndex()
	return len(p.lines)
}

func (p *fileParser) lineStart(line int) int {
	p.lineIndex()
	return p.lines[line-1]
}

// at converts a YAML line and character column to a position with a byte
// column.
func (p *fileParser) at(line, col int) diag.Pos {
	p.lineIndex()
	if line < 1 {
		return diag.Pos{File: p.file}
	}
	if line > len(p.lines) {
		return diag.Pos{File: p.file, Line: len(p.lines)}
	}
	start := p.lines[line-1]
	end := len(p.src)
	if line < len(p.lines) {
		end = p.lines[line] - 1
	}
	text := p.src[start:end]
	off := 0
	for i := 1; i < col && off < len(text); i++ {
		_, w := utf8.DecodeRune(text[off:])
		off += w
	}
	return diag.Pos{File: p.file, Line: line, Col: off + 1}
}
