package schema

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in          string
		prec, scale int
		want        string // StringFixed(scale) of the result, or "" for failure
		why         string
	}{
		{"0", 1, 0, "0", ""},
		{"-0", 3, 2, "0.00", ""},
		{"+1.5", 3, 1, "1.5", ""},
		{"1.", 3, 1, "1.0", ""},
		{".25", 3, 2, "0.25", ""},
		{"00012.3400", 4, 2, "12.34", ""},
		{"1e2", 3, 0, "100", ""},
		{"1E+2", 3, 0, "100", ""},
		{"12345e-2", 5, 2, "123.45", ""},
		{"0.000e99999999999", 1, 0, "0", ""},
		{"1e99999999999", 38, 0, "", "more than 38 digits before the point"},
		{"1e-99999999999", 38, 10, "", "more than 10 digits after the point"},
		{"999", 3, 0, "999", ""},
		{"1000", 3, 0, "", "more than 3 digits before the point"},
		{"1000", 5, 2, "", "more than 3 digits before the point"},
		{"0.001", 5, 2, "", "more than 2 digits after the point"},
		{"0.0010", 5, 3, "0.001", ""},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999", ""},
		{"-9999999999999999.99", 18, 2, "-9999999999999999.99", ""},
		{"-99999999999999999.99", 19, 2, "-99999999999999999.99", ""},
		{"1234567890.123456789", 20, 10, "1234567890.1234567890", ""},
		{"", 5, 2, "", ""},
		{"-", 5, 2, "", ""},
		{".", 5, 2, "", ""},
		{"1e", 5, 2, "", ""},
		{"1e+", 5, 2, "", ""},
		{"1.2.3", 5, 2, "", ""},
		{"1,5", 5, 2, "", ""},
		{" 1", 5, 2, "", ""},
		{"0x10", 5, 2, "", ""},
		{"NaN", 5, 2, "", ""},
		{"--1", 5, 2, "", ""},
	}
	for _, tt := range tests {
		d, why, ok := parseDecimal([]byte(tt.in), tt.prec, tt.scale)
		if tt.want == "" {
			if ok || why != tt.why {
				t.Errorf("parseDecimal(%q, %d, %d) = %v, %q, %v; want failure %q", tt.in, tt.prec, tt.scale, d, why, ok, tt.why)
			}
			continue
		}
		if !ok {
			t.Errorf("parseDecimal(%q, %d, %d) failed: %q", tt.in, tt.prec, tt.scale, why)
			continue
		}
		if got := d.StringFixed(int32(tt.scale)); got != tt.want || d.Exponent() != int32(-tt.scale) {
			t.Errorf("parseDecimal(%q, %d, %d) = %s (exp %d), want %s", tt.in, tt.prec, tt.scale, got, d.Exponent(), tt.want)
		}
	}
}

// TestParseDecimalRandom compares parseDecimal with shopspring's parser on
// random decimal text: the same value when it fits, and failure exactly
// when the value does not fit.
func TestParseDecimalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	for range 20000 {
		text := digits(rng.IntN(22))
		if rng.IntN(2) == 0 {
			text += "." + digits(rng.IntN(22))
		}
		if text == "" || text == "." || text[0] == '.' && len(text) == 1 {
			text = "0"
		}
		if rng.IntN(4) == 0 {
			text += "e" + []string{"", "-", "+"}[rng.IntN(3)] + digits(1+rng.IntN(2))
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		prec := 1 + rng.IntN(MaxPrecision)
		scale := rng.IntN(prec + 1)
		ref, err := decimal.NewFromString(text)
		if err != nil {
			continue
		}
		got, _, ok := parseDecimal([]byte(text), prec, scale)
		fits := ref.Equal(ref.Round(int32(scale))) && ref.Abs().LessThan(decimal.New(1, int32(prec-scale)))
		if ok != fits {
			t.Fatalf("parseDecimal(%q, %d, %d) ok = %v, want %v", text, prec, scale, ok, fits)
		}
		if ok && (!got.Equal(ref) || got.Exponent() != int32(-scale)) {
			t.Fatalf("parseDecimal(%q, %d, %d) = %s (exp %d), want %s", text, prec, scale, got, got.Exponent(), ref)
		}
	}
}
