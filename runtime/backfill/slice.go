package backfill

import (
	"errors"
	"fmt"
	"time"
)

// Slice is one part of a backfill's range: the events whose time t is in
// From <= t < To.
type Slice struct {
	From, To time.Time
}

// String names the slice as an ISO 8601 interval,
// "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z". It is the slice's
// Settings.Instance: the same slice of a later backfill has the same
// name, whatever the range around it.
func (s Slice) String() string {
	return formatTime(s.From) + "/" + formatTime(s.To)
}

// Label is the slice's short name for people: the date of a slice that
// is one UTC day, its String otherwise.
func (s Slice) Label() string {
	y, m, d := s.From.Date()
	if day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); day.Equal(s.From) && day.AddDate(0, 0, 1).Equal(s.To) {
		return s.From.Format(time.DateOnly)
	}
	return s.String()
}

// formatTime writes t as RFC 3339 in UTC with its nanoseconds trimmed.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseTime reads a --from or --to value: an RFC 3339 timestamp
// (2026-03-01T00:00:00Z) or a date (2026-03-01), which is midnight UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (2026-03-01T00:00:00Z) or a date (2026-03-01)", s)
}

// MaxSlices bounds the number of slices of one backfill.
const MaxSlices = 100000

// Split cuts [from, to) at the multiples of every since the Unix epoch,
// so that slices of 24h are calendar days in UTC and slices of 1h clock
// hours; the first and last slices are shorter when from or to falls
// between two cuts. An every at least as long as the range makes one
// slice of it all.
func Split(from, to time.Time, every time.Duration) ([]Slice, error) {
	switch {
	case !from.Before(to):
		return nil, fmt.Errorf("--to %s is not after --from %s", formatTime(to), formatTime(from))
	case every <= 0:
		return nil, errors.New("--slice must be positive")
	case to.Sub(from) <= every:
		return []Slice{{From: from.UTC(), To: to.UTC()}}, nil
	case to.Sub(from)/every > MaxSlices:
		return nil, fmt.Errorf("--slice %s cuts %s to %s into more than %d slices", dur(every), formatTime(from), formatTime(to), MaxSlices)
	}
	var out []Slice
	for lo := from.UTC(); lo.Before(to); {
		hi := time.Unix(0, floorDiv(lo.UnixNano(), int64(every))*int64(every)).UTC().Add(every)
		if hi.After(to) {
			hi = to.UTC()
		}
		out = append(out, Slice{From: lo, To: hi})
		lo = hi
	}
	return out, nil
}

// floorDiv is a/b rounded towards negative infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
