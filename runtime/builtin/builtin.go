// Package builtin lists the plugins compiled into flowctl. They are written
// against plugins/sdk alone, exactly as third-party plugins are.
package builtin

import (
	"github.com/flowctl/flowctl/plugins/sdk"
	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	"github.com/flowctl/flowctl/plugins/sinks/stdout"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// Plugins returns every built-in plugin, sources first.
func Plugins() []sdk.Plugin {
	return []sdk.Plugin{
		// Sources.
		filesource.Plugin(),
		generate.Plugin(),
		// Sinks.
		filesink.Plugin(),
		stdout.Plugin(),
	}
}
