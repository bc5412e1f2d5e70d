package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestApplySet(t *testing.T) {
	const doc = `mode: batch
sources:
  - name: orders
    config: {path: a.jsonl}
  - name: refunds
    config: {path: b.jsonl}
`
	for _, tc := range []struct {
		name, set, want, err string
	}{
		{"top-level", "mode=stream", "mode: stream\n", ""},
		{"by index", "sources[1].config.path=c.jsonl", "path: c.jsonl", ""},
		{"by name", "sources.orders.config.path=in/*.jsonl", "path: in/*.jsonl", ""},
		{"creates keys", "checkpoint.every=5s", "checkpoint:\n    every: 5s\n", ""},
		{"yaml value", "sources.orders.config.brokers=[a, b]", "brokers: [a, b]", ""},
		{"empty value", "name=", "name: \"\"\n", ""},
		{"no equals", "mode", "", `--set "mode": want path=value`},
		{"unknown item", "sources.nope.config.path=x", "", `--set sources.nope.config.path: no item "nope"`},
		{"index out of range", "sources[7].name=x", "", `--set sources[7].name: no item "7"`},
		{"through a scalar", "mode.x=1", "", `--set mode.x: "mode" is not a mapping or a list`},
		{"bad index", "sources[.name=x", "", `--set sources[.name: bad index in "sources["`},
		{"bad yaml", "mode=[", "", "--set mode: value: line 1: did not find expected node content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
				t.Fatal(err)
			}
			_, err := ApplySet(root.Content[0], tc.set)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(root.Content[0])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("after --set %s:\n%s\nwant it to hold %q", tc.set, out, tc.want)
			}
		})
	}
}

// TestLoadWithSets checks that overrides reach the AST and that problems
// in a --set value are positioned within the value.
func TestLoadWithSets(t *testing.T) {
	src := []byte(`version: 1
name: p
sources:
  - {name: s, plugin: file, config: {path: a}}
transforms:
  - {name: f, from: s, filter: "true"}
sinks:
  - {name: o, from: f, plugin: stdout}
`)
	p, ds := LoadWith("p.yaml", src, Options{Sets: []string{"mode=stream", "transforms.f.filter=x > 1", "checkpoint.every=nope"}})
	var got []string
	for _, d := range ds {
		got = append(got, d.String())
	}
	want := []string{"--set:1:1: checkpoint.every: invalid duration \"nope\"; use Go syntax such as 90s, 5m or 1h30m"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	if p.Mode.Value != "stream" || p.Transforms[0].Filter.Text != "x > 1" {
		t.Errorf("mode %q, filter %q: the overrides did not apply", p.Mode.Value, p.Transforms[0].Filter.Text)
	}
}
