package window

import "hash/maphash"

// keyIndex maps encoded group keys to indexes in Operator.keys: an
// open-addressing hash table with linear probing whose entries are 4 bytes
// (a key index plus one; 0 is empty), about 8 bytes a key against some 40
// for a map[string]int32. The keys' encodings and hashes live in
// Operator.keys.
type keyIndex struct {
	seed maphash.Seed
	tab  []uint32
	n    int
}

func newKeyIndex() keyIndex {
	return keyIndex{seed: maphash.MakeSeed(), tab: make([]uint32, 16)}
}

func (x *keyIndex) hash(b []byte) uint32 { return uint32(maphash.Bytes(x.seed, b)) }

// find returns the key index of enc, whose hash is h, or -1.
func (x *keyIndex) find(keys []keyState, enc []byte, h uint32) int32 {
	mask := uint32(len(x.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.tab[i]
		if e == 0 {
			return -1
		}
		if k := &keys[e-1]; k.hash == h && k.enc == string(enc) {
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
