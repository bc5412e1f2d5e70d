package backfill

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/window"
)

// Check reports every reason why p cannot be backfilled over slices,
// joined in one error, or nil:
//
//   - every source must seek by event time (its plugin's Spec.TimeRange),
//     or each slice would read all of it;
//   - with more than one slice, every sink, the dead letter sink too,
//     must keep concurrent instances apart (Spec.Instances), or each
//     slice would replace what the others wrote;
//   - a tumbling window's size must divide --from, --to and, with more
//     than one slice, every slice boundary (as times since the Unix
//     epoch): a window split between two runs gets a partial row from
//     each, and the last written replaces the other;
//   - with more than one slice, there must be no sliding or session
//     windows, nor aggregates without a window: those span any boundary.
//
// The warnings say what a valid backfill still computes from part of
// the data: sliding and session windows that cross --from or --to.
// plugins are the plugins the messages suggest instead.
func Check(p *plan.Plan, slices []Slice, plugins []sdk.Spec) (warnings []string, err error) {
	var errs []error
	many := len(slices) > 1
	for _, st := range p.Stages {
		switch {
		case st.Kind == plan.SourceStage && st.Plugin.Spec.TimeRange == nil:
			errs = append(errs, fmt.Errorf("source %s: plugin %s cannot seek by event time, so every slice would read all of it; %s",
				st.Name, st.Plugin.Spec.Name, can(plugins, sdk.KindSource, "sources that can", func(s sdk.Spec) bool { return s.TimeRange != nil })))
		case st.Kind == plan.SinkStage && many && !st.Plugin.Spec.Instances:
			what := "sink " + st.Name
			if st == p.DeadLetter {
				what = "dead_letter"
			}
			errs = append(errs, fmt.Errorf("%s: plugin %s cannot take the rows of several slices side by side: each slice would replace what the others wrote; %s, or backfill in one slice (--slice %s)",
				what, st.Plugin.Spec.Name, can(plugins, sdk.KindSink, "sinks that can", func(s sdk.Spec) bool { return s.Instances }), dur(whole(slices))))
		case st.Kind == plan.AggregateStage:
			w, err := fits(st, slices)
			if err != nil {
				errs = append(errs, err)
			} else if w != "" {
				warnings = append(warnings, w)
			}
		}
	}
	return warnings, errors.Join(errs...)
}

// fits checks that an aggregate's windows do not cross slice
// boundaries; the warning says which windows are computed from part of
// their data.
func fits(st *plan.Stage, slices []Slice) (string, error) {
	w := st.Window
	many := len(slices) > 1
	one := dur(whole(slices))
	switch {
	case !st.Windowed:
		if many {
			return "", fmt.Errorf("aggregate %s has no window: its groups span every slice, each of which would write a partial row for them; backfill in one slice (--slice %s)", st.Name, one)
		}
	case w.Kind == window.Sliding:
		if many {
			return "", fmt.Errorf("aggregate %s: sliding windows (%s every %s) overlap every slice boundary, and two slices would each write a partial row for them; backfill in one slice (--slice %s)",
				st.Name, dur(time.Duration(w.Size)), dur(time.Duration(w.Slide)), one)
		}
		return fmt.Sprintf("aggregate %s: the sliding windows (%s every %s) that cross --from or --to get rows computed from the part of their data inside the range", st.Name, dur(time.Duration(w.Size)), dur(time.Duration(w.Slide))), nil
	case w.Kind == window.Session:
		if many {
			return "", fmt.Errorf("aggregate %s: session windows (gap %s) may cross a slice boundary, and two slices would each write a partial row for one; backfill in one slice (--slice %s)",
				st.Name, dur(time.Duration(w.Gap)), one)
		}
		return fmt.Sprintf("aggregate %s: the session windows (gap %s) that cross --from or --to get rows computed from the part of their data inside the range", st.Name, dur(time.Duration(w.Gap))), nil
	case w.Kind == window.Tumbling:
		size := dur(time.Duration(w.Size))
		for _, b := range []time.Time{slices[0].From, slices[len(slices)-1].To} {
			if b.UnixNano()%w.Size != 0 {
				return "", fmt.Errorf("aggregate %s: %s splits a tumbling window of %s, and the backfill would write a row for part of it over the row of the whole; choose --from and --to at multiples of %s",
					st.Name, formatTime(b), size, size)
			}
		}
		for _, s := range slices[1:] {
			if s.From.UnixNano()%w.Size != 0 {
				return "", fmt.Errorf("aggregate %s: slice boundary %s splits a tumbling window of %s, and both slices would write a partial row for it; choose a --slice that is a multiple of %s",
					st.Name, formatTime(s.From), size, size)
			}
		}
	}
	return "", nil
}

// can lists the plugins of a kind that have a capability, for a message.
func can(plugins []sdk.Spec, kind sdk.Kind, what string, has func(sdk.Spec) bool) string {
	var names []string
	for _, s := range plugins {
		if s.Kind == kind && has(s) {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return "no installed plugin can"
	}
	return what + ": " + strings.Join(names, ", ")
}

// whole is the --slice that makes one slice of the range.
func whole(slices []Slice) time.Duration {
	return slices[len(slices)-1].To.Sub(slices[0].From)
}

// dur writes a duration as a pipeline file would: 24h, 1h30m, 5m.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
