// Command plugin is a flowctl plugin executable for pluginrpc's tests: it
// serves the generate source and a sink, discard, that drops its rows.
// With PLUGINRPC_TEST_SERVE_VERSION set it speaks only that protocol
// version instead, as a plugin built against another version of the SDK
// would.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

func main() {
	plugins := []sdk.Plugin{generate.Plugin(), discardPlugin()}
	if v := os.Getenv("PLUGINRPC_TEST_SERVE_VERSION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cfg := pluginrpc.ServeConfig(plugins...)
		cfg.VersionedPlugins = map[int]plugin.PluginSet{n: cfg.VersionedPlugins[pluginrpc.ProtocolVersion]}
		plugin.Serve(cfg)
		return
	}
	sdk.Serve(plugins...)
}

// discardPlugin is a sink that drops its rows; the benchmarks' pipelines
// end in it. (bench_test.go has the same sink, for the in-process runs.)
func discardPlugin() sdk.Plugin {
	return sdk.Plugin{
		Spec:    sdk.Spec{Name: "discard", Kind: sdk.KindSink, Version: "0.1.0", Summary: "Drops its rows."},
		NewSink: func() sdk.Sink { return discard{} },
	}
}

type discard struct{}

func (discard) Open(context.Context, sdk.SinkOpenRequest) error { return nil }
func (discard) Write(context.Context, sdk.Rows) error           { return nil }
func (discard) Close(context.Context) error                     { return nil }
