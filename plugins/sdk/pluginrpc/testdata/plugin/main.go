// Command plugin is a flowctl plugin executable for pluginrpc's tests: it
// serves the generate source. With PLUGINRPC_TEST_SERVE_VERSION set it
// speaks only that protocol version instead, as a plugin built against
// another version of the SDK would.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

func main() {
	if v := os.Getenv("PLUGINRPC_TEST_SERVE_VERSION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cfg := pluginrpc.ServeConfig(generate.Plugin())
		cfg.VersionedPlugins = map[int]plugin.PluginSet{n: cfg.VersionedPlugins[pluginrpc.ProtocolVersion]}
		plugin.Serve(cfg)
		return
	}
	sdk.Serve(generate.Plugin())
}
