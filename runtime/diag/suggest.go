package diag

// DidYouMean returns the option closest to got by edit distance, or "" if
// none is close enough to be a plausible typo.
func DidYouMean(got string, options []string) string {
	best, bestD := "", len(got)/2+2
	for _, o := range options {
		if d := editDistance(got, o); d < bestD {
			best, bestD = o, d
		}
	}
	return best
}

// Hint renders a " (did you mean "x"?)" suffix, or "".
func Hint(got string, options []string) string {
	if s := DidYouMean(got, options); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
