package agg

import (
	"math"
	"sort"
)

// digest is the t-digest of approx_percentile: a port of
// github.com/caio/go-tdigest/v4 (MIT licence, Copyright (c) 2015 Caio
// Romão Costa Nascimento) reduced to what approx_percentile uses. It does
// the same arithmetic and makes the same calls to its random number
// generator in the same order, so its results are those of the library
// (TestDigestMatchesLibrary), but its whole state, centroids and generator
// included, is in fields that a checkpoint can save and restore exactly;
// the library serializes centroid means as float32 deltas and cannot
// restore its generator.
//
// Centroid means are sorted; counts are positive; count is their sum.
type digest struct {
	means  []float64
	counts []uint64
	count  uint64
	rng    splitMix
}

// digestSeed is the state every digest's generator starts from.
const digestSeed = 0x9e3779b97f4a7c15

func newDigest() *digest { return &digest{rng: splitMix{state: digestSeed}} }

// add adds value with weight count (the library's AddWeighted). It
// reports false, as the library returns an error, when value is NaN and
// would start a new centroid; callers skip NaN inputs.
func (t *digest) add(value float64, count uint64) bool {
	if len(t.means) == 0 {
		ok := t.insert(value, count)
		t.count = count
		return ok
	}
	begin := t.findIndex(value) - 1
	if begin == -1 {
		begin = 0
	}
	begin, end := t.findNeighbors(begin, value)
	closest := t.chooseMergeCandidate(begin, end, count)
	if closest == len(t.means) {
		if !t.insert(value, count) {
			return false
		}
	} else {
		c := float64(t.counts[closest])
		mean := boundedWeightedAverage(t.means[closest], c, value, float64(count))
		t.setAt(closest, mean, uint64(c)+count)
	}
	t.count += count
	if float64(len(t.means)) > 20*tdigestCompression {
		return t.compress()
	}
	return true
}

// insert adds a centroid, after those with an equal mean.
func (t *digest) insert(mean float64, count uint64) bool {
	if math.IsNaN(mean) {
		return false
	}
	var i int
	if len(t.means) < 250 {
		i = len(t.means)
		for j, m := range t.means {
			if m > mean {
				i = j
				break
			}
		}
	} else {
		i = sort.Search(len(t.means), func(j int) bool { return t.means[j] > mean })
	}
	t.means = append(t.means, 0)
	t.counts = append(t.counts, 0)
	copy(t.means[i+1:], t.means[i:])
	copy(t.counts[i+1:], t.counts[i:])
	t.means[i], t.counts[i] = mean, count
	return true
}

// findIndex returns the index of the first centroid with a mean >= x.
func (t *digest) findIndex(x float64) int {
	if len(t.means) < 250 {
		for i, m := range t.means {
			if m >= x {
				return i
			}
		}
		return len(t.means)
	}
	return sort.Search(len(t.means), func(i int) bool { return t.means[i] >= x })
}

func (t *digest) findNeighbors(start int, value float64) (int, int) {
	minDistance := math.MaxFloat64
	last := len(t.means)
	for n := start; n < len(t.means); n++ {
		z := math.Abs(t.means[n] - value)
		if z < minDistance {
			start = n
			minDistance = z
		} else if z > minDistance {
			last = n
			break
		}
	}
	return start, last
}

func (t *digest) chooseMergeCandidate(begin, end int, count uint64) int {
	closest := len(t.means)
	sum := float64(sumCounts(t.counts[:begin]))
	var n float32
	for i := begin; i != end; i++ {
		c := float64(t.counts[i])
		var q float64
		if t.count == 1 {
			q = 0.5
		} else {
			q = (sum + (c-1)/2) / float64(t.count-1)
		}
		k := 4 * float64(t.count) * q * (1 - q) / tdigestCompression
		if c+float64(count) <= k {
			n++
			if t.rng.Float32() < 1/n {
				closest = i
			}
		}
		sum += c
	}
	return closest
}

func sumCounts(cs []uint64) uint64 {
	var s uint64
	for _, c := range cs {
		s += c
	}
	return s
}

// setAt sets centroid i and moves it to keep the means sorted.
func (t *digest) setAt(i int, mean float64, count uint64) {
	t.means[i], t.counts[i] = mean, count
	for j := i + 1; j < len(t.means) && t.means[j-1] > t.means[j]; j++ {
		t.swap(j-1, j)
	}
	for j := i - 1; j >= 0 && t.means[j] > t.means[j+1]; j-- {
		t.swap(j, j+1)
	}
}

func (t *digest) swap(i, j int) {
	t.means[i], t.means[j] = t.means[j], t.means[i]
	t.counts[i], t.counts[j] = t.counts[j], t.counts[i]
}

// compress adds the centroids again, in random order, to an empty digest.
func (t *digest) compress() bool {
	if len(t.means) <= 1 {
		return true
	}
	old := digest{means: t.means, counts: t.counts}
	t.means, t.counts, t.count = nil, nil, 0
	for i := len(old.means) - 1; i > 1; i-- {
		old.swap(i, t.rng.Intn(i+1))
	}
	for i, m := range old.means {
		if !t.add(m, old.counts[i]) {
			return false
		}
	}
	return true
}

// merge adds other's centroids in random order; other is unchanged.
func (t *digest) merge(other *digest) {
	n := len(other.means)
	if n == 0 {
		return
	}
	perm := make([]int, n)
	for i := 1; i < n; i++ {
		j := t.rng.Intn(i + 1)
		perm[i] = perm[j]
		perm[j] = i
	}
	for _, i := range perm {
		if !t.add(other.means[i], other.counts[i]) {
			return
		}
	}
}

// quantile returns the estimate of quantile q in [0, 1].
func (t *digest) quantile(q float64) float64 {
	switch len(t.means) {
	case 0:
		return math.NaN()
	case 1:
		return t.means[0]
	}
	index := q * float64(t.count-1)
	previousMean := math.NaN()
	previousIndex := float64(0)
	next, total := t.floorSum(index)
	if next > 0 {
		previousMean = t.means[next-1]
		previousIndex = total - float64(t.counts[next-1]+1)/2
	}
	for {
		nextIndex := total + float64(t.counts[next]-1)/2
		if nextIndex >= index {
			if math.IsNaN(previousMean) {
				// Before the first centroid.
				if nextIndex == previousIndex {
					return t.means[next]
				}
				// Assume linear growth.
				nextIndex2 := total + float64(t.counts[next]) + float64(t.counts[next+1]-1)/2
				previousMean = (nextIndex2*t.means[next] - nextIndex*t.means[next+1]) / (nextIndex2 - nextIndex)
			}
			return interpolateQuantile(index, previousIndex, nextIndex, previousMean, t.means[next])
		} else if next+1 == len(t.means) {
			// After the last centroid.
			nextIndex2 := float64(t.count - 1)
			nextMean2 := (t.means[next]*(nextIndex2-previousIndex) - previousMean*(nextIndex2-nextIndex)) / (nextIndex - previousIndex)
			return interpolateQuantile(index, nextIndex, nextIndex2, t.means[next], nextMean2)
		}
		total += float64(t.counts[next])
		previousMean = t.means[next]
		previousIndex = nextIndex
		next++
	}
}

// floorSum returns the index of the last centroid whose preceding counts
// sum to at most sum (-1 if none), and that preceding sum.
func (t *digest) floorSum(sum float64) (index int, cumSum float64) {
	index = -1
	for i, c := range t.counts {
		if !(cumSum <= sum) {
			break
		}
		index = i
		cumSum += float64(c)
	}
	if index != -1 {
		cumSum -= float64(t.counts[index])
	}
	return index, cumSum
}

func interpolateQuantile(index, previousIndex, nextIndex, previousMean, nextMean float64) float64 {
	delta := nextIndex - previousIndex
	previousWeight := (nextIndex - index) / delta
	nextWeight := (index - previousIndex) / delta
	return previousMean*previousWeight + nextMean*nextWeight
}

// boundedWeightedAverage is the weighted average of x1 and x2, kept
// between them.
func boundedWeightedAverage(x1, w1, x2, w2 float64) float64 {
	if x1 > x2 {
		x1, x2, w1, w2 = x2, x1, w2, w1
	}
	r := (x1*w1 + x2*w2) / (w1 + w2)
	return math.Max(x1, math.Min(r, x2))
}
