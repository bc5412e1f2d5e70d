package sink

import (
	"fmt"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"

	"example.com/flowctl-plugin-webhook/internal/endpoint"
)

// Config is the webhook sink's config block, as the host hands it over:
// JSON, checked against the spec, defaults filled in.
type Config struct {
	URL        string         `json:"url"`
	Headers    map[string]any `json:"headers"`
	Timeout    string         `json:"timeout"`
	BatchSize  int64          `json:"batch_size"`
	MaxRetries int64          `json:"max_retries"`
	Backoff    string         `json:"backoff"`
}

// settings is a checked config, ready to use.
type settings struct {
	endpoint   endpoint.Config
	batchSize  int
	maxRetries int
	backoff    time.Duration
}

// parseConfig decodes a config block and checks it, collecting every
// problem as a diagnostic keyed by the field's path.
func parseConfig(config []byte) (settings, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return settings{}, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	var diags []sdk.Diagnostic
	bad := func(path, format string, args ...any) {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	timeout, err := time.ParseDuration(c.Timeout)
	if err != nil || timeout <= 0 {
		bad("timeout", `must be a positive duration such as "10s"`)
	}
	backoff, err := time.ParseDuration(c.Backoff)
	if err != nil || backoff <= 0 {
		bad("backoff", `must be a positive duration such as "200ms"`)
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchSize {
		bad("batch_size", "must be between 1 and %d", maxBatchSize)
	}
	if c.MaxRetries < 0 || c.MaxRetries > maxRetries {
		bad("max_retries", "must be between 0 and %d", maxRetries)
	}
	s := settings{
		endpoint:   endpoint.Config{URL: c.URL, Headers: c.Headers, Timeout: timeout},
		batchSize:  int(c.BatchSize),
		maxRetries: int(c.MaxRetries),
		backoff:    backoff,
	}
	// The URL and headers may hold secrets: no message repeats them.
	diags = append(diags, endpoint.Check("url", s.endpoint)...)
	return s, diags
}

// validate is the plugin's Validate hook: `flowctl validate` shows its
// diagnostics at the position of the field they name.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
