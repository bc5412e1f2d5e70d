package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/runtime/bench"
)

func newBench() *cobra.Command {
	var n, runs int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure events/s of decode, filter and tumbling-window pipelines over generated JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "flowctl-bench-")
			if err != nil {
				return failed(err)
			}
			defer os.RemoveAll(dir)
			cat, err := newCatalog()
			if err != nil {
				return failed(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "generating %d events...\n", n)
			if _, err := bench.Setup(dir, n); err != nil {
				return failed(err)
			}
			for _, c := range bench.Cases {
				var best bench.Result
				for range runs {
					r, err := bench.RunCase(cmd.Context(), cat, dir, c)
					if err != nil {
						return failed(err)
					}
					if best.Elapsed == 0 || r.Elapsed < best.Elapsed {
						best = r
					}
				}
				fmt.Fprintln(w, best)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "events", 1_000_000, "number of events to generate")
	cmd.Flags().IntVar(&runs, "runs", 3, "runs per pipeline; the best is reported")
	return cmd
}
