package postgres

import (
	"fmt"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// The write modes.
const (
	modeInsert = "insert"
	modeUpsert = "upsert"
)

const defaultRetryTimeout = "1m"

// Config is the postgres sink's config block.
type Config struct {
	// DSN is the connection string; it holds the password, so it never
	// appears in errors or logs.
	DSN string `json:"dsn"`
	// Table is the table written; Schema qualifies it.
	Table  string `json:"table"`
	Schema string `json:"schema"`
	// Mode is insert or upsert; empty means upsert when the pipeline gives
	// the sink a key, insert otherwise.
	Mode string `json:"mode"`
	// CreateTable creates the table if it does not exist.
	CreateTable bool `json:"create_table"`
	// RetryTimeout is how long a lost connection is retried.
	RetryTimeout string `json:"retry_timeout"`
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	if c.DSN == "" {
		diags = append(diags, sdk.Diagnostic{Path: "dsn", Msg: "must not be empty"})
	}
	if c.Table == "" {
		diags = append(diags, sdk.Diagnostic{Path: "table", Msg: "must not be empty"})
	}
	switch c.Mode {
	case "", modeInsert, modeUpsert:
	default:
		diags = append(diags, sdk.Diagnostic{Path: "mode", Msg: fmt.Sprintf("must be insert or upsert, not %q", c.Mode)})
	}
	if d, err := time.ParseDuration(c.RetryTimeout); err != nil || d <= 0 {
		diags = append(diags, sdk.Diagnostic{Path: "retry_timeout", Msg: fmt.Sprintf("%q is not a positive duration such as \"30s\" or \"5m\"", c.RetryTimeout)})
	}
	return diags
}

// upsert says whether rows are upserted, given the pipeline's key.
func (c *Config) upsert(key []string) bool {
	return c.Mode == modeUpsert || c.Mode == "" && len(key) > 0
}

// parseConfig decodes and validates a config block.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	c := Config{RetryTimeout: defaultRetryTimeout}
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
