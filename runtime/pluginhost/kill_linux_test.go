package pluginhost

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestHostKilled kills a host process with SIGKILL while its plugin runs
// and checks that the plugin process is gone within a few seconds: by
// the kernel's Pdeathsig, and, with that turned off, by sdk.Serve's watch
// of its parent.
func TestHostKilled(t *testing.T) {
	t.Parallel()
	// Orphans come to this process, which reaps them, rather than to
	// init, which may not.
	const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, linux/prctl.h
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	for _, mode := range []string{"pdeathsig", "watch"} {
		t.Run(mode, func(t *testing.T) {
			host := exec.Command(os.Args[0])
			host.Env = append(os.Environ(), hostEnv+"="+mode)
			host.Stderr = os.Stderr
			out, err := host.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := host.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				_ = host.Process.Kill()
				_ = host.Wait()
				t.Fatalf("the host did not report its plugin's pid: %v", err)
			}
			pid, err := strconv.Atoi(line[:len(line)-1])
			if err != nil {
				t.Fatal(err)
			}
			if gone(pid) {
				t.Fatalf("the plugin process %d is not running", pid)
			}
			_ = host.Process.Signal(syscall.SIGKILL)
			_ = host.Wait()
			killed := time.Now()
			for !gone(pid) {
				if time.Since(killed) > 5*time.Second {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("the plugin process %d still runs 5s after its host was killed", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("the plugin exited %s after its host was killed", time.Since(killed).Round(time.Millisecond))
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		})
	}
}
