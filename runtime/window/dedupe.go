package window

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// noTime is the event time of a record that has none (record.NoTime).
const noTime = math.MinInt64

// Dedupe is the state of a dedupe stage: for each key (an encoded group
// key), the largest event time seen. A record whose key was seen less than
// within apart in event time is a duplicate. A key is forgotten once the
// watermark passes its time + within, so the state is bounded by the
// watermark, as a window's is; keys of records without an event time are
// remembered for the whole run. Every mode uses it the same way: batch
// runs, whose watermark moves only at the end, keep every key.
type Dedupe struct {
	within int64
	seen   map[string]int64
	queue  []expiry // keys in arrival order, for forgetting
	head   int
}

type expiry struct {
	key string
	at  int64 // the watermark at which the key may be forgotten
}

// NewDedupe returns an empty Dedupe.
func NewDedupe(within int64) *Dedupe {
	return &Dedupe{within: within, seen: map[string]int64{}}
}

// Admit reports whether a record with key and event time t passes, and
// remembers it.
func (d *Dedupe) Admit(key []byte, t int64) bool {
	prev, ok := d.seen[string(key)]
	if ok && (t == noTime || prev == noTime || absDiff(t, prev) < d.within) {
		if t != noTime && t > prev && prev != noTime {
			d.remember(string(key), t)
		}
		return false
	}
	if ok && prev != noTime && prev > t {
		t = prev
	}
	d.remember(string(key), t)
	return true
}

func (d *Dedupe) remember(key string, t int64) {
	d.seen[key] = t
	if t != noTime {
		d.queue = append(d.queue, expiry{key: key, at: satAdd(t, d.within)})
	}
}

// Forget drops the keys the watermark wm has passed.
func (d *Dedupe) Forget(wm int64) {
	for d.head < len(d.queue) && d.queue[d.head].at <= wm {
		e := d.queue[d.head]
		if t, ok := d.seen[e.key]; ok && t != noTime && satAdd(t, d.within) <= wm {
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

// Keys is how many keys the state holds.
func (d *Dedupe) Keys() int { return len(d.seen) }

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

// Snapshot encodes the state: a count, then per key its length, bytes and
// event time, all varints, keys in order.
func (d *Dedupe) Snapshot() []byte {
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

// RestoreDedupe decodes a Snapshot into a Dedupe with the given within.
func RestoreDedupe(within int64, b []byte) (*Dedupe, error) {
	damaged := func(what string) error { return fmt.Errorf("%w: dedupe state: %s", ErrCorrupt, what) }
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, damaged("bad key count")
	}
	b = b[k:]
	d := &Dedupe{within: within, seen: make(map[string]int64, n)}
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, damaged("truncated key")
		}
		key := string(b[k : k+int(l)])
		b = b[k+int(l):]
		t, k2 := binary.Varint(b)
		if k2 <= 0 {
			return nil, damaged("truncated time")
		}
		b = b[k2:]
		d.seen[key] = t
		if t != noTime {
			d.queue = append(d.queue, expiry{key: key, at: satAdd(t, d.within)})
		}
	}
	if len(b) != 0 {
		return nil, damaged(fmt.Sprintf("%d trailing bytes", len(b)))
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
	return d, nil
}
