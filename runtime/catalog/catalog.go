// Package catalog holds the plugins a flowctl binary knows: each plugin's
// spec and constructor, by kind and name. A Catalog is a value built by the
// caller from an explicit list; there is no global registry.
package catalog

import (
	"fmt"
	"sort"

	"github.com/flowctl/flowctl/plugins/sdk"
)

type key struct {
	kind sdk.Kind
	name string
}

// Catalog maps (kind, name) to a plugin.
type Catalog struct {
	plugins map[key]sdk.Plugin
}

// New returns a catalog of the given plugins. It fails on a malformed spec,
// a constructor that does not match the kind, or a duplicate.
func New(plugins ...sdk.Plugin) (*Catalog, error) {
	c := &Catalog{plugins: make(map[key]sdk.Plugin, len(plugins))}
	for _, p := range plugins {
		if err := p.Spec.Check(); err != nil {
			return nil, err
		}
		ok := false
		switch p.Spec.Kind {
		case sdk.KindSource:
			ok = p.NewSource != nil
		case sdk.KindSink:
			ok = p.NewSink != nil
		case sdk.KindTransform:
			ok = p.NewTransform != nil
		}
		if !ok {
			return nil, fmt.Errorf("plugin %s: no constructor for kind %s", p.Spec.Name, p.Spec.Kind)
		}
		k := key{p.Spec.Kind, p.Spec.Name}
		if _, dup := c.plugins[k]; dup {
			return nil, fmt.Errorf("plugin %s %s registered twice", p.Spec.Kind, p.Spec.Name)
		}
		c.plugins[k] = p
	}
	return c, nil
}

// Lookup returns the plugin of that kind and name.
func (c *Catalog) Lookup(kind sdk.Kind, name string) (sdk.Plugin, bool) {
	p, ok := c.plugins[key{kind, name}]
	return p, ok
}

// Names returns the names of the plugins of a kind, sorted.
func (c *Catalog) Names(kind sdk.Kind) []string {
	var names []string
	for k := range c.plugins {
		if k.kind == kind {
			names = append(names, k.name)
		}
	}
	sort.Strings(names)
	return names
}

// List returns every plugin, sorted by name then kind.
func (c *Catalog) List() []sdk.Plugin {
	out := make([]sdk.Plugin, 0, len(c.plugins))
	for _, p := range c.plugins {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Spec.Name != out[j].Spec.Name {
			return out[i].Spec.Name < out[j].Spec.Name
		}
		return out[i].Spec.Kind < out[j].Spec.Kind
	})
	return out
}
