// Package benthosblock is what the benthos source and sink share: the
// Benthos component block of their config, checked by Benthos's linter
// with each finding at its config path, and Benthos's components, errors
// and logs as flowctl plugins use them.
package benthosblock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/sdk"

	// The components of Benthos's core module: file, generate, stdin,
	// http_server, http_client, socket, broker, and the processors.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// Block is a Benthos component block (an input or an output) taken from a
// flowctl config block. Benthos reads it as YAML and positions its lints
// by line; the block is written for it as indented JSON (which is YAML),
// where every line holds at most one key or one value starting there, so
// that the line of a lint names the config path it is about.
type Block struct {
	Text  string // the block as indented JSON
	Name  string // the component's type ("file"), "" if there is not exactly one
	Label string // the component's label, "" if it has none

	value map[string]any
	paths []string // paths[i]: the config path of the key or value on line i+1 of Text
	field string   // the config field that holds the block ("input")
	empty bool     // the block names no component
}

// New reads the JSON value of the config field field.
func New(field string, raw json.RawMessage) (*Block, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keeps integers integers
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be a mapping", field)
	}
	text, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	b := &Block{Text: string(text), value: obj, paths: make([]string, bytes.Count(text, []byte("\n"))+1), field: field}
	if len(doc.Content) == 1 {
		b.note(doc.Content[0], field)
	}
	prev := field
	for i := range b.paths {
		if b.paths[i] == "" {
			b.paths[i] = prev // a closing bracket
		}
		prev = b.paths[i]
	}
	b.Label, _ = obj["label"].(string)
	var names []string
	for k := range obj {
		if k != "label" && k != "processors" {
			names = append(names, k)
		}
	}
	if len(names) == 1 {
		b.Name = names[0]
	}
	b.empty = len(names) == 0
	return b, nil
}

// note records the path of the value n, and of every key and value
// inside it, on their lines.
func (b *Block) note(n *yaml.Node, path string) {
	b.set(n.Line, path)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := path + "." + n.Content[i].Value
			b.set(n.Content[i].Line, p)
			b.note(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			b.note(e, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func (b *Block) set(line int, path string) {
	if line >= 1 && line <= len(b.paths) {
		b.paths[line-1] = path
	}
}

// Path returns the config path of the key or value on a line of text.
func (b *Block) Path(line int) string {
	if len(b.paths) == 0 {
		return b.field
	}
	return b.paths[min(max(line, 1), len(b.paths))-1]
}

// WithLabel returns the block's text with label set, for a block that
// has none.
func (b *Block) WithLabel(label string) string {
	obj := maps.Clone(b.value)
	obj["label"] = label
	text, _ := json.Marshal(obj) // it marshalled before
	return string(text)
}

// Lint checks the block with Benthos's own linter, as `benthos lint` does,
// and returns its findings as diagnostics at the paths they are about.
// kind is "input" or "output".
func (b *Block) Lint(env *service.Environment, kind string) []sdk.Diagnostic {
	lints, err := env.NewComponentConfigLinter().LintYAML(kind, []byte(b.Text))
	if err != nil {
		return []sdk.Diagnostic{{Path: b.field, Msg: err.Error()}}
	}
	slices.SortStableFunc(lints, func(x, y service.Lint) int { return x.Line - y.Line })
	var diags []sdk.Diagnostic
	for _, l := range lints {
		diags = append(diags, sdk.Diagnostic{Path: b.Path(l.Line), Msg: l.What})
	}
	if b.empty && len(diags) == 0 {
		// Benthos's linter lets an empty block pass; building it fails.
		diags = append(diags, sdk.Diagnostic{Path: b.field, Msg: "names no Benthos " + kind + " (such as file)"})
	}
	if srv, ok := b.value["http_server"].(map[string]any); ok {
		if addr, _ := srv["address"].(string); addr == "" {
			// Benthos would use its service-wide HTTP server.
			diags = append(diags, sdk.Diagnostic{
				Path: b.field + ".http_server",
				Msg:  "needs an address, such as 127.0.0.1:4195: flowctl runs no service-wide Benthos HTTP server",
			})
		}
	}
	return diags
}

// credentials matches the user:password@ of a URL.
var credentials = regexp.MustCompile(`//[^/@\s]*:[^/@\s]*@`)

// Redact hides the credentials of URLs in a message from Benthos, which
// may quote the URL of a failed request.
func Redact(msg string) string {
	return credentials.ReplaceAllString(msg, "//REDACTED@")
}

// benthosError is an error from Benthos, said with what failed and its
// credentials hidden.
type benthosError struct {
	msg string
	err error
}

func (e *benthosError) Error() string { return e.msg }
func (e *benthosError) Unwrap() error { return e.err }

// Wrap returns err, from Benthos, prefixed with what failed and without
// credentials.
func Wrap(what string, err error) error {
	return &benthosError{msg: what + ": " + Redact(err.Error()), err: err}
}

// DiagnosticsError joins diagnostics into one error for Open.
func DiagnosticsError(diags []sdk.Diagnostic) error {
	if len(diags) == 0 {
		return nil
	}
	var msg strings.Builder
	for i, d := range diags {
		if i > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString(d.Path + ": " + d.Msg)
	}
	return &sdk.ConfigError{Msg: msg.String()}
}

// ComponentNames returns the names of the components of a kind ("input"
// or "output") that env offers, sorted, but those in without.
func ComponentNames(env *service.Environment, kind string, without []string) []string {
	var names []string
	add := func(name string, c *service.ConfigView) {
		if !c.IsDeprecated() && !slices.Contains(without, name) {
			names = append(names, name)
		}
	}
	if kind == "input" {
		env.WalkInputs(add)
	} else {
		env.WalkOutputs(add)
	}
	slices.Sort(names)
	return names
}

// CodeList renders names as "`a`, `b`, `c`".
func CodeList(names []string) string {
	return "`" + strings.Join(names, "`, `") + "`"
}

// logHandler passes Benthos's warnings and errors on to a plugin's
// logger; Benthos's routine info lines are dropped.
type logHandler struct {
	l     sdk.Logger
	attrs string
}

// NewLogger returns a slog logger for Benthos that writes to l, or
// nowhere if l is nil.
func NewLogger(l sdk.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(&logHandler{l: l})
}

func (h *logHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("benthos " + strings.ToLower(r.Level.String()) + ": " + r.Message + h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.l.Printf("%s", Redact(b.String()))
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		b.WriteString(" " + a.String())
	}
	return &logHandler{l: h.l, attrs: b.String()}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }
