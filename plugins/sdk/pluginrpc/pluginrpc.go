// Package pluginrpc runs flowctl plugins in their own processes: it is the
// go-plugin and gRPC glue between a host and a plugin executable.
//
// A plugin executable calls sdk.Serve, which serves its plugins with
// ServeConfig. A host starts it with go-plugin (ClientConfig), dispenses a
// Client and gets from it ordinary sdk.Plugin values (Client.Plugins),
// whose sources, sinks and transforms run in the plugin process and whose
// Validate and Delivery hooks call the plugin's, so the same runtime code
// drives a plugin in process or out of it.
//
// # Protocol
//
// The services are flowctl.plugin.v1 (proto/flowctl/plugin/v1), spoken
// over the one gRPC connection go-plugin sets up. go-plugin's handshake
// negotiates the version: the host offers every version it speaks
// (VersionedPlugins) and a plugin that speaks none of them is refused with
// go-plugin's error naming both sides' versions. A later protocol 2 is
// added beside 1, so that a newer host still runs older plugins.
//
// Records cross in batches: a source's Read returns one batch per call, a
// sink's Write takes one. Values are encoded compactly (a protobuf oneof
// per value; field names and partitions once per batch) and decoded
// straight into SDK values.
//
// # Flow control
//
// Reading is pulled by the host: batches cross only in answer to a Read
// call, and the host has at most one Read call in flight per source. Both
// ends work ahead, so that the source, the transport and the host's
// decoding overlap. Once the source returned a batch with more to come
// (messages, no error, not caught up), the plugin process goes on reading
// it on a goroutine of its own, up to four results beyond those it has
// sent, encoding each as soon as it is read. A call brings the next
// result and those after it that are ready, up to four, and the host
// makes its next call as soon as it has at most one result left for its
// caller, on a goroutine of its own, so that batches cross and are
// decoded while the caller handles earlier ones. So a source runs at most
// nine batches ahead of the host's caller (four read by the plugin, five
// held by the host), and a slow pipeline slows its sources down; a caught-up source is not read ahead, since that read
// would only wait. Ack and Close stop the reads and calls made ahead on
// both ends first (by the SDK's contract a cancelled Read consumes
// nothing) and keep what was already read. Read results are numbered,
// and those a cancelled call did not deliver are sent again on the next
// call, so no batch is lost or read twice.
//
// Writing is pushed by the host: a Write returns once the plugin's sink
// has taken the rows, so rows never pile up between the processes.
//
// # Sinks that commit
//
// A sink that implements sdk.Committer takes part in the host's
// checkpoints over the protocol too: the host's sink implements
// sdk.Committer exactly when the plugin's does, which the plugin's spec
// says and each Open confirms, and Committed, Recover, Prepare and Commit
// reach the plugin's sink with the checkpoint ids. A plugin refuses to
// open a sink that commits for a host that does not drive the protocol
// (an older one), which would never make its rows visible.
//
// # Errors and cancellation
//
// The context of every call is the context of its gRPC call: cancelling
// it cancels the plugin's method, and the call returns the context's
// error at once. Errors keep their meaning across the boundary: the
// sentinels sdk.ErrEndOfInput, sdk.ErrBackoff and sdk.ErrNotConnected,
// *sdk.ConfigError values and context errors match errors.Is and
// errors.As on the host as they did in the plugin, with the plugin's
// error text. A call that fails in the transport (the plugin process
// exited or was killed) returns an error matching ErrTransport.
//
// # Logging
//
// A plugin's Settings.Logger writes through hclog to the plugin process's
// standard error, which go-plugin passes to the host's logger with the
// plugin's name; the Logger a host puts in Settings is not used by a
// remote plugin.
package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// ProtocolVersion is the newest plugin protocol version this package
// speaks.
const ProtocolVersion = wire.ProtocolVersion

// Handshake is the go-plugin handshake of flowctl plugins.
var Handshake = wire.Handshake

// ErrTransport is matched by the errors of calls that failed outside the
// plugin: the plugin process exited or was killed, or it broke the
// protocol.
var ErrTransport = errors.New("plugin transport failed")

// ServeConfig returns the go-plugin configuration that serves plugins in a
// plugin process; sdk.Serve serves it. Plugin log lines go to standard
// error as JSON, which a go-plugin host reads. Tests set its Test field to
// serve in process and attach with a ReattachConfig.
func ServeConfig(plugins ...sdk.Plugin) *plugin.ServeConfig {
	newServer, ok := wire.NewServer.(func([]sdk.Plugin, hclog.Logger) *plugin.ServeConfig)
	if !ok {
		panic(fmt.Sprintf("pluginrpc: package sdk registered a server of type %T", wire.NewServer))
	}
	return newServer(plugins, hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	}))
}

// VersionedPlugins returns the plugin sets a host offers, by protocol
// version.
func VersionedPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {wire.PluginName: clientPlugin{}},
	}
}

// ClientConfig returns the go-plugin configuration that runs the plugin
// executable cmd: the handshake, the protocol versions this host speaks,
// gRPC only, and the transport settings. Set Reattach instead of Cmd to
// attach to a plugin that is already running, which is then taken to
// speak ProtocolVersion (go-plugin negotiates no version on reattach).
// Callers add what is theirs to decide (Logger, SyncStdout, SecureConfig,
// AutoMTLS) before plugin.NewClient.
func ClientConfig(cmd *exec.Cmd) *plugin.ClientConfig {
	versions := VersionedPlugins()
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versions,
		Plugins:          versions[ProtocolVersion],
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.DialOptions(),
	}
}

// clientPlugin is the host half of go-plugin's plugin.
type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

var _ plugin.GRPCPlugin = clientPlugin{}

// GRPCServer implements plugin.GRPCPlugin; plugin processes serve with
// ServeConfig.
func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("pluginrpc: hosts dispense plugins; plugin processes serve them with sdk.Serve")
}

// GRPCClient implements plugin.GRPCPlugin.
func (clientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &Client{
		conn:      conn,
		plugin:    pb.NewPluginClient(conn),
		source:    pb.NewSourceClient(conn),
		sink:      pb.NewSinkClient(conn),
		transform: pb.NewTransformClient(conn),
		commits:   make(map[string]bool),
	}, nil
}

// Client is a host's connection to one plugin process. It is safe for
// concurrent use; the sources, sinks and transforms it makes are each used
// from one goroutine at a time, as the SDK's interfaces say.
type Client struct {
	conn      *grpc.ClientConn
	plugin    pb.PluginClient
	source    pb.SourceClient
	sink      pb.SinkClient
	transform pb.TransformClient

	mu      sync.Mutex
	commits map[string]bool // by sink plugin, whether its sinks commit, from its spec
}

// Dispense returns the Client of a started plugin process: cp is what
// plugin.Client.Client returned.
func Dispense(cp plugin.ClientProtocol) (*Client, error) {
	raw, err := cp.Dispense(wire.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense flowctl plugin: %w", err)
	}
	c, ok := raw.(*Client)
	if !ok {
		return nil, fmt.Errorf("dispense flowctl plugin: got a %T; was the client configured with VersionedPlugins?", raw)
	}
	return c, nil
}

// Specs returns the spec of every plugin the process serves.
func (c *Client) Specs(ctx context.Context) ([]sdk.Spec, error) {
	specs, _, err := c.specs(ctx)
	return specs, err
}

// specs returns the spec of every plugin the process serves and the
// protocol's form of each, and notes which sink plugins commit.
func (c *Client) specs(ctx context.Context) ([]sdk.Spec, []*pb.Spec, error) {
	resp, err := c.plugin.GetSpec(ctx, &pb.GetSpecRequest{})
	if err != nil {
		return nil, nil, callError(ctx, err)
	}
	specs := make([]sdk.Spec, len(resp.Specs))
	for i, s := range resp.Specs {
		if specs[i], err = specFromPB(s); err != nil {
			return nil, nil, fmt.Errorf("plugin %s: %w", s.Name, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range specs {
		if s.Kind == sdk.KindSink {
			c.commits[s.Name] = resp.Specs[i].Commits
		}
	}
	return specs, resp.Specs, nil
}

// hookTimeout bounds each call of the hooks of the plugins Plugins
// returns, which have no context of their own.
const hookTimeout = 30 * time.Second

// Plugins returns the plugins the process serves as values the host uses
// as it does built-in ones: each has its spec; a constructor of its kind
// whose instances run in the plugin process (sinks implement
// sdk.Committer when the plugin's do); a Validate hook that runs the
// plugin's; and, for a sink plugin with a Delivery hook, a Delivery hook
// that runs it.
//
// The hooks' calls keep ctx's values, not its cancellation, and each is
// bounded to 30 seconds. A Validate call that fails gives a diagnostic
// saying so, and a Delivery call that fails gives at-least-once with the
// failure as its reason, so that a check or report never claims more than
// it knows.
func (c *Client) Plugins(ctx context.Context) ([]sdk.Plugin, error) {
	specs, pbSpecs, err := c.specs(ctx)
	if err != nil {
		return nil, err
	}
	hookCtx := context.WithoutCancel(ctx)
	out := make([]sdk.Plugin, len(specs))
	for i, spec := range specs {
		name, kind := spec.Name, spec.Kind
		p := sdk.Plugin{
			Spec: spec,
			Validate: func(config []byte) []sdk.Diagnostic {
				ctx, cancel := context.WithTimeout(hookCtx, hookTimeout)
				defer cancel()
				diags, err := c.Validate(ctx, kind, name, config)
				if err != nil {
					return []sdk.Diagnostic{{Msg: fmt.Sprintf("the %s plugin %s could not check its config: %v", kind, name, err)}}
				}
				return diags
			},
		}
		switch kind {
		case sdk.KindSource:
			p.NewSource = func() sdk.Source { return c.NewSource(name) }
		case sdk.KindSink:
			p.NewSink = func() sdk.Sink { return c.NewSink(name) }
			if pbSpecs[i].ReportsDelivery {
				p.Delivery = func(req sdk.DeliveryRequest) sdk.DeliveryReport {
					ctx, cancel := context.WithTimeout(hookCtx, hookTimeout)
					defer cancel()
					rep, err := c.Delivery(ctx, name, req)
					if err != nil {
						return sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: fmt.Sprintf("the plugin could not say which guarantee it gives: %v", err)}
					}
					return rep
				}
			}
		case sdk.KindTransform:
			p.NewTransform = func() sdk.Transform { return c.NewTransform(name) }
		}
		out[i] = p
	}
	return out, nil
}

// Validate checks a config block (JSON, defaults filled in) with the
// Validate hook of the plugin of that kind and name. It returns the
// problems found, none when the plugin has no hook; the error says the
// check could not run.
func (c *Client) Validate(ctx context.Context, kind sdk.Kind, name string, config []byte) ([]sdk.Diagnostic, error) {
	resp, err := c.plugin.Validate(ctx, &pb.ValidateRequest{Kind: kindToPB(kind), Plugin: name, Config: config})
	if err != nil {
		return nil, callError(ctx, err)
	}
	var diags []sdk.Diagnostic
	for _, d := range resp.Diagnostics {
		diags = append(diags, sdk.Diagnostic{Path: d.Path, Msg: d.Msg})
	}
	return diags, nil
}

// NewSource returns a source whose Open opens an instance of the named
// source plugin in the plugin process. It implements sdk.Acker too:
// acknowledgements reach the plugin's source if it asks for them.
func (c *Client) NewSource(name string) sdk.Source { return &remoteSource{c: c, plugin: name} }

// NewSink returns a sink whose Open opens an instance of the named sink
// plugin in the plugin process. It implements sdk.Flusher too: Flush
// reaches the plugin's sink if it buffers.
//
// It implements sdk.Committer exactly when the plugin's sinks do, as the
// client learned from the plugin's spec (Specs or Plugins). Until the
// client has the spec it does not, and Open of a sink whose plugin
// commits then fails, saying so, rather than losing the guarantee.
func (c *Client) NewSink(name string) sdk.Sink {
	c.mu.Lock()
	commits := c.commits[name]
	c.mu.Unlock()
	s := &remoteSink{c: c, plugin: name, commits: commits}
	if commits {
		return &committingSink{s}
	}
	return s
}

// NewTransform returns a transform whose Open opens an instance of the
// named transform plugin in the plugin process.
func (c *Client) NewTransform(name string) sdk.Transform {
	return &remoteTransform{c: c, plugin: name}
}

// hot makes a call whose request or reply the wire codec encodes or
// decodes itself.
func (c *Client) hot(ctx context.Context, method string, req, reply any) error {
	return c.conn.Invoke(ctx, method, req, reply, grpc.ForceCodecV2(wire.Codec{}))
}
