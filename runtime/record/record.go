// Package record is the runtime's in-memory form of records: values in
// slots of a Layout, with the event time and the source position beside
// them.
package record

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Values held in slots are those listed in package sdk (nil, bool, int64,
// float64, string, []byte, time.Time, time.Duration, decimal.Decimal, []any,
// map[string]any), plus Absent for a field a schemaless record did not have.

// Absent marks a slot whose field the record did not have (as opposed to an
// explicit null). Readers treat it as nil; sinks leave the field out.
var Absent = sdk.Absent

// IsNull reports whether v is nil or Absent.
func IsNull(v any) bool { return v == nil || v == Absent }

// NoTime is the event time of a record that has none.
const NoTime int64 = math.MinInt64

// Record is one record in flight.
type Record struct {
	// Values are indexed by the slots of the Layout of the stage that made
	// the record. A record may be shorter than its layout (a schemaless
	// layout that grew later): missing trailing slots are Absent.
	Values []any
	// Time is the event time in Unix nanoseconds, or NoTime.
	Time int64
	// Source is the index of the pipeline source the record came from,
	// and Pos its position there; both are kept for dead letters.
	Source int32
	Pos    sdk.Position
	// Meta is the source's metadata of the message (a Kafka key and
	// headers, Benthos metadata), visible to expressions as meta.NAME.
	Meta []sdk.Field
}

// Get returns slot i, or Absent when the record is shorter.
func (r *Record) Get(i int) any {
	if i < len(r.Values) {
		return r.Values[i]
	}
	return Absent
}

// Layout names the slots of a stage's records.
type Layout struct {
	Names []string
	index map[string]int
}

// NewLayout returns a layout with the given slot names.
func NewLayout(names ...string) *Layout {
	l := &Layout{Names: names, index: make(map[string]int, len(names))}
	for i, n := range names {
		l.index[n] = i
	}
	return l
}

// Index returns the slot of a name, or -1.
func (l *Layout) Index(name string) int {
	if i, ok := l.index[name]; ok {
		return i
	}
	return -1
}

// Dynamic is a layout that grows as a schemaless source meets new field
// names. Slots are never removed or reordered, so an index stays valid.
// Readers call Load; Intern may be called concurrently.
type Dynamic struct {
	mu  sync.Mutex
	cur atomic.Pointer[Layout]
}

// NewDynamic returns an empty growing layout.
func NewDynamic() *Dynamic {
	d := &Dynamic{}
	d.cur.Store(NewLayout())
	return d
}

// Load returns the current layout.
func (d *Dynamic) Load() *Layout { return d.cur.Load() }

// Intern returns the slot of name, adding it if it is new.
func (d *Dynamic) Intern(name string) int {
	if i := d.cur.Load().Index(name); i >= 0 {
		return i
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cur.Load()
	if i := old.Index(name); i >= 0 {
		return i
	}
	names := make([]string, len(old.Names)+1)
	copy(names, old.Names)
	names[len(old.Names)] = name
	d.cur.Store(NewLayout(names...))
	return len(old.Names)
}
