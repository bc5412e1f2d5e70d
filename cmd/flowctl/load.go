package main

import (
	"context"
	"fmt"
	"io"
	osexec "os/exec"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/pluginhost"
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

// planCompiler compiles a pipeline again for each of several runs of it
// (a backfill's slices, the partitions of a scaled-out run): the user's
// --set values, then the run's. Diagnostics become the error; warnings,
// which the first compile printed, are not repeated. Plugin log lines
// below quiet's level are dropped, so they do not break up a progress bar.
type planCompiler struct {
	file   string
	sets   []string
	mode   config.Mode
	server func() *osexec.Cmd
	stderr io.Writer
	level  hclog.Level
}

func newPlanCompiler(stderr io.Writer, file string, sets []string, mode config.Mode, quiet bool) (*planCompiler, error) {
	server, err := pluginhost.Reexec("flowctl", []string{servePluginsCommand})
	if err != nil {
		return nil, err
	}
	c := &planCompiler{file: file, sets: sets, mode: mode, server: server, stderr: stderr, level: hclog.Info}
	if quiet {
		c.level = hclog.Warn
	}
	return c, nil
}

func (c *planCompiler) compile(ctx context.Context, sets []string) (*plan.Plan, error) {
	host := pluginhost.New(pluginhost.Options{Builtins: builtins(), Server: c.server, Stderr: c.stderr, LogLevel: c.level})
	defer host.Close()
	p, ds := config.LoadFileWith(c.file, config.Options{Sets: append(slices.Clip(c.sets), sets...)})
	if p == nil {
		return nil, ds.Err()
	}
	set, rds := host.Resolve(ctx, p)
	pl, pds := plan.Compile(p, set.Catalog, c.mode)
	ds = append(ds, rds...)
	ds = append(ds, pds...)
	ds = append(ds, set.Bind(pl)...)
	ds.Sort()
	if err := ds.Err(); err != nil {
		return nil, err
	}
	return pl, nil
}
