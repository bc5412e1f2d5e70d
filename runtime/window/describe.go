package window

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowctl/flowctl/runtime/agg"
)

// Describe returns a stable description of everything in c that an
// operator's state and results depend on, as "name=value" fields joined by
// "; ", for example
//
//	window=tumbling 1h; aggregates=count(), sum(int), approx_percentile(float,0.9); emit=final; allowed_lateness=30s
//
// Windows read "global", "tumbling SIZE", "sliding SIZE every SLIDE" or
// "session gap GAP"; aggregates are name(argument type[,p]). Two configs
// with equal descriptions make operators that can take each other's
// snapshots. A snapshot records its operator's description, and Restore
// compares it with its own (see ConfigMismatchError).
func (c Config) Describe() string {
	var b strings.Builder
	b.WriteString("window=")
	b.WriteString(describeSpec(c.Spec))
	b.WriteString("; aggregates=")
	for i, f := range c.Aggs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(describeFunc(f))
	}
	b.WriteString("; emit=")
	b.WriteString(c.Emit.String())
	b.WriteString("; allowed_lateness=")
	b.WriteString(describeDuration(c.AllowedLateness))
	return b.String()
}

func describeSpec(s Spec) string {
	switch s.Kind {
	case Tumbling:
		return "tumbling " + describeDuration(s.Size)
	case Sliding:
		return "sliding " + describeDuration(s.Size) + " every " + describeDuration(s.Slide)
	case Session:
		return "session gap " + describeDuration(s.Gap)
	}
	return s.Kind.String()
}

func describeFunc(f *agg.Func) string {
	if f == nil {
		return "nil"
	}
	if f.NoArg() {
		return f.Name() + "()"
	}
	arg := f.Arg()
	arg.Optional = false
	s := f.Name() + "(" + arg.String()
	if f.Name() == agg.ApproxPercentile {
		s += "," + strconv.FormatFloat(f.Param(), 'g', -1, 64)
	}
	return s + ")"
}

// describeDuration writes nanoseconds as time.Duration does, without
// trailing zero units: 1h, 1h30m, 30m, 1m30s, 500ms.
func describeDuration(ns int64) string {
	s := time.Duration(ns).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ConfigMismatchError reports a snapshot taken by an operator whose
// configuration differs from the one restoring it.
type ConfigMismatchError struct {
	Saved   string // Config.Describe of the operator that took the snapshot
	Current string // Config.Describe of the configuration given to Restore
}

func (e *ConfigMismatchError) Error() string {
	return "window state was saved with another configuration: " + strings.Join(e.Changes(), "; ")
}

// Changes lists what differs, e.g. "window changed from tumbling 1h to
// tumbling 30m", "aggregate 2 changed from sum(int) to sum(float)".
func (e *ConfigMismatchError) Changes() []string {
	saved, ok1 := parseDescription(e.Saved)
	cur, ok2 := parseDescription(e.Current)
	if !ok1 || !ok2 {
		return []string{fmt.Sprintf("configuration changed from %q to %q", e.Saved, e.Current)}
	}
	var out []string
	for _, f := range cur {
		old, found := lookupField(saved, f.name)
		switch {
		case !found:
			out = append(out, fmt.Sprintf("%s %s is new", f.name, f.value))
		case old == f.value:
		case f.name == "aggregates":
			out = append(out, aggChanges(old, f.value)...)
		default:
			out = append(out, fmt.Sprintf("%s changed from %s to %s", f.name, old, f.value))
		}
	}
	for _, f := range saved {
		if _, found := lookupField(cur, f.name); !found {
			out = append(out, fmt.Sprintf("%s %s was removed", f.name, f.value))
		}
	}
	if len(out) == 0 { // same fields, in another order
		out = append(out, fmt.Sprintf("configuration changed from %q to %q", e.Saved, e.Current))
	}
	return out
}

type field struct{ name, value string }

func parseDescription(s string) ([]field, bool) {
	var fs []field
	for part := range strings.SplitSeq(s, "; ") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, false
		}
		fs = append(fs, field{name, value})
	}
	return fs, true
}

func lookupField(fs []field, name string) (string, bool) {
	for _, f := range fs {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

func aggChanges(old, cur string) []string {
	a, b := splitAggs(old), splitAggs(cur)
	if len(a) != len(b) {
		return []string{fmt.Sprintf("aggregates changed from [%s] to [%s]", old, cur)}
	}
	var out []string
	for i := range a {
		if a[i] != b[i] {
			out = append(out, fmt.Sprintf("aggregate %d changed from %s to %s", i+1, a[i], b[i]))
		}
	}
	return out
}

func splitAggs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ", ")
}
