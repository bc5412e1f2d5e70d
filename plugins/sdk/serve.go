package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// Serve runs the plugin process: it serves the given plugins over
// go-plugin until the host goes away. Call it from main:
//
//	func main() { sdk.Serve(mysource.Plugin(), mysink.Plugin()) }
//
// The host starts the executable, negotiates the protocol version with
// it and then opens, reads, writes and closes instances of its plugins
// over gRPC; one process may run several instances of several plugins at
// once. Log lines written through Settings.Logger go to the host, which
// shows them with the plugin's name. Unless GOGC is set, the process
// keeps its garbage collector's heap goal at 64 MiB at least, since a
// plugin turns over a batch's worth of memory on every call. On Unix systems the process exits
// by itself soon after its host is gone, even if the host was killed.
// Run by hand, outside a host, the executable says it is a plugin and
// exits with status 1.
func Serve(plugins ...Plugin) {
	srv := newServer(plugins, defaultLogger())
	keepHeapGoal()
	go watchHost(srv.logger)
	plugin.Serve(srv.config())
	srv.closeAll()
}

// defaultLogger writes JSON lines to the process's standard error, which
// go-plugin passes on to the host's logger. It is made before go-plugin
// redirects os.Stderr.
func defaultLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

func init() {
	// pluginrpc.ServeConfig builds the same configuration; see
	// wire.NewServer.
	wire.NewServer = func(plugins []Plugin, logger hclog.Logger) *plugin.ServeConfig {
		return newServer(plugins, logger).config()
	}
}

// config returns the go-plugin configuration that serves s.
func (s *server) config() *plugin.ServeConfig {
	return &plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{srv: s}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
		Logger: s.logger,
	}
}

// grpcPlugin is the plugin-process half of go-plugin's plugin: it
// registers the protocol's services.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

// GRPCServer implements plugin.GRPCPlugin.
func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv.register(s)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin; the host side is package
// pluginrpc.
func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the plugin process serves plugins; hosts dispense them with package pluginrpc")
}

type pluginKey struct {
	kind Kind
	name string
}

// server serves plugins: their specs, config checks and instances.
type server struct {
	plugins map[pluginKey]Plugin
	specs   []Spec
	commits map[string]bool // the sink plugins whose sinks implement Committer
	err     error           // what is wrong with the plugin list, reported to the host
	logger  hclog.Logger

	next       atomic.Uint64 // the last instance id handed out
	sources    table[Source]
	sinks      table[Sink]
	transforms table[Transform]
}

func newServer(plugins []Plugin, logger hclog.Logger) *server {
	s := &server{plugins: make(map[pluginKey]Plugin, len(plugins)), commits: make(map[string]bool), logger: logger}
	var errs []error
	for _, p := range plugins {
		if err := p.Spec.Check(); err != nil {
			errs = append(errs, err)
			continue
		}
		k := pluginKey{p.Spec.Kind, p.Spec.Name}
		switch {
		case k.kind == KindSource && p.NewSource == nil,
			k.kind == KindSink && p.NewSink == nil,
			k.kind == KindTransform && p.NewTransform == nil:
			errs = append(errs, fmt.Errorf("plugin %s: no constructor for kind %s", k.name, k.kind))
			continue
		}
		if _, dup := s.plugins[k]; dup {
			errs = append(errs, fmt.Errorf("plugin %s %s served twice", k.kind, k.name))
			continue
		}
		s.plugins[k] = p
		s.specs = append(s.specs, p.Spec)
		if k.kind == KindSink {
			// Whether a type implements Committer does not depend on
			// its config, so a sink that is never opened tells.
			_, s.commits[k.name] = p.NewSink().(Committer)
		}
	}
	s.err = errors.Join(errs...)
	return s
}

// register registers the protocol's services on s. The hot methods
// (Source.Read, Sink.Write, Transform.Process) have handlers of their own
// that encode and decode records directly (see package wire); the rest
// use the generated code.
func (s *server) register(g *grpc.Server) {
	g.RegisterService(&pb.Plugin_ServiceDesc, pluginService{s: s})
	g.RegisterService(withHandler(pb.Source_ServiceDesc, "Read", s.handleRead), sourceService{s: s})
	g.RegisterService(withHandler(pb.Sink_ServiceDesc, "Write", s.handleWrite), sinkService{s: s})
	g.RegisterService(withHandler(pb.Transform_ServiceDesc, "Process", s.handleProcess), transformService{s: s})
}

// handlerFunc handles one unary call: it decodes the request with dec and
// returns the response.
type handlerFunc func(ctx context.Context, dec func(any) error) (any, error)

// withHandler returns a copy of desc whose method handles calls with h.
func withHandler(desc grpc.ServiceDesc, method string, h handlerFunc) *grpc.ServiceDesc {
	desc.Methods = slices.Clone(desc.Methods)
	full := "/" + desc.ServiceName + "/" + method
	for i := range desc.Methods {
		if desc.Methods[i].MethodName != method {
			continue
		}
		desc.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			if icpt == nil {
				return h(ctx, dec)
			}
			// Interceptors see the request undecoded: it is decoded
			// straight into SDK values.
			return icpt(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, func(ctx context.Context, _ any) (any, error) {
				return h(ctx, dec)
			})
		}
	}
	return &desc
}

// table holds the open instances of one kind of plugin.
type table[T any] struct {
	mu sync.Mutex
	m  map[uint64]*instance[T]
}

// instance is one open source, sink or transform. Its mutex is held for
// the whole of each call on it, so calls are served one at a time, as the
// SDK promises plugins.
type instance[T any] struct {
	mu     sync.Mutex
	ackMu  sync.Mutex // serializes Acks, which may overlap a Read (see Acker)
	rebMu  sync.Mutex // serializes Rebalances, which wait beside the other calls
	plugin T
	// Capabilities the host is told about at Open.
	acker      Acker
	rebalancer Rebalancer
	flusher    Flusher
	committer  Committer

	// A source's reads (see handleRead).
	reader reader
}

// settle stops a source's read-ahead, if one runs, and keeps what it read
// for the next Read (see reader.settle).
func (in *instance[T]) settle() { in.reader.settle() }

func (t *table[T]) add(id uint64, in *instance[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint64]*instance[T])
	}
	t.m[id] = in
}

func (t *table[T]) get(id uint64) (*instance[T], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	in, ok := t.m[id]
	if !ok {
		return nil, fmt.Errorf("no open instance %d", id)
	}
	return in, nil
}

// remove takes the instance out of the table and returns it.
func (t *table[T]) remove(id uint64) (*instance[T], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	in, ok := t.m[id]
	if !ok {
		return nil, fmt.Errorf("no open instance %d", id)
	}
	delete(t.m, id)
	return in, nil
}

// removeAll empties the table and returns what it held.
func (t *table[T]) removeAll() []*instance[T] {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := make([]*instance[T], 0, len(t.m))
	for _, in := range t.m {
		all = append(all, in)
	}
	clear(t.m)
	return all
}

// closeTimeout bounds how long closeAll waits for each instance.
const closeTimeout = 10 * time.Second

// closeAll closes the instances the host left open, when the process is
// about to end.
func (s *server) closeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	closeEach(ctx, s, &s.sources, func(ctx context.Context, p Source) error { return p.Close(ctx) })
	closeEach(ctx, s, &s.sinks, func(ctx context.Context, p Sink) error { return p.Close(ctx) })
	closeEach(ctx, s, &s.transforms, func(ctx context.Context, p Transform) error { return p.Close(ctx) })
}

func closeEach[T any](ctx context.Context, s *server, t *table[T], close func(context.Context, T) error) {
	for _, in := range t.removeAll() {
		in.mu.Lock()
		in.settle()
		if err := close(ctx, in.plugin); err != nil {
			s.logger.Error("closing an instance the host left open", "error", err)
		}
		in.mu.Unlock()
	}
}

// lookup returns the plugin of that kind and name.
func (s *server) lookup(kind Kind, name string) (Plugin, error) {
	p, ok := s.plugins[pluginKey{kind, name}]
	if !ok {
		if s.err != nil {
			return Plugin{}, fmt.Errorf("no %s plugin %q (%w)", kind, name, s.err)
		}
		return Plugin{}, fmt.Errorf("no %s plugin %q", kind, name)
	}
	return p, nil
}

// settings returns the Settings of a new instance: its name, its
// pipeline's and a logger that reaches the host.
func (s *server) settings(kind Kind, plugin, name, pipeline, instance string) Settings {
	return Settings{
		Name:     name,
		Pipeline: pipeline,
		Instance: instance,
		Logger:   logger{s.logger.Named(string(kind)+"."+plugin).With("name", name)},
	}
}

// logger is a Logger that writes through hclog.
type logger struct{ l hclog.Logger }

func (l logger) Printf(format string, args ...any) { l.l.Info(fmt.Sprintf(format, args...)) }

// pluginService serves flowctl.plugin.v1.Plugin.
type pluginService struct {
	pb.UnimplementedPluginServer
	s *server
}

func (p pluginService) GetSpec(context.Context, *pb.GetSpecRequest) (*pb.GetSpecResponse, error) {
	if p.s.err != nil {
		return nil, statusError(p.s.err)
	}
	out := &pb.GetSpecResponse{Specs: make([]*pb.Spec, len(p.s.specs))}
	for i, spec := range p.s.specs {
		var err error
		if out.Specs[i], err = specToPB(spec); err != nil {
			return nil, statusError(fmt.Errorf("plugin %s %s: %w", spec.Kind, spec.Name, err))
		}
		if spec.Kind == KindSink {
			out.Specs[i].Commits = p.s.commits[spec.Name]
			out.Specs[i].ReportsDelivery = p.s.plugins[pluginKey{spec.Kind, spec.Name}].Delivery != nil
		}
	}
	return out, nil
}

func (p pluginService) Validate(_ context.Context, req *pb.ValidateRequest) (*pb.ValidateResponse, error) {
	pl, err := p.s.lookup(kindFromPB(req.Kind), req.Plugin)
	if err != nil {
		return nil, statusError(err)
	}
	out := &pb.ValidateResponse{}
	if pl.Validate == nil {
		return out, nil
	}
	for _, d := range pl.Validate(req.Config) {
		out.Diagnostics = append(out.Diagnostics, &pb.Diagnostic{Path: d.Path, Msg: d.Msg})
	}
	return out, nil
}

// sourceService serves flowctl.plugin.v1.Source but Read (handleRead).
type sourceService struct {
	pb.UnimplementedSourceServer
	s *server
}

func (v sourceService) Open(ctx context.Context, req *pb.SourceOpenRequest) (*pb.SourceOpenResponse, error) {
	pl, err := v.s.lookup(KindSource, req.Plugin)
	if err != nil {
		return nil, statusError(err)
	}
	src := pl.NewSource()
	open := OpenRequest{
		Config:     req.Config,
		Format:     req.Format,
		Resume:     positionsFromPB(req.Resume),
		Bounded:    req.Bounded,
		Partitions: req.Partitions,
		Coordinate: req.Coordinate,
		Settings:   v.s.settings(KindSource, req.Plugin, req.Name, req.Pipeline, req.Instance),
	}
	if err := src.Open(ctx, open); err != nil {
		// Close is called once, even after errors.
		if cerr := src.Close(ctx); cerr != nil {
			v.s.logger.Debug("closing a source that failed to open", "plugin", req.Plugin, "error", cerr)
		}
		return nil, statusError(err)
	}
	id := v.s.next.Add(1)
	in := &instance[Source]{plugin: src}
	in.acker, _ = src.(Acker)
	in.rebalancer, _ = src.(Rebalancer)
	v.s.sources.add(id, in)
	return &pb.SourceOpenResponse{Instance: id, Acks: in.acker != nil, Rebalances: in.rebalancer != nil}, nil
}

func (v sourceService) Rebalance(ctx context.Context, req *pb.SourceRebalanceRequest) (*pb.SourceRebalanceResponse, error) {
	in, err := v.s.sources.get(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	if in.rebalancer == nil {
		return nil, statusError(fmt.Errorf("source instance %d does not share its partitions (it does not implement sdk.Rebalancer)", req.Instance))
	}
	// Not under in.mu: it waits for the group, while Acks and, once the
	// host cancels it, Close go on.
	in.rebMu.Lock()
	defer in.rebMu.Unlock()
	a, err := in.rebalancer.Rebalance(ctx, req.Released)
	if err != nil {
		return nil, statusError(err)
	}
	return &pb.SourceRebalanceResponse{Assigned: a.Assigned, Revoked: a.Revoked, Lost: a.Lost}, nil
}

func (v sourceService) Ack(ctx context.Context, req *pb.SourceAckRequest) (*pb.SourceAckResponse, error) {
	in, err := v.s.sources.get(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	if in.acker == nil {
		return &pb.SourceAckResponse{}, nil
	}
	// Not under in.mu: a Read may be waiting for data, and the host
	// acknowledges at checkpoints without waiting for it (Acker allows
	// Ack during a Read).
	in.ackMu.Lock()
	defer in.ackMu.Unlock()
	if err := in.acker.Ack(ctx, positionsFromPB(req.Positions)); err != nil {
		return nil, statusError(err)
	}
	return &pb.SourceAckResponse{}, nil
}

func (v sourceService) Close(ctx context.Context, req *pb.SourceCloseRequest) (*pb.SourceCloseResponse, error) {
	in, err := v.s.sources.remove(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.settle()
	if err := in.plugin.Close(ctx); err != nil {
		return nil, statusError(err)
	}
	return &pb.SourceCloseResponse{}, nil
}

// sinkService serves flowctl.plugin.v1.Sink but Write (handleWrite).
type sinkService struct {
	pb.UnimplementedSinkServer
	s *server
}

func (v sinkService) Open(ctx context.Context, req *pb.SinkOpenRequest) (*pb.SinkOpenResponse, error) {
	pl, err := v.s.lookup(KindSink, req.Plugin)
	if err != nil {
		return nil, statusError(err)
	}
	sink := pl.NewSink()
	committer, commits := sink.(Committer)
	if commits && !req.CommitProtocol {
		return nil, statusError(fmt.Errorf("sink %s delivers exactly once by committing with the host's checkpoints, "+
			"which this version of the host does not do; use a newer flowctl", req.Plugin))
	}
	open := SinkOpenRequest{
		Config:   req.Config,
		Columns:  req.Columns,
		Key:      req.Key,
		Settings: v.s.settings(KindSink, req.Plugin, req.Name, req.Pipeline, req.Instance),
	}
	if err := sink.Open(ctx, open); err != nil {
		if cerr := sink.Close(ctx); cerr != nil {
			v.s.logger.Debug("closing a sink that failed to open", "plugin", req.Plugin, "error", cerr)
		}
		return nil, statusError(err)
	}
	id := v.s.next.Add(1)
	in := &instance[Sink]{plugin: sink, committer: committer}
	in.flusher, _ = sink.(Flusher)
	v.s.sinks.add(id, in)
	return &pb.SinkOpenResponse{Instance: id, Flushes: in.flusher != nil, Commits: commits}, nil
}

// handleWrite serves Sink.Write, decoding the rows straight into values.
func (s *server) handleWrite(ctx context.Context, dec func(any) error) (any, error) {
	req := &rowsRequest{instanceNum: wire.WriteRequestInstance, rowsNum: wire.WriteRequestRows}
	if err := dec(req); err != nil {
		return nil, err
	}
	in, err := s.sinks.get(req.instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.plugin.Write(ctx, req.rows); err != nil {
		return nil, statusError(err)
	}
	return &pb.SinkWriteResponse{}, nil
}

func (v sinkService) Flush(ctx context.Context, req *pb.SinkFlushRequest) (*pb.SinkFlushResponse, error) {
	in, err := v.s.sinks.get(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	if in.flusher == nil {
		return &pb.SinkFlushResponse{}, nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.flusher.Flush(ctx); err != nil {
		return nil, statusError(err)
	}
	return &pb.SinkFlushResponse{}, nil
}

func (v sinkService) Close(ctx context.Context, req *pb.SinkCloseRequest) (*pb.SinkCloseResponse, error) {
	in, err := v.s.sinks.remove(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	defer markDrained()
	if err := in.plugin.Close(ctx); err != nil {
		return nil, statusError(err)
	}
	return &pb.SinkCloseResponse{}, nil
}

// transformService serves flowctl.plugin.v1.Transform but Process
// (handleProcess).
type transformService struct {
	pb.UnimplementedTransformServer
	s *server
}

func (v transformService) Open(ctx context.Context, req *pb.TransformOpenRequest) (*pb.TransformOpenResponse, error) {
	pl, err := v.s.lookup(KindTransform, req.Plugin)
	if err != nil {
		return nil, statusError(err)
	}
	tr := pl.NewTransform()
	open := TransformOpenRequest{
		Config:   req.Config,
		Columns:  req.Columns,
		Settings: v.s.settings(KindTransform, req.Plugin, req.Name, req.Pipeline, ""),
	}
	columns, err := tr.Open(ctx, open)
	if err != nil {
		if cerr := tr.Close(ctx); cerr != nil {
			v.s.logger.Debug("closing a transform that failed to open", "plugin", req.Plugin, "error", cerr)
		}
		return nil, statusError(err)
	}
	id := v.s.next.Add(1)
	v.s.transforms.add(id, &instance[Transform]{plugin: tr})
	return &pb.TransformOpenResponse{Instance: id, Columns: columns}, nil
}

// handleProcess serves Transform.Process, decoding and encoding rows
// straight between values and bytes.
func (s *server) handleProcess(ctx context.Context, dec func(any) error) (any, error) {
	req := &rowsRequest{instanceNum: wire.ProcessRequestInstance, rowsNum: wire.ProcessRequestRows}
	if err := dec(req); err != nil {
		return nil, err
	}
	in, err := s.transforms.get(req.instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	out, err := in.plugin.Process(ctx, req.rows)
	in.mu.Unlock()
	if err != nil {
		return nil, statusError(err)
	}
	enc, err := wire.Encode(func(b []byte) ([]byte, error) {
		return wire.AppendRows(b, wire.ProcessResponseRows, out.Columns, out.Rows, Absent)
	})
	if err != nil {
		return nil, statusError(fmt.Errorf("transform output: %w", err))
	}
	return enc, nil
}

func (v transformService) Close(ctx context.Context, req *pb.TransformCloseRequest) (*pb.TransformCloseResponse, error) {
	in, err := v.s.transforms.remove(req.Instance)
	if err != nil {
		return nil, statusError(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.plugin.Close(ctx); err != nil {
		return nil, statusError(err)
	}
	return &pb.TransformCloseResponse{}, nil
}

// rowsRequest is a request made of an instance id and rows: a
// SinkWriteRequest or a TransformProcessRequest, by its field numbers.
type rowsRequest struct {
	instanceNum, rowsNum protowire.Number
	instance             uint64
	rows                 Rows
}

var _ wire.Unmarshaler = (*rowsRequest)(nil)

// UnmarshalWire implements wire.Unmarshaler.
func (r *rowsRequest) UnmarshalWire(b []byte) error {
	rd := wire.NewReader(b, Absent)
	for !rd.Done() {
		num, typ, err := rd.Next()
		if err != nil {
			return err
		}
		switch num {
		case r.instanceNum:
			if r.instance, err = rd.Varint(typ); err != nil {
				return err
			}
		case r.rowsNum:
			if r.rows.Columns, r.rows.Rows, err = rd.Rows(typ); err != nil {
				return err
			}
		default:
			if err := rd.Skip(num, typ); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusError returns the gRPC status error for an error of a plugin or
// of the server, with the error's kinds as its detail.
func statusError(err error) error {
	return wire.StatusError(errorToPB(err))
}
