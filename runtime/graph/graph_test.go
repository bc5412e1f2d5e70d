package graph

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// load parses a pipeline written in a test; it must load cleanly.
func load(t *testing.T, src string) *config.Pipeline {
	t.Helper()
	p, ds := config.Load("p.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if len(ds) > 0 {
		t.Fatalf("config.Load:\n%s", render(ds))
	}
	return p
}

func render(ds diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func names(ns []*Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

const head = "version: 1\nname: g\n"

func TestBuild(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		wantDiags []string
		wantOrder []string
	}{
		{
			name: "a straight line",
			src: head + `sources: [{name: src, plugin: file}]
transforms:
  - {name: valid, from: src, filter: x > 0}
sinks: [{name: out, from: valid, plugin: stdout}]
`,
			wantOrder: []string{"src", "valid", "out"},
		},
		{
			name: "an unknown stage, with a hint that also counts as the edge",
			src: head + `sources: [{name: src, plugin: file}]
transforms:
  - {name: valid, from: src, filter: x > 0}
sinks: [{name: out, from: valdi, plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:6:27: sinks[0].from[0]: unknown stage "valdi" (did you mean "valid"?)`},
			wantOrder: []string{"src", "valid", "out"},
		},
		{
			name: "an unknown stage without a hint leaves its input unused",
			src: head + `sources: [{name: src, plugin: file}]
sinks: [{name: out, from: [nowhere_at_all], plugin: stdout}]
`,
			wantDiags: []string{
				`p.yaml:3:11: sources[0]: source "src" reaches no sink`,
				`p.yaml:4:28: sinks[0].from[0]: unknown stage "nowhere_at_all"`,
			},
			wantOrder: []string{"src", "out"},
		},
		{
			name: "a sink read as an input",
			src: head + `sources: [{name: src, plugin: file}]
transforms:
  - {name: again, from: [src, out], filter: "true"}
sinks:
  - {name: out, from: src, plugin: stdout}
  - {name: out2, from: again, plugin: stdout}
`,
			wantDiags: []string{`p.yaml:5:31: transforms[0].from[1]: "out" is a sink; only sources and transforms can be read from`},
			wantOrder: []string{"src", "again", "out", "out2"},
		},
		{
			name: "an input listed twice",
			src: head + `sources: [{name: src, plugin: file}]
sinks: [{name: out, from: [src, src], plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:4:33: sinks[0].from[1]: "src" is listed twice`},
			wantOrder: []string{"src", "out"},
		},
		{
			name: "a cycle of two",
			src: head + `sources: [{name: src, plugin: file}]
transforms:
  - name: a
    from: [src, b]
    filter: x > 0
  - name: b
    from: a
    map: {x: x}
sinks: [{name: out, from: b, plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:6:17: transforms[0].from[1]: cycle: a -> b -> a`},
			wantOrder: []string{"src", "a", "b", "out"},
		},
		{
			name: "a cycle of three, reported once, from its first stage in the file",
			src: head + `sources: [{name: src, plugin: file}]
sinks: [{name: out, from: c, plugin: stdout}]
transforms:
  - {name: c, from: [b, src], filter: x > 0}
  - {name: a, from: c, filter: x > 0}
  - {name: b, from: a, filter: x > 0}
`,
			wantDiags: []string{`p.yaml:6:22: transforms[0].from[0]: cycle: c -> a -> b -> c`},
			wantOrder: []string{"src", "out", "c", "a", "b"},
		},
		{
			name: "a stage reading itself",
			src: head + `sources: [{name: src, plugin: file}]
transforms:
  - {name: loop, from: [src, loop], filter: x > 0}
sinks: [{name: out, from: loop, plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:5:30: transforms[0].from[1]: cycle: loop -> loop`},
			wantOrder: []string{"src", "loop", "out"},
		},
		{
			name: "stages that reach no sink",
			src: head + `sources:
  - {name: src, plugin: file}
  - {name: unused, plugin: file}
transforms:
  - {name: kept, from: src, filter: x > 0}
  - {name: dead, from: src, filter: x < 0}
  - {name: deader, from: dead, filter: x < 0}
sinks: [{name: out, from: kept, plugin: stdout}]
`,
			wantDiags: []string{
				`p.yaml:5:5: sources[1]: source "unused" reaches no sink`,
				`p.yaml:8:5: transforms[1]: transform "dead" reaches no sink`,
				`p.yaml:9:5: transforms[2]: transform "deader" reaches no sink`,
			},
			wantOrder: []string{"src", "unused", "kept", "dead", "deader", "out"},
		},
		{
			name: "topological order, ties in file order, sinks written first",
			src: head + `sources: [{name: src, plugin: file}]
sinks: [{name: out, from: joined, plugin: stdout}]
transforms:
  - {name: joined, from: [right, left], filter: x > 0}
  - {name: right, from: src, filter: x > 0}
  - {name: left, from: src, filter: x > 0}
`,
			wantOrder: []string{"src", "right", "left", "joined", "out"},
		},
		{
			name: "lateness keeping many tumbling windows open",
			src: head + `sources: [{name: src, plugin: file, watermark: {lateness: 1h}}]
transforms:
  - name: per_minute
    from: src
    window: {tumbling: 1m}
    aggregate: {n: count()}
sinks: [{name: out, from: per_minute, plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:7:13: warning: transforms[0].window: lateness 1h0m0s on 1m0s windows keeps 60 windows open per key`},
			wantOrder: []string{"src", "per_minute", "out"},
		},
		{
			name: "sliding windows count by slide, with allowed lateness, from the latest source",
			src: head + `sources:
  - {name: a, plugin: file, watermark: {lateness: 10m}}
  - {name: b, plugin: file, watermark: {lateness: 30m}}
transforms:
  - name: sliding
    from: [a, b]
    window: {sliding: {size: 10m, slide: 1m}}
    aggregate: {n: count()}
    allowed_lateness: 20m
sinks: [{name: out, from: sliding, plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:9:13: warning: transforms[0].window: lateness 50m0s on 1m0s windows keeps 50 windows open per key`},
			wantOrder: []string{"a", "b", "sliding", "out"},
		},
		{
			name: "49 windows open is fine, and sessions are not counted",
			src: head + `sources: [{name: src, plugin: file, watermark: {lateness: 49m}}]
transforms:
  - {name: tumbling, from: src, window: {tumbling: 1m}, aggregate: {n: count()}}
  - {name: session, from: src, window: {session: {gap: 1s}}, aggregate: {n: count()}}
  - {name: upstream, from: tumbling, window: {tumbling: 1s}, aggregate: {n: count()}}
sinks: [{name: out, from: [session, upstream], plugin: stdout}]
`,
			wantDiags: []string{`p.yaml:7:46: warning: transforms[2].window: lateness 49m0s on 1s windows keeps 2940 windows open per key`},
			wantOrder: []string{"src", "tumbling", "session", "upstream", "out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, ds := Build(load(t, tt.src))
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tt.wantDiags, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOrder, names(g.Nodes)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			checkEdges(t, g)
		})
	}
}

// checkEdges checks that Inputs and Outputs mirror each other.
func checkEdges(t *testing.T, g *Graph) {
	t.Helper()
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if !contains(in.Outputs, n) {
				t.Errorf("%s reads %s, which does not list it as an output", n.Name, in.Name)
			}
		}
		for _, out := range n.Outputs {
			if !contains(out.Inputs, n) {
				t.Errorf("%s feeds %s, which does not list it as an input", n.Name, out.Name)
			}
		}
	}
}

func TestSourcesAndNode(t *testing.T) {
	g, ds := Build(load(t, head+`sources:
  - {name: a, plugin: file}
  - {name: b, plugin: file}
  - {name: c, plugin: file}
transforms:
  - {name: ab, from: [b, a], filter: x > 0}
  - {name: abc, from: [ab, c], filter: x > 0}
sinks: [{name: out, from: abc, plugin: stdout}]
`))
	if len(ds) > 0 {
		t.Fatalf("Build:\n%s", render(ds))
	}
	tests := []struct {
		node string
		want []string
	}{
		{"a", []string{"a"}},
		{"ab", []string{"a", "b"}},
		{"abc", []string{"a", "b", "c"}},
		{"out", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		n := g.Node(tt.node)
		if n == nil {
			t.Fatalf("Node(%q) = nil", tt.node)
		}
		if n.Name != tt.node {
			t.Errorf("Node(%q).Name = %q", tt.node, n.Name)
		}
		if diff := cmp.Diff(tt.want, names(g.Sources(n))); diff != "" {
			t.Errorf("Sources(%s) (-want +got):\n%s", tt.node, diff)
		}
	}
	if n := g.Node("missing"); n != nil {
		t.Errorf("Node(missing) = %v, want nil", n.Name)
	}
	ab := g.Node("ab")
	if diff := cmp.Diff([]string{"b", "a"}, names(ab.Inputs)); diff != "" {
		t.Errorf("ab.Inputs keep the from order (-want +got):\n%s", diff)
	}
	if ab.Kind != TransformNode || ab.Transform == nil || ab.Source != nil || ab.Sink != nil {
		t.Errorf("ab: kind %v, transform %v", ab.Kind, ab.Transform != nil)
	}
}

func TestBuildNil(t *testing.T) {
	g, ds := Build(nil)
	if g == nil || len(g.Nodes) != 0 || len(ds) != 0 {
		t.Errorf("Build(nil) = %v, %v", g, ds)
	}
}

// TestBuildWithConfigErrors builds a pipeline that failed to load cleanly:
// it must not panic, and must not repeat what the loader said.
func TestBuildWithConfigErrors(t *testing.T) {
	src := head + `sources:
  - {name: src, plugin: file}
  - {plugin: file}
  - {name: src, plugin: file}
transforms:
  - {name: t, from: [], filter: x}
  - {name: u, from: [7], map: {}}
sinks: [{name: out, from: [src, t, u], plugin: stdout}]
`
	p, cds := config.Load("p.yaml", []byte(src), nil)
	if !cds.HasErrors() {
		t.Fatal("config.Load found no errors")
	}
	g, ds := Build(p)
	want := []string{
		`p.yaml:6:5: sources[2]: source "src" reaches no sink`,
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(g.Nodes) != 6 {
		t.Errorf("got %d nodes, want 6", len(g.Nodes))
	}
}

func TestDraw(t *testing.T) {
	p, ds := config.LoadFile("testdata/revenue.yaml")
	if len(ds) > 0 {
		t.Fatalf("config.LoadFile:\n%s", render(ds))
	}
	g, ds := Build(p)
	if len(ds) > 0 {
		t.Fatalf("Build:\n%s", render(ds))
	}
	for _, tt := range []struct{ golden, got string }{
		{"testdata/revenue.dot", g.DOT()},
		{"testdata/revenue.mmd", g.Mermaid()},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			if *update {
				if err := os.WriteFile(tt.golden, []byte(tt.got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	if got, want := dotQuote("a\"b\\c\nd"), `"a\"b\\c\nd"`; got != want {
		t.Errorf("dotQuote = %s, want %s", got, want)
	}
	if got, want := mermaidQuote(`a"<b>`), "a#quot;#lt;b#gt;"; got != want {
		t.Errorf("mermaidQuote = %s, want %s", got, want)
	}
	for d, want := range map[string]string{"1h": "1h", "90m": "1h30m", "5m": "5m", "30s": "30s", "1h0m1s": "1h0m1s"} {
		dur, _ := time.ParseDuration(d)
		if got := short(dur); got != want {
			t.Errorf("short(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestEnvNamesHidden checks that a stage name from the environment is not
// printed: it may be a secret.
func TestEnvNamesHidden(t *testing.T) {
	src := head + `sources: [{name: src, plugin: file}]
sinks: [{name: out, from: [src, "${STAGE}"], plugin: stdout}]
`
	p, cds := config.Load("p.yaml", []byte(src), func(k string) (string, bool) { return "srcc", k == "STAGE" })
	if len(cds) > 0 {
		t.Fatalf("config.Load:\n%s", render(cds))
	}
	_, ds := Build(p)
	want := "p.yaml:4:33: sinks[0].from[1]: unknown stage (from ${STAGE})\n"
	if got := render(ds); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
