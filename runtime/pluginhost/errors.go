package pluginhost

import (
	"fmt"
	"strings"
)

// ProcessError reports a plugin process that failed: it crashed, exited,
// hung or broke the protocol, or did not start. It wraps the error of the
// call that found the failure, which for a process that was running
// matches pluginrpc.ErrTransport.
type ProcessError struct {
	Label  string   // the stage and plugin it served: "source in (file)"
	Path   string   // the executable
	Pid    int      // 0 if it did not start
	Status string   // how it ended: "exit status 2", "signal: killed", ...
	Stderr []string // the last lines of its standard error
	Err    error
}

func (e *ProcessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: plugin process %s", e.Label, e.Path)
	if e.Pid != 0 {
		fmt.Fprintf(&b, " (pid %d)", e.Pid)
	}
	fmt.Fprintf(&b, ": %s: %v", e.Status, e.Err)
	if len(e.Stderr) == 0 {
		b.WriteString("; it wrote nothing to stderr")
		return b.String()
	}
	b.WriteString("; the last lines of its stderr:")
	for _, l := range e.Stderr {
		text, _ := logLine(l, 0)
		b.WriteString("\n\t" + text)
	}
	return b.String()
}

func (e *ProcessError) Unwrap() error { return e.Err }

// ChecksumError reports a plugin executable whose SHA-256 is not the one
// its lock file pins, or that the lock file does not list.
type ChecksumError struct {
	Plugin string // the plugin name
	Path   string // the executable
	Lock   string // the lock file
	Want   string // the pinned SHA-256, hex; empty when not listed
	Got    string // the executable's SHA-256, hex
	Relock string // the command that pins the executable as it is now
}

func (e *ChecksumError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("plugin %s: %s is not pinned in %s; to trust it, run: %s", e.Plugin, e.Path, e.Lock, e.Relock)
	}
	return fmt.Sprintf("plugin %s: %s has sha256 %s, but %s pins %s: the executable changed since it was locked; "+
		"it will not be started. If you trust the new build, run: %s", e.Plugin, e.Path, e.Got, e.Lock, e.Want, e.Relock)
}
