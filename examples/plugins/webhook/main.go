// Command flowctl-plugin-webhook is a third-party flowctl plugin named
// webhook, a sink and a source: the sink POSTs rows to an HTTP endpoint as
// JSON lines, the source polls an HTTP endpoint serving JSON lines. Build
// it as flowctl-plugin-webhook and put it on $FLOWCTL_PLUGIN_PATH; flowctl
// starts it when a pipeline uses `plugin: webhook`.
package main

import (
	"github.com/flowctl/flowctl/plugins/sdk"

	"example.com/flowctl-plugin-webhook/sink"
	"example.com/flowctl-plugin-webhook/source"
)

func main() {
	sdk.Serve(sink.Plugin(), source.Plugin())
}
