package window

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKeyIndex checks the index against a map through random inserts and
// removals, with a hash that collides often so that probe chains, wrap
// around and backward shifts are exercised.
func TestKeyIndex(t *testing.T) {
	for _, bits := range []uint32{3, 32} {
		t.Run(fmt.Sprint("hashbits=", bits), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(bits)))
			x := newKeyIndex()
			var keys []keyState
			var data []byte
			var free []int32
			want := map[string]int32{}
			hash := func(enc string) uint32 {
				h := x.hash([]byte(enc))
				if bits < 32 {
					h &= 1<<bits - 1
				}
				return h
			}
			for step := range 20000 {
				enc := fmt.Sprint("key", rng.IntN(3000))
				h := hash(enc)
				got := x.find(keys, data, []byte(enc), h)
				k, ok := want[enc]
				if !ok {
					k = -1
				}
				if got != k {
					t.Fatalf("step %d: find(%s) = %d, want %d", step, enc, got, k)
				}
				if ok && rng.IntN(2) == 0 {
					x.remove(keys, k, h)
					keys[k] = keyState{head: -2}
					free = append(free, k)
					delete(want, enc)
				} else if !ok {
					ks := keyState{off: uint64(len(data)), hash: h, head: -1}
					data = append(append(data, byte(len(enc))), enc...)
					if n := len(free); n > 0 {
						k, free = free[n-1], free[:n-1]
						keys[k] = ks
					} else {
						k = int32(len(keys))
						keys = append(keys, ks)
					}
					x.insert(keys, k, h)
					want[enc] = k
				}
				if x.n != len(want) {
					t.Fatalf("step %d: n = %d, want %d", step, x.n, len(want))
				}
			}
			for enc, k := range want {
				if got := x.find(keys, data, []byte(enc), hash(enc)); got != k {
					t.Errorf("find(%s) = %d, want %d", enc, got, k)
				}
			}
			// Removing everything shrinks the table.
			for enc, k := range want {
				x.remove(keys, k, hash(enc))
			}
			if x.n != 0 || len(x.tab) > 1024 {
				t.Errorf("after removing all: n=%d, table of %d", x.n, len(x.tab))
			}
		})
	}
}
