package sdk

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// A plugin process is tied to the host that started it: it never outlives
// it, and what it prints reaches the host before the host closes it.

// hostPollInterval is how often a plugin process checks that its host is
// still running.
const hostPollInterval = 250 * time.Millisecond

// watchHost ends the process once the host that started it is gone, so a
// plugin never outlives its host, even one killed by SIGKILL: when the
// host dies the process is handed to another parent and os.Getppid
// changes. A process whose parent is already init (pid 1) has nothing to
// watch. On Linux the host also asks the kernel to kill the plugin when
// it dies; this is the portable half.
func watchHost(logger hclog.Logger) {
	host := os.Getppid()
	if host <= 1 {
		return
	}
	for range time.Tick(hostPollInterval) {
		if os.Getppid() != host {
			logger.Error("the host process is gone; exiting", "host_pid", host)
			os.Exit(1)
		}
	}
}

// markDrained writes the host's drain mark, if it asked for one (see
// wire.DrainEnv), to os.Stdout and os.Stderr, which go-plugin has
// replaced by the streams to the host. It is called after a sink closes.
func markDrained() {
	mark := os.Getenv(wire.DrainEnv)
	if mark == "" {
		return
	}
	fmt.Fprint(os.Stdout, mark)
	fmt.Fprint(os.Stderr, mark)
}
