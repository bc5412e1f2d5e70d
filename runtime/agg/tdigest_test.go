package agg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/caio/go-tdigest/v4"
)

// TestDigestMatchesLibrary checks that the port gives bit for bit the
// quantiles of github.com/caio/go-tdigest/v4 with the same generator,
// through adds, compressions and merges.
func TestDigestMatchesLibrary(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		newLib := func() *tdigest.TDigest {
			td, err := tdigest.New(tdigest.Compression(tdigestCompression), tdigest.RandomNumberGenerator(&splitMix{state: digestSeed}))
			if err != nil {
				t.Fatal(err)
			}
			return td
		}
		lib, other := newLib(), newLib()
		port, portOther := newDigest(), newDigest()
		n := 100 + rng.IntN(30000)
		for i := range n {
			var v float64
			switch seed % 4 {
			case 0:
				v = rng.NormFloat64()*10 + 100
			case 1:
				v = float64(rng.IntN(50)) // many equal values
			case 2:
				v = rng.ExpFloat64() * 1e6
			default:
				v = float64(i) // sorted input
			}
			if rng.IntN(4) == 0 {
				_ = other.Add(v)
				portOther.add(v, 1)
			} else {
				_ = lib.Add(v)
				port.add(v, 1)
			}
		}
		if err := lib.Merge(other); err != nil {
			t.Fatal(err)
		}
		port.merge(portOther)
		if lib.Count() != port.count {
			t.Fatalf("seed %d: count %d, want %d", seed, port.count, lib.Count())
		}
		for _, q := range []float64{0, 0.001, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1} {
			want, got := lib.Quantile(q), port.quantile(q)
			if math.Float64bits(want) != math.Float64bits(got) {
				t.Fatalf("seed %d (%d values): quantile(%v) = %v, library %v", seed, n, q, got, want)
			}
		}
		i := 0
		lib.ForEachCentroid(func(mean float64, count uint64) bool {
			if i >= len(port.means) || port.means[i] != mean || port.counts[i] != count {
				t.Fatalf("seed %d: centroid %d differs", seed, i)
			}
			i++
			return true
		})
		if i != len(port.means) {
			t.Fatalf("seed %d: %d centroids, library %d", seed, len(port.means), i)
		}
	}
}
