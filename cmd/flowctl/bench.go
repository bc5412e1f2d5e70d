package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/runtime/bench"
)

func newBench() *cobra.Command {
	var (
		n, runs, rate int
		latencyFor    time.Duration
		kafka         string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure events/s of decode, filter and window pipelines in each mode, and stream latency",
		Long: `bench generates Nexmark-style bids as JSON lines and runs, through the same
engine as flowctl run: decode only, a filter, and a tumbling 1-minute sum per
auction in batch mode; the tumbling sum again in micro-batch and stream mode;
and a stream pipeline fed at a fixed rate, reporting the end-to-end latency
from an event's creation to its window row reaching the sink.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "flowctl-bench-")
			if err != nil {
				return failed(err)
			}
			defer os.RemoveAll(dir)
			if kafka != "" {
				return benchKafka(cmd, dir, kafka, n, rate, latencyFor)
			}
			cat, err := newCatalog()
			if err != nil {
				return failed(err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "generating %d events...\n", n)
			if _, err := bench.Setup(dir, n); err != nil {
				return failed(err)
			}
			best := func(run func() (bench.Result, error)) (bench.Result, error) {
				var b bench.Result
				for range runs {
					r, err := run()
					if err != nil {
						return r, err
					}
					if b.Elapsed == 0 || r.Elapsed < b.Elapsed {
						b = r
					}
				}
				return b, nil
			}
			for _, c := range bench.Cases {
				r, err := best(func() (bench.Result, error) { return bench.RunCase(cmd.Context(), cat, dir, c) })
				if err != nil {
					return failed(err)
				}
				fmt.Fprintln(w, r)
			}
			var batch float64
			for _, m := range bench.ModeRuns {
				r, err := best(func() (bench.Result, error) { return bench.RunMode(cmd.Context(), cat, dir, m.Mode, m.Sets) })
				if err != nil {
					return failed(err)
				}
				if batch == 0 {
					batch = r.Rate()
				}
				fmt.Fprintf(w, "%s  (%.0f%% of batch)\n", r, 100*r.Rate()/batch)
			}
			if rate > 0 {
				l, err := bench.RunLatency(cmd.Context(), builtins(), dir, rate, latencyFor)
				if err != nil {
					return failed(err)
				}
				fmt.Fprintln(w, l)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "events", 1_000_000, "number of events to generate")
	cmd.Flags().IntVar(&runs, "runs", 3, "runs per pipeline; the best is reported")
	cmd.Flags().IntVar(&rate, "latency-rate", 100_000, "events/s fed to the stream latency run; 0 skips it")
	cmd.Flags().DurationVar(&latencyFor, "latency-for", 5*time.Second, "how long the latency run lasts")
	cmd.Flags().StringVar(&kafka, "kafka", "", "a Kafka broker (host:port): run the Kafka → window → Kafka benchmarks against it instead")
	return cmd
}
