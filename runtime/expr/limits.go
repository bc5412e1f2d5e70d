package expr

import (
	"github.com/flowctl/flowctl/runtime/diag"
)

// Limits on expression text. expr's parser is recursive, and a Go stack
// overflow cannot be recovered from, so absurd nesting is refused before
// parsing.
const (
	maxTextLen = 64 << 10
	maxNesting = 256
)

// checkLimits reports a text too long or too deeply nested to parse.
func checkLimits(m *mapper) diag.Diagnostics {
	var ds diag.Diagnostics
	text := m.text
	if len(text) > maxTextLen {
		ds.Add(m.start(), "", "expression is too long (%d bytes, at most %d)", len(text), maxTextLen)
		return ds
	}
	depth := 0
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if quote != 0 {
			switch {
			case c == '\\' && quote != '`':
				i++
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
		case '(', '[', '{':
			depth++
			if depth > maxNesting {
				ds.Add(m.byte(i), "", "expression is nested too deeply (more than %d brackets)", maxNesting)
				return ds
			}
		case ')', ']', '}':
			depth--
		}
	}
	return ds
}
