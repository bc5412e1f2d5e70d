package exec

import (
	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/record"
)

// dedupeKey encodes a record's dedupe key fields into scratch, for
// window.Dedupe.
func dedupeKey(st *plan.Stage, r *record.Record, scratch []byte) ([]byte, error) {
	b := scratch[:0]
	for _, slot := range st.DedupeKey {
		v := r.Get(slot)
		if v == record.Absent {
			v = nil
		}
		var err error
		if b, err = agg.AppendKey(b, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}
