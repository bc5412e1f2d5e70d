package sdktest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
)

// The conformance suite (RunSource, RunSink, RunTransform) runs its checks twice, as
// subtests "in-process" and "go-plugin": once on the plugin's own
// constructor and once through the plugin transport, served by
// pluginrpc.ServeConfig inside the test process and reached with a
// go-plugin reattach client, as the host reaches a plugin executable.

// runLimit bounds one check, such as reading a source to its end.
const runLimit = 30 * time.Second

// promptly bounds how long a call with a cancelled context may take;
// tests lower it.
var promptly = 5 * time.Second

// maxReads bounds the Reads of a source that should end; tests lower it.
var maxReads = 100_000

// target is a plugin as one mode of the suite reaches it.
type target struct {
	spec         sdk.Spec
	validate     func(ctx context.Context, config []byte) ([]sdk.Diagnostic, error)
	newSource    func() sdk.Source
	newSink      func() sdk.Sink
	newTransform func() sdk.Transform
}

// local returns p as the host runs a built-in plugin: in process.
func local(p sdk.Plugin) target {
	return target{
		spec: p.Spec,
		validate: func(_ context.Context, config []byte) ([]sdk.Diagnostic, error) {
			if p.Validate == nil {
				return nil, nil
			}
			return p.Validate(config), nil
		},
		newSource:    p.NewSource,
		newSink:      p.NewSink,
		newTransform: p.NewTransform,
	}
}

// remote serves p over go-plugin in the test process and returns it as
// the host reaches a plugin executable: as pluginrpc.Client.Plugins gives
// it. Everything is shut down when t ends.
func remote(t *testing.T, p sdk.Plugin) target {
	t.Helper()
	c := serve(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatalf("Plugins over go-plugin: %v", err)
	}
	var rp *sdk.Plugin
	for i := range plugins {
		if plugins[i].Spec.Name == p.Spec.Name && plugins[i].Spec.Kind == p.Spec.Kind {
			rp = &plugins[i]
		}
	}
	if rp == nil {
		t.Fatalf("Plugins over go-plugin: no %s plugin %q among %d", p.Spec.Kind, p.Spec.Name, len(plugins))
	}
	name, kind := p.Spec.Name, p.Spec.Kind
	return target{
		spec: rp.Spec,
		validate: func(ctx context.Context, config []byte) ([]sdk.Diagnostic, error) {
			return c.Validate(ctx, kind, name, config)
		},
		newSource:    rp.NewSource,
		newSink:      rp.NewSink,
		newTransform: rp.NewTransform,
	}
}

// serve serves p with pluginrpc.ServeConfig in test mode and returns a
// client attached to it.
func serve(t *testing.T, p sdk.Plugin) *pluginrpc.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg := pluginrpc.ServeConfig(p)
	cfg.Logger = hclog.NewNullLogger()
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(runLimit):
		cancel()
		t.Fatal("the plugin did not start serving over go-plugin")
	}
	ccfg := pluginrpc.ClientConfig(nil)
	ccfg.Reattach = rc
	ccfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(ccfg)
	t.Cleanup(func() {
		client.Kill()
		cancel()
		<-closed
	})
	cp, err := client.Client()
	if err != nil {
		t.Fatalf("go-plugin client: %v", err)
	}
	c, err := pluginrpc.Dispense(cp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runModes runs check on p in process and over go-plugin.
func runModes(t *testing.T, p sdk.Plugin, check func(t *testing.T, tg target)) {
	t.Helper()
	t.Run("in-process", func(t *testing.T) { check(t, local(p)) })
	t.Run("go-plugin", func(t *testing.T) { check(t, remote(t, p)) })
}

// checkSpec checks that spec is well formed and of kind.
func checkSpec(t *testing.T, spec sdk.Spec, kind sdk.Kind) {
	t.Helper()
	if err := spec.Check(); err != nil {
		t.Errorf("Spec.Check: %v", err)
	}
	if spec.Kind != kind {
		t.Errorf("Spec.Kind = %q, want %q", spec.Kind, kind)
	}
	seen := make(map[string]bool, len(spec.Fields))
	for _, f := range spec.Fields {
		if f.Name == "" {
			t.Errorf("Spec.Fields has a field without a name")
		}
		if seen[f.Name] {
			t.Errorf("Spec.Fields declares %q twice", f.Name)
		}
		seen[f.Name] = true
		if f.Required && f.Default != nil {
			t.Errorf("field %q is required and has a default", f.Name)
		}
	}
}

// withDefaults returns config with the defaults of spec's top-level
// fields filled in where config lacks them, as the host fills them in
// before Validate and Open. A config that is not a JSON object is
// returned as it is.
func withDefaults(t *testing.T, spec sdk.Spec, config []byte) []byte {
	t.Helper()
	obj, ok := object(config)
	if !ok {
		return config
	}
	changed := false
	for _, f := range spec.Fields {
		if _, set := obj[f.Name]; set || f.Default == nil {
			continue
		}
		v, err := json.Marshal(f.Default)
		if err != nil {
			t.Fatalf("default of field %q: %v", f.Name, err)
		}
		obj[f.Name] = v
		changed = true
	}
	if !changed {
		return config
	}
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// object decodes config as a JSON object; an empty config is an empty
// object.
func object(config []byte) (map[string]json.RawMessage, bool) {
	if len(config) == 0 {
		return map[string]json.RawMessage{}, true
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(config, &obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// withoutRequired returns, by field name, config without each required
// field of spec. It fails t if config is not a JSON object or lacks a
// required field, since then it is not a valid config.
func withoutRequired(t *testing.T, spec sdk.Spec, config []byte) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, f := range spec.Fields {
		if !f.Required {
			continue
		}
		obj, ok := object(config)
		if !ok {
			t.Fatalf("the config is not a JSON object: %s", config)
		}
		if _, set := obj[f.Name]; !set {
			t.Fatalf("the config lacks the required field %q: %s", f.Name, config)
		}
		delete(obj, f.Name)
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}

// checkValid checks that the plugin's Validate finds nothing wrong with
// config.
func checkValid(t *testing.T, tg target, config []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	diags, err := tg.validate(ctx, config)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(diags) > 0 {
		t.Fatalf("Validate of the valid config %s: %v", config, diags)
	}
}

// checkRejected checks that the plugin rejects config: its Validate
// reports a problem, or else open fails. close is called after open
// whatever open returned, as the host does; its error is not checked,
// but after a successful open it must be nil.
func checkRejected(t *testing.T, tg target, config []byte, open func(ctx context.Context, config []byte) error, close func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	diags, err := tg.validate(ctx, config)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(diags) > 0 {
		for _, d := range diags {
			if d.Msg == "" {
				t.Errorf("Validate of %s: diagnostic at %q has no message", config, d.Path)
			}
		}
		t.Logf("rejected by Validate: %v", diags)
		return
	}
	openErr := open(ctx, config)
	closeErr := close(ctx)
	if openErr == nil {
		if closeErr != nil {
			t.Errorf("Close: %v", closeErr)
		}
		t.Fatalf("config %s accepted by Validate and Open, want it rejected", config)
	}
	t.Logf("rejected by Open: %v", openErr)
}

// within runs f and fails t if it does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// testLogger is a sdk.Logger that logs to a test.
type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, args ...any) {
	l.t.Helper()
	l.t.Logf(format, args...)
}

// settings returns the Settings the suite gives a plugin.
func settings(t *testing.T) sdk.Settings {
	return sdk.Settings{Name: "conformance", Pipeline: "conformance", Logger: testLogger{t}}
}
