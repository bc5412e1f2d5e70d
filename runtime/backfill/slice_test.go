package backfill

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		from, to string
		every    time.Duration
		want     []string // slices by String, or the error
	}{
		{"days", "2026-03-01", "2026-03-04", 24 * time.Hour, []string{
			"2026-03-01T00:00:00Z/2026-03-02T00:00:00Z",
			"2026-03-02T00:00:00Z/2026-03-03T00:00:00Z",
			"2026-03-03T00:00:00Z/2026-03-04T00:00:00Z",
		}},
		{"partial first and last", "2026-03-01T18:00:00Z", "2026-03-03T06:30:00Z", 24 * time.Hour, []string{
			"2026-03-01T18:00:00Z/2026-03-02T00:00:00Z",
			"2026-03-02T00:00:00Z/2026-03-03T00:00:00Z",
			"2026-03-03T00:00:00Z/2026-03-03T06:30:00Z",
		}},
		{"hours", "2026-03-01T22:15:00Z", "2026-03-02T01:00:00Z", time.Hour, []string{
			"2026-03-01T22:15:00Z/2026-03-01T23:00:00Z",
			"2026-03-01T23:00:00Z/2026-03-02T00:00:00Z",
			"2026-03-02T00:00:00Z/2026-03-02T01:00:00Z",
		}},
		{"weeks start on Thursdays, as the epoch", "2026-03-01", "2026-03-15", 7 * 24 * time.Hour, []string{
			"2026-03-01T00:00:00Z/2026-03-05T00:00:00Z",
			"2026-03-05T00:00:00Z/2026-03-12T00:00:00Z",
			"2026-03-12T00:00:00Z/2026-03-15T00:00:00Z",
		}},
		{"a slice as long as the range", "2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z", 24 * time.Hour, []string{
			"2026-03-01T12:00:00Z/2026-03-02T12:00:00Z",
		}},
		{"longer than the range", "2026-03-01", "2026-04-01", 10000 * time.Hour, []string{
			"2026-03-01T00:00:00Z/2026-04-01T00:00:00Z",
		}},
		{"before the epoch", "1969-12-30T12:00:00Z", "1970-01-01T12:00:00Z", 24 * time.Hour, []string{
			"1969-12-30T12:00:00Z/1969-12-31T00:00:00Z",
			"1969-12-31T00:00:00Z/1970-01-01T00:00:00Z",
			"1970-01-01T00:00:00Z/1970-01-01T12:00:00Z",
		}},
		{"sub-second bounds", "2026-03-01T00:00:00.5Z", "2026-03-01T00:00:02Z", time.Second, []string{
			"2026-03-01T00:00:00.5Z/2026-03-01T00:00:01Z",
			"2026-03-01T00:00:01Z/2026-03-01T00:00:02Z",
		}},
		{"empty range", "2026-03-02", "2026-03-02", 24 * time.Hour, []string{
			"--to 2026-03-02T00:00:00Z is not after --from 2026-03-02T00:00:00Z",
		}},
		{"reversed range", "2026-03-02", "2026-03-01", 24 * time.Hour, []string{
			"--to 2026-03-01T00:00:00Z is not after --from 2026-03-02T00:00:00Z",
		}},
		{"no slice length", "2026-03-01", "2026-03-02", 0, []string{"--slice must be positive"}},
		{"too many slices", "2026-01-01", "2027-01-01", time.Minute, []string{
			"--slice 1m cuts 2026-01-01T00:00:00Z to 2027-01-01T00:00:00Z into more than 100000 slices",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slices, err := Split(mustTime(t, tc.from), mustTime(t, tc.to), tc.every)
			var got []string
			if err != nil {
				got = []string{err.Error()}
			}
			for _, s := range slices {
				got = append(got, s.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, to, want string }{
		{"2026-03-01", "2026-03-02", "2026-03-01"},
		{"2026-03-01", "2026-03-03", "2026-03-01T00:00:00Z/2026-03-03T00:00:00Z"},
		{"2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z", "2026-03-01T06:00:00Z/2026-03-02T06:00:00Z"},
		{"2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z", "2026-03-01T00:00:00Z/2026-03-01T01:00:00Z"},
	} {
		s := Slice{From: mustTime(t, tc.from), To: mustTime(t, tc.to)}
		if got := s.Label(); got != tc.want {
			t.Errorf("Label of %s = %q, want %q", s, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"2026-03-01", "2026-03-01T00:00:00Z"},
		{"2026-03-01T10:30:00Z", "2026-03-01T10:30:00Z"},
		{"2026-03-01T10:30:00+02:00", "2026-03-01T08:30:00Z"},
		{"2026-03-01T10:30:00.25Z", "2026-03-01T10:30:00.25Z"},
		{"2026-3-1", `"2026-3-1" is not an RFC 3339 timestamp (2026-03-01T00:00:00Z) or a date (2026-03-01)`},
		{"yesterday", `"yesterday" is not an RFC 3339 timestamp (2026-03-01T00:00:00Z) or a date (2026-03-01)`},
	} {
		got, err := ParseTime(tc.in)
		text := formatTime(got)
		if err != nil {
			text = err.Error()
		}
		if text != tc.want {
			t.Errorf("ParseTime(%q) = %s, want %s", tc.in, text, tc.want)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
