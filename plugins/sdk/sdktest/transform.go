package sdktest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// TransformCase describes a transform plugin to RunTransform.
type TransformCase struct {
	// Plugin is the transform plugin under test.
	Plugin sdk.Plugin
	// Config is a valid config block (JSON). It holds every required
	// field; the suite fills in the spec's defaults.
	Config []byte
	// Columns and Rows are the input the transform is given: every row
	// has len(Columns) values of the SDK's value types.
	Columns []string
	Rows    [][]any
	// BadConfigs are configs, by name, that the plugin must reject, with
	// diagnostics from Plugin.Validate or an error from Open.
	BadConfigs map[string][]byte
}

// RunTransform runs the conformance checks of a transform plugin as
// subtests of t, each twice: in subtests "in-process", on the plugin's
// own constructor, and "go-plugin", through the plugin transport as a
// host runs a plugin executable. It checks that
//
//   - the spec is well formed (sdk.Spec.Check) and of kind transform, and
//     Validate accepts Config;
//   - Config without any one of its required fields is rejected, and so
//     is every config of BadConfigs;
//   - the transform opens with Columns and names its output columns, at
//     least one and each once; it processes Rows in two batches, and each
//     output batch that has rows has the columns Open named, a value per
//     column in every row and values of the SDK's value types only; and it
//     closes without an error;
//   - Process with a cancelled context returns promptly (with or without
//     an error), and the transform still closes.
//
// Every Open is followed by one Close. What the output holds is not
// checked: that is for the plugin's own tests. RunTransform does not
// check for goroutines left running.
func RunTransform(t *testing.T, c TransformCase) {
	t.Helper()
	if c.Plugin.NewTransform == nil {
		t.Fatalf("plugin %q has no NewTransform", c.Plugin.Spec.Name)
	}
	for i, row := range c.Rows {
		if len(row) != len(c.Columns) {
			t.Fatalf("TransformCase.Rows[%d] has %d values for %d columns", i, len(row), len(c.Columns))
		}
	}
	runModes(t, c.Plugin, func(t *testing.T, tg target) {
		config := withDefaults(t, tg.spec, c.Config)
		open := func(t *testing.T, tr sdk.Transform) func(context.Context, []byte) error {
			return func(ctx context.Context, config []byte) error {
				_, err := tr.Open(ctx, sdk.TransformOpenRequest{Config: config, Columns: c.Columns, Settings: settings(t)})
				return err
			}
		}
		t.Run("spec", func(t *testing.T) {
			checkSpec(t, tg.spec, sdk.KindTransform)
			checkValid(t, tg, config)
		})
		t.Run("missing", func(t *testing.T) {
			bad := withoutRequired(t, tg.spec, c.Config)
			for _, name := range slices.Sorted(maps.Keys(bad)) {
				t.Run(name, func(t *testing.T) {
					tr := tg.newTransform()
					checkRejected(t, tg, withDefaults(t, tg.spec, bad[name]), open(t, tr), tr.Close)
				})
			}
		})
		t.Run("bad", func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(c.BadConfigs)) {
				t.Run(name, func(t *testing.T) {
					tr := tg.newTransform()
					checkRejected(t, tg, withDefaults(t, tg.spec, c.BadConfigs[name]), open(t, tr), tr.Close)
				})
			}
		})
		t.Run("process", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			tr, columns := openTransform(t, ctx, tg, c.Columns, config)
			defer closeTransform(t, tr)
			half := len(c.Rows) / 2
			for i, rows := range [][][]any{c.Rows[:half], c.Rows[half:]} {
				out, err := tr.Process(ctx, sdk.Rows{Columns: c.Columns, Rows: rows})
				if err != nil {
					t.Fatalf("Process of batch %d (%d rows): %v", i+1, len(rows), err)
				}
				checkOutput(t, fmt.Sprintf("output of batch %d", i+1), columns, out)
			}
		})
		t.Run("cancelled-process", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			tr, _ := openTransform(t, ctx, tg, c.Columns, config)
			defer closeTransform(t, tr)
			cctx, ccancel := context.WithCancel(ctx)
			ccancel()
			var err error
			within(t, promptly, "Process with a cancelled context", func() {
				_, err = tr.Process(cctx, sdk.Rows{Columns: c.Columns, Rows: c.Rows})
			})
			t.Logf("Process with a cancelled context: %v", err)
		})
	})
}

// openTransform opens a new transform of tg with columns and config and
// returns it and its output columns, which it checks. If that fails, it
// closes the transform and fails t.
func openTransform(t *testing.T, ctx context.Context, tg target, columns []string, config []byte) (sdk.Transform, []string) {
	t.Helper()
	tr := tg.newTransform()
	out, err := tr.Open(ctx, sdk.TransformOpenRequest{Config: config, Columns: columns, Settings: settings(t)})
	if err != nil {
		_ = tr.Close(ctx)
		t.Fatalf("Open: %v", err)
	}
	if len(out) == 0 {
		closeTransform(t, tr)
		t.Fatal("Open named no output columns")
	}
	seen := make(map[string]bool, len(out))
	for _, col := range out {
		if seen[col] {
			closeTransform(t, tr)
			t.Fatalf("Open named the output column %q twice: %q", col, out)
		}
		seen[col] = true
	}
	return tr, out
}

// closeTransform closes tr, failing t if that fails.
func closeTransform(t *testing.T, tr sdk.Transform) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), runLimit)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// checkOutput checks a batch a transform returned: rows of the columns
// Open named, each with a value per column, of the SDK's value types.
func checkOutput(t *testing.T, what string, columns []string, out sdk.Rows) {
	t.Helper()
	if len(out.Rows) == 0 {
		return
	}
	if !slices.Equal(out.Columns, columns) {
		t.Errorf("%s has the columns %q; Open named %q", what, out.Columns, columns)
	}
	for i, row := range out.Rows {
		if len(row) != len(out.Columns) {
			t.Errorf("%s: row %d has %d values for %d columns", what, i, len(row), len(out.Columns))
			continue
		}
		for j, v := range row {
			if err := checkValue(v); err != nil {
				t.Errorf("%s: row %d: %s: %v", what, i, out.Columns[j], err)
			}
		}
	}
}

// checkValue reports whether v is of one of the SDK's value types (see
// package sdk), lists and maps checked through.
func checkValue(v any) error {
	switch v := v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time, time.Duration, decimal.Decimal:
		return nil
	case []any:
		for i, e := range v {
			if err := checkValue(e); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := checkValue(v[k]); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	}
	if v == sdk.Absent {
		return nil
	}
	return fmt.Errorf("value of type %T, which is not one of the SDK's value types", v)
}
