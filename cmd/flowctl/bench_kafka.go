package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/runtime/bench"
	"github.com/flowctl/flowctl/runtime/config"
)

// benchKafka runs the Kafka benchmarks against the broker at addr: the
// throughput of Kafka → tumbling 1m sum per auction → transactional
// Kafka over n bids produced up front, in stream and micro-batch mode;
// then, if rate > 0, the stream latency from a window's end to its rows
// reaching a read_committed consumer, with bids made in real time at
// rate events/s for latencyFor, checkpointing every 100ms and 1s.
func benchKafka(cmd *cobra.Command, dir, addr string, n, rate int, latencyFor time.Duration) error {
	cat, err := newCatalog()
	if err != nil {
		return failed(err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "kafka at %s: producing %d bids per throughput run...\n", addr, n)
	for _, mode := range []config.Mode{config.Stream, config.MicroBatch} {
		k := bench.Kafka{Brokers: addr, Mode: mode, Window: time.Minute, Every: time.Second, Transactional: true}
		r, err := bench.RunKafka(cmd.Context(), cat, dir, k, n)
		if err != nil {
			return failed(err)
		}
		fmt.Fprintln(w, r)
	}
	if rate <= 0 {
		return nil
	}
	for _, every := range []time.Duration{100 * time.Millisecond, time.Second} {
		k := bench.Kafka{Brokers: addr, Mode: config.Stream, Window: 250 * time.Millisecond, Every: every, Transactional: true}
		l, err := bench.RunKafkaLatency(cmd.Context(), cat, dir, k, rate, latencyFor)
		if err != nil {
			return failed(err)
		}
		fmt.Fprintln(w, l)
	}
	return nil
}
