package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// A reference ${NAME} names an environment variable; NAME is a letter or _
// followed by letters, digits and _. Any other "${" is left as written, so
// that plugin configs may carry their own interpolation syntax (Benthos's
// "${! meta("key") }"). "$${" is an escape for a literal "${".

// envRef is one ${NAME} reference found in a string.
type envRef struct {
	name  string
	found bool
}

// expandEnv replaces the references in s. It returns the expanded string,
// the references in order of appearance, and the values substituted.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []envRef, []string) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var (
		b      strings.Builder
		refs   []envRef
		values []string
	)
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if strings.HasPrefix(s[i:], "${") {
			if name, n := refName(s[i+2:]); n > 0 {
				v, ok := lookup(name)
				refs = append(refs, envRef{name: name, found: ok})
				if ok {
					values = append(values, v)
					b.WriteString(v)
				}
				i += 2 + n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), refs, values
}

// refName reads "NAME}" at the start of s and returns NAME and the number
// of bytes read including the brace, or 0 when s does not start that way.
func refName(s string) (string, int) {
	i := 0
	for i < len(s) && isNameByte(s[i], i == 0) {
		i++
	}
	if i == 0 || i >= len(s) || s[i] != '}' {
		return "", 0
	}
	return s[:i], i + 1
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9':
		return !first
	}
	return false
}

// interp records an interpolated scalar.
type interp struct {
	orig  string   // the value as written
	names []string // variables used, in order, without repeats
	unset bool     // a variable was unset; the value is unusable and reported
}

// interpolate expands references in the scalar n in place. A plain
// scalar's tag is resolved again from its new value, so that `port:
// ${PORT}` is an integer while `"${PORT}"` stays a string.
func (l *loader) interpolate(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	out, refs, values := expandEnv(n.Value, l.lookup)
	if len(refs) == 0 {
		n.Value = out // only escapes
		return
	}
	in := &interp{orig: n.Value}
	for _, r := range refs {
		if slices.Contains(in.names, r.name) {
			continue
		}
		in.names = append(in.names, r.name)
		if !r.found {
			in.unset = true
			l.diags.Add(l.refPos(n, in.orig, r.name), path, "environment variable %q is not set", r.name)
		}
	}
	for _, v := range values {
		if v != "" {
			l.secrets = append(l.secrets, v)
		}
	}
	l.env[n] = in
	n.Value = out
	if n.Style == 0 {
		n.Tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: out}).ShortTag()
	}
}

// refPos finds the reference ${name} of the scalar n in the source, or
// falls back to the scalar's position.
func (l *loader) refPos(n *yaml.Node, orig, name string) diag.Pos {
	pos := l.pos(n)
	off := l.lines.offset(pos.Line, pos.Col)
	if off < 0 {
		return pos
	}
	ref := "${" + name + "}"
	limit := min(len(l.src), off+2*len(orig)+80*(strings.Count(orig, "\n")+1))
	window := string(l.src[off:limit])
	for from := 0; ; {
		i := strings.Index(window[from:], ref)
		if i < 0 {
			return pos
		}
		i += from
		if i == 0 || window[i-1] != '$' {
			line, col := l.lines.position(off + i)
			return diag.Pos{File: l.file, Line: line, Col: col}
		}
		from = i + len(ref)
	}
}
