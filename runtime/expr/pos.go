package expr

import (
	"strings"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
)

// mapper maps offsets inside an expression's text to positions in the
// pipeline file, following config.Expr.Lines.
type mapper struct {
	text  string
	lines []diag.Pos // file position of the first byte of each text line
	// starts[k] is the byte offset in text of line k; a final newline
	// does not start a line.
	starts []int
	// fixed is set when lines do not map back (a folded block, or a text
	// that has more lines than Lines has entries): everything maps to
	// the start.
	fixed bool
}

func newMapper(e config.Expr) *mapper {
	m := &mapper{text: e.Text, lines: e.Lines, starts: []int{0}}
	for i := 0; i < len(e.Text)-1; i++ {
		if e.Text[i] == '\n' {
			m.starts = append(m.starts, i+1)
		}
	}
	if len(m.lines) == 0 {
		m.lines = []diag.Pos{e.Pos}
	}
	for k := range m.lines {
		if m.lines[k].File == "" {
			m.lines[k].File = e.Pos.File
		}
	}
	if len(m.starts) > len(m.lines) {
		m.fixed = true
	}
	return m
}

// start is the position of the expression's first byte.
func (m *mapper) start() diag.Pos { return m.lines[0] }

// rune maps a rune offset in the text (expr's file.Location.From) to a
// file position. Offsets past the end map to just after the last byte.
func (m *mapper) rune(off int) diag.Pos {
	b := len(m.text)
	n := 0
	for i := range m.text {
		if n == off {
			b = i
			break
		}
		n++
	}
	if off < 0 {
		b = 0
	}
	return m.byte(b)
}

// byte maps a byte offset in the text to a file position.
func (m *mapper) byte(b int) diag.Pos {
	if m.fixed {
		return m.lines[0]
	}
	k := 0
	for k+1 < len(m.starts) && m.starts[k+1] <= b {
		k++
	}
	end := len(strings.TrimSuffix(m.text, "\n")) // end of line k's bytes
	if k+1 < len(m.starts) {
		end = m.starts[k+1] - 1
	}
	p := m.lines[k]
	p.Col += min(max(b, m.starts[k]), end) - m.starts[k]
	return p
}

// cleanMessage turns an expr error message into a diagnostic message: the
// first line only, without expr's " (line:col)" suffix, with Go type names
// replaced by the names users write in schemas.
func cleanMessage(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimSpace(msg)
	msg = trimLocationSuffix(msg)
	msg = strings.TrimPrefix(msg, "runtime error: ")
	const conv = "interface conversion: interface {} is "
	if rest, ok := strings.CutPrefix(msg, conv); ok {
		if got, want, ok := strings.Cut(rest, ", not "); ok {
			if got == "nil" {
				got = "null"
			}
			msg = "unexpected " + got + ", want " + want
		}
	}
	return userTypes(msg)
}

// trimLocationSuffix removes a trailing " (12:3)".
func trimLocationSuffix(msg string) string {
	if !strings.HasSuffix(msg, ")") {
		return msg
	}
	i := strings.LastIndex(msg, " (")
	if i < 0 {
		return msg
	}
	inner := msg[i+2 : len(msg)-1]
	a, b, ok := strings.Cut(inner, ":")
	if !ok || !isDigits(a) || !isDigits(b) {
		return msg
	}
	return msg[:i]
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// typeWords are Go type names in expr's messages and the names users know
// them by; longer names first so that they win over their suffixes.
var typeWords = [][2]string{
	{"map[string]interface {}", "object"},
	{"[]interface {}", "list"},
	{"interface {}", "any"},
	{"decimal.Decimal", "decimal"},
	{"time.Time", "timestamp"},
	{"time.Duration", "duration"},
	{"float64", "float"},
	{"int64", "int"},
	{"<nil>", "null"},
}

// userTypes replaces Go type names in msg by user-facing ones, leaving
// words that merely contain them (a field named "xint64") alone.
func userTypes(msg string) string {
	var b strings.Builder
	i := 0
outer:
	for i < len(msg) {
		for _, w := range typeWords {
			if strings.HasPrefix(msg[i:], w[0]) && boundary(msg, i, i+len(w[0])) {
				b.WriteString(w[1])
				i += len(w[0])
				continue outer
			}
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}

// boundary reports whether msg[from:to] is not part of a longer word.
func boundary(msg string, from, to int) bool {
	if from > 0 && isWordByte(msg[from-1]) && isWordByte(msg[from]) {
		return false
	}
	if to < len(msg) && isWordByte(msg[to]) && isWordByte(msg[to-1]) {
		return false
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
