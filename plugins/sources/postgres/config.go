package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Defaults of the optional fields.
const (
	defaultBatchSize    = 1000
	defaultPollInterval = "1s"
	defaultRetryTimeout = "1m"
)

// Config is the postgres source's config block.
type Config struct {
	// DSN is the connection string, a URL or key=value pairs. It holds the
	// password, so it never appears in errors or logs.
	DSN string `json:"dsn"`
	// Table is the table (or view) to read; Schema qualifies it.
	Table  string `json:"table"`
	Schema string `json:"schema"`
	// Query is a SELECT to read instead of a table.
	Query string `json:"query"`
	// Cursor is the column that orders the rows and says how far reading
	// got: a timestamp, timestamptz or integer column.
	Cursor string `json:"cursor"`
	// Columns are the columns read; empty means all.
	Columns []string `json:"columns"`
	// Tiebreaker orders the rows that share a cursor value.
	Tiebreaker   []string `json:"tiebreaker"`
	BatchSize    int      `json:"batch_size"`
	PollInterval string   `json:"poll_interval"`
	// Lookback is a duration (timestamp cursors) or a count (integer
	// cursors) re-read behind the resume point and at every poll.
	Lookback string `json:"lookback"`
	// From and To bound the cursor: From <= cursor < To.
	From    string `json:"from"`
	To      string `json:"to"`
	Bounded bool   `json:"bounded"`
	// RetryTimeout is how long a lost connection is retried.
	RetryTimeout string `json:"retry_timeout"`
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	bad := func(path, format string, args ...any) {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DSN == "" {
		bad("dsn", "must not be empty")
	}
	switch {
	case c.Table == "" && strings.TrimSpace(c.Query) == "":
		bad("table", "set table or query")
	case c.Table != "" && c.Query != "":
		bad("query", "set table or query, not both")
	case c.Schema != "" && c.Table == "":
		bad("schema", "qualifies table; a query names its own tables")
	}
	if c.Cursor == "" {
		bad("cursor", "must not be empty")
	}
	for i, col := range c.Columns {
		if col == "" {
			bad(fmt.Sprintf("columns[%d]", i), "must not be empty")
		}
	}
	for i, col := range c.Tiebreaker {
		if col == "" {
			bad(fmt.Sprintf("tiebreaker[%d]", i), "must not be empty")
		}
	}
	if c.BatchSize <= 0 {
		bad("batch_size", "must be positive")
	}
	for _, d := range []struct{ path, value string }{{"poll_interval", c.PollInterval}, {"retry_timeout", c.RetryTimeout}} {
		if v, err := time.ParseDuration(d.value); err != nil || v <= 0 {
			bad(d.path, "%q is not a positive duration such as \"1s\" or \"5m\"", d.value)
		}
	}
	if c.Lookback != "" {
		if _, err := parseLookback(c.Lookback); err != nil {
			bad("lookback", "%v", err)
		}
	}
	for _, b := range []struct{ path, value string }{{"from", c.From}, {"to", c.To}} {
		if b.value == "" {
			continue
		}
		if _, err := parseBound(b.value); err != nil {
			bad(b.path, "%v", err)
		}
	}
	return diags
}

// parseConfig decodes and validates a config block.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	c := Config{BatchSize: defaultBatchSize, PollInterval: defaultPollInterval, RetryTimeout: defaultRetryTimeout}
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return c, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	return c, c.Validate()
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}

// lookback is the lookback field parsed: a duration, or a count of ids.
// A bare 0 is a count that suits both kinds of cursor.
type lookback struct {
	dur     time.Duration
	count   int64
	isCount bool
}

func parseLookback(s string) (lookback, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return lookback{}, fmt.Errorf("%q must not be negative", s)
		}
		return lookback{count: n, isCount: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return lookback{}, fmt.Errorf("%q is neither a duration (\"10m\", for a timestamp cursor) nor a count (\"1000\", for an integer cursor)", s)
	}
	return lookback{dur: d}, nil
}

// bound is from or to parsed: a timestamp, or an integer.
type bound struct {
	t     time.Time
	n     int64
	isInt bool
}

// parseBound parses an RFC 3339 timestamp (or a date, or a timestamp
// without zone, taken as UTC), or an integer.
func parseBound(s string) (bound, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return bound{n: n, isInt: true}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return bound{t: t.UTC()}, nil
		}
	}
	return bound{}, fmt.Errorf("%q is neither an RFC 3339 timestamp (\"2026-03-17T00:00:00Z\", or a date) nor an integer", s)
}
