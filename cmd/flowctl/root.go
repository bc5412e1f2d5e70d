package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/pluginhost"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "flowctl",
		Short:         "Run data pipelines declared in YAML in batch, micro-batch or stream mode",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newValidate(), newRun(), newGraph(), newPlugins(), newPlugin(), newBench(), newServePlugins(), newBackfill())
	return root
}

// builtins lists the plugins compiled into flowctl.
func builtins() []sdk.Plugin { return builtin.Plugins() }

func newCatalog() (*catalog.Catalog, error) {
	return catalog.New(builtins()...)
}

// servePluginsCommand is the hidden command with which flowctl runs its
// built-in plugins out of process: the host starts flowctl again with it.
const servePluginsCommand = "serve-plugins"

func newServePlugins() *cobra.Command {
	return &cobra.Command{
		Use:    servePluginsCommand,
		Short:  "Serve the built-in plugins to the flowctl that started this process",
		Hidden: true,
		Args:   cobra.NoArgs,
		Run:    func(*cobra.Command, []string) { sdk.Serve(builtins()...) },
	}
}

// newHost returns the plugin host of a command: built-in plugins run in
// flowctl processes started with servePluginsCommand; their log lines go
// to stderr.
func newHost(stderr io.Writer) (*pluginhost.Host, error) {
	server, err := pluginhost.Reexec("flowctl", []string{servePluginsCommand})
	if err != nil {
		return nil, err
	}
	return pluginhost.New(pluginhost.Options{Builtins: builtins(), Server: server, Stderr: stderr}), nil
}
