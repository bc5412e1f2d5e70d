package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/diag"
)

// Config is a plugin config block checked against the plugin's spec.
type Config struct {
	JSON  []byte              // the block as JSON with defaults filled in
	paths map[string]diag.Pos // config path -> position, for plugin diagnostics
	at    diag.Pos            // position of the block (or its owner)
	path  string              // pipeline path of the block, "sources[0].config"
}

// Pos returns the file position of a config path such as "brokers[1]", or
// of the block itself when the path is unknown.
func (c *Config) Pos(path string) diag.Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := c.paths[p]; ok {
			return pos
		}
	}
	return c.at
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' || p[i] == '[' {
			return p[:i]
		}
	}
	return ""
}

// CheckConfig checks a plugin's config block (nil when absent) against its
// spec: unknown keys, types, enums, required fields. It fills in defaults,
// then runs the plugin's own Validate hook and places its diagnostics.
// at is the position of the owning node, path its pipeline path.
func CheckConfig(p sdk.Plugin, node *yaml.Node, file string, at diag.Pos, path string) (*Config, diag.Diagnostics) {
	c := &Config{paths: map[string]diag.Pos{}, at: at, path: path}
	var ds diag.Diagnostics
	ck := checker{file: file, cfg: c, ds: &ds, base: path}
	if node != nil {
		c.at = ck.pos(node)
	}
	v := ck.object(node, p.Spec.Fields, "", c.at)
	js, err := json.Marshal(v)
	if err != nil {
		ds.Add(c.at, path, "encode config: %v", err)
		return c, ds
	}
	c.JSON = js
	if !ds.HasErrors() && p.Validate != nil {
		for _, d := range p.Validate(js) {
			full := path
			if d.Path != "" {
				full += "." + d.Path
			}
			ds.Add(c.Pos(d.Path), full, "%s", d.Msg)
		}
	}
	return c, ds
}

type checker struct {
	file string
	cfg  *Config
	ds   *diag.Diagnostics
	base string
}

func (k *checker) pos(n *yaml.Node) diag.Pos {
	return diag.Pos{File: k.file, Line: n.Line, Col: n.Column}
}

func (k *checker) full(path string) string {
	if path == "" {
		return k.base
	}
	return k.base + "." + path
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (k *checker) object(n *yaml.Node, fields []sdk.FieldSpec, path string, at diag.Pos) map[string]any {
	out := map[string]any{}
	seen := map[string]bool{}
	if n != nil {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				k.ds.Add(k.pos(n), k.full(path), "must be a mapping")
			}
			n = nil
		}
	}
	if n != nil {
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.Name
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			name := kn.Value
			var spec *sdk.FieldSpec
			for j := range fields {
				if fields[j].Name == name {
					spec = &fields[j]
				}
			}
			p := join(path, name)
			if spec == nil {
				k.ds.Add(k.pos(kn), k.full(path), "unknown key %q%s", name, diag.Hint(name, names))
				continue
			}
			if seen[name] {
				k.ds.Add(k.pos(kn), k.full(path), "duplicate key %q", name)
				continue
			}
			seen[name] = true
			k.cfg.paths[p] = k.pos(vn)
			if v, ok := k.value(vn, *spec, p); ok {
				out[name] = v
			}
		}
	}
	for _, f := range fields {
		if seen[f.Name] {
			continue
		}
		if f.Required {
			k.ds.Add(at, k.full(path), "missing required key %q", f.Name)
			continue
		}
		if f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

func (k *checker) value(n *yaml.Node, f sdk.FieldSpec, path string) (any, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	bad := func(want string) (any, bool) {
		k.ds.Add(k.pos(n), k.full(path), "must be %s", want)
		return nil, false
	}
	switch f.Type {
	case sdk.TypeList:
		if n.Kind != yaml.SequenceNode {
			return bad("a list")
		}
		out := make([]any, 0, len(n.Content))
		elem := sdk.FieldSpec{Name: f.Name, Type: f.Elem, Fields: f.Fields, Enum: f.Enum, Secret: f.Secret}
		if elem.Type == "" {
			elem.Type = sdk.TypeString
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			k.cfg.paths[p] = k.pos(e)
			if v, ok := k.value(e, elem, p); ok {
				out = append(out, v)
			}
		}
		return out, true
	case sdk.TypeObject:
		if len(f.Fields) > 0 {
			if n.Kind != yaml.MappingNode {
				return bad("a mapping")
			}
			return k.object(n, f.Fields, path, k.pos(n)), true
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return bad("a mapping")
		}
		k.recordPaths(n, path)
		return jsonable(v), true
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return bad("a " + string(f.Type))
	}
	switch f.Type {
	case sdk.TypeString:
		if len(f.Enum) > 0 && !contains(f.Enum, n.Value) {
			if f.Secret {
				k.ds.Add(k.pos(n), k.full(path), "must be one of %v", f.Enum)
			} else {
				k.ds.Add(k.pos(n), k.full(path), "%q must be one of %v%s", n.Value, f.Enum, diag.Hint(n.Value, f.Enum))
			}
			return nil, false
		}
		return n.Value, true
	case sdk.TypeInt:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || n.Tag != "!!int" {
			return bad("an integer")
		}
		return i, true
	case sdk.TypeFloat:
		x, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!float") {
			return bad("a number")
		}
		return x, true
	case sdk.TypeBool:
		if n.Tag != "!!bool" {
			return bad("true or false")
		}
		return n.Value == "true", true
	case sdk.TypeDuration:
		if _, err := time.ParseDuration(n.Value); err != nil {
			return bad(`a duration such as "90s" or "5m"`)
		}
		return n.Value, true
	}
	return bad("a " + string(f.Type))
}

// recordPaths notes the position of every value inside a free-form
// block, so a plugin's diagnostic about "fields.amount" lands on it. A
// value that starts below its key (a block mapping or list) is placed at
// its key, the line a reader looks at, not at its first member.
func (k *checker) recordPaths(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			p := join(path, kn.Value)
			k.cfg.paths[p] = k.pos(vn)
			if vn.Line > kn.Line {
				k.cfg.paths[p] = k.pos(kn)
			}
			k.recordPaths(vn, p)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			k.cfg.paths[p] = k.pos(e)
			k.recordPaths(e, p)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsonable turns YAML-decoded values into values encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}
