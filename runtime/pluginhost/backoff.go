package pluginhost

import "time"

// Backoff is how long the host waits before it starts a stage's plugin
// again after the stage's previous plugin process failed: Base after the
// first failure, doubling with each further failure in a row, at most
// Max. A process that ran Reset or longer before it failed counts as the
// first failure again.
type Backoff struct {
	Base  time.Duration
	Max   time.Duration
	Reset time.Duration
}

// DefaultBackoff is the Backoff of a Host whose Options leave it zero.
var DefaultBackoff = Backoff{Base: 250 * time.Millisecond, Max: 30 * time.Second, Reset: time.Minute}

// Delay returns the wait before a start that follows failures failures in
// a row: none for 0.
func (b Backoff) Delay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := b.Base
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// restarts counts one stage's failures in a row, to space its restarts.
// It is used under the stage's lock.
type restarts struct {
	failures int
}

// failed records that a process that started at start failed at now.
func (r *restarts) failed(b Backoff, start, now time.Time) {
	if now.Sub(start) >= b.Reset {
		r.failures = 0
	}
	r.failures++
}

// closed records that a process was closed without failing.
func (r *restarts) closed() { r.failures = 0 }
