package config

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/diag"
)

// astBuilder makes expected AST values for one file.
type astBuilder struct{ file string }

func (b astBuilder) at(line, col int) diag.Pos { return diag.Pos{File: b.file, Line: line, Col: col} }

func (b astBuilder) str(v string, line, col int) String {
	return String{Value: v, Pos: b.at(line, col)}
}

func (b astBuilder) dur(v time.Duration, line, col int) Duration {
	return Duration{Value: v, Pos: b.at(line, col), Set: true}
}

// expr is a one-line plain expression.
func (b astBuilder) expr(text string, line, col int) Expr {
	return Expr{Text: text, Pos: b.at(line, col), Lines: []diag.Pos{b.at(line, col)}}
}

func (b astBuilder) exprp(text string, line, col int) *Expr {
	e := b.expr(text, line, col)
	return &e
}

func (b astBuilder) mapField(name string, line, col int, text string, eline, ecol int) MapField {
	return MapField{Name: b.str(name, line, col), Expr: b.expr(text, eline, ecol)}
}

// ref is a plugin reference with its default isolation.
func (b astBuilder) ref(line, col int, plugin String, config *yaml.Node) PluginRef {
	return PluginRef{Pos: b.at(line, col), Plugin: plugin, Config: config, Isolation: b.str("out-of-process", line, col)}
}

// cfg is an expected config block; it compares by decoded value.
func cfg(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		panic(err)
	}
	return &n
}

// astOpts compares config blocks by the value they decode to.
var astOpts = cmp.Options{
	cmpopts.IgnoreUnexported(Pipeline{}),
	cmpopts.EquateEmpty(),
	cmp.Transformer("decode", func(n *yaml.Node) any {
		if n == nil {
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return err.Error()
		}
		return v
	}),
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		file string
		want func(b astBuilder) *Pipeline
	}{
		{"testdata/minimal.good.yaml", func(b astBuilder) *Pipeline {
			return &Pipeline{
				File: b.file, Dir: "testdata", Version: 1, VersionPos: b.at(1, 10),
				Name: b.str("minimal", 2, 7),
				Mode: b.str("batch", 2, 1),
				Sources: []*Source{{
					Pos: b.at(4, 5), Name: b.str("events", 4, 11),
					PluginRef: b.ref(4, 5, b.str("file", 5, 13), cfg(map[string]any{"path": "in.jsonl"})),
					Format:    b.str("json", 4, 5),
				}},
				Sinks: []*Sink{{
					Pos: b.at(8, 5), Name: b.str("out", 8, 11),
					From:      []String{b.str("events", 9, 11)},
					PluginRef: b.ref(8, 5, b.str("stdout", 10, 13), nil),
				}},
				Checkpoint: Checkpoint{
					Pos:   b.at(2, 1),
					Dir:   b.str(".flowctl/minimal", 2, 1),
					Every: Duration{Value: 10 * time.Second, Pos: b.at(2, 1)},
				},
			}
		}},
		{"testdata/design.good.yaml", func(b astBuilder) *Pipeline {
			return &Pipeline{
				File: b.file, Dir: "testdata", Version: 1, VersionPos: b.at(1, 10),
				Name:    b.str("hourly_revenue", 2, 7),
				Mode:    b.str("stream", 3, 7),
				Trigger: &Trigger{Pos: b.at(4, 10), Every: b.dur(30*time.Second, 4, 18)},
				Sources: []*Source{{
					Pos: b.at(7, 5), Name: b.str("payments", 7, 11),
					PluginRef: b.ref(7, 5, b.str("kafka", 8, 13), cfg(map[string]any{
						"brokers": []any{"127.0.0.1:9092"}, "topic": "payments.v1", "group": "hourly_revenue",
					})),
					Format:    b.str("json", 13, 13),
					Schema:    b.str("../schemas/payments.v1.yaml", 14, 13),
					SchemaAbs: "schemas/payments.v1.yaml",
					EventTime: b.exprp("event_time", 15, 17),
					Watermark: Watermark{
						Lateness:    b.dur(5*time.Minute, 17, 17),
						IdleTimeout: b.dur(time.Minute, 18, 21),
					},
				}},
				Transforms: []*Transform{
					{
						Pos: b.at(21, 5), Name: b.str("valid", 21, 11),
						From:   []String{b.str("payments", 22, 11)},
						Filter: b.exprp(`amount > 0 && store_id != ""`, 23, 13),
					},
					{
						Pos: b.at(24, 5), Name: b.str("shaped", 24, 11),
						From: []String{b.str("valid", 25, 11)},
						Map: []MapField{
							b.mapField("store", 27, 7, "upper(store_id)", 27, 14),
							b.mapField("amount", 28, 7, "amount", 28, 15),
							b.mapField("event_time", 29, 7, "event_time", 29, 19),
						},
					},
					{
						Pos: b.at(30, 5), Name: b.str("hourly", 30, 11),
						From:    []String{b.str("shaped", 31, 11)},
						Window:  &Window{Pos: b.at(32, 13), Kind: Tumbling, Size: b.dur(time.Hour, 32, 24)},
						GroupBy: []String{b.str("store", 33, 16)},
						Aggregate: []MapField{
							b.mapField("revenue", 35, 7, "sum(amount)", 35, 16),
							b.mapField("orders", 36, 7, "count()", 36, 15),
							b.mapField("avg_ticket", 37, 7, "avg(amount)", 37, 19),
						},
						Emit:            b.str("final", 38, 11),
						AllowedLateness: b.dur(10*time.Minute, 39, 23),
						Late:            b.str("dead_letter", 40, 11),
					},
				},
				Sinks: []*Sink{{
					Pos: b.at(43, 5), Name: b.str("lake", 43, 11),
					From: []String{b.str("hourly", 44, 11)},
					PluginRef: b.ref(43, 5, b.str("parquet", 45, 13), cfg(map[string]any{
						"path": "lake/silver/hourly_revenue", "partition_by": []any{"window_start"},
					})),
					Key: []String{b.str("store", 47, 11), b.str("window_start", 47, 18)},
				}},
				DeadLetter: &PluginRef{
					Pos: b.at(50, 3), Plugin: b.str("file", 50, 11),
					Config:    cfg(map[string]any{"path": "out/dead_letter.jsonl"}),
					Isolation: b.str("out-of-process", 50, 3),
				},
				Checkpoint: Checkpoint{
					Pos:   b.at(54, 3),
					Dir:   b.str(".flowctl/hourly_revenue", 54, 8),
					Every: b.dur(10*time.Second, 55, 10),
				},
			}
		}},
		{"testdata/windows.good.yaml", func(b astBuilder) *Pipeline {
			return &Pipeline{
				File: b.file, Dir: "testdata", Version: 1, VersionPos: b.at(1, 10),
				Name:    b.str("windows", 2, 7),
				Mode:    b.str("micro-batch", 3, 7),
				Trigger: &Trigger{Pos: b.at(4, 10), AvailableNow: Bool{Value: true, Pos: b.at(4, 26), Set: true}},
				Sources: []*Source{
					{
						Pos: b.at(6, 5), Name: b.str("clicks", 6, 11),
						PluginRef: b.ref(6, 5, b.str("generate", 7, 13), nil),
						Format:    b.str("json", 6, 5),
						EventTime: b.exprp("ts", 8, 17),
						Watermark: Watermark{Lateness: b.dur(0, 9, 27), IdleTimeout: b.dur(30*time.Second, 9, 44)},
					},
					{
						Pos: b.at(10, 5), Name: b.str("views", 10, 11),
						PluginRef: b.ref(10, 5, b.str("generate", 11, 13), nil),
						Format:    b.str("csv", 12, 13),
						EventTime: b.exprp("ts", 13, 17),
					},
				},
				Transforms: []*Transform{
					{
						Pos: b.at(15, 5), Name: b.str("sliding", 15, 11),
						From: []String{b.str("clicks", 16, 12), b.str("views", 16, 20)},
						Window: &Window{
							Pos: b.at(17, 13), Kind: Sliding,
							Size: b.dur(time.Hour, 17, 30), Slide: b.dur(5*time.Minute, 17, 41),
						},
						GroupBy:     []String{b.str("user", 18, 15)},
						Aggregate:   []MapField{b.mapField("n", 20, 7, "count()", 20, 10)},
						Emit:        b.str("updates", 21, 11),
						UpdateEvery: b.dur(time.Minute, 22, 19),
						Late:        b.str("drop", 15, 5),
					},
					{
						Pos: b.at(23, 5), Name: b.str("sessions", 23, 11),
						From:    []String{b.str("clicks", 24, 11)},
						Window:  &Window{Pos: b.at(26, 7), Kind: Session, Gap: b.dur(30*time.Minute, 27, 14)},
						GroupBy: []String{b.str("user", 28, 16), b.str("device", 28, 22)},
						Aggregate: []MapField{
							b.mapField("clicks", 29, 17, "count()", 29, 25),
							b.mapField("last_page", 29, 34, "last(page)", 29, 45),
						},
						Emit:            b.str("final", 23, 5),
						AllowedLateness: b.dur(2*time.Minute, 30, 23),
						Late:            b.str("drop", 31, 11),
					},
					{
						Pos: b.at(32, 5), Name: b.str("daily", 32, 11),
						From:      []String{b.str("sliding", 33, 11)},
						Window:    &Window{Pos: b.at(34, 13), Kind: Tumbling, Size: b.dur(24*time.Hour, 34, 24)},
						Aggregate: []MapField{b.mapField("peak", 35, 17, "max(n)", 35, 23)},
						Emit:      b.str("final", 32, 5),
						Late:      b.str("drop", 32, 5),
					},
				},
				Sinks: []*Sink{{
					Pos: b.at(37, 5), Name: b.str("out", 37, 11),
					From:      []String{b.str("daily", 38, 12), b.str("sessions", 38, 19)},
					PluginRef: b.ref(37, 5, b.str("stdout", 39, 13), nil),
					Key:       []String{b.str("window_start", 40, 10)},
				}},
				Checkpoint: Checkpoint{
					Pos:   b.at(2, 1),
					Dir:   b.str(".flowctl/windows", 2, 1),
					Every: Duration{Value: 10 * time.Second, Pos: b.at(2, 1)},
				},
			}
		}},
		{"testdata/anchors.good.yaml", func(b astBuilder) *Pipeline {
			kafka := map[string]any{"brokers": []any{"127.0.0.1:9092"}, "group": "anchors"}
			with := func(topic string) map[string]any {
				m := map[string]any{"topic": topic}
				for k, v := range kafka {
					m[k] = v
				}
				return m
			}
			return &Pipeline{
				File: b.file, Dir: "testdata", Version: 1, VersionPos: b.at(1, 10),
				Name: b.str("anchors", 2, 7),
				Mode: b.str("batch", 2, 1),
				Sources: []*Source{
					{
						Pos: b.at(11, 5), Name: b.str("orders", 12, 11),
						PluginRef: b.ref(11, 5, b.str("kafka", 7, 11), cfg(with("orders"))),
						Format:    b.str("json", 8, 11),
						Watermark: Watermark{Lateness: b.dur(5*time.Minute, 9, 29)},
					},
					{
						Pos: b.at(16, 5), Name: b.str("refunds", 17, 11),
						PluginRef: b.ref(16, 5, b.str("kafka", 7, 11), cfg(with("refunds"))),
						Format:    b.str("csv", 18, 13),
						Watermark: Watermark{Lateness: b.dur(5*time.Minute, 9, 29)},
					},
				},
				Sinks: []*Sink{{
					Pos: b.at(22, 5), Name: b.str("out", 22, 11),
					From:      []String{b.str("orders", 23, 12), b.str("refunds", 23, 20)},
					PluginRef: b.ref(22, 5, b.str("stdout", 24, 13), nil),
				}},
				Checkpoint: Checkpoint{
					Pos:   b.at(2, 1),
					Dir:   b.str(".flowctl/anchors", 2, 1),
					Every: Duration{Value: 10 * time.Second, Pos: b.at(2, 1)},
				},
			}
		}},
		{"testdata/plugins.good.yaml", func(b astBuilder) *Pipeline {
			return &Pipeline{
				File: b.file, Dir: "testdata", Version: 1, VersionPos: b.at(1, 10),
				Name:       b.str("plugins", 2, 7),
				Mode:       b.str("micro-batch", 3, 7),
				Trigger:    &Trigger{Pos: b.at(5, 3), Once: Bool{Value: true, Pos: b.at(5, 9), Set: true}},
				PluginDirs: []String{b.str("bin", 6, 15), b.str("/opt/flowctl/plugins", 6, 20)},
				Sources: []*Source{{
					Pos: b.at(8, 5), Name: b.str("rows", 8, 11),
					PluginRef: PluginRef{
						Pos: b.at(8, 5), Plugin: b.str("postgres", 9, 13),
						Config:    cfg(map[string]any{"dsn": "postgres://localhost/db"}),
						Isolation: b.str("in-process", 10, 16),
					},
					Format:    b.str("json", 8, 5),
					Schema:    b.str("/abs/rows.yaml", 11, 13),
					SchemaAbs: "/abs/rows.yaml",
				}},
				Transforms: []*Transform{{
					Pos: b.at(15, 5), Name: b.str("deduped", 15, 11),
					From: []String{b.str("rows", 16, 11)},
					Plugin: &PluginRef{
						Pos: b.at(17, 5), Plugin: b.str("dedupe", 17, 13),
						Config:    cfg(map[string]any{"key": "id", "within": "1h"}),
						Isolation: b.str("out-of-process", 19, 16),
					},
				}},
				Sinks: []*Sink{{
					Pos: b.at(21, 5), Name: b.str("out", 21, 11),
					From:      []String{b.str("deduped", 22, 11)},
					PluginRef: b.ref(21, 5, b.str("file", 23, 13), cfg(map[string]any{"path": "out.jsonl"})),
					Key:       []String{b.str("id", 25, 11)},
				}},
				DeadLetter: &PluginRef{
					Pos: b.at(27, 3), Plugin: b.str("file", 27, 11),
					Config:    cfg(map[string]any{"path": "dl.jsonl"}),
					Isolation: b.str("in-process", 29, 14),
				},
				Checkpoint: Checkpoint{
					Pos:   b.at(31, 3),
					Dir:   b.str("state", 31, 8),
					Every: Duration{Value: 10 * time.Second, Pos: b.at(31, 3)},
				},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, ds := Load(tt.file, src, lookupTestEnv)
			if len(ds) > 0 {
				t.Fatalf("unexpected diagnostics:\n%s", render(ds))
			}
			if diff := cmp.Diff(tt.want(astBuilder{tt.file}), got, astOpts); diff != "" {
				t.Errorf("AST differs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadEnv checks interpolation: values, retyping of plain scalars,
// escapes, positions, the Env fields and redaction.
func TestLoadEnv(t *testing.T) {
	const file = "testdata/env.good.yaml"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, ds := Load(file, src, lookupTestEnv)
	if len(ds) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", render(ds))
	}
	b := astBuilder{file}
	name := b.str("env_pipeline", 2, 7)
	name.Env = "${PIPELINE_NAME}"
	dir := b.str(".flowctl/env_pipeline", 2, 1)
	dir.Env = "${PIPELINE_NAME}"
	got := struct {
		Name, Dir     String
		Lateness      Duration
		Source, Sink  *yaml.Node
		Redacted      string
		ShortRedacted string
	}{
		p.Name, p.Checkpoint.Dir, p.Sources[0].Watermark.Lateness, p.Sources[0].Config, p.Sinks[0].Config,
		p.Redact("dial user-hunter2-secret: refused"), p.Redact("lateness 5m"),
	}
	want := got
	want.Name, want.Dir = name, dir
	want.Lateness = b.dur(5*time.Minute, 15, 17)
	want.Source = cfg(map[string]any{
		"brokers":   []any{"127.0.0.1:9092"},
		"topic":     "payments.v1",
		"port":      5432,
		"port_text": "5432",
		"escaped":   "${TOPIC} and payments.v1",
		"benthos":   `${! meta("key") }`,
		"empty":     nil,
	})
	want.Sink = cfg(map[string]any{"prefix": "user-hunter2-secret"})
	want.Redacted = "dial user-***: refused"
	want.ShortRedacted = "lateness 5m"
	if diff := cmp.Diff(want, got, astOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two", "E": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want string
		refs     []envRef
	}{
		{"plain", "plain", nil},
		{"${A}", "1", []envRef{{"A", true}}},
		{"x${A}y${B_2}z", "x1ytwoz", []envRef{{"A", true}, {"B_2", true}}},
		{"${E}", "", []envRef{{"E", true}}},
		{"${MISSING}", "", []envRef{{"MISSING", false}}},
		{"$${A}", "${A}", nil},
		{"$${A} ${A}", "${A} 1", []envRef{{"A", true}}},
		{"${! meta(\"k\") }", "${! meta(\"k\") }", nil},
		{"${1A}", "${1A}", nil},
		{"${A", "${A", nil},
		{"${}", "${}", nil},
		{"$A", "$A", nil},
		{"$$", "$$", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, refs, _ := expandEnv(tt.in, lookup)
			if got != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if diff := cmp.Diff(tt.refs, refs, cmp.AllowUnexported(envRef{})); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	p, ds := LoadFile("testdata/minimal.good.yaml")
	if p == nil || len(ds) > 0 {
		t.Fatalf("LoadFile: pipeline %v, diagnostics:\n%s", p != nil, render(ds))
	}
	_, ds = LoadFile("testdata/does-not-exist.yaml")
	if got, want := render(ds), "testdata/does-not-exist.yaml: no such file or directory\n"; got != want {
		t.Errorf("LoadFile of a missing file: got %q, want %q", got, want)
	}
}

func TestLoadNilEnvUsesProcessEnv(t *testing.T) {
	t.Setenv("FLOWCTL_TEST_NAME", "from_process")
	src := []byte("version: 1\nname: ${FLOWCTL_TEST_NAME}\nsources: [{name: a, plugin: file}]\nsinks: [{name: b, from: a, plugin: stdout}]\n")
	p, ds := Load("p.yaml", src, nil)
	if len(ds) > 0 || p.Name.Value != "from_process" {
		t.Errorf("name %q, diagnostics:\n%s", p.Name.Value, render(ds))
	}
}

func TestRedact(t *testing.T) {
	env := map[string]string{"LONG": "hunter2-and-more", "SHORT": "hunter2", "TINY": "abc"}
	src := `version: 1
name: r
sources:
  - name: a
    plugin: file
    config: {a: "${SHORT}", b: "${LONG}", c: "${TINY}", d: "${SHORT}"}
sinks: [{name: o, from: a, plugin: stdout}]
`
	p, ds := Load("r.yaml", []byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if len(ds) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", render(ds))
	}
	tests := []struct{ in, want string }{
		{"dial hunter2-and-more: refused", "dial ***: refused"},
		{"user hunter2, again hunter2", "user ***, again ***"},
		{"abc is too short to hide", "abc is too short to hide"},
		{"nothing secret", "nothing secret"},
	}
	for _, tt := range tests {
		if got := p.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilPipeline *Pipeline
	if got := nilPipeline.Redact("x"); got != "x" {
		t.Errorf("nil Redact = %q", got)
	}
}
