package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/backfill"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
)

func newBackfill() *cobra.Command {
	var (
		from, to string
		parallel int
		slice    time.Duration
		sets     []string
		restart  bool
	)
	cmd := &cobra.Command{
		Use:   "backfill FILE --from T --to T",
		Short: "Replay a pipeline in batch mode over an event-time range, in slices run side by side",
		Long: `Replay a pipeline in batch mode over the event-time range [--from, --to),
cut into slices (calendar days in UTC by default) of which --parallel run at
once. Sources read only each slice's range, and sinks write with upserts by
the pipeline's key, so running a backfill twice leaves the same table. A
rerun after an interruption skips the slices already done.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lo, hi, err := parseRange(from, to)
			if err != nil {
				return err
			}
			if parallel < 1 {
				return &codeError{code: exitUsage, err: fmt.Errorf("--parallel %d: want 1 or more", parallel)}
			}
			stderr := cmd.ErrOrStderr()
			base, _, err := compile(stderr, args[0], config.Batch, sets...)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return failed(err)
			}
			var bar *backfillBar
			if all, err := backfill.Split(lo, hi, slice); err == nil {
				bar = newBackfillBar(stderr, len(all))
			}
			var progress func(backfill.Progress)
			if bar != nil {
				progress = bar.update
			}
			c, err := newPlanCompiler(stderr, args[0], sets, config.Batch, bar != nil)
			if err != nil {
				return failed(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := backfill.Run(ctx, base, backfill.Options{
				From: lo, To: hi, Slice: slice, Parallel: parallel, Restart: restart,
				Compile:     c.compile,
				Exec:        exec.Options{Stderr: stderr, ProgressEvery: 500 * time.Millisecond},
				StateDir:    checkpoints(base).Where,
				Fingerprint: []byte(string(src) + "\x00" + strings.Join(sets, "\x00")),
				Plugins:     specs(builtins()),
				Log:         stderr,
				Verbose:     bar == nil,
				Progress:    progress,
			})
			bar.finish()
			if err == nil || sum.Failed || sum.Stopped {
				fmt.Fprintln(stderr, sum)
			}
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start of the event-time range, inclusive: RFC 3339 (2026-03-01T00:00:00Z) or a date (2026-03-01, midnight UTC)")
	cmd.Flags().StringVar(&to, "to", "", "end of the event-time range, exclusive, in the same forms as --from")
	cmd.Flags().IntVar(&parallel, "parallel", 1, "how many slices run at once")
	cmd.Flags().DurationVar(&slice, "slice", 24*time.Hour, "slice length; slices are cut at its multiples since the Unix epoch (24h: calendar days in UTC), and one as long as the range makes one slice")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a value of the pipeline file: path=value (repeatable)")
	cmd.Flags().BoolVar(&restart, "restart", false, "redo the slices an interrupted backfill of the same range finished")
	return cmd
}

// parseRange reads --from and --to.
func parseRange(from, to string) (lo, hi time.Time, err error) {
	if from == "" || to == "" {
		return lo, hi, &codeError{code: exitUsage, err: errors.New("--from and --to are required")}
	}
	if lo, err = backfill.ParseTime(from); err != nil {
		return lo, hi, &codeError{code: exitUsage, err: fmt.Errorf("--from: %w", err)}
	}
	if hi, err = backfill.ParseTime(to); err != nil {
		return lo, hi, &codeError{code: exitUsage, err: fmt.Errorf("--to: %w", err)}
	}
	return lo, hi, nil
}

func specs(plugins []sdk.Plugin) []sdk.Spec {
	out := make([]sdk.Spec, len(plugins))
	for i, p := range plugins {
		out[i] = p.Spec
	}
	return out
}

// backfillBar shows a backfill's slices on a terminal, with its records
// and rate; it shows nothing when stderr is not a terminal.
type backfillBar struct {
	bar   *progressbar.ProgressBar
	start time.Time
}

func newBackfillBar(w io.Writer, slices int) *backfillBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &backfillBar{
		start: time.Now(),
		bar: progressbar.NewOptions(slices,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("backfill"),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(time.Second),
			progressbar.OptionClearOnFinish(),
		),
	}
}

func (b *backfillBar) update(p backfill.Progress) {
	rate := float64(p.Totals.Read) / max(time.Since(b.start).Seconds(), 1e-9)
	b.bar.Describe(fmt.Sprintf("backfill: %d running, read %d (%.0f/s), wrote %d, dead-lettered %d",
		p.Running, p.Totals.Read, rate, p.Totals.Written, p.Totals.DeadLettered))
	_ = b.bar.Set(p.Done)
}

func (b *backfillBar) finish() {
	if b != nil {
		_ = b.bar.Finish()
	}
}
