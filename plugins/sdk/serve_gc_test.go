package sdk

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		live uint64
		want int
	}{
		{0, 1600},       // before the first collection: the runtime's minimum alone gives 64 MiB
		{1 << 20, 1600}, // 1 MiB live: capped where the runtime's minimum gives the goal
		{4 << 20, 1500}, // 4 MiB × 16 = 64 MiB
		{16 << 20, 300}, // 16 MiB × 4
		{32 << 20, 100}, // half the goal: the default
		{1 << 30, 100},  // a large heap: the default
	}
	for _, tt := range tests {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d) = %d, want %d", tt.live, got, tt.want)
		}
		// The goal the runtime then keeps is at least minHeapGoal.
		p := uint64(gcPercent(tt.live))
		goal := max(runtimeHeapMinimum*p/100, tt.live*(100+p)/100)
		if goal < minHeapGoal {
			t.Errorf("live %d: GOGC %d gives a goal of %d, under %d", tt.live, p, goal, minHeapGoal)
		}
	}
}

// TestGCTuner checks that the tuner sets GOGC from the live heap and
// adjusts it again after each collection.
func TestGCTuner(t *testing.T) {
	old := debug.SetGCPercent(defaultGCPercent)
	tuner := newGCTuner()
	defer func() {
		tuner.stopped.Store(true)
		debug.SetGCPercent(old)
	}()
	tuner.adjust()
	// The test binary's heap is small: the tuner raised GOGC.
	got := debug.SetGCPercent(defaultGCPercent)
	debug.SetGCPercent(got)
	if got <= defaultGCPercent {
		t.Errorf("GOGC = %d after an adjustment, want more than %d for this small heap", got, defaultGCPercent)
	}
	for deadline := time.Now().Add(10 * time.Second); tuner.runs.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d adjustments after repeated collections, want 3", tuner.runs.Load())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
