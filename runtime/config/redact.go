package config

import "strings"

// minRedact is the shortest interpolated value Redact hides: shorter ones
// ("1", "5m", "on") are not secrets and hiding them would mangle messages.
const minRedact = 4

// Redact replaces in s every value that came from a ${NAME} reference in
// the pipeline file, of at least four bytes, with "***". Use it on text
// that may quote plugin configuration, such as a plugin's own validation
// messages, before it reaches a log or a terminal.
func (p *Pipeline) Redact(s string) string {
	if p == nil {
		return s
	}
	for _, v := range p.secrets {
		if len(v) >= minRedact {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}
