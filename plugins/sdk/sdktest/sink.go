package sdktest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// SinkCase describes a sink plugin to RunSink.
type SinkCase struct {
	// Plugin is the sink plugin under test.
	Plugin sdk.Plugin
	// Config returns a valid config block (JSON), a new one for each
	// check, for example one writing into t.TempDir(). It holds every
	// required field; the suite fills in the spec's defaults. For a sink
	// that implements sdk.Committer, each config's destination must start
	// empty: the commit check expects no checkpoint committed there.
	Config func(t *testing.T) []byte
	// Columns and Rows are what the sink is given to write: every row has
	// len(Columns) values of the SDK's value types.
	Columns []string
	Rows    [][]any
	// BadConfigs are configs, by name, that the plugin must reject, with
	// diagnostics from Plugin.Validate or an error from Open.
	BadConfigs map[string][]byte
}

// RunSink runs the conformance checks of a sink plugin as subtests of t,
// each twice: in subtests "in-process", on the plugin's own constructor,
// and "go-plugin", through the plugin transport as a host runs a plugin
// executable. It checks that
//
//   - the spec is well formed (sdk.Spec.Check) and of kind sink, and
//     Validate accepts Config;
//   - Config without any one of its required fields is rejected, and so
//     is every config of BadConfigs;
//   - the sink opens with Columns, writes Rows in two batches, flushes
//     (if it is an sdk.Flusher) and closes without an error;
//   - Write with a cancelled context returns promptly (with or without
//     an error), and the sink still closes;
//   - a sink that implements sdk.Committer does so over go-plugin too, and
//     follows the commit protocol across restarts (see checkCommit); other
//     sinks skip that check.
//
// Every Open is followed by one Close. What the sink wrote is not
// checked: that is for the plugin's own tests. RunSink does not check for
// goroutines left running.
func RunSink(t *testing.T, c SinkCase) {
	t.Helper()
	if c.Plugin.NewSink == nil {
		t.Fatalf("plugin %q has no NewSink", c.Plugin.Spec.Name)
	}
	if c.Config == nil {
		t.Fatal("SinkCase.Config is nil")
	}
	for i, row := range c.Rows {
		if len(row) != len(c.Columns) {
			t.Fatalf("SinkCase.Rows[%d] has %d values for %d columns", i, len(row), len(c.Columns))
		}
	}
	_, localCommits := c.Plugin.NewSink().(sdk.Committer)
	runModes(t, c.Plugin, func(t *testing.T, tg target) {
		open := func(t *testing.T, sink sdk.Sink) func(context.Context, []byte) error {
			return func(ctx context.Context, config []byte) error {
				return sink.Open(ctx, sdk.SinkOpenRequest{Config: config, Columns: c.Columns, Settings: settings(t)})
			}
		}
		t.Run("spec", func(t *testing.T) {
			checkSpec(t, tg.spec, sdk.KindSink)
			checkValid(t, tg, withDefaults(t, tg.spec, c.Config(t)))
		})
		t.Run("missing", func(t *testing.T) {
			bad := withoutRequired(t, tg.spec, c.Config(t))
			for _, name := range slices.Sorted(maps.Keys(bad)) {
				t.Run(name, func(t *testing.T) {
					sink := tg.newSink()
					checkRejected(t, tg, withDefaults(t, tg.spec, bad[name]), open(t, sink), sink.Close)
				})
			}
		})
		t.Run("bad", func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(c.BadConfigs)) {
				t.Run(name, func(t *testing.T) {
					sink := tg.newSink()
					checkRejected(t, tg, withDefaults(t, tg.spec, c.BadConfigs[name]), open(t, sink), sink.Close)
				})
			}
		})
		t.Run("write", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			sink := tg.newSink()
			openSink(t, ctx, sink, open(t, sink), withDefaults(t, tg.spec, c.Config(t)))
			defer closeSink(t, sink)
			half := len(c.Rows) / 2
			for i, rows := range [][][]any{c.Rows[:half], c.Rows[half:]} {
				if err := sink.Write(ctx, sdk.Rows{Columns: c.Columns, Rows: rows}); err != nil {
					t.Fatalf("Write of batch %d (%d rows): %v", i+1, len(rows), err)
				}
			}
			if f, ok := sink.(sdk.Flusher); ok {
				if err := f.Flush(ctx); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
		})
		t.Run("cancelled-write", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			sink := tg.newSink()
			openSink(t, ctx, sink, open(t, sink), withDefaults(t, tg.spec, c.Config(t)))
			defer closeSink(t, sink)
			cctx, ccancel := context.WithCancel(ctx)
			ccancel()
			var err error
			within(t, promptly, "Write with a cancelled context", func() {
				err = sink.Write(cctx, sdk.Rows{Columns: c.Columns, Rows: c.Rows})
			})
			t.Logf("Write with a cancelled context: %v", err)
		})
		t.Run("commit", func(t *testing.T) {
			_, commits := tg.newSink().(sdk.Committer)
			if commits != localCommits {
				t.Fatalf("the sink implements sdk.Committer: %v; the plugin's own sink: %v", commits, localCommits)
			}
			if !commits {
				t.Skip("the sink does not implement sdk.Committer")
			}
			checkCommit(t, tg, commitCase{
				config:  withDefaults(t, tg.spec, c.Config(t)),
				columns: c.Columns,
				rows:    c.Rows,
			})
		})
	})
}

// openSink opens sink with open and config; if that fails, it closes the
// sink and fails t.
func openSink(t *testing.T, ctx context.Context, sink sdk.Sink, open func(context.Context, []byte) error, config []byte) {
	t.Helper()
	if err := open(ctx, config); err != nil {
		_ = sink.Close(ctx)
		t.Fatalf("Open: %v", err)
	}
}

// closeSink closes sink, failing t if that fails.
func closeSink(t *testing.T, sink sdk.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), runLimit)
	defer cancel()
	if err := sink.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}
