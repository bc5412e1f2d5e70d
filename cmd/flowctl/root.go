package main

import (
	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/catalog"
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
	root.AddCommand(newValidate(), newRun(), newGraph(), newPlugins(), newBench())
	return root
}

// builtins lists the plugins compiled into flowctl.
func builtins() []sdk.Plugin { return builtin.Plugins() }

func newCatalog() (*catalog.Catalog, error) {
	return catalog.New(builtins()...)
}
