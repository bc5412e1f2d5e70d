package record

import (
	"math"
	"testing"
)

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int64(-5), -5, true}, {int(7), 7, true}, {int8(-8), -8, true}, {uint8(255), 255, true},
		{uint64(math.MaxInt64), math.MaxInt64, true}, {uint64(math.MaxInt64) + 1, 0, false},
		{uint(math.MaxUint64), 0, false}, {1.0, 0, false}, {"1", 0, false}, {nil, 0, false},
	} {
		if got, ok := Int64(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("Int64(%T %v) = %d, %v; want %d, %v", tc.in, tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if f, ok := Float64(float32(1.5)); f != 1.5 || !ok {
		t.Errorf("Float64(float32 1.5) = %v, %v", f, ok)
	}
	if _, ok := Float64(int64(1)); ok {
		t.Error("Float64 took an int")
	}
}
