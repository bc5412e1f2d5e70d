package pluginrpc

import "github.com/flowctl/flowctl/plugins/sdk/internal/wire"

// DrainEnv is the environment variable through which a host asks a plugin
// process started by sdk.Serve to mark the end of a sink's output: when it
// is set, the process writes its value to its standard output and
// standard error (the streams go-plugin passes to ClientConfig's
// SyncStdout and SyncStderr) each time it has closed a sink. A host that
// waits for the mark before stopping the process loses nothing the sink
// printed; it removes the mark from what it passes on.
const DrainEnv = wire.DrainEnv
