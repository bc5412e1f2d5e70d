package generate

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Defaults of the config fields that have one.
const (
	defaultSeed       = 1
	defaultPartitions = 1
	defaultStart      = "2026-01-01T00:00:00Z"
	defaultInterval   = time.Millisecond // without a rate
	defaultDisorder   = "0s"
	maxPartitions     = 1 << 16
)

// Config is the generate source's config block.
type Config struct {
	// Rate is the number of events per second of processing time; 0
	// generates them as fast as they are read.
	Rate float64 `json:"rate"`
	// Count is the number of events; 0 is unbounded.
	Count int64 `json:"count"`
	// Seed seeds every random helper and the disorder.
	Seed int64 `json:"seed"`
	// Partitions is the number of partitions; event i is on partition
	// i % Partitions.
	Partitions int64 `json:"partitions"`
	// Start is the event time of event 0, RFC 3339.
	Start string `json:"start"`
	// Interval is the event-time spacing of consecutive events, as Go
	// duration text; empty means 1s/Rate with a rate, else 1ms.
	Interval string `json:"interval"`
	// Disorder is the largest amount an event's time is moved back from
	// its base time Start + i*Interval, as Go duration text.
	Disorder string `json:"disorder"`
	// Fields maps each output field to its expression: a string, or a
	// number or boolean taken as that constant.
	Fields map[string]any `json:"fields"`
}

// Validate reports the problems of c, keyed by field, expression compile
// errors included.
func (c *Config) Validate() []sdk.Diagnostic {
	_, diags := c.resolve()
	return diags
}

// plan is a config resolved for generating: parsed times and compiled
// field expressions, bound to a generator's random state.
type plan struct {
	rate       float64
	count      int64
	seed       int64
	partitions int64
	start      time.Time
	interval   time.Duration
	disorder   time.Duration
	names      []string // field names, sorted
	progs      []*program
	gen        *state // what the programs read: variables and random streams
}

// resolve checks c and compiles its fields, collecting every problem.
func (c *Config) resolve() (*plan, []sdk.Diagnostic) {
	var diags []sdk.Diagnostic
	bad := func(path, format string, args ...any) {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	p := &plan{rate: c.Rate, count: c.Count, seed: c.Seed, partitions: c.Partitions, gen: &state{}}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		bad("rate", "must be a number of events per second, 0 or more")
	}
	if c.Count < 0 {
		bad("count", "must not be negative")
	}
	if c.Partitions < 1 || c.Partitions > maxPartitions {
		bad("partitions", "must be from 1 to %d", maxPartitions)
	}
	start, err := time.Parse(time.RFC3339Nano, c.Start)
	if err != nil {
		bad("start", "%q is not an RFC 3339 timestamp such as %q", c.Start, defaultStart)
	}
	p.start = start.UTC()
	switch {
	case c.Interval != "":
		p.interval = parseDuration(c.Interval, "interval", bad)
	case c.Rate > 0:
		p.interval = max(time.Duration(math.Round(float64(time.Second)/c.Rate)), 1)
	default:
		p.interval = defaultInterval
	}
	if c.Disorder != "" {
		p.disorder = parseDuration(c.Disorder, "disorder", bad)
	}

	if len(c.Fields) == 0 {
		bad("fields", "must name at least one field")
	}
	p.names = make([]string, 0, len(c.Fields))
	for name := range c.Fields {
		p.names = append(p.names, name)
	}
	slices.Sort(p.names)
	opts := p.gen.options()
	// expr's patchers (Timezone is one) make it check an expression more
	// than once, and an error inside a call's arguments can be lost on
	// the way (sprintf("%d", zipf(5)) compiles). So check without them
	// first.
	checkOpts := opts
	opts = append(slices.Clip(opts), expr.Timezone("UTC"))
	for _, name := range p.names {
		path := "fields." + name
		if name == "" {
			bad("fields", "a field name must not be empty")
			continue
		}
		src, ok := exprText(c.Fields[name])
		if !ok {
			bad(path, "must be an expression (a string), not %s", describe(c.Fields[name]))
			continue
		}
		_, err := expr.Compile(src, checkOpts...)
		if err != nil {
			bad(path, "%s", compileMsg(err))
			continue
		}
		prog, err := expr.Compile(src, opts...)
		if err != nil {
			bad(path, "%s", compileMsg(err))
			continue
		}
		if t := prog.Node().Type(); t != nil && t.Kind() == reflect.Func {
			bad(path, "is a function, not a value: call it")
			continue
		}
		p.progs = append(p.progs, &program{name: name, prog: prog, key: streamKey(c.Seed, name)})
	}
	return p, diags
}

// parseDuration parses a non-negative duration, reporting a problem with
// bad.
func parseDuration(text, path string, bad func(path, format string, args ...any)) time.Duration {
	d, err := time.ParseDuration(text)
	switch {
	case err != nil:
		bad(path, `%q is not a duration such as "90s" or "5m"`, text)
	case d < 0:
		bad(path, "must not be negative")
	}
	return d
}

// exprText returns the expression text of a field's value: a string is
// the expression; a number or boolean is that constant.
func exprText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// compileMsg renders an expr compile error on one line, with where in the
// expression it is.
func compileMsg(err error) string {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err.Error()
	}
	if fe.Line > 1 {
		return fmt.Sprintf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
	}
	return fmt.Sprintf("%s (column %d)", fe.Message, fe.Column+1)
}

// defaults returns a Config with every default set; fields is empty.
func defaults() Config {
	return Config{Seed: defaultSeed, Partitions: defaultPartitions, Start: defaultStart, Disorder: defaultDisorder}
}

// parseConfig decodes and resolves a config block. Fields the block leaves
// out take their defaults, as when the host fills them in.
func parseConfig(config []byte) (*plan, []sdk.Diagnostic) {
	c := defaults()
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return nil, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	return c.resolve()
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
