package wire

// DrainEnv is the environment variable through which a host asks a plugin
// process to mark the end of a sink's output. When it is set, the process
// writes its value to its standard output and standard error after it
// closes a sink. go-plugin streams both to the host asynchronously; the
// host waits for the mark before it stops the process, so that nothing
// the sink printed is lost, and removes the mark from what it passes on.
const DrainEnv = "FLOWCTL_DRAIN_MARK"
