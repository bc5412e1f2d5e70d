package source

import (
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"

	"example.com/flowctl-plugin-webhook/internal/endpoint"
)

// Config is the webhook source's config block, as the host hands it over:
// JSON, checked against the spec, defaults filled in.
type Config struct {
	URL      string         `json:"url"`
	Headers  map[string]any `json:"headers"`
	Interval string         `json:"interval"`
	Bounded  bool           `json:"bounded"`
	Timeout  string         `json:"timeout"`
	AckURL   string         `json:"ack_url"`
}

// settings is a checked config, ready to use.
type settings struct {
	endpoint endpoint.Config
	ack      *endpoint.Config // nil without ack_url
	interval time.Duration
	bounded  bool
}

// parseConfig decodes a config block and checks it, collecting every
// problem.
func parseConfig(config []byte) (settings, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return settings{}, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	var diags []sdk.Diagnostic
	timeout, err := time.ParseDuration(c.Timeout)
	if err != nil || timeout <= 0 {
		diags = append(diags, sdk.Diagnostic{Path: "timeout", Msg: `must be a positive duration such as "10s"`})
	}
	interval, err := time.ParseDuration(c.Interval)
	if err != nil || interval <= 0 {
		diags = append(diags, sdk.Diagnostic{Path: "interval", Msg: `must be a positive duration such as "5s"`})
	}
	s := settings{
		endpoint: endpoint.Config{URL: c.URL, Headers: c.Headers, Timeout: timeout},
		interval: interval,
		bounded:  c.Bounded,
	}
	diags = append(diags, endpoint.Check("url", s.endpoint)...)
	if c.AckURL != "" {
		// The ack URL gets the same headers, already checked above.
		s.ack = &endpoint.Config{URL: c.AckURL, Headers: c.Headers, Timeout: timeout}
		diags = append(diags, endpoint.Check("ack_url", endpoint.Config{URL: c.AckURL})...)
	}
	return s, diags
}

// validate is the plugin's Validate hook: `flowctl validate` shows its
// diagnostics at the position of the field they name.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
