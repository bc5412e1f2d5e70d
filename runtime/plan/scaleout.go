package plan

import (
	"fmt"
	"strings"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
)

// ScaleOutSource returns the source whose partitions the processes
// running the pipeline share (`scale_out: true`), nil if none.
func (p *Plan) ScaleOutSource() *Stage {
	for _, st := range p.Stages {
		if st.Kind == SourceStage && st.ScaleOut {
			return st
		}
	}
	return nil
}

// checkScaleOut reports what keeps a pipeline with `scale_out: true` from
// running as several processes, each of which runs every partition it is
// assigned as a share of its own (runtime/scaleout):
//
//   - the shared source must be the pipeline's only source: any other
//     would be read in full by every share;
//   - every sink, the dead letter sink too, must keep concurrent instances
//     apart (Spec.Instances), since each partition writes as an instance
//     of its own.
func (c *compiler) checkScaleOut() {
	p := c.plan.Pipeline
	var shared *config.Source
	for _, src := range p.Sources {
		if src.ScaleOut.Value {
			shared = src
			break
		}
	}
	if shared == nil {
		return
	}
	for i, src := range p.Sources {
		if src != shared {
			c.ds.Add(src.Pos, fmt.Sprintf("sources[%d]", i),
				"source %s: with scale_out on source %s, every process would read all of %s; a scaled-out pipeline has one source",
				src.Name.Value, shared.Name.Value, src.Name.Value)
		}
	}
	check := func(ref *config.PluginRef, what, path string) {
		pl, ok := c.cat.Lookup(sdk.KindSink, ref.Plugin.Value)
		if !ok || pl.Spec.Instances {
			return // an unknown plugin is reported already
		}
		c.ds.Add(ref.Plugin.Pos, path+".plugin",
			"%s: plugin %s cannot take the rows of several partitions side by side, as source %s's scale_out needs%s",
			what, pl.Spec.Name, shared.Name.Value, can(c.cat, sdk.KindSink, func(s sdk.Spec) bool { return s.Instances }))
	}
	for i, k := range p.Sinks {
		check(&k.PluginRef, "sink "+k.Name.Value, fmt.Sprintf("sinks[%d]", i))
	}
	if p.DeadLetter != nil {
		check(p.DeadLetter, "dead_letter", "dead_letter")
	}
}

// can lists, for a message, the plugins of a kind that have a capability.
func can(cat *catalog.Catalog, kind sdk.Kind, has func(sdk.Spec) bool) string {
	var names []string
	for _, pl := range cat.List() {
		if pl.Spec.Kind == kind && has(pl.Spec) {
			names = append(names, pl.Spec.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "; plugins that can: " + strings.Join(names, ", ")
}
