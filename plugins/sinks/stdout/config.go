package stdout

import (
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// The output formats.
const (
	formatJSONL = "jsonl"
	formatTable = "table"
)

// Config is the stdout sink's config block.
type Config struct {
	// Format is jsonl (one JSON object per row) or table (aligned text
	// columns under a header). Empty means jsonl.
	Format string `json:"format"`
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	switch c.Format {
	case "", formatJSONL, formatTable:
		return nil
	default:
		return []sdk.Diagnostic{{Path: "format", Msg: fmt.Sprintf("must be jsonl or table, not %q", c.Format)}}
	}
}

// parseConfig decodes and validates a config block.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return c, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	if diags := c.Validate(); len(diags) > 0 {
		return c, diags
	}
	if c.Format == "" {
		c.Format = formatJSONL
	}
	return c, nil
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
