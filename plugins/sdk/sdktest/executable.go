package sdktest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
)

// Cases gives the conformance suite what it needs to exercise the plugins
// of an executable, by plugin name: a valid config, configs it must
// reject, and for sinks and transforms the rows to write. In YAML (see
// ReadCases) a case file looks like
//
//	sources:
//	  echo:
//	    config: {count: 3}
//	    format: json
//	    bad:
//	      negative_count: {count: -1}
//	sinks:
//	  echo:
//	    config: {path: "{tempdir}/out.jsonl"}
//	    columns: [id, name]
//	    rows: [[1, a], [2, b]]
//	transforms:
//	  upper:
//	    config: {field: name}
//	    columns: [id, name]
//	    rows: [[1, a]]
//
// In a sink's config, "{tempdir}" stands for a new empty folder for each
// check.
type Cases struct {
	Sources    map[string]ExecCase `yaml:"sources"`
	Sinks      map[string]ExecCase `yaml:"sinks"`
	Transforms map[string]ExecCase `yaml:"transforms"`
}

// ExecCase is the case of one plugin of an executable.
type ExecCase struct {
	Config  any            `yaml:"config"`
	Format  string         `yaml:"format"`  // sources: OpenRequest.Format; default json
	Bad     map[string]any `yaml:"bad"`     // configs to reject, by name
	Columns []string       `yaml:"columns"` // sinks and transforms
	Rows    [][]any        `yaml:"rows"`    // sinks and transforms
}

// ReadCases reads a case file (see Cases).
func ReadCases(path string) (Cases, error) {
	var c Cases
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err != io.EOF {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// RunExecutable runs the conformance suite against a plugin executable,
// as a host runs it: started by go-plugin with AutoMTLS, reached over the
// plugin protocol. Its subtests are
//
//   - "handshake": the executable starts, speaks a protocol version this
//     SDK speaks and serves at least one plugin, each with a well-formed
//     spec;
//   - one per plugin, "source NAME", "sink NAME" or "transform NAME":
//     RunSource, RunSink or RunTransform with the plugin's case, on the
//     plugin in the executable (subtests "in-process", since the suite
//     uses it as the host uses a plugin value) and again re-served through
//     go-plugin in the test process ("go-plugin"); a plugin without a case
//     gets only its spec checked and the rest skipped;
//   - "shutdown": when the host closes the connection, the process exits
//     by itself, with status 0, within two seconds.
func RunExecutable(t *testing.T, path string, cases Cases) {
	t.Helper()
	var (
		client  *plugin.Client
		cmd     *exec.Cmd
		plugins []sdk.Plugin
	)
	ok := t.Run("handshake", func(t *testing.T) {
		cmd = exec.Command(path)
		cfg := pluginrpc.ClientConfig(cmd)
		cfg.AutoMTLS = true
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off})
		cfg.Stderr = &logWriter{t: t}
		client = plugin.NewClient(cfg)
		cp, err := client.Client()
		if err != nil {
			t.Fatalf("start %s: %v", path, err)
		}
		t.Logf("protocol version %d", client.NegotiatedVersion())
		c, err := pluginrpc.Dispense(cp)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), runLimit)
		defer cancel()
		if plugins, err = c.Plugins(ctx); err != nil {
			t.Fatalf("specs: %v", err)
		}
		if len(plugins) == 0 {
			t.Fatal("the executable serves no plugin")
		}
		for _, p := range plugins {
			if err := p.Spec.Check(); err != nil {
				t.Errorf("spec: %v", err)
			}
			t.Logf("serves %s %s %s", p.Spec.Kind, p.Spec.Name, p.Spec.Version)
		}
	})
	if client != nil {
		defer client.Kill()
	}
	if !ok {
		return
	}
	slices.SortFunc(plugins, func(a, b sdk.Plugin) int {
		return cmp.Or(cmp.Compare(a.Spec.Kind, b.Spec.Kind), cmp.Compare(a.Spec.Name, b.Spec.Name))
	})
	for _, p := range plugins {
		t.Run(string(p.Spec.Kind)+" "+p.Spec.Name, func(t *testing.T) { runCase(t, p, cases) })
	}
	t.Run("shutdown", func(t *testing.T) {
		start := time.Now()
		client.Kill()
		took := time.Since(start)
		// go-plugin kills a process that is not gone two seconds after
		// the connection closed.
		if st := cmd.ProcessState; st == nil || !st.Success() || took >= 2*time.Second {
			t.Errorf("the process did not exit by itself when the host closed the connection (%v after %s)", st, took.Round(time.Millisecond))
		}
	})
}

// runCase runs the suite of p's kind with its case, or checks its spec
// alone if it has none.
func runCase(t *testing.T, p sdk.Plugin, cases Cases) {
	byKind := map[sdk.Kind]map[string]ExecCase{
		sdk.KindSource: cases.Sources, sdk.KindSink: cases.Sinks, sdk.KindTransform: cases.Transforms,
	}
	c, ok := byKind[p.Spec.Kind][p.Spec.Name]
	if !ok {
		t.Run("spec", func(t *testing.T) { checkSpec(t, p.Spec, p.Spec.Kind) })
		t.Skipf("no case for the %s %s: give one in a case file for the other checks", p.Spec.Kind, p.Spec.Name)
	}
	config := mustJSON(t, c.Config)
	bad := make(map[string][]byte, len(c.Bad))
	for name, b := range c.Bad {
		bad[name] = mustJSON(t, b)
	}
	rows := make([][]any, len(c.Rows))
	for i, r := range c.Rows {
		rows[i] = make([]any, len(r))
		for j, v := range r {
			rows[i][j] = sdkValue(v)
		}
	}
	switch p.Spec.Kind {
	case sdk.KindSource:
		RunSource(t, SourceCase{Plugin: p, Config: config, Format: cmp.Or(c.Format, "json"), BadConfigs: bad})
	case sdk.KindSink:
		RunSink(t, SinkCase{
			Plugin:     p,
			Config:     func(t *testing.T) []byte { return withTempDir(t, config) },
			Columns:    c.Columns,
			Rows:       rows,
			BadConfigs: bad,
		})
	case sdk.KindTransform:
		RunTransform(t, TransformCase{Plugin: p, Config: config, Columns: c.Columns, Rows: rows, BadConfigs: bad})
	}
}

// mustJSON encodes a config from a case file as JSON; absent is {}.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	if v == nil {
		return []byte("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("case config: %v", err)
	}
	return b
}

// withTempDir replaces "{tempdir}" in config with a new folder.
func withTempDir(t *testing.T, config []byte) []byte {
	q := strconv.Quote(t.TempDir())
	return bytes.ReplaceAll(config, []byte("{tempdir}"), []byte(q[1:len(q)-1]))
}

// sdkValue turns a value decoded from YAML into one of the SDK's value
// types: integers become int64.
func sdkValue(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sdkValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = sdkValue(e)
		}
		return out
	}
	return v
}

// logWriter logs what a plugin process writes to its stderr.
type logWriter struct {
	t   *testing.T
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.t.Logf("plugin stderr: %s", line)
		}
		w.buf = w.buf[i+1:]
	}
}

// Main runs RunExecutable with go test's machinery in this process and
// exits: 0 when every check passed. Its output on standard output is go
// test -v's in test2json framing, which Report reads; the checks re-served
// through go-plugin are left out, since the executable is already reached
// through it. timeout bounds the whole run. flowctl plugin test runs it in
// a process of its own.
func Main(path string, cases Cases, timeout time.Duration) {
	testing.Init()
	for name, value := range map[string]string{
		"test.v":       "test2json",
		"test.skip":    "//^go-plugin$",
		"test.timeout": timeout.String(),
	} {
		if err := flag.Set(name, value); err != nil {
			panic(err)
		}
	}
	testing.Main(regexp.MatchString, []testing.InternalTest{{
		Name: "conformance",
		F:    func(t *testing.T) { RunExecutable(t, path, cases) },
	}}, nil, nil)
}
