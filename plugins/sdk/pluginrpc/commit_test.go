package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// journal records the calls a plugin's instances receive, across
// instances.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, fmt.Sprintf(format, args...))
}

// take returns the calls recorded so far and forgets them.
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.calls
	j.calls = nil
	return out
}

// plainSink records its calls; it does not commit.
type plainSink struct{ j *journal }

func (s *plainSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	s.j.add("open %s/%s", req.Settings.Pipeline, req.Settings.Name)
	return nil
}

func (s *plainSink) Write(_ context.Context, rows sdk.Rows) error {
	s.j.add("write %d", len(rows.Rows))
	return nil
}

func (s *plainSink) Close(context.Context) error {
	s.j.add("close")
	return nil
}

// commitSink is a plainSink that implements sdk.Committer; Prepare fails
// for ids it is told to refuse.
type commitSink struct {
	plainSink
	committed uint64
	refuse    uint64
}

var _ sdk.Committer = (*commitSink)(nil)

func (s *commitSink) Committed(context.Context) (uint64, error) {
	s.j.add("committed")
	return s.committed, nil
}

func (s *commitSink) Recover(_ context.Context, id uint64) error {
	s.j.add("recover %d", id)
	return nil
}

func (s *commitSink) Prepare(_ context.Context, id uint64) error {
	s.j.add("prepare %d", id)
	if id == s.refuse {
		return fmt.Errorf("stage checkpoint %d: %w", id, sdk.ErrBackoff)
	}
	return nil
}

func (s *commitSink) Commit(_ context.Context, id uint64) error {
	s.j.add("commit %d", id)
	return nil
}

// commitPlugins returns a committing sink plugin "exact", with a
// Delivery hook, and a plain one "plain", without, both recording into j.
func commitPlugins(j *journal) []sdk.Plugin {
	return []sdk.Plugin{
		{
			Spec:    sdk.Spec{Name: "exact", Kind: sdk.KindSink},
			NewSink: func() sdk.Sink { return &commitSink{plainSink: plainSink{j}, committed: 7, refuse: 13} },
			Delivery: func(req sdk.DeliveryRequest) sdk.DeliveryReport {
				switch string(req.Config) {
				case `{"mode": "upsert"}`:
					return sdk.DeliveryReport{Delivery: sdk.Idempotent, Reason: "upserts by " + strings.Join(req.Key, ",")}
				case `{"mode": "none"}`:
					return sdk.DeliveryReport{}
				case `{"mode": "bogus"}`:
					return sdk.DeliveryReport{Delivery: "twice-ish"}
				}
				return sdk.DeliveryReport{Delivery: sdk.ExactlyOnce, Reason: "staged files renamed at commit"}
			},
		},
		{
			Spec:    sdk.Spec{Name: "plain", Kind: sdk.KindSink},
			NewSink: func() sdk.Sink { return &plainSink{j} },
		},
	}
}

// pluginByName returns the plugin of that name among ps.
func pluginByName(t *testing.T, ps []sdk.Plugin, name string) sdk.Plugin {
	t.Helper()
	for _, p := range ps {
		if p.Spec.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %q", name)
	return sdk.Plugin{}
}

// TestCommitProtocol drives a committing sink through the transport: its
// host-side sink implements sdk.Committer, the calls and their ids reach
// the plugin's sink in order, and errors keep their sentinels.
func TestCommitProtocol(t *testing.T) {
	t.Parallel()
	j := &journal{}
	c := serve(t, commitPlugins(j)...)
	ctx := context.Background()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink := pluginByName(t, plugins, "exact").NewSink()
	committer, ok := sink.(sdk.Committer)
	if !ok {
		t.Fatalf("the sink of a committing plugin is a %T, not an sdk.Committer", sink)
	}
	if _, err := committer.Committed(ctx); err == nil {
		t.Error("Committed before Open: no error")
	}
	req := sdk.SinkOpenRequest{Columns: []string{"a"}, Settings: sdk.Settings{Name: "out", Pipeline: "orders"}}
	if err := sink.Open(ctx, req); err != nil {
		t.Fatal(err)
	}
	id, err := committer.Committed(ctx)
	if err != nil || id != 7 {
		t.Errorf("Committed() = %d, %v; want 7", id, err)
	}
	steps := []struct {
		name string
		call func() error
	}{
		{"recover", func() error { return committer.Recover(ctx, 7) }},
		{"write", func() error {
			return sink.Write(ctx, sdk.Rows{Columns: []string{"a"}, Rows: [][]any{{int64(1)}, {int64(2)}}})
		}},
		{"prepare", func() error { return committer.Prepare(ctx, 8) }},
		{"commit", func() error { return committer.Commit(ctx, 8) }},
		{"commit again", func() error { return committer.Commit(ctx, 8) }},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	err = committer.Prepare(ctx, 13)
	if !errors.Is(err, sdk.ErrBackoff) || err.Error() != "stage checkpoint 13: back off" {
		t.Errorf("Prepare(13) error = %v, want the plugin's, matching sdk.ErrBackoff", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := committer.Commit(ctx, 8); err == nil {
		t.Error("Commit after Close: no error")
	}
	want := []string{"open orders/out", "committed", "recover 7", "write 2", "prepare 8", "commit 8", "commit 8", "prepare 13", "close"}
	if diff := cmp.Diff(want, j.take()); diff != "" {
		t.Errorf("calls the plugin's sink received (-want +got):\n%s", diff)
	}

	// A plain sink plugin's sinks do not commit.
	plain := pluginByName(t, plugins, "plain").NewSink()
	if _, ok := plain.(sdk.Committer); ok {
		t.Errorf("the sink of a plugin that does not commit is an sdk.Committer (%T)", plain)
	}
	if err := plain.Open(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := plain.Close(ctx); err != nil {
		t.Fatal(err)
	}
	j.take()
}

// TestCommitProtocolRefusals covers the mismatches: a sink made before
// the client knew its plugin commits, a host that does not drive the
// commit protocol, and commit calls on an instance that does not commit.
func TestCommitProtocolRefusals(t *testing.T) {
	t.Parallel()
	j := &journal{}
	c := serve(t, commitPlugins(j)...)
	ctx := context.Background()

	// No spec yet: the client cannot tell, Open says why and closes the
	// instance it opened.
	sink := c.NewSink("exact")
	if _, ok := sink.(sdk.Committer); ok {
		t.Fatal("a sink made before the client had the plugin's spec is an sdk.Committer")
	}
	err := sink.Open(ctx, sdk.SinkOpenRequest{})
	const want = "sink plugin exact: its sinks commit with checkpoints (sdk.Committer), but the client did not know when it made this one; make sinks after getting the plugin's spec (Client.Plugins)"
	if err == nil || err.Error() != want {
		t.Errorf("Open() error = %v, want %q", err, want)
	}
	if diff := cmp.Diff([]string{"open /", "close"}, j.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if _, err := c.Specs(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.NewSink("exact").(sdk.Committer); !ok {
		t.Error("after Specs, the sink of a committing plugin is not an sdk.Committer")
	}

	// A host that does not speak the commit protocol (an older one) is
	// refused before the sink is opened.
	_, err = c.sink.Open(ctx, &pb.SinkOpenRequest{Plugin: "exact"})
	const old = "sink exact delivers exactly once by committing with the host's checkpoints, which this version of the host does not do; use a newer flowctl"
	if err = callError(ctx, err); err == nil || err.Error() != old {
		t.Errorf("Open by an older host: %v, want %q", err, old)
	}
	if calls := j.take(); len(calls) > 0 {
		t.Errorf("the refused sink received %v", calls)
	}
	// An older host opens a plain sink as before.
	resp, err := c.sink.Open(ctx, &pb.SinkOpenRequest{Plugin: "plain"})
	if err != nil {
		t.Fatalf("Open of a plain sink by an older host: %v", err)
	}
	if resp.Commits {
		t.Error("a plain sink says it commits")
	}
	_, err = c.sink.Prepare(ctx, &pb.SinkPrepareRequest{Instance: resp.Instance, Checkpoint: 1})
	wantErr := fmt.Sprintf("sink instance %d does not commit with checkpoints (it does not implement sdk.Committer)", resp.Instance)
	if err = callError(ctx, err); err == nil || err.Error() != wantErr {
		t.Errorf("Prepare on a plain sink: %v, want %q", err, wantErr)
	}
	if _, err := c.sink.Close(ctx, &pb.SinkCloseRequest{Instance: resp.Instance}); err != nil {
		t.Fatal(err)
	}
}

// TestDelivery checks the Delivery hook through the transport, by itself
// and in the plugins Client.Plugins returns.
func TestDelivery(t *testing.T) {
	t.Parallel()
	j := &journal{}
	local := commitPlugins(j)
	c := serve(t, local...)
	ctx := context.Background()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pluginByName(t, plugins, "plain").Delivery != nil {
		t.Error("a plugin without a Delivery hook got one")
	}
	exact := pluginByName(t, plugins, "exact")
	if exact.Delivery == nil {
		t.Fatal("a plugin with a Delivery hook lost it")
	}
	for _, config := range []string{`{}`, `{"mode": "upsert"}`, `{"mode": "none"}`} {
		req := sdk.DeliveryRequest{Config: []byte(config), Key: []string{"id", "day"}}
		want := local[0].Delivery(req)
		if diff := cmp.Diff(want, exact.Delivery(req)); diff != "" {
			t.Errorf("config %s: report (-in process +remote):\n%s", config, diff)
		}
	}
	// A guarantee the protocol does not know is an error, which the hook
	// reports as at-least-once.
	bogus := sdk.DeliveryRequest{Config: []byte(`{"mode": "bogus"}`)}
	_, err = c.Delivery(ctx, "exact", bogus)
	if want := `sink exact: the Delivery hook returned the unknown guarantee "twice-ish"`; err == nil || err.Error() != want {
		t.Errorf("Delivery() error = %v, want %q", err, want)
	}
	got := exact.Delivery(bogus)
	want := sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: `the plugin could not say which guarantee it gives: sink exact: the Delivery hook returned the unknown guarantee "twice-ish"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report of a bad hook (-want +got):\n%s", diff)
	}
	// A plugin without the hook gives at-least-once when asked directly.
	rep, err := c.Delivery(ctx, "plain", sdk.DeliveryRequest{})
	if err != nil || rep != (sdk.DeliveryReport{Delivery: sdk.AtLeastOnce}) {
		t.Errorf("Delivery(plain) = %+v, %v; want at-least-once", rep, err)
	}
	if _, err := c.Delivery(ctx, "nothing", sdk.DeliveryRequest{}); err == nil || err.Error() != `no sink plugin "nothing"` {
		t.Errorf("Delivery of an unknown plugin: %v", err)
	}
}

// settingsSource and settingsTransform record the Settings they are
// opened with, as plainSink does.
type settingsSource struct{ j *journal }

func (s settingsSource) Open(_ context.Context, req sdk.OpenRequest) error {
	s.j.add("source %s/%s", req.Settings.Pipeline, req.Settings.Name)
	return nil
}
func (settingsSource) Read(context.Context) (sdk.Batch, error) { return sdk.Batch{}, sdk.ErrEndOfInput }
func (settingsSource) Close(context.Context) error             { return nil }

type settingsTransform struct{ j *journal }

func (s settingsTransform) Open(_ context.Context, req sdk.TransformOpenRequest) ([]string, error) {
	s.j.add("transform %s/%s", req.Settings.Pipeline, req.Settings.Name)
	return req.Columns, nil
}
func (settingsTransform) Process(_ context.Context, in sdk.Rows) (sdk.Rows, error) { return in, nil }
func (settingsTransform) Close(context.Context) error                              { return nil }

// TestSettings checks that the names in Settings reach each kind of
// plugin, and that Plugins gives constructors of every kind.
func TestSettings(t *testing.T) {
	t.Parallel()
	j := &journal{}
	c := serve(t,
		sdk.Plugin{Spec: sdk.Spec{Name: "s", Kind: sdk.KindSource}, NewSource: func() sdk.Source { return settingsSource{j} }},
		sdk.Plugin{Spec: sdk.Spec{Name: "k", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return &plainSink{j} }},
		sdk.Plugin{Spec: sdk.Spec{Name: "t", Kind: sdk.KindTransform}, NewTransform: func() sdk.Transform { return settingsTransform{j} }},
	)
	ctx := context.Background()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	settings := sdk.Settings{Name: "stage", Pipeline: "daily_revenue"}
	src := pluginByName(t, plugins, "s").NewSource()
	if err := src.Open(ctx, sdk.OpenRequest{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	sink := pluginByName(t, plugins, "k").NewSink()
	if err := sink.Open(ctx, sdk.SinkOpenRequest{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	tr := pluginByName(t, plugins, "t").NewTransform()
	if _, err := tr.Open(ctx, sdk.TransformOpenRequest{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, closer := range []interface{ Close(context.Context) error }{src, sink, tr} {
		if err := closer.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"source daily_revenue/stage", "open daily_revenue/stage", "transform daily_revenue/stage", "close"}
	if diff := cmp.Diff(want, j.take()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, p := range plugins {
		if diags := p.Validate([]byte(`{}`)); len(diags) > 0 {
			t.Errorf("%s: Validate() = %v, want none", p.Spec.Name, diags)
		}
	}
}

// olderPlugin serves the Plugin service as a plugin built before the
// Delivery RPC and the capability fields: a spec of a sink, nothing else.
type olderPlugin struct {
	pb.UnimplementedPluginServer
}

func (olderPlugin) GetSpec(context.Context, *pb.GetSpecRequest) (*pb.GetSpecResponse, error) {
	return &pb.GetSpecResponse{Specs: []*pb.Spec{{Name: "old", Kind: pb.Kind_KIND_SINK}}}, nil
}

// TestOlderPlugin checks a newer host with a plugin that predates the
// additions to version 1: its sink does not commit and it gives
// at-least-once.
func TestOlderPlugin(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterPluginServer(srv, olderPlugin{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	raw, err := clientPlugin{}.GRPCClient(t.Context(), nil, conn)
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*Client)
	ctx := context.Background()
	plugins, err := c.Plugins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := pluginByName(t, plugins, "old")
	if old.Delivery != nil {
		t.Error("an older plugin got a Delivery hook")
	}
	if _, ok := old.NewSink().(sdk.Committer); ok {
		t.Error("an older plugin's sink is an sdk.Committer")
	}
	rep, err := c.Delivery(ctx, "old", sdk.DeliveryRequest{})
	if err != nil || rep != (sdk.DeliveryReport{Delivery: sdk.AtLeastOnce}) {
		t.Errorf("Delivery() of an older plugin = %+v, %v; want at-least-once", rep, err)
	}
}
