package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/runtime/exec"
)

func newRun() *cobra.Command {
	var (
		mode string
		sets []string
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a pipeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := parseMode(mode)
			if err != nil {
				return err
			}
			pl, _, err := compile(cmd.ErrOrStderr(), args[0], m, sets...)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := exec.Run(ctx, pl, exec.Options{Stderr: cmd.ErrOrStderr()})
			fmt.Fprintln(cmd.ErrOrStderr(), sum)
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "", "override the pipeline's mode: batch, micro-batch or stream")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a value of the pipeline file: path=value, e.g. sources.orders.config.path=in/*.jsonl (repeatable)")
	return cmd
}
