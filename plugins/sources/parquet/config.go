package parquet

import (
	"fmt"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Config is the parquet source's config block.
type Config struct {
	// Path is the table folder, relative to the working directory.
	Path string `json:"path"`
	// TimeColumn is the timestamp column that From and To select on.
	TimeColumn string `json:"time_column"`
	// From and To bound the event-time range read: From <= t < To, each
	// RFC 3339 or a date (midnight UTC); either may be empty.
	From string `json:"from"`
	To   string `json:"to"`
	// BatchSize is the most messages one Read returns.
	BatchSize int64 `json:"batch_size"`
}

const defaultBatchSize = 1024

// settings is a checked config.
type settings struct {
	path       string
	timeColumn string
	from, to   time.Time // zero: unbounded
	batch      int
}

// parseTime reads a range bound: RFC 3339, or a date meaning its
// midnight in UTC.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (2026-03-17T00:00:00Z) or a date (2026-03-17)", s)
}

// check validates c and returns its settings.
func (c *Config) check() (settings, []sdk.Diagnostic) {
	var diags []sdk.Diagnostic
	add := func(path, format string, args ...any) {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	s := settings{path: c.Path, timeColumn: c.TimeColumn, batch: defaultBatchSize}
	if c.Path == "" {
		add("path", "must not be empty")
	}
	var err error
	if c.From != "" {
		if s.from, err = parseTime(c.From); err != nil {
			add("from", "%v", err)
		}
	}
	if c.To != "" {
		if s.to, err = parseTime(c.To); err != nil {
			add("to", "%v", err)
		}
	}
	if !s.from.IsZero() && !s.to.IsZero() && !s.from.Before(s.to) {
		add("to", "must be after from (%s)", c.From)
	}
	if (c.From != "" || c.To != "") && c.TimeColumn == "" {
		add("time_column", "must be set with from or to")
	}
	if c.BatchSize < 0 || c.BatchSize > 1<<20 {
		add("batch_size", "must be between 1 and %d", 1<<20)
	} else if c.BatchSize > 0 {
		s.batch = int(c.BatchSize)
	}
	return s, diags
}

// ranged reports whether a time range is set.
func (s *settings) ranged() bool { return !s.from.IsZero() || !s.to.IsZero() }

// inRange reports whether t is in [from, to).
func (s *settings) inRange(t time.Time) bool {
	return (s.from.IsZero() || !t.Before(s.from)) && (s.to.IsZero() || t.Before(s.to))
}

// overlaps reports whether [lo, hi] meets [from, to).
func (s *settings) overlaps(lo, hi time.Time) bool {
	return (s.to.IsZero() || lo.Before(s.to)) && (s.from.IsZero() || !hi.Before(s.from))
}

// parseConfig decodes and checks a config block.
func parseConfig(config []byte) (settings, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return settings{}, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	return c.check()
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
