package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidate() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check pipeline files and report every problem as file:line:col: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, f := range args {
				pl, _, err := compile(cmd.ErrOrStderr(), f, "")
				if err != nil {
					bad = true
					continue
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "%s: ok (%s mode, %d stages)\n", f, pl.Mode, len(pl.Stages))
				if src := pl.ScaleOutSource(); src != nil {
					fmt.Fprintf(out, "  source %s (%s): scaled out: the processes running this file share its partitions; each partition keeps its state in %s/%s/PARTITION\n",
						src.Name, src.Plugin.Spec.Name, pl.CheckpointDir(), src.Name)
				}
				for _, d := range pl.Deliveries() {
					fmt.Fprintf(out, "  sink %s (%s): %s: %s\n", d.Sink.Name, d.Sink.Plugin.Spec.Name, d.Report.Delivery, d.Report.Reason)
				}
			}
			if bad {
				return &codeError{code: exitError, err: errReported}
			}
			return nil
		},
	}
}
