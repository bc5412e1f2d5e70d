package window

import "slices"

// Session windows. Each key holds a list of disjoint sessions. A record at
// t makes the proto session [t, t+Gap); the key's sessions it overlaps
// (those with a record less than Gap away) merge with it into one, kept in
// the slot of the session created first. As in Flink, a record is late
// when it overlaps no session and its own proto session has expired: a
// session that overlaps it is not expired, so neither is the merge.
//
// Each session has one current timer in o.timers, due at its End while it
// is open and at End + AllowedLateness once closed; o.sess[s].due is that
// time.
// A session only grows, so its due time only grows, except when merging
// reopens a closed session; timers are therefore rescheduled lazily: a
// timer that fires before its session's current due time is pushed again.
//
// With allowed lateness, a late record may merge sessions whose rows were
// already emitted: the merged session's row is emitted (when it closes, or
// at once if it is closed), but rows emitted earlier for the spans it
// absorbed are not retracted. An upsert sink keyed by window_start
// overwrites the row of the session whose start the merge kept.

// timer is an entry of the session timer heap.
type timer struct {
	due  int64
	slot int32
	gen  uint32
}

func (o *Operator) addSession(t int64, args []any) (late bool) {
	lo, hi := t, satAdd(t, o.spec.Gap)
	k, h := o.findKey()
	o.tmp = o.tmp[:0]
	if k >= 0 {
		for s := o.keys[k].head; s >= 0; s = o.slots[s].next {
			if o.slots[s].start < hi && lo < o.sess[s].end {
				o.tmp = append(o.tmp, s)
			}
		}
	}
	if len(o.tmp) == 0 {
		if o.expired(hi) {
			return true
		}
		if k < 0 {
			k = o.insertKey(h)
		}
		s := o.newSlot(k, Span{lo, hi})
		o.slots[s].next = o.keys[k].head
		o.keys[k].head = s
		if hi <= o.wm {
			o.slots[s].flags |= fClosed
			o.setTimer(s, satAdd(hi, o.lateness))
		} else {
			o.setTimer(s, hi)
		}
		o.accumulate(s, t, args)
		return false
	}
	dst := o.tmp[0]
	for _, s := range o.tmp[1:] {
		if o.sess[s].seq < o.sess[dst].seq {
			dst = s
		}
	}
	for _, s := range o.tmp {
		lo, hi = min(lo, o.slots[s].start), max(hi, o.sess[s].end)
		if s == dst {
			continue
		}
		for _, c := range o.cols {
			c.Merge(int(dst), c, int(s))
		}
		o.unlink(s)
		o.freeSlot(s)
	}
	d := &o.slots[dst]
	d.start, o.sess[dst].end = lo, hi
	if d.flags&fClosed != 0 && hi > o.wm {
		// Merged with an open session: open again.
		d.flags &^= fClosed | fPending
		if o.sess[dst].due > hi {
			o.setTimer(dst, hi)
		}
	}
	o.accumulate(dst, t, args)
	return false
}

// advanceSessions closes the sessions with End <= wm, emitting their rows
// in order, and drops those with End + AllowedLateness <= wm.
func (o *Operator) advanceSessions(emit func(Row)) {
	o.closing, o.purging = o.closing[:0], o.purging[:0]
	for len(o.timers) > 0 && o.timers[0].due <= o.wm {
		e := o.popTimer()
		s := e.slot
		sl := &o.slots[s]
		if sl.ord != e.gen || o.sess[s].due != e.due {
			continue // the session was freed or has a newer timer
		}
		end := o.sess[s].end
		purgeAt := satAdd(end, o.lateness)
		if sl.flags&fClosed == 0 {
			if end > e.due {
				o.setTimer(s, end) // extended since
				continue
			}
			sl.flags |= fClosed
			sl.flags &^= fDirty
			o.closing = append(o.closing, s)
			if purgeAt <= o.wm {
				o.purging = append(o.purging, s)
			} else {
				o.setTimer(s, purgeAt)
			}
			continue
		}
		if purgeAt > e.due {
			o.setTimer(s, purgeAt)
			continue
		}
		o.purging = append(o.purging, s)
	}
	o.sortSlots(o.closing)
	for _, s := range o.closing {
		o.emitRow(s, true, emit)
	}
	for _, s := range o.purging {
		o.unlink(s)
		o.freeSlot(s)
	}
}

// setTimer makes due the time of session s's current timer.
func (o *Operator) setTimer(s int32, due int64) {
	o.sess[s].due = due
	o.timers = append(o.timers, timer{due: due, slot: s, gen: o.slots[s].ord})
	// Sift up.
	h := o.timers
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].due <= h[i].due {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (o *Operator) popTimer() timer {
	h := o.timers
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	// Sift down.
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].due < h[l].due {
			c = r
		}
		if h[i].due <= h[c].due {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	o.timers = h
	if cap(h) > 64 && len(h) < cap(h)/4 {
		o.timers = slices.Clip(slices.Clone(h))
	}
	return top
}
