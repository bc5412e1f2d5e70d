package window

import (
	"encoding/binary"
	"hash/maphash"
)

// keyIndex maps encoded group keys to indexes in Operator.keys: an
// open-addressing hash table with linear probing whose entries are 4 bytes
// (a key index plus one; 0 is empty), about 8 bytes a key against some 40
// for a map[string]int32. The keys' hashes live in Operator.keys, their
// encodings in Operator.keyData.
type keyIndex struct {
	seed maphash.Seed
	tab  []uint32
	n    int
}

func newKeyIndex() keyIndex {
	return keyIndex{seed: maphash.MakeSeed(), tab: make([]uint32, 16)}
}

func (x *keyIndex) hash(b []byte) uint32 { return uint32(maphash.Bytes(x.seed, b)) }

// reserve sizes the empty table for n keys.
func (x *keyIndex) reserve(n int) {
	size := len(x.tab)
	for n*4 > size*3 {
		size *= 2
	}
	if size > len(x.tab) && x.n == 0 {
		x.tab = make([]uint32, size)
	}
}

// add inserts key index k, whose encoding enc and hash h are in keys and
// data, in one probe; if a key with the same encoding is present, it
// changes nothing and returns false.
func (x *keyIndex) add(keys []keyState, data, enc []byte, k int32, h uint32) bool {
	if (x.n+1)*4 > len(x.tab)*3 {
		x.resize(keys, len(x.tab)*2)
	}
	mask := uint32(len(x.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.tab[i]
		if e == 0 {
			x.tab[i] = uint32(k) + 1
			x.n++
			return true
		}
		if ks := &keys[e-1]; ks.hash == h && string(keyAt(data, ks.off)) == string(enc) {
			return false
		}
	}
}

// find returns the key index of enc, whose hash is h, or -1; data holds
// the keys' encodings.
func (x *keyIndex) find(keys []keyState, data, enc []byte, h uint32) int32 {
	mask := uint32(len(x.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.tab[i]
		if e == 0 {
			return -1
		}
		if k := &keys[e-1]; k.hash == h && string(keyAt(data, k.off)) == string(enc) {
			return int32(e - 1)
		}
	}
}

// insert adds key index k, whose hash is h; the key must be absent.
func (x *keyIndex) insert(keys []keyState, k int32, h uint32) {
	if (x.n+1)*4 > len(x.tab)*3 {
		x.resize(keys, len(x.tab)*2)
	}
	x.place(k, h)
	x.n++
}

func (x *keyIndex) place(k int32, h uint32) {
	mask := uint32(len(x.tab) - 1)
	i := h & mask
	for x.tab[i] != 0 {
		i = (i + 1) & mask
	}
	x.tab[i] = uint32(k) + 1
}

func (x *keyIndex) resize(keys []keyState, size int) {
	old := x.tab
	x.tab = make([]uint32, size)
	for _, e := range old {
		if e != 0 {
			x.place(int32(e-1), keys[e-1].hash)
		}
	}
}

// remove deletes key index k, whose hash is h, shifting back the entries
// after it so that no probe sequence is broken.
func (x *keyIndex) remove(keys []keyState, k int32, h uint32) {
	mask := uint32(len(x.tab) - 1)
	i := h & mask
	for x.tab[i] != uint32(k)+1 {
		if x.tab[i] == 0 {
			return // absent
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		e := x.tab[j]
		if e == 0 {
			break
		}
		// Move e back to the hole at i unless its home lies cyclically
		// in (i, j].
		home := keys[e-1].hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.tab[i] = e
			i = j
		}
	}
	x.tab[i] = 0
	if len(x.tab) > 1024 && x.n*8 < len(x.tab) {
		x.resize(keys, len(x.tab)/2)
	}
}

// keyAt returns the key encoding at off in data: a uvarint length, then
// the bytes.
func keyAt(data []byte, off uint64) []byte {
	b := data[off:]
	if n := b[0]; n < 0x80 {
		return b[1 : 1+n]
	}
	n, m := binary.Uvarint(b)
	return b[m : m+int(n)]
}

// keyDataLen returns how many bytes of data the key at off takes.
func keyDataLen(data []byte, off uint64) int {
	n, m := binary.Uvarint(data[off:])
	return m + int(n)
}

// appendKeyData adds enc to o.keyData and returns its offset. When the
// data must grow and at least half of it is removed keys, it compacts it
// first, so it stays within about twice the live keys' size.
func (o *Operator) appendKeyData(enc []byte) uint64 {
	need := binary.MaxVarintLen64 + len(enc)
	if len(o.keyData)+need > cap(o.keyData) && o.deadKeys*2 >= len(o.keyData) && o.deadKeys > 0 {
		o.compactKeys(need)
	}
	off := uint64(len(o.keyData))
	o.keyData = binary.AppendUvarint(o.keyData, uint64(len(enc)))
	o.keyData = append(o.keyData, enc...)
	return off
}

// compactKeys copies the live keys' encodings to new data with room for
// extra more bytes.
func (o *Operator) compactKeys(extra int) {
	live := len(o.keyData) - o.deadKeys
	data := make([]byte, 0, live+live/4+extra)
	for i := range o.keys {
		ks := &o.keys[i]
		if ks.head == -2 {
			continue
		}
		n := keyDataLen(o.keyData, ks.off)
		off := uint64(len(data))
		data = append(data, o.keyData[ks.off:ks.off+uint64(n)]...)
		ks.off = off
	}
	o.keyData, o.deadKeys = data, 0
}
