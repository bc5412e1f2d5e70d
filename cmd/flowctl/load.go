package main

import (
	"context"
	"fmt"
	"io"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/plan"
)

// compile loads and compiles a pipeline file, printing every diagnostic to
// w. It returns an error when there are errors (warnings alone pass).
//
// The plan's plugins run out of process (see package pluginhost) but for
// built-ins the pipeline asks to run in process. Third-party plugins are
// started to learn their specs and check their configs; those processes
// end when compile returns.
func compile(w io.Writer, file string, mode config.Mode, sets ...string) (*plan.Plan, diag.Diagnostics, error) {
	host, err := newHost(w)
	if err != nil {
		return nil, nil, failed(err)
	}
	defer host.Close()
	p, ds := config.LoadFileWith(file, config.Options{Sets: sets})
	var pl *plan.Plan
	if p != nil {
		// The loader returns what it could build even with errors, so the
		// graph, schema and expression checks report their problems too.
		// Compiling takes no context: plugins start within the host's
		// start timeout.
		set, rds := host.Resolve(context.Background(), p)
		var pds diag.Diagnostics
		pl, pds = set.Compile(p, mode)
		ds = append(ds, rds...)
		ds = append(ds, pds...)
	}
	ds.Sort()
	printDiags(w, ds)
	if ds.HasErrors() {
		return nil, ds, &codeError{code: exitError, err: errReported}
	}
	return pl, ds, nil
}

func printDiags(w io.Writer, ds diag.Diagnostics) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

func parseMode(s string) (config.Mode, error) {
	switch m := config.Mode(s); m {
	case "", config.Batch, config.MicroBatch, config.Stream:
		return m, nil
	}
	return "", &codeError{code: exitUsage, err: fmt.Errorf("--mode %q: want batch, micro-batch or stream", s)}
}
