package pluginhost

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Reexec returns an Options.Server that starts the running executable
// again, with argv[0] set to name, the given arguments, and env
// ("KEY=value") added to the environment. flowctl passes the hidden
// command that serves its built-in plugins; a test binary passes
// ServeEnv (see ServeIfAsked).
func Reexec(name string, args []string, env ...string) (func() *exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the running executable to serve the built-in plugins: %w", err)
	}
	return func() *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Args[0] = name
		cmd.Env = append(cmd.Env, env...)
		return cmd
	}, nil
}

// ServeEnv is the environment variable that makes ServeIfAsked serve.
const ServeEnv = "FLOWCTL_PLUGINHOST_SERVE"

// ServeIfAsked serves plugins with sdk.Serve and exits when the
// environment has ServeEnv=1, and returns otherwise. Tests whose hosts
// run built-in plugins out of process call it at the start of TestMain,
// and give the host Reexec(os.Args[0], nil, ServeEnv+"=1") as its Server:
// the test binary then serves the plugins in its child processes as
// flowctl does with its hidden command.
func ServeIfAsked(plugins ...sdk.Plugin) {
	if os.Getenv(ServeEnv) != "1" {
		return
	}
	sdk.Serve(plugins...)
	os.Exit(0)
}
