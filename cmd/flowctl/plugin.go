package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
	"github.com/flowctl/flowctl/runtime/pluginhost"
)

// conformanceCommand is the hidden command that runs the conformance
// suite in a process of its own (go test's machinery ends its process).
const conformanceCommand = "conformance"

func newPlugin() *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Tools for plugin authors"}
	var (
		cases   string
		timeout time.Duration
	)
	test := &cobra.Command{
		Use:   "test EXECUTABLE",
		Short: "Run the conformance suite against a plugin executable",
		Long: `test starts the plugin executable as flowctl does and runs the conformance
suite against every plugin it serves: the handshake and protocol version,
the spec, rejection of configs missing a required field or listed as bad,
reading to the end and resuming from a position (sources), writing and
flushing (sinks), processing (transforms), cancellation, and a clean
shutdown. It prints each check and exits 1 if one failed.

The checks beyond the spec need a valid config for each plugin, and rows
for sinks and transforms: give them in a YAML case file with --cases
(see the sdktest package documentation, type Cases).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := filepath.Abs(args[0])
			if err != nil {
				return failed(err)
			}
			child, err := pluginhost.Reexec("flowctl", []string{"plugin", conformanceCommand, exe, "--cases", cases, "--timeout", timeout.String()})
			if err != nil {
				return failed(err)
			}
			run := child()
			run.Stderr = cmd.ErrOrStderr()
			out, err := run.StdoutPipe()
			if err != nil {
				return failed(err)
			}
			if err := run.Start(); err != nil {
				return failed(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "conformance of %s\n", exe)
			totals, rerr := sdktest.Report(out, cmd.OutOrStdout())
			werr := run.Wait()
			fmt.Fprintf(cmd.OutOrStdout(), "%d passed, %d failed, %d skipped\n", totals.Passed, totals.Failed, totals.Skipped)
			var exitErr *exec.ExitError
			switch {
			case rerr != nil:
				return failed(rerr)
			case totals.Failed > 0:
				return &codeError{code: exitError, err: errReported}
			case errors.As(werr, &exitErr) || totals.Passed == 0:
				return failed(fmt.Errorf("the conformance run failed: %v", werr))
			case werr != nil:
				return failed(werr)
			}
			return nil
		},
	}
	test.Flags().StringVar(&cases, "cases", "", "YAML file with a valid config per plugin, configs to reject, and rows for sinks and transforms")
	test.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.AddCommand(test)

	child := &cobra.Command{
		Use:    conformanceCommand + " EXECUTABLE",
		Short:  "Run the conformance suite under go test's machinery (for plugin test)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var c sdktest.Cases
			if cases != "" {
				var err error
				if c, err = sdktest.ReadCases(cases); err != nil {
					return failed(err)
				}
			}
			sdktest.Main(args[0], c, timeout) // exits
			return nil
		},
	}
	child.Flags().StringVar(&cases, "cases", "", "")
	child.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "")
	cmd.AddCommand(child)
	return cmd
}
