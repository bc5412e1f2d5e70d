package diag

import "strings"

// Closest returns the candidate nearest to name by edit distance (ignoring
// case; a swap of two neighbouring letters counts as one edit), for a
// "did you mean" hint. It reports false when no candidate is close enough
// to be a plausible typo: at most one edit for every three letters of name,
// and at least one edit allowed. Ties go to the earlier candidate.
func Closest(name string, candidates []string) (string, bool) {
	limit := max(1, len(name)/3)
	best, bestDist := "", limit+1
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := editDistance(lname, strings.ToLower(c), bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist <= limit
}

// Hint is Closest rendered as a message suffix, ` (did you mean "x"?)`,
// or "" when nothing is close.
func Hint(name string, candidates []string) string {
	if c, ok := Closest(name, candidates); ok {
		return ` (did you mean "` + c + `"?)`
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus transpositions of neighbours), in bytes. It gives up
// and returns bound once the distance is known to be at least bound.
func editDistance(a, b string, bound int) int {
	if d := len(a) - len(b); d >= bound || -d >= bound {
		return bound
	}
	// Three rows: two back, one back, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	// Every later row is at least min(this row's minimum, the previous
	// row's minimum + 1), so the search can stop once that reaches bound.
	prevMin := 0
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if min(rowMin, prevMin+1) >= bound {
			return bound
		}
		prevMin = rowMin
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], bound)
}
