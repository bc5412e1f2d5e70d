package catalog

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/diag"
)

type nopSink struct{}

func (nopSink) Open(context.Context, sdk.SinkOpenRequest) error { return nil }
func (nopSink) Write(context.Context, sdk.Rows) error           { return nil }
func (nopSink) Close(context.Context) error                     { return nil }

var testPlugin = sdk.Plugin{
	Spec: sdk.Spec{Name: "demo", Kind: sdk.KindSink, Fields: []sdk.FieldSpec{
		{Name: "path", Type: sdk.TypeString, Required: true},
		{Name: "format", Type: sdk.TypeString, Default: "jsonl", Enum: []string{"jsonl", "csv"}},
		{Name: "password", Type: sdk.TypeString, Secret: true, Enum: []string{"a"}},
		{Name: "retries", Type: sdk.TypeInt, Default: int64(3)},
		{Name: "ratio", Type: sdk.TypeFloat},
		{Name: "on", Type: sdk.TypeBool},
		{Name: "every", Type: sdk.TypeDuration},
		{Name: "brokers", Type: sdk.TypeList, Elem: sdk.TypeString},
		{Name: "tls", Type: sdk.TypeObject, Fields: []sdk.FieldSpec{{Name: "ca", Type: sdk.TypeString, Required: true}}},
		{Name: "fields", Type: sdk.TypeObject},
	}},
	NewSink: func() sdk.Sink { return nopSink{} },
	Validate: func(config []byte) []sdk.Diagnostic {
		var c struct {
			Brokers []string
			Fields  map[string]any
		}
		_ = json.Unmarshal(config, &c)
		var ds []sdk.Diagnostic
		for i, b := range c.Brokers {
			if !strings.Contains(b, ":") {
				ds = append(ds, sdk.Diagnostic{Path: "brokers[" + string(rune('0'+i)) + "]", Msg: "want host:port"})
			}
		}
		if _, ok := c.Fields["bad"]; ok {
			ds = append(ds, sdk.Diagnostic{Path: "fields.bad", Msg: "does not compile"})
		}
		if _, ok := c.Fields["block"]; ok {
			ds = append(ds, sdk.Diagnostic{Path: "fields.block", Msg: "must be a list"})
		}
		return ds
	},
}

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // rendered diagnostics
		json       string   // the config handed to the plugin, when valid
	}{
		{"defaults filled", `{path: out.jsonl}`, nil, `{"format":"jsonl","path":"out.jsonl","retries":3}`},
		{"all types", `{path: p, ratio: 2, on: true, every: 5s, brokers: [a:1], tls: {ca: x}, fields: {a: "i * 2"}}`, nil,
			`{"brokers":["a:1"],"every":"5s","fields":{"a":"i * 2"},"format":"jsonl","on":true,"path":"p","ratio":2,"retries":3,"tls":{"ca":"x"}}`},
		{"absent block", ``, []string{"p.yaml:1:1: sinks[0].config: missing required key \"path\""}, ""},
		{"unknown key with hint", `{path: p, fromat: csv}`, []string{`p.yaml:1:11: sinks[0].config: unknown key "fromat" (did you mean "format"?)`}, ""},
		{"enum", `{path: p, format: parquet}`, []string{`p.yaml:1:19: sinks[0].config.format: "parquet" must be one of [jsonl csv]`}, ""},
		{"secret enum does not echo", `{path: p, password: hunter2}`, []string{`p.yaml:1:21: sinks[0].config.password: must be one of [a]`}, ""},
		{"wrong types", `{path: [x], retries: many, ratio: x, on: yes please, every: soon, brokers: a}`, []string{
			`p.yaml:1:8: sinks[0].config.path: must be a string`,
			`p.yaml:1:22: sinks[0].config.retries: must be an integer`,
			`p.yaml:1:35: sinks[0].config.ratio: must be a number`,
			`p.yaml:1:42: sinks[0].config.on: must be true or false`,
			`p.yaml:1:61: sinks[0].config.every: must be a duration such as "90s" or "5m"`,
			`p.yaml:1:76: sinks[0].config.brokers: must be a list`,
		}, ""},
		{"nested required", `{path: p, tls: {}}`, []string{`p.yaml:1:16: sinks[0].config.tls: missing required key "ca"`}, ""},
		{"plugin diagnostics placed", "path: p\nbrokers: [a:1, nope]\nfields:\n  bad: x +\n", []string{
			`p.yaml:2:16: sinks[0].config.brokers[1]: want host:port`,
			`p.yaml:4:8: sinks[0].config.fields.bad: does not compile`,
		}, ""},
		{"diagnostics on a block value placed at its key", "path: p\nfields:\n  block:\n    a: 1\n", []string{
			`p.yaml:3:3: sinks[0].config.fields.block: must be a list`,
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var node *yaml.Node
			if tc.yaml != "" {
				var doc yaml.Node
				if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
					t.Fatal(err)
				}
				node = doc.Content[0]
			}
			cfg, ds := CheckConfig(testPlugin, node, "p.yaml", diag.Pos{File: "p.yaml", Line: 1, Col: 1}, "sinks[0].config")
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if tc.json != "" && string(cfg.JSON) != tc.json {
				t.Errorf("config JSON %s, want %s", cfg.JSON, tc.json)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		plugins []sdk.Plugin
		want    string
	}{
		{"bad name", []sdk.Plugin{{Spec: sdk.Spec{Name: "Bad-Name", Kind: sdk.KindSink}, NewSink: testPlugin.NewSink}}, `plugin name "Bad-Name" must match ^[a-z][a-z0-9_]*$`},
		{"kind without constructor", []sdk.Plugin{{Spec: sdk.Spec{Name: "x", Kind: sdk.KindSource}}}, "plugin x: no constructor for kind source"},
		{"duplicate", []sdk.Plugin{testPlugin, testPlugin}, "plugin sink demo registered twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.plugins...); err == nil || err.Error() != tc.want {
				t.Errorf("New: %v, want %s", err, tc.want)
			}
		})
	}
	c, err := New(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup(sdk.KindSink, "demo"); !ok {
		t.Error("Lookup(sink, demo) found nothing")
	}
	if _, ok := c.Lookup(sdk.KindSource, "demo"); ok {
		t.Error("Lookup(source, demo) found the sink")
	}
}
