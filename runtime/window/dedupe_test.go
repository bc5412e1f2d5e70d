package window

import (
	"errors"
	"testing"
)

func TestDedupe(t *testing.T) {
	d := NewDedupe(10)
	steps := []struct {
		key   string
		t     int64
		wm    int64 // Forget(wm) before the record, when set
		admit bool
	}{
		{"a", 100, 0, true},
		{"a", 105, 0, false},       // 5 apart
		{"a", 116, 0, true},        // 11 after the newest a (105)
		{"b", noTime, 0, true},     // no event time: remembered for good
		{"b", 50, 0, false},        // against a key without time
		{"a", 120, 200, true},      // the watermark passed 116+10: forgotten
		{"b", noTime, 1000, false}, // still there
	}
	for i, s := range steps {
		if s.wm != 0 {
			d.Forget(s.wm)
		}
		if got := d.Admit([]byte(s.key), s.t); got != s.admit {
			t.Fatalf("step %d: Admit(%s, %d) = %v, want %v", i, s.key, s.t, got, s.admit)
		}
	}
	r, err := RestoreDedupe(10, d.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if r.Keys() != d.Keys() || r.Admit([]byte("b"), 7) || !r.Admit([]byte("a"), 125) {
		t.Errorf("restored state differs: %d keys, want %d", r.Keys(), d.Keys())
	}
	snap := d.Snapshot()
	for n := range len(snap) {
		if _, err := RestoreDedupe(10, snap[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v, want ErrCorrupt", n, err)
		}
	}
}
