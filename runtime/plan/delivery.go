package plan

import (
	"path/filepath"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// SinkDelivery is the guarantee one sink of a pipeline gets.
type SinkDelivery struct {
	Sink   *Stage
	Report sdk.DeliveryReport
}

// Deliveries reports, per sink (the dead letter sink last), the delivery
// guarantee the pipeline gets and why: the sink plugin's own report for its
// config and key, or at-least-once for sinks that do not say.
func (p *Plan) Deliveries() []SinkDelivery {
	var out []SinkDelivery
	add := func(st *Stage) {
		rep := sdk.DeliveryReport{
			Delivery: sdk.AtLeastOnce,
			Reason:   "the sink does not take part in checkpoints: rows written after the last checkpoint are written again after a restart",
		}
		if f := st.Plugin.Delivery; f != nil {
			var cfg []byte
			if st.Config != nil {
				cfg = st.Config.JSON
			}
			rep = f(sdk.DeliveryRequest{Config: cfg, Key: st.Key})
		}
		out = append(out, SinkDelivery{Sink: st, Report: rep})
	}
	for _, st := range p.Stages {
		if st.Kind == SinkStage && st != p.DeadLetter {
			add(st)
		}
	}
	if p.DeadLetter != nil {
		add(p.DeadLetter)
	}
	return out
}

// CheckpointDir is the pipeline's `checkpoint.dir`, resolved against the
// pipeline file's folder.
func (p *Plan) CheckpointDir() string {
	dir := p.Pipeline.Checkpoint.Dir.Value
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.Pipeline.Dir, dir)
	}
	return dir
}
