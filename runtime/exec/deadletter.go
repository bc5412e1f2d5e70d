package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/record"
)

// maxReported bounds the rejected records printed to stderr when a
// pipeline has no dead letter sink; the rest are counted.
const maxReported = 20

// rawOf returns what a dead-letter row shows of a message that did not
// decode: its JSON object when the payload is one, its text otherwise, or
// its structured fields.
func rawOf(m *sdk.Message) any {
	if m.Fields != nil {
		obj := make(map[string]any, len(m.Fields))
		for _, f := range m.Fields {
			obj[f.Name] = f.Value
		}
		return obj
	}
	var v map[string]any
	if json.Unmarshal(m.Payload, &v) == nil && v != nil {
		return v
	}
	return string(m.Payload)
}

// rejectRecord dead-letters a record that failed in stage st.
func (e *engine) rejectRecord(ctx context.Context, r *record.Record, st *plan.Stage, err error) error {
	in := st.Inputs[0].Out
	names := in.Columns()
	obj := make(map[string]any, len(names))
	for i, n := range names {
		if v := r.Get(i); v != record.Absent {
			obj[n] = v
		}
	}
	src := ""
	if r.Source >= 0 {
		src = e.plan.Pipeline.Sources[r.Source].Name.Value
	}
	return e.reject(ctx, obj, fmt.Sprintf("%s: %v", st.Name, err), src, r.Pos)
}

// reject sends one rejected record to the dead letter sink, or reports it
// on stderr when there is none.
func (e *engine) reject(ctx context.Context, raw any, reason, source string, pos sdk.Position) error {
	e.dead.Add(1)
	position := ""
	if pos.Partition != "" {
		position = pos.String()
	}
	if e.dlq == nil {
		if e.reported < maxReported {
			e.reported++
			fmt.Fprintf(e.opts.Stderr, "rejected record from %s at %s: %s\n", source, position, reason)
		} else if e.reported == maxReported {
			e.reported++
			fmt.Fprintf(e.opts.Stderr, "more rejected records: configure dead_letter to keep them; the summary counts them\n")
		}
		return nil
	}
	return e.dlq.addValues(ctx, []any{raw, reason, source, position, time.Now().UTC()})
}
