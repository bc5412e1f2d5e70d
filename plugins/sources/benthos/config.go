package benthos

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/flowctl/flowctl/plugins/internal/benthosblock"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// The ways a source resumes; see the `resume` field of the spec.
const (
	resumeAuto     = "auto"
	resumeReplay   = "replay"
	resumeUpstream = "upstream"
	resumeNone     = "none"
)

// replayable are the inputs that read the same messages in the same
// order on every run: `resume: auto` replays them.
var replayable = []string{"csv", "file", "generate"}

// ackless are the inputs whose upstream cannot deliver a message again,
// whatever its acknowledgement: `resume: auto` is none for them.
var ackless = []string{"http_client", "socket", "socket_server", "stdin", "subprocess", "websocket"}

// excluded are the Benthos inputs the bridge does not offer: they need a
// whole Benthos process around them (its HTTP API, other streams, a
// resources section).
var excluded = []string{"dynamic", "inproc", "resource"}

// Config is the benthos source's config block.
type Config struct {
	// Input is the Benthos input block, as in a Benthos config file.
	Input json.RawMessage `json:"input"`
	// Resume is auto, replay, upstream or none; empty means auto.
	Resume string `json:"resume"`
}

// parsed is a checked config.
type parsed struct {
	block *benthosblock.Block
	// ackOnRead acknowledges messages to Benthos as they are read rather
	// than when a checkpoint covers them (replay and none).
	ackOnRead bool
	// skip skips, after a restart, the messages the checkpoint covers
	// (replay).
	skip bool
}

// parseConfig decodes a config block and lints its input block with
// Benthos's linter.
func parseConfig(env *service.Environment, config []byte) (parsed, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return parsed{}, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	if len(c.Input) == 0 || string(c.Input) == "null" {
		return parsed{}, []sdk.Diagnostic{{Path: "input", Msg: "missing the Benthos input block"}}
	}
	b, err := benthosblock.New("input", c.Input)
	if err != nil {
		return parsed{}, []sdk.Diagnostic{{Path: "input", Msg: err.Error()}}
	}
	p := parsed{block: b}
	mode := c.Resume
	if mode == "" || mode == resumeAuto {
		mode = autoResume(c.Input)
	}
	switch mode {
	case resumeReplay:
		p.ackOnRead, p.skip = true, true
	case resumeNone:
		p.ackOnRead = true
	case resumeUpstream:
	default:
		return p, []sdk.Diagnostic{{Path: "resume", Msg: fmt.Sprintf("must be auto, replay, upstream or none, not %q", c.Resume)}}
	}
	return p, b.Lint(env, "input")
}

// autoResume returns the resume mode `auto` means for an input block:
// replay for the replayable inputs, none for the ackless ones, the same
// for a `batched` one and for a `sequence` (none if it mixes the two),
// upstream for the rest.
func autoResume(input json.RawMessage) string {
	var in map[string]json.RawMessage
	if json.Unmarshal(input, &in) != nil {
		return resumeUpstream
	}
	delete(in, "label")
	delete(in, "processors")
	if len(in) != 1 {
		return resumeUpstream
	}
	for name, conf := range in {
		var wrapper struct {
			Inputs []json.RawMessage `json:"inputs"` // sequence
			Child  json.RawMessage   `json:"child"`  // batched
		}
		switch {
		case slices.Contains(replayable, name):
			return resumeReplay
		case slices.Contains(ackless, name):
			return resumeNone
		case name == "batched" && json.Unmarshal(conf, &wrapper) == nil:
			return autoResume(wrapper.Child)
		case name == "sequence" && json.Unmarshal(conf, &wrapper) == nil && len(wrapper.Inputs) > 0:
			mode := autoResume(wrapper.Inputs[0])
			for _, child := range wrapper.Inputs[1:] {
				switch m := autoResume(child); {
				case m == resumeUpstream || mode == resumeUpstream:
					mode = resumeUpstream
				case m != mode: // replay and none
					mode = resumeNone
				}
			}
			return mode
		}
	}
	return resumeUpstream
}
