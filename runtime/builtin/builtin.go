// Package builtin lists the plugins compiled into flowctl. They are written
// against plugins/sdk alone, exactly as third-party plugins are.
package builtin

import (
	"github.com/flowctl/flowctl/plugins/sdk"
	benthossink "github.com/flowctl/flowctl/plugins/sinks/benthos"
	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	kafkasink "github.com/flowctl/flowctl/plugins/sinks/kafka"
	parquetsink "github.com/flowctl/flowctl/plugins/sinks/parquet"
	pgsink "github.com/flowctl/flowctl/plugins/sinks/postgres"
	"github.com/flowctl/flowctl/plugins/sinks/stdout"
	benthossource "github.com/flowctl/flowctl/plugins/sources/benthos"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
	"github.com/flowctl/flowctl/plugins/sources/generate"
	kafkasource "github.com/flowctl/flowctl/plugins/sources/kafka"
	parquetsource "github.com/flowctl/flowctl/plugins/sources/parquet"
	pgsource "github.com/flowctl/flowctl/plugins/sources/postgres"
)

// Plugins returns every built-in plugin, sources first.
func Plugins() []sdk.Plugin {
	return []sdk.Plugin{
		// Sources.
		filesource.Plugin(),
		parquetsource.Plugin(),
		generate.Plugin(),
		kafkasource.Plugin(),
		benthossource.Plugin(),
		pgsource.Plugin(),
		// Sinks.
		filesink.Plugin(),
		parquetsink.Plugin(),
		stdout.Plugin(),
		kafkasink.Plugin(),
		benthossink.Plugin(),
		pgsink.Plugin(),
	}
}
