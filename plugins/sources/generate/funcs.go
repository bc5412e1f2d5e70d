package generate

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// env holds the variables of a field expression for the event being
// generated.
type env struct {
	I         int64     `expr:"i"`
	EventTime time.Time `expr:"event_time"`
	Partition int64     `expr:"partition"`
}

// state is what compiled field expressions read: the variables of the
// current event and the random stream of the field being evaluated. The
// helper functions are closures over it, so a state belongs to one
// goroutine.
type state struct {
	env  env
	rng  rng
	vm   vm.VM
	zipf zipfDist // the last one zipf() used, to skip its set-up
}

// program is one compiled field expression.
type program struct {
	name string
	prog *vm.Program
	key  uint64 // the field's random stream, see streamKey
}

// eval evaluates p for the event in st.env, its helpers drawing from the
// stream of (p's field, event i).
func (st *state) eval(p *program) (any, error) {
	st.rng.seed(p.key, uint64(st.env.I))
	v, err := st.vm.Run(p.prog, &st.env)
	if err != nil {
		return nil, err
	}
	return normalize(v)
}

// streamKey derives the key of a named random stream from the seed, so
// that every field has its own stream and adding a field does not change
// the values of the others.
func streamKey(seed int64, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name)) // never fails
	return mix64(uint64(seed) ^ mix64(h.Sum64()))
}

// disorderKey is the key of the stream that draws events' disorder; no
// field name hashes to it in practice, and fields cannot be named "".
func disorderKey(seed int64) uint64 { return streamKey(seed, "") }

// mix64 is the SplitMix64 finalizer: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// rng is a PCG-DXSM stream with the derived draws implemented here rather
// than by math/rand/v2's Rand, whose algorithms may change between Go
// releases: the values a seed gives must not.
type rng struct{ pcg rand.PCG }

// seed restarts the stream at (key, event i).
func (r *rng) seed(key, i uint64) { r.pcg.Seed(key, mix64(i)) }

func (r *rng) uint64() uint64 { return r.pcg.Uint64() }

// float64 returns a uniform float in [0, 1).
func (r *rng) float64() float64 { return float64(r.uint64()>>11) * 0x1p-53 }

// uint64n returns a uniform integer in [0, n), n > 0, without bias
// (Lemire's multiply-and-reject).
func (r *rng) uint64n(n uint64) uint64 {
	hi, lo := bits.Mul64(r.uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.uint64(), n)
		}
	}
	return hi
}

// normal returns a standard normal float (Box-Muller).
func (r *rng) normal() float64 {
	u1 := 1 - r.float64() // (0, 1]: the log is finite
	u2 := r.float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// zipfDist is a Zipf distribution over [0, n): k has a probability
// proportional to 1/(k+1)^s, s >= 0. It is sampled by rejection-inversion
// (Hörmann and Derflinger, as in Apache Commons RNG's
// RejectionInversionZipfSampler), in constant expected time.
type zipfDist struct {
	n           int64
	s           float64
	x1, xn, cut float64
}

func newZipf(n int64, s float64) zipfDist {
	z := zipfDist{n: n, s: s}
	z.x1 = z.hIntegral(1.5) - 1
	z.xn = z.hIntegral(float64(n) + 0.5)
	z.cut = 2 - z.hIntegralInverse(z.hIntegral(2.5)-z.h(2))
	return z
}

func (z *zipfDist) h(x float64) float64 { return math.Exp(-z.s * math.Log(x)) }

func (z *zipfDist) hIntegral(x float64) float64 {
	lx := math.Log(x)
	return helper2((1-z.s)*lx) * lx
}

func (z *zipfDist) hIntegralInverse(x float64) float64 {
	t := x * (1 - z.s)
	if t < -1 {
		t = -1 // only rounding errors get here
	}
	return math.Exp(helper1(t) * x)
}

// sample draws one value from r.
func (z *zipfDist) sample(r *rng) int64 {
	nf := float64(z.n)
	for {
		u := z.xn + r.float64()*(z.x1-z.xn)
		x := z.hIntegralInverse(u)
		k := min(max(math.Floor(x+0.5), 1), nf)
		if k-x <= z.cut || u >= z.hIntegral(k+0.5)-z.h(k) {
			return int64(k) - 1
		}
	}
}

// helper1 is log1p(x)/x, accurate near 0.
func helper1(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(0.5-x*(1.0/3-0.25*x))
}

// helper2 is expm1(x)/x, accurate near 0.
func helper2(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*0.5*(1+x*(1.0/3)*(1+0.25*x))
}

// options are the expr options of field expressions: the variables and
// the helpers drawing from st.rng. Field expressions are compiled with
// expr.Timezone("UTC") too, so that date() reads times in UTC.
func (st *state) options() []expr.Option {
	r := &st.rng
	return []expr.Option{
		expr.Env(env{}),
		expr.Function("uniform", func(args ...any) (any, error) {
			a, b, err := floats("uniform", args)
			if err != nil {
				return nil, err
			}
			return a + (b-a)*r.float64(), nil
		}, new(func(float64, float64) float64)),
		expr.Function("normal", func(args ...any) (any, error) {
			mean, sd, err := floats("normal", args)
			if err != nil {
				return nil, err
			}
			if sd < 0 {
				return nil, fmt.Errorf("normal: stddev %g is negative", sd)
			}
			return mean + sd*r.normal(), nil
		}, new(func(float64, float64) float64)),
		expr.Function("randint", func(args ...any) (any, error) {
			ns, err := ints("randint", args)
			if err != nil {
				return nil, err
			}
			if len(ns) == 1 {
				if ns[0] <= 0 {
					return nil, fmt.Errorf("randint: n is %d, want at least 1", ns[0])
				}
				return int64(r.uint64n(uint64(ns[0]))), nil
			}
			a, b := ns[0], ns[1]
			if a > b {
				return nil, fmt.Errorf("randint: a %d is greater than b %d", a, b)
			}
			span := uint64(b-a) + 1
			if span == 0 { // every int64
				return int64(r.uint64()), nil
			}
			return a + int64(r.uint64n(span)), nil
		}, new(func(int64) int64), new(func(int64, int64) int64)),
		expr.Function("choice", func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("choice: want 1 argument, got %d", len(args))
			}
			if list, ok := args[0].([]any); ok {
				if len(list) == 0 {
					return nil, fmt.Errorf("choice: the list is empty")
				}
				return list[r.uint64n(uint64(len(list)))], nil
			}
			v := reflect.ValueOf(args[0])
			if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
				return nil, fmt.Errorf("choice: want a list, got %s", typeName(args[0]))
			}
			if v.Len() == 0 {
				return nil, fmt.Errorf("choice: the list is empty")
			}
			return v.Index(int(r.uint64n(uint64(v.Len())))).Interface(), nil
		}, new(func([]any) any)),
		expr.Function("zipf", func(args ...any) (any, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("zipf: want 2 arguments, got %d", len(args))
			}
			n, ok := toInt(args[0])
			if !ok {
				return nil, fmt.Errorf("zipf: n must be an integer, not %s", typeName(args[0]))
			}
			s, ok := toFloat(args[1])
			if !ok {
				return nil, fmt.Errorf("zipf: s must be a number, not %s", typeName(args[1]))
			}
			if n <= 0 {
				return nil, fmt.Errorf("zipf: n is %d, want at least 1", n)
			}
			if !(s >= 0) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("zipf: s is %g, want 0 or more", s)
			}
			if st.zipf.n != n || st.zipf.s != s {
				st.zipf = newZipf(n, s)
			}
			return st.zipf.sample(r), nil
		}, new(func(int64, float64) int64)),
		expr.Function("chance", func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("chance: want 1 argument, got %d", len(args))
			}
			p, ok := toFloat(args[0])
			if !ok {
				return nil, fmt.Errorf("chance: p must be a number, not %s", typeName(args[0]))
			}
			return r.float64() < p, nil
		}, new(func(float64) bool)),
		expr.Function("sprintf", func(args ...any) (any, error) {
			if len(args) == 0 {
				return nil, fmt.Errorf("sprintf: want a format")
			}
			format, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("sprintf: the format must be a string, not %s", typeName(args[0]))
			}
			return fmt.Sprintf(format, args[1:]...), nil
		}, new(func(string, ...any) string)),
		expr.Function("round", func(args ...any) (any, error) {
			if len(args) == 0 || len(args) > 2 {
				return nil, fmt.Errorf("round: want 1 or 2 arguments, got %d", len(args))
			}
			x, ok := toFloat(args[0])
			if !ok {
				return nil, fmt.Errorf("round: x must be a number, not %s", typeName(args[0]))
			}
			var digits int64
			if len(args) == 2 {
				if digits, ok = toInt(args[1]); !ok {
					return nil, fmt.Errorf("round: digits must be an integer, not %s", typeName(args[1]))
				}
			}
			return roundTo(x, digits), nil
		}, new(func(float64) float64), new(func(float64, int64) float64)),
	}
}

// roundTo rounds x to digits decimal places, half away from zero; a
// negative digits rounds to tens, hundreds and so on.
func roundTo(x float64, digits int64) float64 {
	if digits == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return math.Round(x)
	}
	if digits > 30 {
		return x
	}
	if digits < -30 {
		return 0 * x
	}
	p := math.Pow10(int(digits))
	r := math.Round(x*p) / p
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return x
	}
	return r
}

func floats(name string, args []any) (a, b float64, err error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("%s: want 2 arguments, got %d", name, len(args))
	}
	a, ok := toFloat(args[0])
	if !ok {
		return 0, 0, fmt.Errorf("%s: want numbers, got %s", name, typeName(args[0]))
	}
	b, ok = toFloat(args[1])
	if !ok {
		return 0, 0, fmt.Errorf("%s: want numbers, got %s", name, typeName(args[1]))
	}
	return a, b, nil
}

func ints(name string, args []any) ([]int64, error) {
	if len(args) != 1 && len(args) != 2 {
		return nil, fmt.Errorf("%s: want 1 or 2 arguments, got %d", name, len(args))
	}
	var out [2]int64
	for i, a := range args {
		n, ok := toInt(a)
		if !ok {
			return nil, fmt.Errorf("%s: want integers, got %s", name, typeName(a))
		}
		out[i] = n
	}
	return out[:len(args)], nil
}

// toFloat converts any Go number to a float64.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	}
	return 0, false
}

// toInt converts any Go integer that fits to an int64.
func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	}
	return 0, false
}

// typeName names v's type for errors, in expression terms.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// normalize turns an expression's result into a value of the SDK: any
// integer becomes int64, any float float64, timestamps are UTC, lists and
// maps are copied with their members normalized.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, time.Duration, []byte:
		return v, nil
	case int:
		return int64(x), nil
	case time.Time:
		if x.Location() == time.UTC {
			return v, nil // already UTC: no new box
		}
		return x.UTC(), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n, ok := toInt(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("%v does not fit an int64", v)
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			n, err := normalize(it.Value().Interface())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("a value of type %T is not a field value", v)
}
