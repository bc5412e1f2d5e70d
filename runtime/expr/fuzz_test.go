package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/record"
)

// fuzzSeeds are expressions as pipelines write them: filters, map
// values, event times and aggregates, some of them wrong.
var fuzzSeeds = []string{
	`amount > 0 && store_id != ""`,
	`amount > 100 && store_id != "" && channel == "web"`,
	`upper(store_id)`,
	`amount * qty - fee`,
	`-amount + 1`,
	`event_time`,
	`parse_time(date, "2006-01-02")`,
	`from_unix_ms(qty * 1000)`,
	`truncate_time(event_time, "1h")`,
	`format_time(event_time, "2006-01-02T15")`,
	`year(event_time) * 100 + month(event_time)`,
	`date(event_time) + "/" + store_id`,
	`weekday(event_time) in [0, 6]`,
	`coalesce(channel, "unknown")`,
	`concat(store_id, "-", qty)`,
	`substr(store_id, 0, 2)`,
	`starts_with(store_id, "s-") || ends_with(store_id, "7")`,
	`to_decimal(raw) + amount`,
	`to_int(price) > qty`,
	`to_string(event_time)`,
	`len(tags) > 0 && "vip" in tags`,
	`filter(tags, # startsWith "a")`,
	`device.os == "ios" && device.version >= 17`,
	`device?.version ?? 0`,
	`$env["store_id"]`,
	`let total = amount * qty; total > 100 ? "big" : "small"`,
	"amount > 0 &&\n  store_id != \"\"\n",
	"upper(\n  store_id\n)",
	`count()`,
	`count(channel)`,
	`sum(amount)`,
	`avg(amount * qty)`,
	`min(event_time)`,
	`max(latency)`,
	`approx_percentile(price, 0.95)`,
	`count_distinct(store_id)`,
	`sum(count())`,
	`amount > "x"`,
	`amout > 1`,
	`now() - event_time`,
	`"unterminated`,
	`((amount)`,
	`store_id == "héllo" && amount > 1`,
	`a + b * c`,
	`{a: amount, b: [1, 2.5, "x"]}`,
}

// FuzzCompile compiles random text, shaped as each kind of YAML scalar,
// against a typed and a schemaless env, and evaluates what compiles. It
// must never panic, every diagnostic must lie inside the expression's
// span in the file, and evaluation errors must be *EvalError.
func FuzzCompile(f *testing.F) {
	if len(fuzzSeeds) < 30 {
		f.Fatalf("only %d seeds", len(fuzzSeeds))
	}
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i))
	}
	typed := testEnv()
	typedRec := testRecord()
	dyn := record.NewDynamic()
	for _, n := range []string{"a", "b", "amount", "store_id", "tags", "event_time"} {
		dyn.Intern(n)
	}
	dynEnv := DynamicEnv(dyn)
	dynRec := &record.Record{Values: []any{int64(1), 2.5, "12.5", "s-1", []any{"x"}, "2026-03-17T00:00:00Z"}}
	f.Fuzz(func(t *testing.T, text string, shape uint8) {
		e := shapeExpr(text, shape%4)
		for _, env := range []struct {
			env *Env
			rec *record.Record
		}{{typed, typedRec}, {dynEnv, dynRec}} {
			type compiled struct {
				p  *Program
				ds diag.Diagnostics
			}
			var all []compiled
			for _, compile := range []func(config.Expr, *Env) (*Program, diag.Diagnostics){Compile, CompileBool, CompileTime} {
				p, ds := compile(e, env.env)
				all = append(all, compiled{p, ds})
			}
			a, ds := CompileAggregate(e, env.env)
			var ap *Program
			if a != nil {
				ap = a.Arg
				if a.Func == "" || !isAggregate(a.Func) {
					t.Errorf("aggregate %q", a.Func)
				}
			}
			all = append(all, compiled{ap, ds})
			for i, c := range all {
				for _, d := range c.ds {
					if !inSpan(d.Pos, e) {
						t.Errorf("compile %d: %s: outside the expression %#v", i, d, e)
					}
				}
				if c.ds.HasErrors() && c.p != nil {
					t.Errorf("compile %d: a program despite %v", i, c.ds.Err())
				}
				if c.p == nil {
					continue
				}
				_, err := c.p.Eval(env.rec)
				checkEvalErr(t, err)
				_, err = c.p.EvalBool(env.rec)
				checkEvalErr(t, err)
				_, err = c.p.EvalTime(env.rec)
				checkEvalErr(t, err)
				_, err = c.p.Eval(&record.Record{})
				checkEvalErr(t, err)
			}
		}
	})
}

func checkEvalErr(t *testing.T, err error) {
	t.Helper()
	var ee *EvalError
	if err != nil && !errors.As(err, &ee) {
		t.Errorf("error %v is a %T, not an *EvalError", err, err)
	}
}

// shapeExpr places text in p.yaml as a plain scalar (0), a double-quoted
// one (1), a literal block (2) or a folded block (3), at line 5.
func shapeExpr(text string, shape uint8) config.Expr {
	at := func(line, col int) diag.Pos { return diag.Pos{File: "p.yaml", Line: line, Col: col} }
	switch shape {
	case 0, 1:
		text = strings.ReplaceAll(text, "\n", " ")
		start := at(5, 13)
		if shape == 1 {
			start.Col++
		}
		return config.Expr{Text: text, Pos: at(5, 13), Lines: []diag.Pos{start}}
	case 2:
		e := config.Expr{Text: text, Pos: at(5, 13)}
		for k := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			e.Lines = append(e.Lines, at(6+k, 7))
		}
		return e
	default:
		return config.Expr{Text: text, Pos: at(5, 13), Lines: []diag.Pos{at(5, 13)}}
	}
}

// inSpan reports whether p lies on the expression's text in the file: on
// one of its lines, between the line's first byte and just after its last;
// for a folded block, at the node.
func inSpan(p diag.Pos, e config.Expr) bool {
	lines := strings.Split(strings.TrimSuffix(e.Text, "\n"), "\n")
	if len(lines) > len(e.Lines) {
		return p == e.Lines[0]
	}
	for k, line := range lines {
		l := e.Lines[k]
		if p.File == l.File && p.Line == l.Line && p.Col >= l.Col && p.Col <= l.Col+len(line) {
			return true
		}
	}
	return false
}

// TestFuzzSeeds keeps the seeds meaningful: most of them compile.
func TestFuzzSeeds(t *testing.T) {
	t.Parallel()
	ok := 0
	for _, s := range fuzzSeeds {
		_, ds := Compile(plain(s), testEnv())
		a, ads := CompileAggregate(plain(s), testEnv())
		if !ds.HasErrors() || !ads.HasErrors() && a != nil {
			ok++
		}
	}
	if ok < len(fuzzSeeds)*2/3 {
		t.Errorf("only %d of %d seeds compile", ok, len(fuzzSeeds))
	}
}
