package benthos

import (
	"encoding/json"
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/flowctl/flowctl/plugins/internal/benthosblock"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// The message formats.
const (
	formatJSON = "json"
	formatRaw  = "raw"
)

// defaultMaxInFlight keeps batches in order: the next is sent once the
// previous one is delivered.
const defaultMaxInFlight = 1

// excluded are the Benthos outputs the bridge does not offer: they need a
// whole Benthos process around them (its HTTP API, other streams, a
// resources section, an input to answer).
var excluded = []string{"cache", "dynamic", "inproc", "resource", "sync_response"}

// Config is the benthos sink's config block.
type Config struct {
	// Output is the Benthos output block, as in a Benthos config file.
	Output json.RawMessage `json:"output"`
	// Format is json (a JSON object per row) or raw (one column's value
	// as the message). Empty means json.
	Format string `json:"format"`
	// Column is, for raw, the column whose value is the message; empty
	// means the only column.
	Column string `json:"column"`
	// MaxInFlight is how many batches may be in delivery at once; 0
	// means 1.
	MaxInFlight int64 `json:"max_in_flight"`
}

// parsed is a checked config.
type parsed struct {
	Config
	block *benthosblock.Block
}

// parseConfig decodes a config block and lints its output block with
// Benthos's linter.
func parseConfig(env *service.Environment, config []byte) (parsed, []sdk.Diagnostic) {
	var p parsed
	if err := sdk.DecodeConfig(config, &p.Config); err != nil {
		return p, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	var diags []sdk.Diagnostic
	switch p.Format {
	case "":
		p.Format = formatJSON
	case formatJSON, formatRaw:
	default:
		diags = append(diags, sdk.Diagnostic{Path: "format", Msg: fmt.Sprintf("must be json or raw, not %q", p.Format)})
	}
	if p.Column != "" && p.Format != formatRaw {
		diags = append(diags, sdk.Diagnostic{Path: "column", Msg: "is for format raw only"})
	}
	switch {
	case p.MaxInFlight == 0:
		p.MaxInFlight = defaultMaxInFlight
	case p.MaxInFlight < 0:
		diags = append(diags, sdk.Diagnostic{Path: "max_in_flight", Msg: "must be positive"})
	}
	if len(p.Output) == 0 || string(p.Output) == "null" {
		return p, append(diags, sdk.Diagnostic{Path: "output", Msg: "missing the Benthos output block"})
	}
	b, err := benthosblock.New("output", p.Output)
	if err != nil {
		return p, append(diags, sdk.Diagnostic{Path: "output", Msg: err.Error()})
	}
	p.block = b
	return p, append(diags, b.Lint(env, "output")...)
}

// columnIndex returns the index of the raw format's column among columns.
func (p *parsed) columnIndex(columns []string) (int, error) {
	if p.Column == "" {
		if len(columns) != 1 {
			return 0, &sdk.ConfigError{Path: "column", Msg: fmt.Sprintf("format raw needs a column to send when rows have %d columns %q", len(columns), columns)}
		}
		return 0, nil
	}
	for i, c := range columns {
		if c == p.Column {
			return i, nil
		}
	}
	return 0, &sdk.ConfigError{Path: "column", Msg: fmt.Sprintf("no column %q among %q", p.Column, columns)}
}
