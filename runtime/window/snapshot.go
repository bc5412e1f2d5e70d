package window

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/internal/bin"
)

// Snapshot format, version 1.
//
// A snapshot holds everything an operator needs to go on as if it had not
// stopped: the watermark, every key with its windows in their order, each
// window's span, flags (a row to emit again, a change since the last
// Flush, a closed session), its creation order and its aggregate state.
// What the operator derives from these (the key index, the End buckets,
// the session timers, the pending and dirty lists) is rebuilt on Restore.
//
//	snapshot = magic version header chunk* end
//	magic    = "FLOWWIN\x00"
//	version  = uint16, little endian: 1
//
// Each of header, chunk and end is a frame: a kind byte ('H', 'K', 'E'),
// a uvarint payload length, the payload, and the CRC-32C (Castagnoli,
// uint32 little endian) of the kind, length and payload. uvarint and
// varint are those of encoding/binary.
//
//	H  uvarint len, Config.Describe() of the operator
//	   varint watermark
//	   uvarint next session sequence number
//	   uvarint keys, uvarint windows, uvarint key bytes (totals, for sizing)
//	K  uvarint keys, uvarint windows (in this chunk)
//	   for each key:
//	     uvarint len, the key: agg.AppendKey of each group value, concatenated
//	     uvarint windows of the key (at least 1), then for each of them in
//	     the key's list order (tumbling, sliding, global: by decreasing Start):
//	       varint Start minus the previous window's Start in this chunk (the
//	         first: minus 0), wrapping
//	       byte flags: 1 a closed window updated since its last row,
//	         2 an open window changed since the last Flush (emit: updates),
//	         4 a closed session
//	       tumbling, sliding, global: uvarint order of the window among
//	         those with the same End (0 for the first created)
//	       session: uvarint End - Start, uvarint creation sequence number,
//	         varint due time of its timer minus End
//	   for each aggregate, in Config.Aggs order: uvarint len, the state of
//	     the chunk's windows in the order above (agg.Column.AppendState)
//	E  uvarint keys, uvarint windows (totals again)
//
// A chunk holds whole keys and about chunkWindows windows, so that the
// writer and the reader buffer one chunk's bytes, not the whole state.
// Slot numbers, free lists and the key index's hash seed are not saved:
// nothing the operator emits depends on them. The key encoding and the
// aggregate states are those of package agg, whose golden tests pin them
// as testdata/snapshot_v1.hex pins this format: a change to any of them
// needs a new version (and Restore should go on reading version 1).

// snapshotMagic starts every snapshot.
const snapshotMagic = "FLOWWIN\x00"

// snapshotVersion is the version Snapshot writes and Restore reads.
const snapshotVersion = 1

// chunkWindows is about how many windows a chunk holds.
const chunkWindows = 16384

// Frame kinds.
const (
	frameHeader = 'H'
	frameChunk  = 'K'
	frameEnd    = 'E'
)

// Window flags in a snapshot.
const (
	snapPending = 1
	snapDirty   = 2
	snapClosed  = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameRoom is the room left before a payload for its kind and length.
const frameRoom = 1 + binary.MaxVarintLen64

// snapshotWriter writes frames; its first error sticks.
type snapshotWriter struct {
	w     io.Writer
	buf   []byte // the frame being built, payload from frameRoom
	col   []byte // one column's state
	keys  []int32
	slots []int32
	err   error
}

func (s *snapshotWriter) begin() { s.buf = append(s.buf[:0], make([]byte, frameRoom)...) }

// finish frames the payload in s.buf and writes it.
func (s *snapshotWriter) finish(kind byte, prefix []byte) {
	n := len(s.buf) - frameRoom
	var hdr [frameRoom]byte
	hdr[0] = kind
	h := 1 + binary.PutUvarint(hdr[1:], uint64(n))
	start := frameRoom - h
	copy(s.buf[start:], hdr[:h])
	s.buf = binary.LittleEndian.AppendUint32(s.buf, crc32.Checksum(s.buf[start:], castagnoli))
	if s.err != nil {
		return
	}
	if len(prefix) > 0 {
		if _, s.err = s.w.Write(prefix); s.err != nil {
			return
		}
	}
	_, s.err = s.w.Write(s.buf[start:])
}

// Snapshot writes the operator's state to w in the format described above
// (a few write calls a megabyte; w need not be buffered). It does not
// change the operator. It fails when w does, and when an aggregate holds a
// value with no binary form (see agg.AppendValue); the bytes written are
// then to be discarded.
func (o *Operator) Snapshot(w io.Writer) error {
	s := &snapshotWriter{w: w}
	s.header(o)
	for k := 0; k < len(o.keys) && s.err == nil; {
		k = s.chunk(o, k)
	}
	s.begin()
	s.buf = binary.AppendUvarint(s.buf, uint64(o.liveKeys()))
	s.buf = binary.AppendUvarint(s.buf, uint64(o.live))
	s.finish(frameEnd, nil)
	if s.err != nil {
		return fmt.Errorf("snapshot window state: %w", s.err)
	}
	return nil
}

// liveKeys returns how many keys have windows.
func (o *Operator) liveKeys() int {
	n := 0
	for i := range o.keys {
		if o.keys[i].head >= 0 {
			n++
		}
	}
	return n
}

func (o *Operator) config() Config {
	return Config{Spec: o.spec, Aggs: o.aggs, AllowedLateness: o.lateness, Emit: o.mode}
}

func (s *snapshotWriter) header(o *Operator) {
	desc := o.config().Describe()
	s.begin()
	s.buf = binary.AppendUvarint(s.buf, uint64(len(desc)))
	s.buf = append(s.buf, desc...)
	s.buf = binary.AppendVarint(s.buf, o.wm)
	s.buf = binary.AppendUvarint(s.buf, o.seq)
	s.buf = binary.AppendUvarint(s.buf, uint64(o.liveKeys()))
	s.buf = binary.AppendUvarint(s.buf, uint64(o.live))
	s.buf = binary.AppendUvarint(s.buf, uint64(len(o.keyData)-o.deadKeys))
	var prefix [len(snapshotMagic) + 2]byte
	copy(prefix[:], snapshotMagic)
	binary.LittleEndian.PutUint16(prefix[len(snapshotMagic):], snapshotVersion)
	s.finish(frameHeader, prefix[:])
}

// chunk writes the keys from index k on until the chunk holds at least
// chunkWindows windows, and returns the index of the next key.
func (s *snapshotWriter) chunk(o *Operator, k int) int {
	s.keys, s.slots = s.keys[:0], s.slots[:0]
	for ; k < len(o.keys) && len(s.slots) < chunkWindows; k++ {
		ks := &o.keys[k]
		if ks.head < 0 {
			continue // a free entry
		}
		s.keys = append(s.keys, int32(k))
		for sl := ks.head; sl >= 0; sl = o.slots[sl].next {
			s.slots = append(s.slots, sl)
		}
	}
	if len(s.keys) == 0 {
		return k
	}
	s.begin()
	b := binary.AppendUvarint(s.buf, uint64(len(s.keys)))
	b = binary.AppendUvarint(b, uint64(len(s.slots)))
	session := o.spec.Kind == Session
	prev := int64(0)
	i := 0
	for _, k := range s.keys {
		enc := keyAt(o.keyData, o.keys[k].off)
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
		n := 0
		for sl := o.keys[k].head; sl >= 0; sl = o.slots[sl].next {
			n++
		}
		b = binary.AppendUvarint(b, uint64(n))
		for _, sl := range s.slots[i : i+n] {
			w := &o.slots[sl]
			b = binary.AppendVarint(b, w.start-prev)
			prev = w.start
			b = append(b, snapFlags(w.flags))
			if !session {
				b = binary.AppendUvarint(b, uint64(w.ord))
				continue
			}
			si := &o.sess[sl]
			b = binary.AppendUvarint(b, uint64(si.end-w.start))
			b = binary.AppendUvarint(b, si.seq)
			b = binary.AppendVarint(b, si.due-si.end)
		}
		i += n
	}
	for j, c := range o.cols {
		var err error
		if s.col, err = c.AppendState(s.col[:0], s.slots); err != nil {
			s.err = fmt.Errorf("aggregate %d (%s): %w", j+1, o.aggs[j], err)
			return len(o.keys)
		}
		b = binary.AppendUvarint(b, uint64(len(s.col)))
		b = append(b, s.col...)
	}
	s.buf = b
	s.finish(frameChunk, nil)
	return k
}

func snapFlags(f uint8) byte {
	var b byte
	if f&fPending != 0 {
		b |= snapPending
	}
	if f&fDirty != 0 {
		b |= snapDirty
	}
	if f&fClosed != 0 {
		b |= snapClosed
	}
	return b
}

// byteReader is what Restore reads from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// snapshotReader reads frames, counting bytes for error messages.
type snapshotReader struct {
	r     byteReader
	off   int64 // bytes read
	frame int   // frames read; 0 while reading the magic and version
	start int64 // where the current frame starts
	buf   []byte
}

// corrupt returns an ErrCorrupt error about the current frame.
func (r *snapshotReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: frame %d at byte %d: %s", ErrCorrupt, r.frame, r.start, fmt.Sprintf(format, args...))
}

func (r *snapshotReader) readByte() (byte, error) {
	c, err := r.r.ReadByte()
	if err == nil {
		r.off++
	}
	return c, err
}

// next reads the next frame and returns its kind and payload, which is
// valid until the next call.
func (r *snapshotReader) next() (byte, []byte, error) {
	r.frame++
	r.start = r.off
	kind, err := r.readByte()
	if err != nil {
		return 0, nil, r.truncated(err)
	}
	crc := crc32.Update(0, castagnoli, []byte{kind})
	var n uint64
	var lenBuf [binary.MaxVarintLen64]byte
	for i := 0; ; i++ {
		c, err := r.readByte()
		if err != nil {
			return 0, nil, r.truncated(err)
		}
		if i == binary.MaxVarintLen64 || i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, nil, r.corrupt("bad frame length")
		}
		lenBuf[i] = c
		n |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			crc = crc32.Update(crc, castagnoli, lenBuf[:i+1])
			break
		}
	}
	if err := r.readPayload(n); err != nil {
		return 0, nil, err
	}
	crc = crc32.Update(crc, castagnoli, r.buf)
	var sum [4]byte
	if _, err := io.ReadFull(r.r, sum[:]); err != nil {
		return 0, nil, r.truncated(err)
	}
	r.off += 4
	if binary.LittleEndian.Uint32(sum[:]) != crc {
		return 0, nil, r.corrupt("checksum mismatch")
	}
	return kind, r.buf, nil
}

// readPayload reads n bytes into r.buf, growing it only as bytes arrive,
// so that a corrupted length cannot make it allocate much more than the
// stream holds.
func (r *snapshotReader) readPayload(n uint64) error {
	const step = 1 << 20
	r.buf = r.buf[:0]
	for uint64(len(r.buf)) < n {
		m := min(n-uint64(len(r.buf)), step)
		at := len(r.buf)
		r.buf = slices.Grow(r.buf, int(m))[:at+int(m)]
		got, err := io.ReadFull(r.r, r.buf[at:])
		r.off += int64(got)
		if err != nil {
			return r.truncated(err)
		}
	}
	return nil
}

func (r *snapshotReader) truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.corrupt("truncated at byte %d", r.off)
	}
	return fmt.Errorf("read window state: %w", err)
}

// Restore returns an operator with the state that Snapshot wrote to r,
// which goes on exactly as the operator that took it would have. cfg must
// describe the same operator (Config.Describe): otherwise Restore returns
// a *ConfigMismatchError naming what changed. A stream that is not a
// snapshot, or is truncated or corrupted, gives an error wrapping
// ErrCorrupt that says where. If r is an io.ByteReader (a *bufio.Reader),
// Restore reads exactly the snapshot, so that more data may follow it;
// otherwise it reads through a bufio.Reader of its own, which may read
// ahead.
func Restore(cfg Config, r io.Reader) (*Operator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("restore window state: %w", err)
	}
	br, ok := r.(byteReader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	rd := &snapshotReader{r: br}
	var head [len(snapshotMagic) + 2]byte
	n, err := io.ReadFull(br, head[:])
	rd.off = int64(n)
	if err != nil {
		return nil, rd.truncated(err)
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a window snapshot", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint16(head[len(snapshotMagic):]); v != snapshotVersion {
		return nil, fmt.Errorf("window snapshot version %d is not supported (this build reads version %d)", v, snapshotVersion)
	}
	o := NewOperator(cfg)
	res := restorer{o: o, rd: rd, cur: cfg.Describe()}
	if err := res.run(); err != nil {
		return nil, err
	}
	return o, nil
}

// restorer builds an operator from a snapshot's frames.
type restorer struct {
	o   *Operator
	rd  *snapshotReader
	cur string // the description of the operator's config

	keys, windows, keyBytes uint64 // totals from the header
	gotKeys, gotWindows     uint64
	sized                   bool
	ss                      []int32
}

func (res *restorer) run() error {
	rd := res.rd
	kind, p, err := rd.next()
	if err != nil {
		return err
	}
	if kind != frameHeader {
		return rd.corrupt("want the header, got frame kind %q", kind)
	}
	if err := res.header(p); err != nil {
		return err
	}
	for {
		kind, p, err := rd.next()
		if err != nil {
			return err
		}
		switch kind {
		case frameChunk:
			if err := res.chunk(p); err != nil {
				return err
			}
		case frameEnd:
			return res.end(p)
		default:
			return rd.corrupt("unknown frame kind %q", kind)
		}
	}
}

func (res *restorer) header(p []byte) error {
	d := decoder{B: p}
	desc := string(d.Bytes(d.Uvarint()))
	wm := d.Varint()
	seq := d.Uvarint()
	res.keys, res.windows, res.keyBytes = d.Uvarint(), d.Uvarint(), d.Uvarint()
	if err := d.Done(); err != nil {
		return res.rd.corrupt("header: %v", err)
	}
	if desc != res.cur {
		return &ConfigMismatchError{Saved: desc, Current: res.cur}
	}
	res.o.wm, res.o.seq = wm, seq
	return nil
}

// size allocates the operator's arrays for the totals of the header, but
// no more than a multiple of the first chunk's size: a corrupted header
// must not allocate much more than the stream holds.
func (res *restorer) size(chunkLen int) {
	res.sized = true
	limit := uint64(chunkLen)*64 + 1024
	o := res.o
	nk, nw := int(min(res.keys, limit)), int(min(res.windows, limit))
	o.keys = make([]keyState, 0, nk)
	o.keyData = make([]byte, 0, min(res.keyBytes, limit*16))
	o.index.reserve(nk)
	o.slots = make([]slot, 0, nw)
	res.growColumns()
}

// growColumns makes the columns cover the slots' capacity, as newSlot
// does.
func (res *restorer) growColumns() {
	o := res.o
	if cap(o.slots) <= o.colLen {
		return
	}
	o.colLen = cap(o.slots)
	for _, c := range o.cols {
		c.Grow(o.colLen)
	}
	if o.spec.Kind == Session {
		o.sess = grow(o.sess, o.colLen)
	}
}

func (res *restorer) chunk(p []byte) error {
	if !res.sized {
		res.size(len(p))
	}
	o, rd := res.o, res.rd
	d := decoder{B: p}
	nkeys := d.Count(2)
	nwin := d.Count(3)
	if d.Err != nil {
		return rd.corrupt("chunk: %v", d.Err)
	}
	first := len(o.slots)
	prev := int64(0)
	for i := range nkeys {
		enc := d.Bytes(d.Uvarint())
		n := d.Uvarint()
		if d.Err != nil {
			return rd.corrupt("key %d: %v", i, d.Err)
		}
		if n == 0 || n > uint64(first+nwin-len(o.slots)) {
			return rd.corrupt("key %d: %d windows", i, n)
		}
		k, err := res.key(enc)
		if err != nil {
			return rd.corrupt("key %d: %v", i, err)
		}
		for j := range n {
			start := prev + d.Varint()
			prev = start
			if err := res.window(&d, k, start); err != nil {
				return rd.corrupt("key %d: window %d: %v", i, j, err)
			}
		}
	}
	if got := len(o.slots) - first; got != nwin {
		return rd.corrupt("chunk has %d windows, says %d", got, nwin)
	}
	res.ss = res.ss[:0]
	for s := first; s < len(o.slots); s++ {
		res.ss = append(res.ss, int32(s))
	}
	for j, c := range o.cols {
		b := d.Bytes(d.Uvarint())
		if d.Err != nil {
			return rd.corrupt("aggregate %d (%s): %v", j+1, o.aggs[j], d.Err)
		}
		rest, err := c.ReadState(b, res.ss)
		if err == nil && len(rest) > 0 {
			err = fmt.Errorf("%d bytes left over", len(rest))
		}
		if err != nil {
			return rd.corrupt("aggregate %d (%s): %v", j+1, o.aggs[j], err)
		}
	}
	if err := d.Done(); err != nil {
		return rd.corrupt("chunk: %v", err)
	}
	res.gotKeys += uint64(nkeys)
	res.gotWindows += uint64(nwin)
	return nil
}

// key adds a key read from a snapshot.
func (res *restorer) key(enc []byte) (int32, error) {
	o := res.o
	if err := agg.CheckKey(enc); err != nil {
		return 0, err
	}
	if len(o.keys) == math.MaxInt32 {
		return 0, errors.New("too many keys")
	}
	k, h := int32(len(o.keys)), o.index.hash(enc)
	off := uint64(len(o.keyData))
	o.keyData = binary.AppendUvarint(o.keyData, uint64(len(enc)))
	o.keyData = append(o.keyData, enc...)
	o.keys = append(o.keys, keyState{off: off, head: -1, hash: h})
	if !o.index.add(o.keys, o.keyData, enc, k, h) {
		return 0, errors.New("the key is listed twice")
	}
	return k, nil
}

// window reads the rest of a window of key k starting at start, and
// appends it to the key's list.
func (res *restorer) window(d *decoder, k int32, start int64) error {
	o := res.o
	flags := d.Byte()
	var ord uint64
	var si sessionInfo
	if o.spec.Kind == Session {
		span := d.Uvarint()
		si.seq = d.Uvarint()
		due := d.Varint()
		if span > uint64(math.MaxInt64-start) {
			return errors.New("session ends beyond the int64 range")
		}
		si.end = start + int64(span)
		si.due = si.end + due
	} else {
		ord = d.Uvarint()
	}
	if d.Err != nil {
		return d.Err
	}
	if len(o.slots) == math.MaxInt32 {
		return errors.New("too many windows")
	}
	s := int32(len(o.slots))
	o.slots = append(o.slots, slot{start: start, key: k, next: -1})
	res.growColumns()
	if o.spec.Kind == Session {
		o.sess[s] = si
	}
	// Link after the key's last window.
	last := int32(-1)
	if h := o.keys[k].head; h >= 0 {
		last = s - 1 // a key's windows are read one after the other
		o.slots[last].next = s
	} else {
		o.keys[k].head = s
	}
	sl := &o.slots[s]
	f, err := res.flags(flags, o.end(s))
	if err != nil {
		return err
	}
	sl.flags = f
	if o.spec.Kind == Session {
		if si.seq >= o.seq {
			return fmt.Errorf("sequence number %d is not below the next one, %d", si.seq, o.seq)
		}
		return nil
	}
	if ord > math.MaxUint32 {
		return fmt.Errorf("order %d out of range", ord)
	}
	sl.ord = uint32(ord)
	return res.checkAligned(start, last)
}

// checkAligned checks a tumbling, sliding or global window's start: on the
// grid, and before (in time) the key's previous window, last.
func (res *restorer) checkAligned(start int64, last int32) error {
	o := res.o
	var grid int64
	switch o.spec.Kind {
	case Global:
		if start != math.MinInt64 {
			return fmt.Errorf("global window starts at %d", start)
		}
	case Tumbling:
		grid = o.spec.Size
	case Sliding:
		grid = o.spec.Slide
	}
	if grid > 0 && alignDown(start, grid) != start {
		return fmt.Errorf("start %d is not a window start", start)
	}
	if last >= 0 && o.slots[last].start <= start {
		return fmt.Errorf("start %d does not come before %d", start, o.slots[last].start)
	}
	return nil
}

// flags checks a window's snapshot flags against its End and returns its
// slot flags.
func (res *restorer) flags(b byte, end int64) (uint8, error) {
	o := res.o
	closed := end <= o.wm
	var f uint8
	switch {
	case b&^(snapPending|snapDirty|snapClosed) != 0:
		return 0, fmt.Errorf("unknown flags %#x", b)
	case o.expired(end):
		return 0, fmt.Errorf("window ending at %d expired at watermark %d", end, o.wm)
	case b&snapPending != 0 && !closed:
		return 0, errors.New("an open window has a row to emit again")
	case b&snapDirty != 0 && (closed || o.mode != Updates):
		return 0, errors.New("a window is marked changed for emit: updates")
	case o.spec.Kind == Session && (b&snapClosed != 0) != closed:
		return 0, fmt.Errorf("session ending at %d is marked closed=%v at watermark %d", end, !closed, o.wm)
	case o.spec.Kind != Session && b&snapClosed != 0:
		return 0, errors.New("a window that is not a session is marked closed")
	}
	if b&snapPending != 0 {
		f |= fPending
	}
	if b&snapDirty != 0 {
		f |= fDirty
	}
	if b&snapClosed != 0 {
		f |= fClosed
	}
	return f, nil
}

// end checks the totals and rebuilds what the operator derives from its
// windows: the End buckets or the session timers, the pending and dirty
// lists.
func (res *restorer) end(p []byte) error {
	o, rd := res.o, res.rd
	d := decoder{B: p}
	keys, windows := d.Uvarint(), d.Uvarint()
	if err := d.Done(); err != nil {
		return rd.corrupt("end: %v", err)
	}
	if keys != res.keys || windows != res.windows || keys != res.gotKeys || windows != res.gotWindows {
		return rd.corrupt("read %d keys and %d windows; the header says %d and %d, the end %d and %d",
			res.gotKeys, res.gotWindows, res.keys, res.windows, keys, windows)
	}
	o.live = len(o.slots)
	if o.spec.Kind == Session {
		res.timers()
	} else if err := res.buckets(); err != nil {
		return rd.corrupt("%v", err)
	}
	for s := range o.slots {
		f := o.slots[s].flags
		if f&fPending != 0 {
			o.pending = append(o.pending, int32(s))
		}
		if f&fDirty != 0 {
			o.dirty = append(o.dirty, int32(s))
		}
	}
	return nil
}

// buckets rebuilds the End buckets: each window goes to the position its
// order says, which must be free and within the bucket's size.
func (res *restorer) buckets() error {
	o := res.o
	// Size a bucket for each End; consecutive windows often share it.
	byEnd := map[int64]*bucket{}
	var b *bucket
	for s := range o.slots {
		if e := o.end(int32(s)); b == nil || b.end != e {
			if b = byEnd[e]; b == nil {
				b = &bucket{end: e}
				byEnd[e] = b
				o.buckets = append(o.buckets, b)
			}
		}
		b.slots = append(b.slots, -1)
	}
	slices.SortFunc(o.buckets, func(x, y *bucket) int { return cmp.Compare(x.end, y.end) })
	for _, b := range o.buckets {
		if b.end <= o.wm {
			o.nclosed++
		}
	}
	b = nil
	for s := range o.slots {
		sl := &o.slots[s]
		if e := o.end(int32(s)); b == nil || b.end != e {
			b = byEnd[e]
		}
		if int(sl.ord) >= len(b.slots) || b.slots[sl.ord] >= 0 {
			return fmt.Errorf("window %d of the %d ending at %d is listed twice or out of range", sl.ord, len(b.slots), b.end)
		}
		b.slots[sl.ord] = int32(s)
	}
	return nil
}

// timers gives each session its timer, and heapifies them.
func (res *restorer) timers() {
	o := res.o
	o.timers = make([]timer, len(o.slots))
	for s := range o.slots {
		o.timers[s] = timer{due: o.sess[s].due, slot: int32(s)}
	}
	h := o.timers
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

// siftDown moves h[i] down to its place in the min-heap h.
func siftDown(h []timer, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h[r].due < h[l].due {
			c = r
		}
		if h[i].due <= h[c].due {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// decoder reads a frame's payload; the first error sticks, later reads
// return zero values.
type decoder = bin.Reader
