package plan_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/plan"
)

// scaleOutCatalog has a source that shares its partitions, one that does
// not, a sink that keeps instances apart and one that does not.
func scaleOutCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	src := func(name string, shares bool) sdk.Plugin {
		return sdk.Plugin{Spec: sdk.Spec{Name: name, Kind: sdk.KindSource, ScaleOut: shares}, NewSource: func() sdk.Source { return nil }}
	}
	sink := func(name string, instances bool) sdk.Plugin {
		return sdk.Plugin{Spec: sdk.Spec{Name: name, Kind: sdk.KindSink, Instances: instances}, NewSink: func() sdk.Sink { return nil }}
	}
	cat, err := catalog.New(src("topic", true), src("files", false), sink("lake", true), sink("log", false))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestScaleOutChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		pipeline string
		want     []string // diagnostics, in order; none: it compiles
	}{{
		name: "ok",
		pipeline: `sources: [{name: in, plugin: topic, scale_out: true}]
sinks: [{name: out, from: in, plugin: lake}]
dead_letter: {plugin: lake}`,
	}, {
		name: "without scale_out anything goes",
		pipeline: `sources: [{name: in, plugin: files}, {name: more, plugin: topic}]
sinks: [{name: out, from: in, plugin: log}, {name: out2, from: more, plugin: log}]`,
	}, {
		name: "a source that cannot share",
		pipeline: `sources: [{name: in, plugin: files, scale_out: true}]
sinks: [{name: out, from: in, plugin: lake}]`,
		want: []string{"p.yaml:3:48: sources[0].scale_out: plugin files cannot share its partitions among processes; plugins that can: topic"},
	}, {
		name: "a second source",
		pipeline: `sources: [{name: in, plugin: topic, scale_out: true}, {name: more, plugin: files}]
sinks: [{name: out, from: in, plugin: lake}, {name: out2, from: more, plugin: lake}]`,
		want: []string{"p.yaml:3:55: sources[1]: source more: with scale_out on source in, every process would read all of more; a scaled-out pipeline has one source"},
	}, {
		name: "sinks that cannot keep instances apart",
		pipeline: `sources: [{name: in, plugin: topic, scale_out: true}]
sinks: [{name: out, from: in, plugin: log}]
dead_letter: {plugin: log}`,
		want: []string{
			"p.yaml:4:39: sinks[0].plugin: sink out: plugin log cannot take the rows of several partitions side by side, as source in's scale_out needs; plugins that can: lake",
			"p.yaml:5:23: dead_letter.plugin: dead_letter: plugin log cannot take the rows of several partitions side by side, as source in's scale_out needs; plugins that can: lake",
		},
	}, {
		name: "not a boolean",
		pipeline: `sources: [{name: in, plugin: topic, scale_out: yes please}]
sinks: [{name: out, from: in, plugin: lake}]`,
		want: []string{"p.yaml:3:48: sources[0].scale_out: expected a boolean, got a string"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "version: 1\nname: p\n" + tc.pipeline + "\n"
			p, ds := config.Load(filepath.Join(t.TempDir(), "p.yaml"), []byte(src), nil)
			if p != nil {
				_, pds := plan.Compile(p, scaleOutCatalog(t), config.Stream)
				ds = append(ds, pds...)
			}
			var got []string
			for _, d := range ds {
				s := d.String()
				got = append(got, s[strings.LastIndex(s, "p.yaml"):])
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
