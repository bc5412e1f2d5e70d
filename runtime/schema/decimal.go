package schema

import (
	"math/big"
	"strconv"

	"github.com/shopspring/decimal"
)

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// parseDecimal converts decimal text exactly (never through float64) to a
// decimal.Decimal with exponent -scale. The text is an optional sign,
// digits with an optional point (at least one digit), and an optional
// exponent: JSON numbers and the usual numeric strings. It fails when the
// value has more than scale digits after the point or more than
// prec-scale before it, ignoring leading and trailing zeros; why says
// which, or is empty when the text is not a number.
func parseDecimal[T text](b T, prec, scale int) (d decimal.Decimal, why string, ok bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return d, "", false
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		if i >= len(b) {
			return d, "", false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if exp < 1e6 {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return d, "", false
	}
	// The digits are int ++ frac; the point sits after point of them.
	intDigits, fracDigits := b[intStart:intEnd], b[fracStart:fracEnd]
	point := len(intDigits) + exp
	for len(intDigits) > 0 && intDigits[0] == '0' {
		intDigits = intDigits[1:]
		point--
	}
	if len(intDigits) == 0 {
		for len(fracDigits) > 0 && fracDigits[0] == '0' {
			fracDigits = fracDigits[1:]
			point--
		}
	}
	for len(fracDigits) > 0 && fracDigits[len(fracDigits)-1] == '0' {
		fracDigits = fracDigits[:len(fracDigits)-1]
	}
	if len(fracDigits) == 0 {
		for len(intDigits) > 0 && intDigits[len(intDigits)-1] == '0' {
			intDigits = intDigits[:len(intDigits)-1]
		}
	}
	n := len(intDigits) + len(fracDigits)
	if n == 0 {
		return decimal.New(0, int32(-scale)), "", true
	}
	if f := n - point; f > scale {
		return d, "more than " + strconv.Itoa(scale) + " digits after the point", false
	}
	if point > prec-scale {
		return d, "more than " + strconv.Itoa(prec-scale) + " digits before the point", false
	}
	// coefficient = digits * 10^(point - n + scale); it has point+scale <= prec digits.
	zeros := point - n + scale
	if point+scale <= 18 {
		var u uint64
		for i := range len(intDigits) {
			u = u*10 + uint64(intDigits[i]-'0')
		}
		for i := range len(fracDigits) {
			u = u*10 + uint64(fracDigits[i]-'0')
		}
		v := int64(u * pow10[zeros])
		if neg {
			v = -v
		}
		return decimal.New(v, int32(-scale)), "", true
	}
	digits := make([]byte, 0, 1+point+scale)
	if neg {
		digits = append(digits, '-')
	}
	digits = append(digits, intDigits...)
	digits = append(digits, fracDigits...)
	for range zeros {
		digits = append(digits, '0')
	}
	var coef big.Int
	coef.SetString(string(digits), 10)
	return decimal.NewFromBigInt(&coef, int32(-scale)), "", true
}

// fitDecimal checks that d fits decimal(prec,scale) and returns it with
// exponent -scale.
func fitDecimal(d decimal.Decimal, prec, scale int) (decimal.Decimal, string, bool) {
	if d.Exponent() == int32(-scale) && d.NumDigits() <= prec {
		return d, "", true
	}
	return parseDecimal(d.String(), prec, scale)
}
