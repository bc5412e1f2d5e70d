// Package agg implements the aggregate functions of windowed and grouped
// transforms: count, sum, avg, min, max, first, last, count_distinct,
// approx_count_distinct and approx_percentile.
//
// A Func is a resolved aggregate (name, argument type, parameter). Its
// accumulators come in two forms with the same semantics: an Acc, one
// accumulator as a value, and a Column, an array of accumulators indexed by
// slot that the window operator uses so that an accumulator costs a few
// bytes and no pointer of its own.
//
// Every aggregate but count() skips a nil or record.Absent argument. A value
// of the wrong type is reported by Func.Check and Acc.Add as a *TypeError
// (the caller dead-letters the record) and changes nothing.
//
// Results:
//   - count, count_distinct, approx_count_distinct: int64.
//   - sum: int64 for int, float64 for float, decimal.Decimal (exact) for
//     decimal, time.Duration for duration. For schemaless (Any) input a sum
//     of int64 values stays int64, becomes float64 once a float appears, and
//     decimal.Decimal once a decimal appears (floats are then converted with
//     decimal.NewFromFloat; a NaN or infinite float turns the sum into a
//     float64 for good). A sum of ints that leaves the int64 range is
//     returned exactly as a decimal.Decimal.
//   - avg: float64 for int and float; for decimal, the exact sum divided by
//     the count, rounded half away from zero to the argument's scale plus 6
//     digits (for schemaless input, the largest scale among the inputs plus
//     6); time.Duration for duration.
//   - min, max: the argument's type. Schemaless input is ordered booleans,
//     numbers (by value across int, float and decimal), strings, bytes,
//     timestamps, durations; NaN sorts before every other number. Of equal
//     values the first added is kept.
//   - first, last: the value with the smallest (largest) event time; of
//     equal event times, the first (last) added.
//   - count_distinct: exact, by the canonical encoding of AppendKey (so int
//     1 and float 1.0 are distinct values).
//   - approx_count_distinct: HyperLogLog (github.com/axiomhq/hyperloglog,
//     precision 14, about 0.8% standard error).
//   - approx_percentile(x, p): float64. Exact up to 512 values (linear
//     interpolation between the closest ranks, rank p·(n-1)), then a
//     t-digest (that of github.com/caio/go-tdigest/v4, compression 100)
//     with a fixed seed, so results depend only on the order of the
//     inputs. NaN inputs are skipped.
//
// Results are nil when no value was added, except for the counts (0).
//
// A Column saves the state of its slots in a binary form and reads it back
// exactly (state.go), for the window operator's snapshots.
package agg

import (
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

// Names of the aggregate functions.
const (
	Count               = "count"
	Sum                 = "sum"
	Avg                 = "avg"
	Min                 = "min"
	Max                 = "max"
	First               = "first"
	Last                = "last"
	CountDistinct       = "count_distinct"
	ApproxCountDistinct = "approx_count_distinct"
	ApproxPercentile    = "approx_percentile"
)

type op uint8

const (
	opCount op = iota
	opSum
	opAvg
	opMin
	opMax
	opFirst
	opLast
	opCountDistinct
	opApproxCountDistinct
	opApproxPercentile
)

var ops = map[string]op{
	Count:               opCount,
	Sum:                 opSum,
	Avg:                 opAvg,
	Min:                 opMin,
	Max:                 opMax,
	First:               opFirst,
	Last:                opLast,
	CountDistinct:       opCountDistinct,
	ApproxCountDistinct: opApproxCountDistinct,
	ApproxPercentile:    opApproxPercentile,
}

// accept is the set of Go values a Func takes as its argument.
type accept uint8

const (
	acceptAll      accept = iota // anything
	acceptInt                    // Go integers
	acceptFloat                  // floats and integers
	acceptDecimal                // decimals and integers
	acceptNumber                 // integers, floats, decimals
	acceptDuration               // time.Duration
	acceptString                 // string
	acceptBool                   // bool
	acceptTime                   // time.Time
	acceptList                   // []any
	acceptObject                 // map[string]any
	acceptScalar                 // any value min and max can order
	acceptKey                    // any value AppendKey can encode
)

// Func is a resolved aggregate function: its name, its argument type and
// its parameter. A Func is immutable and safe for concurrent use; its
// accumulators are not.
type Func struct {
	name   string
	op     op
	arg    schema.Type
	param  float64
	noArg  bool
	accept accept
}

// New resolves the aggregate name applied to an argument of type arg;
// param is approx_percentile's p in [0, 1] and is ignored by the others.
// For count() without an argument use NewNoArg.
func New(name string, arg schema.Type, param float64) (*Func, error) {
	o, ok := ops[name]
	if !ok {
		return nil, fmt.Errorf("unknown aggregate %q", name)
	}
	f := &Func{name: name, op: o, arg: arg}
	k := arg.Kind
	bad := func() (*Func, error) {
		return nil, fmt.Errorf("%s does not apply to %s", name, k)
	}
	switch o {
	case opCount:
		f.accept = acceptAll
	case opSum, opAvg:
		switch k {
		case schema.Int, schema.Float, schema.Decimal, schema.Duration, schema.Any:
			f.accept = typedAccept(k, acceptNumber)
		default:
			return bad()
		}
	case opMin, opMax:
		switch k {
		case schema.List, schema.Object:
			return bad()
		}
		f.accept = typedAccept(k, acceptScalar)
	case opFirst, opLast:
		f.accept = typedAccept(k, acceptAll)
	case opCountDistinct, opApproxCountDistinct:
		f.accept = typedAccept(k, acceptKey)
	case opApproxPercentile:
		switch k {
		case schema.Int, schema.Float, schema.Decimal, schema.Any:
			f.accept = typedAccept(k, acceptNumber)
		default:
			return bad()
		}
		if !(param >= 0 && param <= 1) {
			return nil, fmt.Errorf("approx_percentile: p must be between 0 and 1, got %v", param)
		}
		f.param = param
	}
	return f, nil
}

// NewNoArg resolves an aggregate without an argument: only count(), which
// counts records.
func NewNoArg(name string) (*Func, error) {
	if name != Count {
		return nil, fmt.Errorf("%s needs an argument", name)
	}
	return &Func{name: Count, op: opCount, noArg: true}, nil
}

func typedAccept(k schema.Kind, anyKind accept) accept {
	switch k {
	case schema.Int:
		return acceptInt
	case schema.Float:
		return acceptFloat
	case schema.Decimal:
		return acceptDecimal
	case schema.Duration:
		return acceptDuration
	case schema.String:
		return acceptString
	case schema.Bool:
		return acceptBool
	case schema.Timestamp:
		return acceptTime
	case schema.List:
		return acceptList
	case schema.Object:
		return acceptObject
	}
	return anyKind
}

// Name returns the function's name, e.g. "sum".
func (f *Func) Name() string { return f.name }

// Arg returns the type of the argument.
func (f *Func) Arg() schema.Type { return f.arg }

// Param returns approx_percentile's p (0 for the others).
func (f *Func) Param() float64 { return f.param }

// NoArg reports whether f is count() without an argument.
func (f *Func) NoArg() bool { return f.noArg }

// String returns f as written in a pipeline with its argument's kind, e.g.
// "sum(decimal)", "count()", "approx_percentile(float, 0.9)".
func (f *Func) String() string {
	switch {
	case f.noArg:
		return f.name + "()"
	case f.op == opApproxPercentile:
		return fmt.Sprintf("%s(%s, %v)", f.name, f.arg.Kind, f.param)
	}
	return f.name + "(" + f.arg.Kind.String() + ")"
}

// ResultType returns the type of f's results. It is optional (a result may
// be nil) for every function but the counts.
func (f *Func) ResultType() schema.Type {
	opt := func(t schema.Type) schema.Type {
		t.Optional = true
		return t
	}
	a := f.arg
	switch f.op {
	case opCount, opCountDistinct, opApproxCountDistinct:
		return schema.Type{Kind: schema.Int}
	case opSum:
		if a.Kind == schema.Decimal {
			return opt(schema.Type{Kind: schema.Decimal, Precision: sumPrecision(a.Precision), Scale: a.Scale})
		}
		return opt(schema.Type{Kind: a.Kind})
	case opAvg:
		switch a.Kind {
		case schema.Int, schema.Float:
			return opt(schema.Type{Kind: schema.Float})
		case schema.Decimal:
			return opt(schema.Type{Kind: schema.Decimal, Precision: sumPrecision(a.Precision), Scale: a.Scale + avgExtraScale})
		}
		return opt(schema.Type{Kind: a.Kind})
	case opApproxPercentile:
		return opt(schema.Type{Kind: schema.Float})
	}
	return opt(a)
}

// maxPrecision is the precision of a decimal sum whose argument's is not
// known.
const maxPrecision = 38

// avgExtraScale is how many more digits after the point an average of
// decimals has than its argument.
const avgExtraScale = 6

func sumPrecision(p int) int {
	if p <= 0 || p+10 > maxPrecision {
		return maxPrecision
	}
	return p + 10
}

// Check reports, as a *TypeError, whether v is of a type f does not take.
// A nil or record.Absent value is always accepted (and skipped).
func (f *Func) Check(v any) error {
	if f.accept == acceptAll || isNull(v) || f.accepts(v) {
		return nil
	}
	return &TypeError{Func: f.String(), Want: acceptName(f.accept), Got: v}
}

func (f *Func) accepts(v any) bool {
	switch f.accept {
	case acceptInt:
		_, ok := record.Int64(v)
		return ok
	case acceptFloat:
		if _, ok := record.Float64(v); ok {
			return true
		}
		_, ok := record.Int64(v)
		return ok
	case acceptDecimal:
		if _, ok := v.(decimal.Decimal); ok {
			return true
		}
		_, ok := record.Int64(v)
		return ok
	case acceptNumber:
		return classOf(v) == classNumber
	case acceptDuration:
		_, ok := v.(time.Duration)
		return ok
	case acceptString:
		_, ok := v.(string)
		return ok
	case acceptBool:
		_, ok := v.(bool)
		return ok
	case acceptTime:
		_, ok := v.(time.Time)
		return ok
	case acceptList:
		_, ok := v.([]any)
		return ok
	case acceptObject:
		_, ok := v.(map[string]any)
		return ok
	case acceptScalar:
		return classOf(v) != classNone
	case acceptKey:
		return keyable(v)
	}
	return true
}

// keyable reports whether AppendKey can encode v.
func keyable(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !keyable(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !keyable(e) {
				return false
			}
		}
		return true
	}
	return isNull(v) || classOf(v) != classNone
}

// TypeError reports an argument value of a type the aggregate does not
// take.
type TypeError struct {
	Func string // e.g. "sum(int)"
	Want string // what the function takes
	Got  any    // the value
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("%s: got a value of type %s, want %s", e.Func, valueTypeName(e.Got), e.Want)
}

func acceptName(a accept) string {
	switch a {
	case acceptInt:
		return "int"
	case acceptFloat:
		return "float or int"
	case acceptDecimal:
		return "decimal or int"
	case acceptNumber:
		return "a number"
	case acceptDuration:
		return "duration"
	case acceptString:
		return "string"
	case acceptBool:
		return "bool"
	case acceptTime:
		return "timestamp"
	case acceptList:
		return "list"
	case acceptObject:
		return "object"
	case acceptScalar:
		return "a bool, number, string, bytes, timestamp or duration"
	case acceptKey:
		return "a value that can be compared"
	}
	return "any value"
}

func valueTypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64, float32:
		return "float"
	case decimal.Decimal:
		return "decimal"
	case time.Time:
		return "timestamp"
	case time.Duration:
		return "duration"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	if _, ok := record.Int64(v); ok {
		return "int"
	}
	return fmt.Sprintf("%T", v)
}

// Acc is one accumulator of a Func. It is not safe for concurrent use.
type Acc interface {
	// Add adds v, the argument value of a record with event time t (Unix
	// nanoseconds; first and last order by it). A nil or record.Absent v is
	// skipped by all but count(), which ignores v. A value of a type the
	// Func does not take returns a *TypeError and changes nothing.
	Add(v any, t int64) error
	// Merge adds everything added to other, an accumulator of the same
	// Func, into the receiver (as if other's values had been added after
	// the receiver's); other is left unchanged. It panics if other comes
	// from a Func of another kind, a programming error.
	Merge(other Acc)
	// Result returns the current value (see the package documentation).
	Result() any
}

// New returns an empty accumulator.
func (f *Func) New() Acc {
	c := f.NewColumn()
	c.Grow(1)
	return &acc{f: f, col: c}
}

type acc struct {
	f   *Func
	col Column
}

func (a *acc) Add(v any, t int64) error {
	if err := a.f.Check(v); err != nil {
		return err
	}
	a.col.Add(0, v, t)
	return nil
}

func (a *acc) Merge(other Acc) {
	o, ok := other.(*acc)
	if !ok {
		panic(fmt.Sprintf("agg: cannot merge a %T into an accumulator of %s", other, a.f))
	}
	a.col.Merge(0, o.col, 0)
}

func (a *acc) Result() any { return a.col.Result(0) }

// roundAvg divides an exact decimal sum by n, rounding to scale digits
// after the point, half away from zero.
func roundAvg(sum decimal.Decimal, n int64, scale int32) decimal.Decimal {
	return sum.DivRound(decimal.NewFromInt(n), scale)
}

// durationOf converts a sum or average of durations, saturating.
func durationOf(f float64) time.Duration {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(math.Round(f))
}
