// Package wire holds what both ends of the plugin transport share: the
// go-plugin handshake, the gRPC options and codec, the protobuf encoding of
// record values and rows, and the mapping of errors to gRPC statuses.
//
// The SDK's own types stay out of this package, because package sdk (the
// plugin-process end, sdk.Serve) and package pluginrpc (the host end) both
// import it: values are plain Go values, rows are columns plus [][]any, and
// the value standing for an absent field (sdk.Absent) is passed in.
//
// The hot messages, a source's batches and rows, are encoded and decoded
// straight between Go values and protobuf wire bytes (see Codec), in the
// layout proto/flowctl/plugin/v1 declares, so that a record costs no
// intermediate message structs. Everything else goes through the generated
// types of package pluginpb.
package wire

import (
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the plugin protocol version this package speaks: the
// flowctl.plugin.v1 services.
const ProtocolVersion = 1

// PluginName names the protocol in go-plugin's plugin sets; a flowctl
// plugin process serves every plugin it holds under this one name.
const PluginName = "flowctl"

// Handshake is the go-plugin handshake of flowctl plugins. The magic cookie
// is not a secret: it only tells a plugin binary started by hand that it
// is a plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "FLOWCTL_PLUGIN",
	MagicCookieValue: "d2f1c0a4-flowctl-plugin-7b9e",
}

// Transport sizes. Batches are up to a few MiB; large windows let one
// cross without waiting for HTTP/2 window updates.
const (
	maxMessage = math.MaxInt32
	window     = 16 << 20
	bufferSize = 256 << 10
)

// ServerOptions are the gRPC server options of a plugin process: the
// codec, message size limits and flow-control windows.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(Codec{}),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
		grpc.StaticStreamWindowSize(window),
		grpc.StaticConnWindowSize(window),
		grpc.ReadBufferSize(bufferSize),
		grpc.WriteBufferSize(bufferSize),
	}
}

// DialOptions are the host's gRPC dial options for a plugin connection.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithStaticStreamWindowSize(window),
		grpc.WithStaticConnWindowSize(window),
		grpc.WithReadBufferSize(bufferSize),
		grpc.WithWriteBufferSize(bufferSize),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
	}
}

// NewServer builds the plugin-process end of the protocol. Package sdk
// sets it when it is initialized, to a
//
//	func(plugins []sdk.Plugin, logger hclog.Logger) *plugin.ServeConfig
//
// returning the go-plugin configuration that serves those plugins, the
// one sdk.Serve uses; package pluginrpc calls it for its ServeConfig. The
// server lives in package sdk because sdk.Serve needs it and package sdk
// cannot import pluginrpc, which imports sdk; this variable is how the
// host-side package reaches it without sdk exporting transport types.
var NewServer any
