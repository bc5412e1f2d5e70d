package sdk

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// A plugin process keeps little live data but turns over a batch's worth
// of memory on every call: the records it encodes or decodes. With Go's
// default GOGC of 100 and a heap of a few MiB, it collects garbage every
// few batches, and the collections, not the records, become its main
// cost. So unless the host or the user set GOGC, Serve keeps the heap
// goal at least minHeapGoal: while the live heap is small, GOGC is raised
// so that live heap × (1 + GOGC/100) reaches minHeapGoal, and once the
// live heap passes half of it, GOGC is the default again. This is the
// "minimum heap" GOGC cannot express; GOMEMLIMIT, if set, still applies.

// minHeapGoal is the smallest heap goal Serve keeps.
const minHeapGoal = 64 << 20

// defaultGCPercent is Go's default GOGC.
const defaultGCPercent = 100

// runtimeHeapMinimum is the runtime's own smallest heap goal at GOGC=100;
// it grows with GOGC, so a GOGC of maxGCPercent alone gives minHeapGoal.
const (
	runtimeHeapMinimum = 4 << 20
	maxGCPercent       = minHeapGoal / runtimeHeapMinimum * defaultGCPercent
)

// gcPercent returns the GOGC that gives a heap of live bytes a goal of at
// least minHeapGoal, but no more than needed.
func gcPercent(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	return int(max(min(minHeapGoal*100/int64(min(live, minHeapGoal))-100, maxGCPercent), defaultGCPercent))
}

// keepHeapGoal keeps the heap goal at least minHeapGoal, adjusting GOGC
// after each collection, unless GOGC is set in the environment.
func keepHeapGoal() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	newGCTuner().adjust()
}

func newGCTuner() *gcTuner {
	return &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, percent: defaultGCPercent}
}

// gcTuner adjusts GOGC after each collection, from a finalizer: an object
// made unreachable at each adjustment is finalized after the next
// collection.
type gcTuner struct {
	sample  []metrics.Sample
	percent int          // the GOGC it set last
	runs    atomic.Int64 // adjustments made
	stopped atomic.Bool  // set to stop adjusting
}

// gcSentinel is the object whose finalizer runs after a collection. It
// holds a pointer so that it is not a tiny allocation, whose finalizer
// may never run.
type gcSentinel struct{ t *gcTuner }

func (t *gcTuner) adjust() {
	if t.stopped.Load() {
		return
	}
	t.runs.Add(1)
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := gcPercent(t.sample[0].Value.Uint64()); p != t.percent {
			t.percent = p
			debug.SetGCPercent(p)
		}
	}
	runtime.SetFinalizer(&gcSentinel{t}, func(s *gcSentinel) { s.t.adjust() })
}
