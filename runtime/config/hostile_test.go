package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHostileInputs loads documents built to hurt a loader: alias bombs,
// self-referencing anchors and merges, deep nesting, odd keys.
func TestHostileInputs(t *testing.T) {
	const tail = "sinks: [{name: o, from: a, plugin: stdout}]\n"
	// 2000 transforms, each an alias of one with 2000 map fields.
	var bomb strings.Builder
	bomb.WriteString("version: 1\nname: h\nx-t: &t\n  name: t\n  from: a\n  map:\n")
	for i := range 2000 {
		fmt.Fprintf(&bomb, "    f%d: x\n", i)
	}
	bomb.WriteString("sources: [{name: a, plugin: file}]\n" + tail + "transforms:\n")
	for range 2000 {
		bomb.WriteString("  - *t\n")
	}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "aliases expanding to millions of nodes",
			src:  bomb.String(),
			want: []string{"h.yaml:1:1: document too complex: aliases expand to too many nodes"},
		},
		{
			name: "a billion laughs inside config is left to the plugin",
			src: "version: 1\nname: h\nsources: [{name: a, plugin: file, config: {a: &a [x,x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], " +
				"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]}}]\n" + tail,
		},
		{
			name: "a mapping merging itself",
			src:  "version: 1\nname: h\nsources: [&s {<<: *s, name: a, plugin: file}]\n" + tail,
			want: []string{
				"h.yaml:3:11: sources[0]: merge keys nested too deeply",
				"h.yaml:3:19: sources[0].<<: alias *s refers to a node that contains it",
			},
		},
		{
			name: "a list containing itself inside config",
			src:  "version: 1\nname: h\nsources: [{name: a, plugin: file, config: {x: &l [*l]}}]\n" + tail,
			want: []string{"h.yaml:3:51: sources[0].config.x[0]: alias *l refers to a node that contains it"},
		},
		{
			name: "an alias as a key",
			src:  "version: 1\nname: h\nx-a: &a {b: c}\n*a : 1\nsources: [{name: a, plugin: file}]\n" + tail,
			want: []string{"h.yaml:4:1: keys must be strings, got a mapping"},
		},
		{
			name: "deep nesting inside config",
			src:  "version: 1\nname: h\nsources: [{name: a, plugin: file, config: {x: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}}]\n" + tail,
		},
		{
			name: "nesting deeper than the YAML parser allows",
			src:  "version: 1\nname: h\nx: " + strings.Repeat("[", 20000) + "\n",
			want: []string{"h.yaml:3: invalid YAML: exceeded max depth of 10000"},
		},
		{
			name: "a scalar root",
			src:  "just text\n",
			want: []string{"h.yaml:1:1: a pipeline file must be a mapping, got a string"},
		},
		{
			name: "a document marker alone",
			src:  "---\n",
			want: []string{"h.yaml:1:1: empty pipeline file"},
		},
		{
			name: "not UTF-8",
			src:  "version: 1\nname: \xff\xfe\n",
			want: []string{"h.yaml:2:7: invalid UTF-8; pipeline files must be UTF-8"},
		},
		{
			name: "a control character",
			src:  "version: 1\nname: a\x00b\n",
			want: []string{"h.yaml:2:8: character U+0000 is not allowed in YAML"},
		},
		{
			name: "an unterminated quote",
			src:  "version: 1\nname: \"h\n",
			want: []string{"h.yaml:2: invalid YAML: found unexpected end of stream"},
		},
		{
			name: "lone carriage returns end lines",
			src:  "version: 1\rname: h\rsources: [{name: a, plugin: file}]\r" + strings.ReplaceAll(tail, "\n", "\r") + "bogus: 1\r",
			want: []string{`h.yaml:5:1: unknown key "bogus"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ds := Load("h.yaml", []byte(tt.src), lookupTestEnv)
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeKeys checks the precedence of merged keys: keys written in a
// mapping win over merged ones, a merged mapping's own keys over what it
// merges in, and earlier mappings of a merge list over later ones.
func TestMergeKeys(t *testing.T) {
	src := `version: 1
name: merges
x-base: &base {plugin: file, format: csv, schema: base.yaml}
x-mid: &mid {<<: *base, format: raw}
sources:
  - <<: [*mid, {format: json, schema: list.yaml, event_time: ts}]
    name: a
  - <<: *mid
    name: b
    format: csv
sinks: [{name: o, from: [a, b], plugin: stdout}]
`
	p, ds := Load("m.yaml", []byte(src), nil)
	if len(ds) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", render(ds))
	}
	type source struct{ Name, Plugin, Format, Schema, EventTime string }
	var got []source
	for _, s := range p.Sources {
		e := ""
		if s.EventTime != nil {
			e = s.EventTime.Text
		}
		got = append(got, source{s.Name.Value, s.Plugin.Value, s.Format.Value, s.Schema.Value, e})
	}
	want := []source{
		{"a", "file", "raw", "base.yaml", "ts"},
		{"b", "file", "csv", "base.yaml", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
