package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/metrics"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/scaleout"
)

func newRun() *cobra.Command {
	var (
		mode, metricsAddr string
		sets              []string
		fromScratch       bool
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
			var rep *metrics.Reporter
			if metricsAddr != "" {
				rep = metrics.New(pl.Pipeline.Name.Value)
				addr, err := rep.Serve(ctx, metricsAddr)
				if err != nil {
					return failed(fmt.Errorf("--metrics: %w", err))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "serving metrics on http://%s/metrics\n", addr)
			}
			if pl.ScaleOutSource() != nil && pl.Mode != config.Batch {
				return runScaledOut(ctx, cmd.ErrOrStderr(), args[0], pl, sets, fromScratch, rep)
			}
			bar := newProgress(cmd.ErrOrStderr())
			sum, err := exec.Run(ctx, pl, exec.Options{
				Stderr:        cmd.ErrOrStderr(),
				Checkpoints:   checkpoints(pl),
				FromScratch:   fromScratch,
				ProgressEvery: 500 * time.Millisecond,
				Progress: func(s exec.Summary) {
					if rep != nil {
						rep.Update(s)
					}
					bar.update(s)
				},
			})
			bar.finish()
			if rep != nil {
				rep.Update(sum)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), sum)
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "", "override the pipeline's mode: batch, micro-batch or stream")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9464")
	cmd.Flags().BoolVar(&fromScratch, "from-scratch", false, "discard the pipeline's checkpoints and start from the beginning of its sources")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a value of the pipeline file: path=value, e.g. sources.orders.config.path=in/*.jsonl (repeatable)")
	return cmd
}

// runScaledOut runs this process's share of a pipeline whose source shares
// its partitions among processes (runtime/scaleout). Each partition is
// compiled again, for its own run, in the mode pl was compiled in.
func runScaledOut(ctx context.Context, stderr io.Writer, file string, pl *plan.Plan, sets []string, fromScratch bool, rep *metrics.Reporter) error {
	c, err := newPlanCompiler(stderr, file, sets, pl.Mode, false)
	if err != nil {
		return failed(err)
	}
	bar := newProgress(stderr)
	sum, err := scaleout.Run(ctx, scaleout.Options{
		Compile:     func(ctx context.Context) (*plan.Plan, error) { return c.compile(ctx, nil) },
		Checkpoints: checkpoints(pl),
		Exec:        exec.Options{Stderr: stderr, FromScratch: fromScratch, ProgressEvery: 500 * time.Millisecond},
		Progress: func(s scaleout.Summary) {
			if rep != nil {
				rep.Update(s.Summary)
			}
			bar.update(s.Summary)
		},
	})
	bar.finish()
	if rep != nil {
		rep.Update(sum.Summary)
	}
	fmt.Fprintln(stderr, sum)
	if err != nil {
		return failed(err)
	}
	return nil
}

// checkpoints is the store of the pipeline's `checkpoint.dir`.
func checkpoints(pl *plan.Plan) *checkpoint.Store {
	return checkpoint.NewDir(pl.CheckpointDir())
}
