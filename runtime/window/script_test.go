package window

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt")

// TestScripts runs the scripts in testdata/*.txt. A script is a series of
// blocks separated by blank lines; `#` lines before a block are comments.
// A block is a command line, optional input lines, `----`, and the
// expected output. Commands:
//
//	config window=tumbling size=1m [slide=20s] [gap=5m] aggs=count(),sum(v),approx_percentile(v,0.5)
//	       [kind=int] [lateness=30s] [emit=updates]
//	    resets the operator; kind is the type of every aggregate argument
//	    (any by default).
//	add [RECORD]
//	    feeds the record on the command line and each input line; prints
//	    the late records and the errors, or "ok". A RECORD is
//	    `k=KEY[,KEY…] t=TIME [FIELD=VALUE…]`; an aggregate's argument is
//	    the field it names.
//	advance TIME | flush
//	    prints the emitted rows, or "(no rows)".
//	state
//	    prints the watermark and the number of windows held.
//
// TIME is [-]hh:mm:ss[.frac] from the Unix epoch, or -inf / +inf. VALUE is
// nil, true, false, an int (3), a float (3.5), a decimal (3.50d) or a
// string.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			runScript(t, file)
		})
	}
}

type scriptBlock struct {
	line   int      // 1-based line of the command
	head   []string // comments, command and input lines, up to and including "----"
	cmd    string
	input  []string
	expect []string
}

func parseScript(t *testing.T, file string) []scriptBlock {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var blocks []scriptBlock
	i := 0
	for i < len(lines) {
		var b scriptBlock
		for i < len(lines) && (strings.TrimSpace(lines[i]) == "" || strings.HasPrefix(lines[i], "#")) {
			b.head = append(b.head, lines[i])
			i++
		}
		if i == len(lines) {
			blocks = append(blocks, b) // trailing comments
			break
		}
		b.line = i + 1
		b.cmd = lines[i]
		b.head = append(b.head, lines[i])
		i++
		for i < len(lines) && lines[i] != "----" {
			b.input = append(b.input, lines[i])
			b.head = append(b.head, lines[i])
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: missing ----", file, b.line)
		}
		b.head = append(b.head, lines[i])
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			b.expect = append(b.expect, lines[i])
			i++
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func runScript(t *testing.T, file string) {
	blocks := parseScript(t, file)
	var s scriptState
	var out strings.Builder
	for _, b := range blocks {
		for _, h := range b.head {
			out.WriteString(h + "\n")
		}
		if b.cmd == "" {
			continue
		}
		got := s.run(b.cmd, b.input)
		for _, g := range got {
			out.WriteString(g + "\n")
		}
		if !*rewrite {
			if diff := cmp.Diff(b.expect, got); diff != "" {
				t.Errorf("%s:%d: %s: output mismatch (-want +got):\n%s", file, b.line, b.cmd, diff)
			}
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptState struct {
	op    *Operator
	args  []string // the record field of each aggregate ("" for count())
	names []string // the aggregates as written
}

func (s *scriptState) run(cmd string, input []string) []string {
	name, rest, _ := strings.Cut(cmd, " ")
	if name != "config" && s.op == nil {
		return []string{"error: no config"}
	}
	switch name {
	case "config":
		if err := s.config(rest); err != nil {
			return []string{"error: " + err.Error()}
		}
		return []string{"ok"}
	case "add":
		var recs []string
		if strings.TrimSpace(rest) != "" {
			recs = append(recs, rest)
		}
		recs = append(recs, input...)
		var out []string
		for _, r := range recs {
			late, err := s.add(r)
			switch {
			case err != nil:
				out = append(out, "error: "+r+": "+err.Error())
			case late:
				out = append(out, "late: "+r)
			}
		}
		if len(out) == 0 {
			out = append(out, "ok")
		}
		return out
	case "advance":
		wm, err := parseTime(strings.TrimSpace(rest))
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return s.rows(func(emit func(Row)) { s.op.Advance(wm, emit) })
	case "flush":
		return s.rows(s.op.Flush)
	case "state":
		return []string{fmt.Sprintf("watermark=%s windows=%d", formatTime(s.op.Watermark()), s.op.OpenWindows())}
	}
	return []string{"error: unknown command " + name}
}

func (s *scriptState) rows(run func(func(Row))) []string {
	var out []string
	run(func(r Row) {
		var b strings.Builder
		if r.Final {
			b.WriteString("final ")
		} else {
			b.WriteString("update ")
		}
		fmt.Fprintf(&b, "[%s,%s)", formatTime(r.Span.Start), formatTime(r.Span.End))
		keys := make([]string, len(r.Key))
		for i, k := range r.Key {
			keys[i] = formatValue(k)
		}
		b.WriteString(" " + strings.Join(keys, ",") + ":")
		for i, v := range r.Values {
			fmt.Fprintf(&b, " %s=%s", s.names[i], formatValue(v))
		}
		out = append(out, b.String())
	})
	if len(out) == 0 {
		out = append(out, "(no rows)")
	}
	return out
}

func (s *scriptState) config(args string) error {
	var cfg Config
	kind := schema.Any
	var aggs string
	for _, f := range strings.Fields(args) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("bad argument %q", f)
		}
		var err error
		switch k {
		case "window":
			switch v {
			case "global":
				cfg.Spec.Kind = Global
			case "tumbling":
				cfg.Spec.Kind = Tumbling
			case "sliding":
				cfg.Spec.Kind = Sliding
			case "session":
				cfg.Spec.Kind = Session
			default:
				return fmt.Errorf("unknown window %q", v)
			}
		case "size":
			cfg.Spec.Size, err = parseDuration(v)
		case "slide":
			cfg.Spec.Slide, err = parseDuration(v)
		case "gap":
			cfg.Spec.Gap, err = parseDuration(v)
		case "lateness":
			cfg.AllowedLateness, err = parseDuration(v)
		case "emit":
			switch v {
			case "final":
				cfg.Emit = Final
			case "updates":
				cfg.Emit = Updates
			default:
				return fmt.Errorf("unknown emit %q", v)
			}
		case "kind":
			kinds := map[string]schema.Kind{"any": schema.Any, "int": schema.Int, "float": schema.Float, "decimal": schema.Decimal, "string": schema.String}
			if kind, ok = kinds[v]; !ok {
				return fmt.Errorf("unknown kind %q", v)
			}
		case "aggs":
			aggs = v
		default:
			return fmt.Errorf("unknown argument %q", k)
		}
		if err != nil {
			return err
		}
	}
	s.args, s.names = nil, nil
	for _, a := range splitTop(aggs) {
		name, arg, ok := strings.Cut(strings.TrimSuffix(a, ")"), "(")
		if !ok {
			return fmt.Errorf("bad aggregate %q", a)
		}
		var f *agg.Func
		var err error
		switch {
		case arg == "":
			f, err = agg.NewNoArg(name)
		case name == agg.ApproxPercentile:
			field, p, _ := strings.Cut(arg, ",")
			var q float64
			if q, err = strconv.ParseFloat(p, 64); err == nil {
				f, err = agg.New(name, schema.Type{Kind: kind}, q)
			}
			arg = field
		default:
			f, err = agg.New(name, schema.Type{Kind: kind}, 0)
		}
		if err != nil {
			return err
		}
		cfg.Aggs = append(cfg.Aggs, f)
		s.args = append(s.args, arg)
		s.names = append(s.names, a)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.op = NewOperator(cfg)
	return nil
}

// splitTop splits s at the commas outside parentheses.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

func (s *scriptState) add(rec string) (bool, error) {
	fields := map[string]any{}
	var key []any
	t := int64(math.MinInt64)
	for _, f := range strings.Fields(rec) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return false, fmt.Errorf("bad field %q", f)
		}
		switch k {
		case "k":
			for _, kv := range strings.Split(v, ",") {
				key = append(key, parseValue(kv))
			}
		case "t":
			var err error
			if t, err = parseTime(v); err != nil {
				return false, err
			}
		default:
			fields[k] = parseValue(v)
		}
	}
	args := make([]any, len(s.args))
	for i, a := range s.args {
		if a != "" {
			args[i] = fields[a]
		}
	}
	return s.op.Add(key, t, args)
}

func parseValue(s string) any {
	switch s {
	case "nil":
		return nil
	case "true":
		return true
	case "false":
		return false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if strings.HasSuffix(s, "d") {
		if d, err := decimal.NewFromString(strings.TrimSuffix(s, "d")); err == nil {
			return d
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eNI") {
			s += ".0"
		}
		return s
	case decimal.Decimal:
		return x.String() + "d"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

var errBadTime = errors.New("bad time: want [-]hh:mm:ss[.frac], -inf or +inf")

func parseTime(s string) (int64, error) {
	switch s {
	case "-inf":
		return math.MinInt64, nil
	case "+inf":
		return math.MaxInt64, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, errBadTime
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, errBadTime
	}
	ns := int64(h)*int64(time.Hour) + int64(m)*int64(time.Minute) + int64(math.Round(sec*1e9))
	if neg {
		ns = -ns
	}
	return ns, nil
}

func formatTime(ns int64) string {
	switch ns {
	case math.MinInt64:
		return "-inf"
	case math.MaxInt64:
		return "+inf"
	}
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	d := time.Duration(ns)
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	sec := d % time.Minute
	s := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, int64(sec/time.Second))
	if frac := sec % time.Second; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", int64(frac)), "0")
	}
	return s
}

func parseDuration(s string) (int64, error) {
	d, err := time.ParseDuration(s)
	return int64(d), err
}
