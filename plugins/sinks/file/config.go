package file

import (
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// The output formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// Config is the file sink's config block.
type Config struct {
	// Path is the file to write, relative to the working directory.
	Path string `json:"path"`
	// Format is jsonl (one JSON object per row) or csv (a header row, then
	// one row per row). Empty means jsonl.
	Format string `json:"format"`
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	if c.Path == "" {
		diags = append(diags, sdk.Diagnostic{Path: "path", Msg: "must not be empty"})
	}
	switch c.Format {
	case "", formatJSONL, formatCSV:
	default:
		diags = append(diags, sdk.Diagnostic{Path: "format", Msg: fmt.Sprintf("must be jsonl or csv, not %q", c.Format)})
	}
	return diags
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
