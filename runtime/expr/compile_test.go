package expr

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

func TestTypes(t *testing.T) {
	t.Parallel()
	str := schema.Type{Kind: schema.String}
	tests := []struct {
		text string
		want schema.Type
	}{
		{"amount", schema.Type{Kind: schema.Decimal, Precision: 10, Scale: 2}},
		{"$env.amount", schema.Type{Kind: schema.Decimal, Precision: 10, Scale: 2}},
		{"channel", schema.Type{Kind: schema.String, Optional: true}},
		{"device.version", schema.Type{Kind: schema.Int, Optional: true}},
		{"device", testFields[9].typ},
		{"tags", schema.Type{Kind: schema.List, Elem: &str}},
		{"raw", schema.Type{Kind: schema.Any}},
		{"amount + 1", schema.Type{Kind: schema.Decimal}},
		{"amount * qty - fee", schema.Type{Kind: schema.Decimal}},
		{"amount > 1", schema.Type{Kind: schema.Bool}},
		{"qty * 2", schema.Type{Kind: schema.Int}},
		{"price * qty", schema.Type{Kind: schema.Float}},
		{"qty / 2", schema.Type{Kind: schema.Float}},
		{"event_time - event_time", schema.Type{Kind: schema.Duration}},
		{"event_time + latency", schema.Type{Kind: schema.Timestamp}},
		{`store_id + "x"`, str},
		{"paid || false", schema.Type{Kind: schema.Bool}},
		{`split(store_id, "-")`, schema.Type{Kind: schema.List, Elem: &str}},
		{`tags[0]`, str},
		{`{a: 1}`, schema.Type{Kind: schema.Object}},
		{"device.os", str},
		{"year(event_time)", schema.Type{Kind: schema.Int}},
		{`parse_time("2026-03-17T00:00:00Z")`, schema.Type{Kind: schema.Timestamp}},
		{"date(event_time)", str},
		{"date", str},
		{`qty > 1 ? "a" : "b"`, str},
		{"coalesce(qty, 0)", schema.Type{Kind: schema.Int}},
		{"coalesce(channel, store_id)", str},
		{"coalesce(qty, 1.5)", schema.Type{Kind: schema.Any}},
		{"coalesce(raw, 1)", schema.Type{Kind: schema.Any}},
		{"to_decimal(qty)", schema.Type{Kind: schema.Decimal}},
		{"to_int(raw)", schema.Type{Kind: schema.Int}},
		{`concat(store_id, qty)`, str},
		{`concat(tags, ["x"])`, schema.Type{Kind: schema.List, Elem: &schema.Type{Kind: schema.Any}}},
		{`let x = qty; x * 2`, schema.Type{Kind: schema.Int}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, tt.text, testEnv())
			if diff := cmp.Diff(tt.want, p.Type()); diff != "" {
				t.Errorf("Type() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDynamicTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want schema.Kind
	}{
		{"a", schema.Any},
		{"a + b", schema.Any},
		{"a > 1", schema.Bool},
		{"upper(a)", schema.String},
		{"to_decimal(a) + b", schema.Decimal},
		{"year(parse_time(ts))", schema.Int},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, tt.text, DynamicEnv(record.NewDynamic()))
			if got := p.Type().Kind; got != tt.want {
				t.Errorf("Type().Kind = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		dynamic bool
		want    []string
	}{
		{text: `amount > "x"`, want: []string{`p.yaml:7:18: invalid operation: > (mismatched types decimal and string)`}},
		{text: `amount + latency`, want: []string{`p.yaml:7:18: invalid operation: + (mismatched types decimal and duration)`}},
		{text: `paid + 1`, want: []string{`p.yaml:7:16: invalid operation: + (mismatched types bool and int)`}},
		{text: `-store_id`, want: []string{`p.yaml:7:11: invalid operation: - (mismatched type string)`}},
		{text: `amout > 1`, want: []string{`p.yaml:7:11: unknown name "amout" (did you mean "amount"?)`}},
		{text: `amout > 1 && stor_id != ""`, want: []string{
			`p.yaml:7:11: unknown name "amout" (did you mean "amount"?)`,
			`p.yaml:7:24: unknown name "stor_id" (did you mean "store_id"?)`,
		}},
		{text: `zzz`, want: []string{`p.yaml:7:11: unknown name "zzz"`}},
		{text: `$env.amout`, want: []string{`p.yaml:7:16: unknown name "amout" (did you mean "amount"?)`}},
		{text: `let x = 1; y`, want: []string{`p.yaml:7:22: unknown name "y"`}},
		{text: `device.oss`, want: []string{`p.yaml:7:18: unknown field "oss" (did you mean "os"?)`}},
		{text: `uppr(store_id)`, want: []string{`p.yaml:7:11: unknown function "uppr" (did you mean "upper"?)`}},
		{text: `uppr(a)`, dynamic: true, want: []string{`p.yaml:7:11: unknown function "uppr" (did you mean "upper"?)`}},
		{text: `now()`, want: []string{`p.yaml:7:11: now() is not allowed: results must not depend on when the pipeline runs; use the record's event time instead`}},
		{text: `now() > a`, dynamic: true, want: []string{`p.yaml:7:11: now() is not allowed: results must not depend on when the pipeline runs; use the record's event time instead`}},
		{text: `year(store_id)`, want: []string{`p.yaml:7:16: cannot use string as argument (type timestamp) to call year`}},
		{text: `parse_time(1)`, want: []string{`p.yaml:7:22: cannot use int as argument (type string) to call parse_time`}},
		{text: `substr(store_id, "a", 1)`, want: []string{`p.yaml:7:28: cannot use string as argument (type int) to call substr`}},
		{text: `starts_with(store_id)`, want: []string{`p.yaml:7:11: not enough arguments to call starts_with`}},
		{text: `coalesce()`, want: []string{`p.yaml:7:11: coalesce: want at least 1 argument`}},
		{text: `concat(tags, "x")`, want: []string{`p.yaml:7:11: concat: cannot mix lists and other values`}},
		{text: `1 +`, want: []string{`p.yaml:7:13: unexpected token EOF`}},
		{text: `qty > `, want: []string{`p.yaml:7:16: unexpected token EOF`}},
		{text: `"abc`, want: []string{`p.yaml:7:15: literal not terminated`}},
		{text: `qty )`, want: []string{`p.yaml:7:15: unexpected token Bracket(")")`}},
		{text: `$env`, dynamic: true, want: []string{`p.yaml:7:11: $env needs a constant field name in a schemaless pipeline, as in $env["name"]`}},
		{text: ` `, want: []string{`p.yaml:7:11: empty expression`}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			env := testEnv()
			if tt.dynamic {
				env = DynamicEnv(record.NewDynamic())
			}
			p, ds := Compile(plain(tt.text), env)
			if diff := cmp.Diff(tt.want, diagStrings(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if p != nil {
				t.Errorf("got a program despite errors")
			}
		})
	}
}

func TestCompileBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		dynamic bool
		want    []string
	}{
		{text: `amount > 0 && store_id != ""`},
		{text: `raw`},
		{text: `a`, dynamic: true},
		{text: `a > 1`, dynamic: true},
		{text: `qty + 1`, want: []string{"p.yaml:7:11: filter must be a boolean expression, got int"}},
		{text: `store_id`, want: []string{"p.yaml:7:11: filter must be a boolean expression, got string"}},
		{text: `upper(a)`, dynamic: true, want: []string{"p.yaml:7:11: filter must be a boolean expression, got string"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			env := testEnv()
			if tt.dynamic {
				env = DynamicEnv(record.NewDynamic())
			}
			_, ds := CompileBool(plain(tt.text), env)
			if diff := cmp.Diff(tt.want, diagStrings(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string
	}{
		{text: `event_time`},
		{text: `store_id`},
		{text: `qty`},
		{text: `raw`},
		{text: `parse_time(date, "2006-01-02")`},
		{text: `price`, want: []string{"p.yaml:7:11: event_time must be a timestamp, an RFC 3339 string or epoch milliseconds, got float"}},
		{text: `paid`, want: []string{"p.yaml:7:11: event_time must be a timestamp, an RFC 3339 string or epoch milliseconds, got bool"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			_, ds := CompileTime(plain(tt.text), testEnv())
			if diff := cmp.Diff(tt.want, diagStrings(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvalTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		values  []any // slots a, b of a dynamic env
		want    time.Time
		wantErr string
	}{
		{text: "a", values: []any{time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)}, want: time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)},
		{text: "a", values: []any{"2026-03-17T23:58:00.5+01:00"}, want: time.Date(2026, 3, 17, 22, 58, 0, 5e8, time.UTC)},
		{text: "a", values: []any{int64(1773791880000)}, want: time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)},
		{text: "a", values: []any{1773791880000.5}, want: time.Date(2026, 3, 17, 23, 58, 0, 5e5, time.UTC)},
		{text: "a + b", values: []any{int64(1773791880000), int64(1000)}, want: time.Date(2026, 3, 17, 23, 58, 1, 0, time.UTC)},
		{text: "a", values: []any{nil}, wantErr: "event time is null"},
		{text: "a", values: []any{record.Absent}, wantErr: "event time is null"},
		{text: "a", values: []any{"yesterday"}, wantErr: `event time "yesterday" is not an RFC 3339 timestamp`},
		{text: "a", values: []any{true}, wantErr: "event time must be a timestamp, a string or a number, got bool"},
		{text: "a", values: []any{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, wantErr: "event time 3000-01-01T00:00:00Z is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			d := record.NewDynamic()
			d.Intern("a")
			d.Intern("b")
			p, ds := CompileTime(plain(tt.text), DynamicEnv(d))
			if ds.HasErrors() {
				t.Fatal(ds.Err())
			}
			got, err := p.EvalTime(&record.Record{Values: tt.values})
			if tt.wantErr != "" {
				checkEvalError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want.UnixNano(); got != want {
				t.Errorf("EvalTime = %v, want %v", time.Unix(0, got).UTC(), tt.want)
			}
		})
	}
}

// checkEvalError fails unless err is an *EvalError with message want.
func checkEvalError(t *testing.T, err error, want string) {
	t.Helper()
	var ee *EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("error = %v (%T), want *EvalError %q", err, err, want)
	}
	if ee.Msg != want {
		t.Errorf("error = %q, want %q", ee.Msg, want)
	}
}

func TestEvalBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		want    bool
		wantErr string
	}{
		{text: `amount > 10 && store_id != ""`, want: true},
		{text: `amount > 100 && store_id != ""`, want: false},
		{text: `channel == "web"`, want: false},
		{text: `channel == nil && gone == nil`, want: true},
		{text: `starts_with(channel, "w")`, want: false},
		{text: `device.os in ["ios", "android"]`, want: true},
		{text: `"a" in tags`, want: true},
		{text: `any(tags, # == "b")`, want: true},
		{text: `raw`, wantErr: "filter gave string, not a boolean"},
		{text: `paid ? nil : true`, wantErr: "filter gave null"},
		{text: `device.os == "ios" && channel != "web" && date(event_time) != channel`, want: true},
		{text: `channel + "x" == "y"`, wantErr: "invalid operation: null + string"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			p, ds := CompileBool(plain(tt.text), testEnv())
			if ds.HasErrors() {
				t.Fatal(ds.Err())
			}
			got, err := p.EvalBool(testRecord())
			if tt.wantErr != "" {
				checkEvalError(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("EvalBool = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string
	}{
		{`1 + 2`, nil},
		{`amount > 100 && store_id != ""`, []string{"amount", "store_id"}},
		{`qty + qty * qty`, []string{"qty"}},
		{`device.os`, []string{"device"}},
		{`$env["store_id"] + $env.date`, []string{"store_id", "date"}},
		{`let qty2 = qty; qty2 + 1`, []string{"qty"}},
		{`let n = 1; let m = n + qty; m * n`, []string{"qty"}},
		{`filter(tags, # != store_id)`, []string{"tags", "store_id"}},
		{`date(event_time) == date`, []string{"event_time", "date"}},
		{`upper(store_id)`, []string{"store_id"}},
		{`len($env) > 0`, []string{"amount", "fee", "store_id", "qty", "price", "paid", "event_time", "latency", "tags", "device", "channel", "date", "raw", "gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, tt.text, testEnv())
			if diff := cmp.Diff(tt.want, p.Refs()); diff != "" {
				t.Errorf("Refs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFieldNamedLikeFunction: a `date` field does not hide date(), and a
// field named like one of expr's builtins does not hide the builtin.
func TestFieldNamedLikeFunction(t *testing.T) {
	t.Parallel()
	env := NewEnv(
		[]string{"date", "upper", "filter", "t", "xs", "len"},
		[]schema.Type{{Kind: schema.String}, {Kind: schema.String}, {Kind: schema.Bool}, {Kind: schema.Timestamp}, {Kind: schema.List, Elem: &schema.Type{Kind: schema.Int}}, {Kind: schema.Bool}},
	)
	r := &record.Record{Values: []any{"d", "u", true, time.Date(2026, 3, 17, 1, 2, 3, 0, time.UTC), []any{int64(1), int64(5)}, false}}
	tests := []struct {
		text string
		want any
	}{
		{`date(t) + "/" + date`, "2026-03-17/d"},
		{`upper(upper)`, "U"},
		{`filter && len(xs) == 2 && !len`, true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := mustCompile(t, tt.text, env).Eval(r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDynamicLayout: a schemaless expression compiled before its fields
// exist sees them once the layout grows, and absent fields are null.
func TestDynamicLayout(t *testing.T) {
	t.Parallel()
	d := record.NewDynamic()
	d.Intern("a")
	p := mustCompile(t, `concat(coalesce(b, "none"), ":", a)`, DynamicEnv(d))
	eval := func(values ...any) any {
		t.Helper()
		v, err := p.Eval(&record.Record{Values: values})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got, want := eval(int64(1)), "none:1"; got != want {
		t.Errorf("before b exists: %v, want %v", got, want)
	}
	if i := d.Intern("b"); i != 1 {
		t.Fatalf("slot of b = %d", i)
	}
	if got, want := eval(int64(2), "x"), "x:2"; got != want {
		t.Errorf("after b exists: %v, want %v", got, want)
	}
	if got, want := eval(int64(3)), "none:3"; got != want {
		t.Errorf("record shorter than the layout: %v, want %v", got, want)
	}
	if got, want := eval(record.Absent, record.Absent), "none:"; got != want {
		t.Errorf("absent fields: %v, want %v", got, want)
	}
	if diff := cmp.Diff([]string{"b", "a"}, p.Refs()); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want any
	}{
		{`1 + 2`, int64(3)},
		{`qty * 1000`, int64(3000)},
		{`[1, 2.5, "x"]`, []any{int64(1), 2.5, "x"}},
		{`{a: 1, b: [2]}`, map[string]any{"a": int64(1), "b": []any{int64(2)}}},
		{`split(store_id, "-")`, []any{"s", "17"}},
		{`tags`, []any{"a", "b"}},
		{`len(tags)`, int64(2)},
		{`parse_time("2026-03-17T23:58:00+01:00")`, time.Date(2026, 3, 17, 22, 58, 0, 0, time.UTC)},
		{`channel`, nil},
		{`gone`, nil},
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
			if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
				t.Errorf("time in %v, want UTC", tm.Location())
			}
		})
	}
}

// TestNormalizeDoesNotModify: normalize copies what it changes.
func TestNormalizeDoesNotModify(t *testing.T) {
	t.Parallel()
	in := []any{1, []int{2}, map[string]any{"x": int32(3)}, "s"}
	got := normalize(in)
	want := []any{int64(1), []any{int64(2)}, map[string]any{"x": int64(3)}, "s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("normalize (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{1, []int{2}, map[string]any{"x": int32(3)}, "s"}, in); diff != "" {
		t.Errorf("input modified (-want +got):\n%s", diff)
	}
	same := []any{int64(1), "x", decimal.NewFromInt(2)}
	if got := normalize(same).([]any); &got[0] != &same[0] {
		t.Errorf("normalize copied a slice that needed no change")
	}
}

// TestClone runs clones of one program on many goroutines (for -race).
func TestClone(t *testing.T) {
	t.Parallel()
	p, ds := CompileBool(plain(`amount > 10 && upper(store_id) == "S-17"`), testEnv())
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		c := p.Clone()
		wg.Go(func() {
			r := testRecord()
			for range 200 {
				ok, err := c.EvalBool(r)
				if err != nil || !ok {
					errs <- errors.Join(err, errors.New("clone gave false"))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFilterAllocs: evaluating a simple filter allocates nothing.
func TestFilterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p, ds := CompileBool(config.Expr{Text: `amount > 100 && store_id != ""`}, benchEnv())
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	r := benchRecord()
	if n := testing.AllocsPerRun(100, func() { _, _ = p.EvalBool(r) }); n != 0 {
		t.Errorf("EvalBool allocates %v times per run", n)
	}
}

func TestEnvDuplicatesAndMissingTypes(t *testing.T) {
	t.Parallel()
	env := NewEnv([]string{"a", "b", "a"}, []schema.Type{{Kind: schema.Int}})
	p := mustCompile(t, "a", env)
	if got := p.Type().Kind; got != schema.Int {
		t.Errorf("type of a = %v, want Int", got)
	}
	if got := mustCompile(t, "b", env).Type().Kind; got != schema.Any {
		t.Errorf("type of b (no type given) = %v, want Any", got)
	}
	v, err := p.Eval(&record.Record{Values: []any{int64(1), nil, int64(3)}})
	if err != nil || v != int64(1) {
		t.Errorf("Eval(a) = %v, %v; want the first slot", v, err)
	}
}

// TestLimits: text that would overflow the parser's stack is refused.
func TestLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300)
	tests := []struct {
		text string
		want []string
	}{
		{deep, []string{"p.yaml:7:267: expression is nested too deeply (more than 256 brackets)"}},
		{strings.Repeat("(", 60000), []string{"p.yaml:7:267: expression is nested too deeply (more than 256 brackets)"}},
		{`"` + strings.Repeat("(", 300) + `" + store_id`, nil},
		{strings.Repeat("-", 70000) + "1", []string{"p.yaml:7:11: expression is too long (70001 bytes, at most 65536)"}},
	}
	for _, tt := range tests {
		t.Run(tt.text[:min(len(tt.text), 20)], func(t *testing.T) {
			t.Parallel()
			_, ds := Compile(plain(tt.text), testEnv())
			if diff := cmp.Diff(tt.want, diagStrings(ds)); diff != "" {
				t.Errorf("Compile diagnostics (-want +got):\n%s", diff)
			}
			if tt.want == nil {
				return
			}
			_, ds = CompileAggregate(plain("sum("+tt.text+")"), testEnv())
			if len(ds) != 1 {
				t.Errorf("CompileAggregate: %v", ds)
			}
		})
	}
}

// TestConcurrentCompile compiles with one env on many goroutines (for
// -race): an Env is shared by every stage reading a source.
func TestConcurrentCompile(t *testing.T) {
	t.Parallel()
	env := testEnv()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, text := range []string{`amount * qty > 10`, `date(event_time)`, `upper(store_id)`} {
				if _, ds := Compile(plain(text), env); ds.HasErrors() {
					t.Error(ds.Err())
				}
			}
			if _, ds := CompileAggregate(plain(`sum(amount)`), env); ds.HasErrors() {
				t.Error(ds.Err())
			}
		})
	}
	wg.Wait()
}

// TestFieldNamesThatAreNotIdentifiers are read with $env["name"].
func TestFieldNamesThatAreNotIdentifiers(t *testing.T) {
	t.Parallel()
	env := NewEnv([]string{"event-time", "a b"}, []schema.Type{{Kind: schema.Timestamp}, {Kind: schema.Int}})
	p := mustCompile(t, `year($env["event-time"]) + $env["a b"]`, env)
	got, err := p.Eval(&record.Record{Values: []any{time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC), int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if got != int64(2027) {
		t.Errorf("Eval = %v, want 2027", got)
	}
	if diff := cmp.Diff([]string{"event-time", "a b"}, p.Refs()); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
}
