package window

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/flowctl/flowctl/runtime/agg"
)

// Emit is when an operator emits a window's row.
type Emit int

// Emit modes.
const (
	// Final emits one row when the window closes (and again when a late
	// record within the allowed lateness updates it).
	Final Emit = iota
	// Updates also emits, at each Flush, the current row of every open
	// window that changed since the previous Flush.
	Updates
)

func (e Emit) String() string {
	switch e {
	case Final:
		return "final"
	case Updates:
		return "updates"
	}
	return fmt.Sprintf("Emit(%d)", int(e))
}

// Config configures an Operator.
type Config struct {
	Spec            Spec
	Aggs            []*agg.Func
	AllowedLateness int64 // nanoseconds a closed window still takes late records
	Emit            Emit
}

// Validate reports whether c is a usable configuration.
func (c Config) Validate() error {
	if err := c.Spec.Validate(); err != nil {
		return err
	}
	if c.AllowedLateness < 0 {
		return errors.New("allowed lateness must not be negative")
	}
	for i, f := range c.Aggs {
		if f == nil {
			return fmt.Errorf("aggregate %d is nil", i)
		}
	}
	if c.Emit != Final && c.Emit != Updates {
		return fmt.Errorf("unknown emit mode %d", int(c.Emit))
	}
	return nil
}

// Row is one output row of a window operator.
type Row struct {
	Span   Span
	Key    []any // the group values, decoded from the operator's own copy
	Values []any // the aggregate results, in Config.Aggs order
	Final  bool  // false for an intermediate row of emit: updates
}

// Slot flags.
const (
	fPending uint8 = 1 << iota // closed, updated since its last row: in o.pending
	fDirty                     // open, changed since the last Flush: in o.dirty
	fClosed                    // session whose closing row was emitted
)

// slot is the state of one key-window besides its accumulators, which live
// at the same index in the operator's columns (24 bytes). The window's End
// is Start + Size for tumbling and sliding windows, math.MaxInt64 for
// Global, and in o.sess for sessions (see Operator.end).
type slot struct {
	start int64
	key   int32 // index in o.keys
	next  int32 // next window of the same key, or -1
	// ord is, for tumbling, sliding and global windows, the position in
	// the window's bucket (its creation order among windows of the same
	// span); for sessions, a generation bumped when the slot is freed, to
	// invalidate timers.
	ord   uint32
	flags uint8
}

// sessionInfo is the extra state of a session window.
type sessionInfo struct {
	end int64
	seq uint64 // creation order: orders rows of sessions with equal spans
	due int64  // due time of the session's current timer
}

// keyState is one group key: where its encoding is, and its windows, a
// list through slot.next ordered by decreasing Start (tumbling, sliding,
// global). It holds no pointer, so the garbage collector does not scan
// o.keys.
type keyState struct {
	off  uint64 // offset in o.keyData of the uvarint length and the encoding
	head int32  // -1: no window; -2: free entry
	hash uint32
}

// bucket holds the windows that end at end, in creation order.
type bucket struct {
	end   int64
	slots []int32
}

// Operator is a windowed group-by aggregation: it assigns records to the
// windows of their key, accumulates their aggregates, and emits a Row per
// key and window as the watermark closes them. It is not safe for
// concurrent use.
//
// Rows are emitted in a deterministic order: by End, then Start, then by
// the order in which the first record of each key-window arrived (the
// arrival order is the same in every mode, so is the row order).
//
// A row handed to emit belongs to the callee.
type Operator struct {
	spec     Spec
	aggs     []*agg.Func
	cols     []agg.Column
	colLen   int
	lateness int64
	mode     Emit
	wm       int64

	index    keyIndex // encoded key → index in keys
	keys     []keyState
	freeKeys []int32
	// keyData holds the encodings of the keys, each after its length as
	// a uvarint; deadKeys counts the bytes of removed keys, reclaimed by
	// compactKeys.
	keyData  []byte
	deadKeys int

	slots     []slot
	freeSlots []int32
	live      int

	// Tumbling, sliding and global windows: buckets by End, ascending;
	// buckets[:nclosed] are closed (End <= wm) and kept for late records.
	buckets    []*bucket
	nclosed    int
	lastBucket *bucket

	// Sessions: timers (see session.go), and per slot the creation order
	// and the due time of its current timer.
	timers []timer
	sess   []sessionInfo
	seq    uint64

	pending []int32 // closed windows to emit again (fPending)
	dirty   []int32 // open windows changed since the last Flush (fDirty)

	// Scratch.
	kbuf    []byte
	spans   []Span
	tmp     []int32
	closing []int32
	purging []int32
	keyVals []any
}

// NewOperator returns an operator with an empty state and the watermark at
// math.MinInt64. cfg must be valid (Config.Validate): NewOperator panics
// otherwise, as a pipeline is validated before it runs.
func NewOperator(cfg Config) *Operator {
	if err := cfg.Validate(); err != nil {
		panic("window: " + err.Error())
	}
	o := &Operator{
		spec:     cfg.Spec,
		aggs:     slices.Clone(cfg.Aggs),
		lateness: cfg.AllowedLateness,
		mode:     cfg.Emit,
		wm:       math.MinInt64,
		index:    newKeyIndex(),
	}
	o.cols = make([]agg.Column, len(o.aggs))
	for i, f := range o.aggs {
		o.cols[i] = f.NewColumn()
	}
	return o
}

// Watermark returns the operator's watermark: records are judged late
// against it. It starts at math.MinInt64.
func (o *Operator) Watermark() int64 { return o.wm }

// OpenWindows returns how many key-windows the operator holds: open ones,
// and closed ones kept for the allowed lateness.
func (o *Operator) OpenWindows() int { return o.live }

// end returns the End of key-window s.
func (o *Operator) end(s int32) int64 {
	switch o.spec.Kind {
	case Session:
		return o.sess[s].end
	case Global:
		return math.MaxInt64
	}
	return satAdd(o.slots[s].start, o.spec.Size)
}

// expired reports whether a window ending at end takes no more records.
func (o *Operator) expired(end int64) bool { return satAdd(end, o.lateness) <= o.wm }

// Add feeds one record: its group key values, its event time t and one
// argument value per aggregate (nil for count()). It returns late=true,
// and changes nothing, when the record is too late for every window it
// belongs to: a window is too late when End + AllowedLateness <= the
// watermark; for sessions, when the session the record would make (merged
// with the key's sessions it overlaps) is. A record for a window that is
// closed but not expired updates it, and its row is emitted again
// (Final=true) at the next Advance or Flush.
//
// err reports a key value that cannot be grouped on or an argument of the
// wrong type (an *agg.TypeError); the state is then unchanged. Add does
// not allocate when the record's key-windows exist (except for
// count_distinct, approx_count_distinct and approx_percentile, and a
// decimal sum whose coefficient leaves the int64 range).
func (o *Operator) Add(key []any, t int64, args []any) (late bool, err error) {
	if len(args) != len(o.aggs) {
		return false, fmt.Errorf("got %d aggregate arguments for %d aggregates", len(args), len(o.aggs))
	}
	for j, f := range o.aggs {
		if err := f.Check(args[j]); err != nil {
			return false, err
		}
	}
	buf := o.kbuf[:0]
	for _, v := range key {
		if buf, err = agg.AppendKey(buf, v); err != nil {
			o.kbuf = buf
			return false, fmt.Errorf("group key: %w", err)
		}
	}
	o.kbuf = buf
	if o.spec.Kind == Session {
		return o.addSession(t, args), nil
	}
	return o.addAligned(t, args), nil
}

// addAligned adds a record to its tumbling, sliding or global windows.
func (o *Operator) addAligned(t int64, args []any) (late bool) {
	o.spans = o.spec.Assign(t, o.spans[:0])
	spans := o.spans
	if o.expired(spans[len(spans)-1].End) {
		return true // the last window ends last
	}
	k := o.key()
	// Walk the key's windows (decreasing Start) and the spans (from the
	// last) together, inserting the missing windows in place.
	prev, p := int32(-1), o.keys[k].head
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		if o.expired(sp.End) {
			break // earlier spans end earlier
		}
		for p >= 0 && o.slots[p].start > sp.Start {
			prev, p = p, o.slots[p].next
		}
		s := p
		if p < 0 || o.slots[p].start != sp.Start {
			s = o.newSlot(k, sp)
			o.slots[s].next = p
			if prev < 0 {
				o.keys[k].head = s
			} else {
				o.slots[prev].next = s
			}
			o.addToBucket(sp.End, s)
		}
		prev, p = s, o.slots[s].next
		o.accumulate(s, t, args)
	}
	return false
}

// findKey returns the index of the key in o.kbuf and its hash; the index
// is -1 if the key is new.
func (o *Operator) findKey() (int32, uint32) {
	h := o.index.hash(o.kbuf)
	return o.index.find(o.keys, o.keyData, o.kbuf, h), h
}

// key returns the index of the key in o.kbuf, inserting it if new.
func (o *Operator) key() int32 {
	k, h := o.findKey()
	if k >= 0 {
		return k
	}
	return o.insertKey(h)
}

func (o *Operator) insertKey(h uint32) int32 {
	ks := keyState{off: o.appendKeyData(o.kbuf), head: -1, hash: h}
	var k int32
	if n := len(o.freeKeys); n > 0 {
		k = o.freeKeys[n-1]
		o.freeKeys = o.freeKeys[:n-1]
		o.keys[k] = ks
	} else {
		k = int32(len(o.keys))
		o.keys = append(o.keys, ks)
	}
	o.index.insert(o.keys, k, h)
	return k
}

// newSlot returns an empty key-window, not yet linked.
func (o *Operator) newSlot(k int32, sp Span) int32 {
	var s int32
	if n := len(o.freeSlots); n > 0 {
		s = o.freeSlots[n-1]
		o.freeSlots = o.freeSlots[:n-1]
	} else {
		s = int32(len(o.slots))
		o.slots = append(o.slots, slot{})
		if len(o.slots) > o.colLen {
			o.colLen = cap(o.slots) // grows geometrically
			for _, c := range o.cols {
				c.Grow(o.colLen)
			}
			if o.spec.Kind == Session {
				o.sess = grow(o.sess, o.colLen)
			}
		}
	}
	o.slots[s] = slot{start: sp.Start, key: k, next: -1, ord: o.slots[s].ord}
	if o.spec.Kind == Session {
		o.sess[s].end = sp.End
		o.sess[s].seq = o.seq
		o.seq++
	}
	o.live++
	return s
}

// grow returns s extended with zero values to length exactly n.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	ns := make([]T, n)
	copy(ns, s)
	return ns
}

// freeSlot empties a key-window that is no longer linked.
func (o *Operator) freeSlot(s int32) {
	for _, c := range o.cols {
		c.Reset(int(s))
	}
	sl := &o.slots[s]
	*sl = slot{ord: sl.ord + 1, next: -1}
	o.freeSlots = append(o.freeSlots, s)
	o.live--
}

// unlink removes s from its key's list, and the key when it has no window
// left.
func (o *Operator) unlink(s int32) {
	k := o.slots[s].key
	ks := &o.keys[k]
	if ks.head == s {
		ks.head = o.slots[s].next
	} else {
		for p := ks.head; p >= 0; p = o.slots[p].next {
			if o.slots[p].next == s {
				o.slots[p].next = o.slots[s].next
				break
			}
		}
	}
	if ks.head < 0 {
		o.index.remove(o.keys, k, ks.hash)
		o.deadKeys += keyDataLen(o.keyData, ks.off)
		*ks = keyState{head: -2}
		o.freeKeys = append(o.freeKeys, k)
	}
}

// accumulate adds a record's arguments to key-window s and marks it for
// emission: a closed window for a row at the next Advance or Flush, an open
// one (emit: updates) for the next Flush.
func (o *Operator) accumulate(s int32, t int64, args []any) {
	for j, c := range o.cols {
		c.Add(int(s), args[j], t)
	}
	o.touch(s)
}

func (o *Operator) touch(s int32) {
	sl := &o.slots[s]
	switch {
	case o.end(s) <= o.wm:
		if sl.flags&fPending == 0 {
			sl.flags |= fPending
			o.pending = append(o.pending, s)
		}
	case o.mode == Updates:
		if sl.flags&fDirty == 0 {
			sl.flags |= fDirty
			o.dirty = append(o.dirty, s)
		}
	}
}

// addToBucket records that window s ends at end.
func (o *Operator) addToBucket(end int64, s int32) {
	b := o.lastBucket
	if b == nil || b.end != end {
		i, found := slices.BinarySearchFunc(o.buckets, end, func(b *bucket, end int64) int {
			return cmp.Compare(b.end, end)
		})
		if found {
			b = o.buckets[i]
		} else {
			b = &bucket{end: end}
			o.buckets = slices.Insert(o.buckets, i, b)
			if end <= o.wm {
				o.nclosed++ // a late window of a closed span
			}
		}
		o.lastBucket = b
	}
	o.slots[s].ord = uint32(len(b.slots))
	b.slots = append(b.slots, s)
}

// Advance first emits the rows of closed windows updated since their last
// row (Final=true). Then, if wm is ahead of the watermark (the watermark
// never goes back), it moves the watermark to wm, closes the windows with
// End <= wm, emitting their rows (Final=true, with either emit mode), and
// drops the windows with End + AllowedLateness <= wm. Rows are emitted in
// order of End, Start, and first arrival.
func (o *Operator) Advance(wm int64, emit func(Row)) {
	o.emitPending(emit)
	if wm <= o.wm {
		return
	}
	o.wm = wm
	if o.spec.Kind == Session {
		o.advanceSessions(emit)
	} else {
		o.advanceAligned(emit)
	}
}

func (o *Operator) advanceAligned(emit func(Row)) {
	for o.nclosed < len(o.buckets) && o.buckets[o.nclosed].end <= o.wm {
		for _, s := range o.buckets[o.nclosed].slots {
			o.slots[s].flags &^= fDirty
			o.emitRow(s, true, emit)
		}
		o.nclosed++
	}
	n := 0
	for n < o.nclosed && o.expired(o.buckets[n].end) {
		for _, s := range o.buckets[n].slots {
			o.unlink(s)
			o.freeSlot(s)
		}
		o.buckets[n] = nil
		n++
	}
	if n > 0 {
		o.buckets = o.buckets[n:]
		o.nclosed -= n
		o.lastBucket = nil
	}
}

// Flush emits the rows of closed windows updated since their last row
// (Final=true) and, with emit: updates, the current row (Final=false) of
// every open window that changed since the previous Flush.
func (o *Operator) Flush(emit func(Row)) {
	o.emitPending(emit)
	if len(o.dirty) == 0 {
		return
	}
	o.sortSlots(o.dirty)
	for _, s := range o.dirty {
		sl := &o.slots[s]
		if sl.flags&fDirty == 0 {
			continue // emitted already, closed, or freed
		}
		sl.flags &^= fDirty
		if o.end(s) > o.wm {
			o.emitRow(s, false, emit)
		}
	}
	o.dirty = o.dirty[:0]
}

func (o *Operator) emitPending(emit func(Row)) {
	if len(o.pending) == 0 {
		return
	}
	o.sortSlots(o.pending)
	for _, s := range o.pending {
		sl := &o.slots[s]
		if sl.flags&fPending == 0 {
			continue
		}
		sl.flags &^= fPending | fDirty
		o.emitRow(s, true, emit)
	}
	o.pending = o.pending[:0]
}

// sortSlots orders key-windows by End, Start, then creation. A slot listed
// twice (freed and reused) sorts next to itself.
func (o *Operator) sortSlots(ss []int32) {
	session := o.spec.Kind == Session
	slices.SortFunc(ss, func(a, b int32) int {
		x, y := &o.slots[a], &o.slots[b]
		if c := cmp.Compare(o.end(a), o.end(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.start, y.start); c != 0 {
			return c
		}
		if session {
			return cmp.Compare(o.sess[a].seq, o.sess[b].seq)
		}
		return cmp.Compare(x.ord, y.ord)
	})
}

func (o *Operator) emitRow(s int32, final bool, emit func(Row)) {
	sl := &o.slots[s]
	kv := o.keyVals[:0]
	b := keyAt(o.keyData, o.keys[sl.key].off) // DecodeKey copies what it returns
	for len(b) > 0 {
		v, rest, err := agg.DecodeKey(b)
		if err != nil {
			break // cannot happen: the operator encoded it
		}
		kv = append(kv, v)
		b = rest
	}
	o.keyVals = kv
	vals := make([]any, len(kv)+len(o.cols))
	copy(vals, kv)
	for j, c := range o.cols {
		vals[len(kv)+j] = c.Result(int(s))
	}
	emit(Row{
		Span:   Span{sl.start, o.end(s)},
		Key:    vals[:len(kv):len(kv)],
		Values: vals[len(kv):],
		Final:  final,
	})
}
