package generate

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// values evaluates expr for events 0 to n-1.
func values(t *testing.T, expr string, n int) []any {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{"count": n, "seed": 42, "fields": map[string]any{"x": expr}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, open(t, string(cfg)))
	out := make([]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Fields[0].Value
	}
	return out
}

// floatsOf checks that every value is a float64 and returns them with
// their mean and standard deviation.
func floatsOf(vals []any) (fs []float64, mean, sd float64, err error) {
	for _, v := range vals {
		f, ok := v.(float64)
		if !ok {
			return nil, 0, 0, fmt.Errorf("value %v is a %T, not a float64", v, v)
		}
		fs = append(fs, f)
		mean += f
	}
	mean /= float64(len(fs))
	for _, f := range fs {
		sd += (f - mean) * (f - mean)
	}
	return fs, mean, math.Sqrt(sd / float64(len(fs))), nil
}

// counts checks that every value is an int64 in [lo, hi] and counts each.
func counts(vals []any, lo, hi int64) (map[int64]int, error) {
	c := map[int64]int{}
	for _, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("value %v is a %T, not an int64", v, v)
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("value %d is outside [%d, %d]", n, lo, hi)
		}
		c[n]++
	}
	return c, nil
}

func near(name string, got, want, tol float64) error {
	if math.Abs(got-want) > tol {
		return fmt.Errorf("%s = %g, want %g ± %g", name, got, want, tol)
	}
	return nil
}

// TestHelpers checks each helper's range, type and distribution over
// many events. The seed is fixed, so the statistics are too: the
// tolerances are a few standard errors wide, to survive a change of
// seed, not to absorb randomness between runs.
func TestHelpers(t *testing.T) {
	t.Parallel()
	const n = 20000
	tests := []struct {
		expr  string
		check func(vals []any) error
	}{
		{"uniform(2, 5)", func(vals []any) error {
			fs, mean, sd, err := floatsOf(vals)
			if err != nil {
				return err
			}
			for _, f := range fs {
				if f < 2 || f >= 5 {
					return fmt.Errorf("%g is outside [2, 5)", f)
				}
			}
			if err := near("mean", mean, 3.5, 0.03); err != nil {
				return err
			}
			return near("stddev", sd, 3/math.Sqrt(12), 0.02)
		}},
		{"uniform(-1, i)", func(vals []any) error { // an int64 variable as a float argument
			fs, _, _, err := floatsOf(vals)
			if err != nil {
				return err
			}
			for i, f := range fs[1:] {
				if f < -1 || f >= float64(i+1) {
					return fmt.Errorf("event %d: %g is outside [-1, %d)", i+1, f, i+1)
				}
			}
			return nil
		}},
		{"normal(10, 2)", func(vals []any) error {
			fs, mean, sd, err := floatsOf(vals)
			if err != nil {
				return err
			}
			if err := near("mean", mean, 10, 0.05); err != nil {
				return err
			}
			if err := near("stddev", sd, 2, 0.05); err != nil {
				return err
			}
			within := 0
			for _, f := range fs {
				if math.Abs(f-10) < 2 {
					within++
				}
			}
			return near("share within one stddev", float64(within)/n, 0.6827, 0.01)
		}},
		{"normal(3, 0)", func(vals []any) error {
			for _, v := range vals {
				if v != 3.0 {
					return fmt.Errorf("%v, want 3", v)
				}
			}
			return nil
		}},
		{"randint(6)", func(vals []any) error {
			c, err := counts(vals, 0, 5)
			if err != nil {
				return err
			}
			for k := range int64(6) {
				if err := near(fmt.Sprintf("share of %d", k), float64(c[k])/n, 1.0/6, 0.01); err != nil {
					return err
				}
			}
			return nil
		}},
		{"randint(1)", func(vals []any) error {
			_, err := counts(vals, 0, 0)
			return err
		}},
		{"randint(-3, 3)", func(vals []any) error {
			c, err := counts(vals, -3, 3)
			if err != nil {
				return err
			}
			if len(c) != 7 {
				return fmt.Errorf("%d distinct values, want 7", len(c))
			}
			return nil
		}},
		{"randint(-9223372036854775807 - 1, 9223372036854775807)", func(vals []any) error {
			c, err := counts(vals, math.MinInt64, math.MaxInt64)
			if err != nil {
				return err
			}
			neg := 0
			for k, m := range c {
				if k < 0 {
					neg += m
				}
			}
			return near("share of negatives", float64(neg)/n, 0.5, 0.02)
		}},
		{`choice(["a", "b", "c"])`, func(vals []any) error {
			c := map[any]int{}
			for _, v := range vals {
				c[v]++
			}
			if len(c) != 3 || c["a"] == 0 || c["b"] == 0 || c["c"] == 0 {
				return fmt.Errorf("counts %v", c)
			}
			return nil
		}},
		{"choice(1..3)", func(vals []any) error { // a typed []int list
			c, err := counts(vals, 1, 3)
			if err != nil {
				return err
			}
			if len(c) != 3 {
				return fmt.Errorf("counts %v", c)
			}
			return nil
		}},
		{"zipf(10, 1)", func(vals []any) error {
			c, err := counts(vals, 0, 9)
			if err != nil {
				return err
			}
			h := 0.0
			for k := 1; k <= 10; k++ {
				h += 1 / float64(k)
			}
			for k := range int64(10) {
				want := 1 / float64(k+1) / h
				if err := near(fmt.Sprintf("share of %d", k), float64(c[k])/n, want, 0.01); err != nil {
					return err
				}
			}
			return nil
		}},
		{"zipf(1000, 1.5)", func(vals []any) error {
			c, err := counts(vals, 0, 999)
			if err != nil {
				return err
			}
			z := 0.0
			for k := 1; k <= 1000; k++ {
				z += math.Pow(float64(k), -1.5)
			}
			for k := range int64(3) {
				want := math.Pow(float64(k+1), -1.5) / z
				if err := near(fmt.Sprintf("share of %d", k), float64(c[k])/n, want, 0.01); err != nil {
					return err
				}
			}
			return nil
		}},
		{"zipf(4, 0)", func(vals []any) error {
			c, err := counts(vals, 0, 3)
			if err != nil {
				return err
			}
			for k := range int64(4) {
				if err := near(fmt.Sprintf("share of %d", k), float64(c[k])/n, 0.25, 0.015); err != nil {
					return err
				}
			}
			return nil
		}},
		{"zipf(1, 2)", func(vals []any) error {
			_, err := counts(vals, 0, 0)
			return err
		}},
		{"chance(0.3)", func(vals []any) error {
			yes := 0
			for _, v := range vals {
				b, ok := v.(bool)
				if !ok {
					return fmt.Errorf("%v is not a bool", v)
				}
				if b {
					yes++
				}
			}
			return near("share of true", float64(yes)/n, 0.3, 0.015)
		}},
		{"chance(0) || !chance(1)", func(vals []any) error {
			for _, v := range vals {
				if v != false {
					return fmt.Errorf("%v", v)
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			if err := tt.check(values(t, tt.expr, n)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestValues checks exact results of the deterministic helpers and the
// conversion of expression results to field values.
func TestValues(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expr string
		want []any // for events 0, 1, 2
	}{
		{"i", []any{int64(0), int64(1), int64(2)}},
		{"i * 2.5", []any{0.0, 2.5, 5.0}},
		{"event_time", []any{start, start.Add(time.Millisecond), start.Add(2 * time.Millisecond)}},
		{"event_time - duration(\"1h\")", []any{start.Add(-time.Hour), start.Add(time.Millisecond - time.Hour), start.Add(2*time.Millisecond - time.Hour)}},
		{"partition", []any{int64(0), int64(0), int64(0)}},
		{`sprintf("%s-%03d", "x", i)`, []any{"x-000", "x-001", "x-002"}},
		{`sprintf("no args")`, []any{"no args", "no args", "no args"}},
		{"round(3.14159 * (i + 1), 2)", []any{3.14, 6.28, 9.42}},
		{"round(i - 0.5)", []any{-1.0, 1.0, 2.0}},
		{"round(1234.5 * (i + 1), -2)", []any{1200.0, 2500.0, 3700.0}},
		{"duration(\"90s\") * (i + 1)", []any{90 * time.Second, 180 * time.Second, 270 * time.Second}},
		{`date("2026-03-17") `, []any{time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)}},
		{`i == 1 ? nil : upper("a")`, []any{"A", nil, "A"}},
		{`[i, "a", [1.5]]`, []any{[]any{int64(0), "a", []any{1.5}}, []any{int64(1), "a", []any{1.5}}, []any{int64(2), "a", []any{1.5}}}},
		{`{"k": i}`, []any{map[string]any{"k": int64(0)}, map[string]any{"k": int64(1)}, map[string]any{"k": int64(2)}}},
		{`i..i+1`, []any{[]any{int64(0), int64(1)}, []any{int64(1), int64(2)}, []any{int64(2), int64(3)}}},
		{`toPairs({"a": i})`, []any{[]any{[]any{"a", int64(0)}}, []any{[]any{"a", int64(1)}}, []any{[]any{"a", int64(2)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			got := values(t, tt.expr, 3)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		x      float64
		digits int64
		want   float64
	}{
		{2.5, 0, 3},
		{-2.5, 0, -3},
		{1.005, 2, 1}, // 1.005 is 1.00499999999999989... in binary
		{1.2345, 3, 1.235},
		{-1.2345, 3, -1.235},
		{1234.5, -2, 1200},
		{1e300, 20, 1e300},
		{1e300, 10, 1e300}, // x*10^10 overflows: x as it is
		{123.456, 40, 123.456},
		{123.456, -40, 0},
		{math.Inf(1), 2, math.Inf(1)},
	}
	for _, tt := range tests {
		if got := roundTo(tt.x, tt.digits); got != tt.want {
			t.Errorf("roundTo(%g, %d) = %g, want %g", tt.x, tt.digits, got, tt.want)
		}
	}
	if got := roundTo(math.NaN(), 2); !math.IsNaN(got) {
		t.Errorf("roundTo(NaN) = %g", got)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type point struct{ X int }
	tests := []struct {
		in      any
		want    any
		wantErr string
	}{
		{int8(-3), int64(-3), ""},
		{uint16(7), int64(7), ""},
		{uint64(math.MaxUint64), nil, "18446744073709551615 does not fit an int64"},
		{float32(1.5), 1.5, ""},
		{[]string{"a"}, []any{"a"}, ""},
		{map[string]int{"a": 1}, map[string]any{"a": int64(1)}, ""},
		{[]byte("ab"), []byte("ab"), ""},
		{time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("x", 3600)), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{point{1}, nil, "a value of type generate.point is not a field value"},
		{map[int]int{1: 1}, nil, "a value of type map[int]int is not a field value"},
		{[]any{point{}}, nil, "a value of type generate.point is not a field value"},
	}
	for _, tt := range tests {
		got, err := normalize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr {
			t.Errorf("normalize(%#v) error = %q, want %q", tt.in, gotErr, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("normalize(%#v) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestStreams checks that random streams depend on the seed, the field
// and the event, and nothing else.
func TestStreams(t *testing.T) {
	t.Parallel()
	draw := func(seed int64, name string, i uint64) uint64 {
		var r rng
		r.seed(streamKey(seed, name), i)
		return r.uint64()
	}
	seen := map[uint64]string{}
	for _, seed := range []int64{0, 1, -1} {
		for _, name := range []string{"a", "b", "ab"} {
			for i := range uint64(100) {
				v := draw(seed, name, i)
				what := fmt.Sprintf("seed %d field %s event %d", seed, name, i)
				if prev, dup := seen[v]; dup {
					t.Fatalf("%s and %s draw the same value", prev, what)
				}
				seen[v] = what
				if again := draw(seed, name, i); again != v {
					t.Fatalf("%s drew %d, then %d", what, v, again)
				}
			}
		}
	}
	if disorderKey(1) == streamKey(1, "disorder") {
		t.Error("the disorder stream is a field's")
	}
}
