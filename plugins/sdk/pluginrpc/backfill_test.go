package pluginrpc

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// instanceSource and instanceSink record the Settings.Instance they are
// opened with.
type instanceSource struct{ j *journal }

func (s instanceSource) Open(_ context.Context, req sdk.OpenRequest) error {
	s.j.add("source %q bounded %v", req.Settings.Instance, req.Bounded)
	return nil
}
func (instanceSource) Read(context.Context) (sdk.Batch, error) { return sdk.Batch{}, sdk.ErrEndOfInput }
func (instanceSource) Close(context.Context) error             { return nil }

type instanceSink struct{ j *journal }

func (s instanceSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	s.j.add("sink %q", req.Settings.Instance)
	return nil
}
func (instanceSink) Write(context.Context, sdk.Rows) error { return nil }
func (instanceSink) Close(context.Context) error           { return nil }

// TestBackfillCapabilities: a source's TimeRange and a sink's Instances
// reach the host in their specs, and Settings.Instance reaches the
// plugins.
func TestBackfillCapabilities(t *testing.T) {
	t.Parallel()
	j := &journal{}
	rng := &sdk.TimeRange{From: "since", To: "until"}
	c := serve(t,
		sdk.Plugin{
			Spec: sdk.Spec{Name: "s", Kind: sdk.KindSource, TimeRange: rng, Fields: []sdk.FieldSpec{
				{Name: "since", Type: sdk.TypeString}, {Name: "until", Type: sdk.TypeString},
			}},
			NewSource: func() sdk.Source { return instanceSource{j} },
		},
		sdk.Plugin{Spec: sdk.Spec{Name: "k", Kind: sdk.KindSink, Instances: true}, NewSink: func() sdk.Sink { return instanceSink{j} }},
		sdk.Plugin{Spec: sdk.Spec{Name: "plain", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return instanceSink{j} }},
	)
	ctx := context.Background()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := pluginByName(t, plugins, "s").Spec.TimeRange; got == nil || *got != *rng {
		t.Errorf("source spec TimeRange = %v, want %v", got, rng)
	}
	if !pluginByName(t, plugins, "k").Spec.Instances || pluginByName(t, plugins, "plain").Spec.Instances {
		t.Error("sink specs: Instances did not come through as declared")
	}
	for _, instance := range []string{"2026-03-01T00:00:00Z/2026-03-02T00:00:00Z", ""} {
		settings := sdk.Settings{Name: "stage", Pipeline: "p", Instance: instance}
		src := pluginByName(t, plugins, "s").NewSource()
		if err := src.Open(ctx, sdk.OpenRequest{Settings: settings, Bounded: instance != ""}); err != nil {
			t.Fatal(err)
		}
		sink := pluginByName(t, plugins, "k").NewSink()
		if err := sink.Open(ctx, sdk.SinkOpenRequest{Settings: settings}); err != nil {
			t.Fatal(err)
		}
		for _, closer := range []interface{ Close(context.Context) error }{src, sink} {
			if err := closer.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		`source "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z" bounded true`, `sink "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z"`,
		`source "" bounded false`, `sink ""`,
	}
	if diff := cmp.Diff(want, j.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
