package exec

import (
	"math"
	"time"

	"github.com/flowctl/flowctl/runtime/record"
)

// TimeRange limits a run to the records whose event time t is in
// From <= t < To (Options.TimeRange); a zero From or To leaves that side
// open. The others, and records without an event time, are dropped as
// they leave their source, before any stage sees them: they are counted
// in Summary.OutOfRange, and are neither late nor dead letters. A
// backfill runs each slice with its range, so that the slice computes
// exactly the windows inside it even when a source reads more.
type TimeRange struct {
	From, To time.Time
}

// bounds returns the range as Unix nanoseconds, [lo, hi).
func (r *TimeRange) bounds() (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !r.From.IsZero() {
		lo = r.From.UnixNano()
	}
	if !r.To.IsZero() {
		hi = r.To.UnixNano()
	}
	return lo, hi
}

// limit makes the source drop records outside r; nil keeps every record.
func (s *sourceRT) limit(r *TimeRange) {
	if r != nil {
		s.ranged = true
		s.lo, s.hi = r.bounds()
	}
}

// keep reports whether a record with event time t goes on into the
// pipeline, counting it when it does not. It runs on the source's reader
// goroutine.
func (s *sourceRT) keep(t int64) bool {
	if !s.ranged || t != record.NoTime && t >= s.lo && t < s.hi {
		return true
	}
	s.outside.Add(1)
	return false
}

// outOfRange is the number of records the sources dropped for being
// outside Options.TimeRange.
func (e *engine) outOfRange() int64 {
	var n int64
	for _, s := range e.srcs {
		n += s.outside.Load()
	}
	return n
}
