package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/plan"
	"github.com/flowctl/flowctl/runtime/record"
)

// deduper is the state of a dedupe stage: for each key, the largest event
// time seen. A record whose key was seen less than within apart in event
// time is a duplicate. A key is forgotten once the watermark passes its
// time + within, so the state is bounded by the watermark; records without
// an event time are remembered for the whole run.
type deduper struct {
	within  int64
	seen    map[string]int64
	queue   []expiry // keys in arrival order, for forgetting
	head    int
	scratch []byte
}

type expiry struct {
	key string
	at  int64 // the watermark at which the key may be forgotten
}

func newDeduper(within int64) *deduper {
	return &deduper{within: within, seen: map[string]int64{}}
}

// key encodes a record's key fields.
func (d *deduper) key(st *plan.Stage, r *record.Record) ([]byte, error) {
	b := d.scratch[:0]
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
	d.scratch = b
	return b, nil
}

// admit reports whether a record with key and event time t passes, and
// remembers it.
func (d *deduper) admit(key []byte, t int64) bool {
	prev, ok := d.seen[string(key)]
	if ok && (t == record.NoTime || prev == record.NoTime || absDiff(t, prev) < d.within) {
		if t != record.NoTime && t > prev && prev != record.NoTime {
			d.remember(string(key), t)
		}
		return false
	}
	if ok && prev != record.NoTime && prev > t {
		t = prev
	}
	d.remember(string(key), t)
	return true
}

func (d *deduper) remember(key string, t int64) {
	d.seen[key] = t
	if t != record.NoTime {
		d.queue = append(d.queue, expiry{key: key, at: satAdd(t, d.within)})
	}
}

// forget drops the keys the watermark has passed.
func (d *deduper) forget(wm int64) {
	for d.head < len(d.queue) && d.queue[d.head].at <= wm {
		e := d.queue[d.head]
		if t, ok := d.seen[e.key]; ok && t != record.NoTime && satAdd(t, d.within) <= wm {
			delete(d.seen, e.key)
		}
		d.queue[d.head] = expiry{}
		d.head++
	}
	if d.head > 1024 && d.head > len(d.queue)/2 {
		d.queue = append(d.queue[:0], d.queue[d.head:]...)
		d.head = 0
	}
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

func satAdd(a, b int64) int64 {
	if s := a + b; (s > a) == (b > 0) {
		return s
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// snapshot encodes the state: a count, then per key its length, bytes and
// event time, all varints.
func (d *deduper) snapshot() []byte {
	b := binary.AppendUvarint(nil, uint64(len(d.seen)))
	keys := make([]string, 0, len(d.seen))
	for k := range d.seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, d.seen[k])
	}
	return b
}

var errDedupeState = errors.New("damaged dedupe state")

func (d *deduper) restore(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errDedupeState
	}
	b = b[k:]
	d.seen = make(map[string]int64, n)
	d.queue, d.head = d.queue[:0], 0
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errDedupeState
		}
		key := string(b[k : k+int(l)])
		b = b[k+int(l):]
		t, k2 := binary.Varint(b)
		if k2 <= 0 {
			return errDedupeState
		}
		b = b[k2:]
		d.seen[key] = t
		if t != record.NoTime {
			d.queue = append(d.queue, expiry{key: key, at: satAdd(t, d.within)})
		}
	}
	if len(b) != 0 {
		return errDedupeState
	}
	slices.SortFunc(d.queue, func(a, b expiry) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	return nil
}

// describeDedupe renders a dedupe stage's state meaning for checkpoints.
func describeDedupe(st *plan.Stage) string {
	in := st.Inputs[0].Out.Names
	keys := make([]string, len(st.DedupeKey))
	for i, slot := range st.DedupeKey {
		if slot < len(in) {
			keys[i] = in[slot]
		}
	}
	return fmt.Sprintf("dedupe key [%s] within %s", strings.Join(keys, ", "), time.Duration(st.DedupeWithin))
}
