package expr

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// TestDecimalOperators: with amount = 12.50, fee = 0.25, qty = 3 (int)
// and price = 2.5 (float).
func TestDecimalOperators(t *testing.T) {
	t.Parallel()
	dec := decimal.RequireFromString
	tests := []struct {
		text string
		want any
	}{
		{`amount + fee`, dec("12.75")},
		{`amount - 1`, dec("11.5")},
		{`2 * amount`, dec("25")},
		{`amount / 4`, dec("3.125")},
		{`amount / 8`, dec("1.5625")},
		{`amount % 5`, dec("2.5")},
		{`amount + qty`, dec("15.5")},
		{`qty - amount`, dec("-9.5")},
		{`amount * price`, dec("31.25")},
		{`price + amount`, dec("15")},
		{`-amount`, dec("-12.5")},
		{`-(amount + fee)`, dec("-12.75")},
		{`(amount + fee) * 2 - fee`, dec("25.25")},
		{`amount + 0.1 + 0.2`, dec("12.8")},
		{`amount > 12`, true},
		{`amount > 12.5`, false},
		{`amount >= 12.5`, true},
		{`amount < price`, false},
		{`amount <= 12.50`, true},
		{`qty < amount`, true},
		{`price >= amount`, false},
		{`12.5 == amount`, true},
		{`amount == 12`, false},
		{`amount == to_decimal("12.500")`, true},
		{`amount != fee`, true},
		{`amount != amount`, false},
		{`amount == "12.5"`, false},
		{`amount == nil`, false},
		{`nil != fee`, true},
		{`amount + fee > 12.7`, true},
		{`amount * qty > 37 && amount * qty < 38`, true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := mustCompile(t, tt.text, testEnv()).Eval(testRecord())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecimalUnknownOperand: a decimal meets values whose type is known
// only at run time.
func TestDecimalUnknownOperand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		values []any
		want   any
	}{
		{`to_decimal(a) + b`, []any{"1.5", int64(2)}, decimal.RequireFromString("3.5")},
		{`b * to_decimal(a)`, []any{"1.5", 2.0}, decimal.RequireFromString("3")},
		{`to_decimal(a) > b`, []any{"1.5", int64(1)}, true},
		{`to_decimal(a) == b`, []any{"2", int64(2)}, true},
		{`to_decimal(a) == b`, []any{"2", "2"}, false},
		{`to_decimal(a) == b`, []any{"2", nil}, false},
		{`to_decimal(a) == to_decimal(b)`, []any{nil, nil}, true},
		{`to_decimal(a) != b`, []any{"2", nil}, true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			d := record.NewDynamic()
			d.Intern("a")
			d.Intern("b")
			got, err := mustCompile(t, tt.text, DynamicEnv(d)).Eval(&record.Record{Values: tt.values})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecimalErrors(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	decimalAndAny := []schema.Type{{Kind: schema.Decimal, Optional: true}, {Kind: schema.Any}}
	tests := []struct {
		text   string
		values []any // amount, b
		want   string
	}{
		{`amount / 0`, []any{decimal.NewFromInt(1)}, "division by zero"},
		{`amount % b`, []any{decimal.NewFromInt(1), int64(0)}, "division by zero"},
		{`amount + 1`, []any{nil}, "invalid operation: null + int"},
		{`amount > b`, []any{decimal.NewFromInt(1), "x"}, "invalid operation: decimal > string"},
		{`amount * b`, []any{decimal.NewFromInt(1), nan}, "invalid operation: decimal * float"},
		{`-amount`, []any{nil}, "invalid operation: -null"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			env := NewEnv([]string{"amount", "b"}, decimalAndAny)
			_, err := mustCompile(t, tt.text, env).Eval(&record.Record{Values: tt.values})
			checkEvalError(t, err, tt.want)
		})
	}
}
