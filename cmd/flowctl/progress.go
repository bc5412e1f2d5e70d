package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/flowctl/flowctl/runtime/exec"
)

// progress shows a run's totals on a terminal: records, rate, watermark
// and rejected rows, refreshed about every second. It shows nothing when
// stderr is not a terminal.
type progress struct {
	bar   *progressbar.ProgressBar
	start time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{
		start: time.Now(),
		bar: progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(time.Second),
			progressbar.OptionClearOnFinish(),
		),
	}
}

func (p *progress) update(s exec.Summary) {
	if p == nil {
		return
	}
	rate := float64(s.Read) / max(time.Since(p.start).Seconds(), 1e-9)
	wm := "-"
	if s.Watermark != exec.NoWatermark && s.Watermark != exec.EndOfTime && s.Watermark != 0 {
		wm = time.Unix(0, s.Watermark).UTC().Format(time.RFC3339)
	}
	p.bar.Describe(fmt.Sprintf("read %d (%.0f/s)  wrote %d  dead-lettered %d  late %d  watermark %s",
		s.Read, rate, s.Written, s.DeadLettered, s.Late, wm))
	_ = p.bar.Add64(0)
}

func (p *progress) finish() {
	if p != nil {
		_ = p.bar.Finish()
	}
}
