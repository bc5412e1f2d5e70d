package file

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Config is the file source's config block.
type Config struct {
	// Path names the files to read: a path or a glob with filepath.Match
	// syntax (*, ?, [a-z]). Paths resolve against the working directory.
	Path string `json:"path"`
	// Follow keeps reading after the end of the files, like tail -F:
	// appended lines and new files matching Path are read as they come.
	Follow bool `json:"follow"`
	// PollInterval is how often a followed source looks for new data, as
	// Go duration text; empty means 200ms.
	PollInterval string `json:"poll_interval"`
}

// defaultPollInterval is PollInterval when it is not set.
const defaultPollInterval = 200 * time.Millisecond

// pollEvery returns the poll interval; c must be valid.
func (c *Config) pollEvery() time.Duration {
	if c.PollInterval == "" {
		return defaultPollInterval
	}
	d, _ := time.ParseDuration(c.PollInterval) // checked by Validate
	return d
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	if c.Path == "" {
		diags = append(diags, sdk.Diagnostic{Path: "path", Msg: "must not be empty"})
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		diags = append(diags, sdk.Diagnostic{Path: "path", Msg: fmt.Sprintf("bad glob %q: %v", c.Path, err)})
	}
	if c.PollInterval != "" {
		d, err := time.ParseDuration(c.PollInterval)
		switch {
		case err != nil:
			diags = append(diags, sdk.Diagnostic{Path: "poll_interval", Msg: fmt.Sprintf(`%q is not a duration such as "200ms" or "1s"`, c.PollInterval)})
		case d <= 0:
			diags = append(diags, sdk.Diagnostic{Path: "poll_interval", Msg: "must be positive"})
		}
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
