package pluginhost

import (
	"os/exec"
	"syscall"
)

// killWithHost asks the kernel to kill the plugin process when the host
// dies (strictly, when the host thread that started it exits, which the
// Go runtime only does for threads locked by a goroutine that ended).
// sdk.Serve also exits by itself once its parent is gone.
func killWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
