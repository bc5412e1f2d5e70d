// Package window is the semantics of windowed and grouped aggregation shared
// by the batch, micro-batch and stream drivers: window assignment, the
// watermark, late data, allowed lateness and emit modes. It is pure logic:
// no goroutines, no clocks, no I/O. The drivers only decide how the input
// is sliced and when the watermark moves.
//
// Times are Unix nanoseconds in UTC. Windows are half-open spans
// [Start, End) aligned to the Unix epoch: tumbling size S holds t in
// [floor(t/S)·S, +S); sliding size S, slide P holds t in every [k·P, k·P+S)
// containing it; a session with gap G merges, per key, records less than G
// apart into [first, last+G); Global (group_by without a window) is one
// window per key, [math.MinInt64, math.MaxInt64), that closes only when the
// watermark reaches math.MaxInt64.
//
// An Operator closes a window when the watermark reaches its End, keeps it
// until End + AllowedLateness so that late records can still update it, and
// calls a record late when it is too late for every window it belongs to.
// Batch mode adds every record and then advances the watermark to
// math.MaxInt64.
//
// Operator.Snapshot writes an operator's whole state in a versioned binary
// format (snapshot.go) and Restore reads it back into an operator that
// goes on exactly as the first would have; Config.Describe names what a
// snapshot depends on.
package window

import (
	"errors"
	"fmt"
	"math"
)

// Kind is the kind of a window.
type Kind int

// Window kinds.
const (
	Global   Kind = iota // group_by without a window
	Tumbling             // fixed size, no overlap
	Sliding              // fixed size, a new window every Slide
	Session              // per key, closes after a gap without records
)

func (k Kind) String() string {
	switch k {
	case Global:
		return "global"
	case Tumbling:
		return "tumbling"
	case Sliding:
		return "sliding"
	case Session:
		return "session"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Spec is a window specification; durations are in nanoseconds. Size is
// used by Tumbling and Sliding, Slide by Sliding, Gap by Session.
type Spec struct {
	Kind  Kind
	Size  int64
	Slide int64
	Gap   int64
}

// Validate reports whether s is a usable window: positive durations, and a
// sliding size that is a multiple of the slide.
func (s Spec) Validate() error {
	switch s.Kind {
	case Global:
		return nil
	case Tumbling:
		if s.Size <= 0 {
			return errors.New("tumbling window size must be positive")
		}
	case Sliding:
		switch {
		case s.Size <= 0 || s.Slide <= 0:
			return errors.New("sliding window size and slide must be positive")
		case s.Size%s.Slide != 0:
			return fmt.Errorf("sliding window size %v is not a multiple of its slide %v", s.Size, s.Slide)
		}
	case Session:
		if s.Gap <= 0 {
			return errors.New("session gap must be positive")
		}
	default:
		return fmt.Errorf("unknown window kind %d", int(s.Kind))
	}
	return nil
}

// Span is the time span [Start, End) of a window.
type Span struct{ Start, End int64 }

// GlobalSpan is the span of the Global window.
var GlobalSpan = Span{math.MinInt64, math.MaxInt64}

// Contains reports whether t is in s.
func (s Span) Contains(t int64) bool { return s.Start <= t && t < s.End }

// Assign appends to buf the windows that hold a record with event time t
// and returns it: for Tumbling and Sliding the windows containing t, in
// increasing Start order; for Global, GlobalSpan; for Session the proto
// window [t, t+Gap), which the operator merges with the key's sessions.
// Bounds that would leave the int64 range are clamped to it.
func (s Spec) Assign(t int64, buf []Span) []Span {
	switch s.Kind {
	case Tumbling:
		start := alignDown(t, s.Size)
		return append(buf, Span{start, satAdd(start, s.Size)})
	case Sliding:
		// Starts are k·Slide for the k with k·Slide <= t < k·Slide+Size.
		last := alignDown(t, s.Slide)
		n := (s.Size + s.Slide - 1) / s.Slide
		first := last
		for i := int64(1); i < n; i++ {
			prev := first - s.Slide
			if prev > first || t-prev >= s.Size {
				break // left the int64 range, or no longer contains t
			}
			first = prev
		}
		for start := first; ; start += s.Slide {
			buf = append(buf, Span{start, satAdd(start, s.Size)})
			if start >= last {
				break
			}
		}
		return buf
	case Session:
		return append(buf, Span{t, satAdd(t, s.Gap)})
	}
	return append(buf, GlobalSpan)
}

// alignDown returns floor(t/p)·p, or math.MinInt64 if that is below the
// int64 range.
func alignDown(t, p int64) int64 {
	r := t % p
	if r < 0 {
		r += p
	}
	start := t - r
	if start > t {
		return math.MinInt64
	}
	return start
}

// satAdd returns a+b for b >= 0, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
