package file

import (
	"fmt"
	"path/filepath"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Config is the file source's config block.
type Config struct {
	// Path names the files to read: a path or a glob with filepath.Match
	// syntax (*, ?, [a-z]). Paths resolve against the working directory.
	Path string `json:"path"`
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	if c.Path == "" {
		diags = append(diags, sdk.Diagnostic{Path: "path", Msg: "must not be empty"})
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		diags = append(diags, sdk.Diagnostic{Path: "path", Msg: fmt.Sprintf("bad glob %q: %v", c.Path, err)})
	}
	return diags
}

// parseConfig decodes and validates a config block.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	var c Config
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
