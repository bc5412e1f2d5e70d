package schema

import (
	"bytes"
	"testing"
	"time"
)

func TestParseRFC3339(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC, or "" when the fast path declines
	}{
		{"2026-03-17T23:58:00Z", "2026-03-17T23:58:00Z"},
		{"2026-03-17t23:58:00z", "2026-03-17T23:58:00Z"},
		{"2026-03-17T23:58:00.1Z", "2026-03-17T23:58:00.1Z"},
		{"2026-03-17T23:58:00.123456789Z", "2026-03-17T23:58:00.123456789Z"},
		{"2026-03-17T23:58:00+05:30", "2026-03-17T18:28:00Z"},
		{"2026-03-17T23:58:00-23:59", "2026-03-18T23:57:00Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
		{"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"},
		{"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"1900-02-29T00:00:00Z", ""},
		{"2026-04-31T00:00:00Z", ""},
		{"2026-00-10T00:00:00Z", ""},
		{"2026-03-17T24:00:00Z", ""},
		{"2026-03-17T23:60:00Z", ""},
		{"2026-03-17T23:58:60Z", ""},
		{"2026-03-17T23:58:00", ""},
		{"2026-03-17T23:58:00.Z", ""},
		{"2026-03-17T23:58:00.1234567891Z", ""},
		{"2026-03-17T23:58:00+0530", ""},
		{"2026-03-17T23:58:00+24:00", ""},
		{"2026-03-17 23:58:00Z", ""},
		{"2026-3-17T23:58:00Z", ""},
		{"2026-03-17T23:58:00Zjunk", ""},
	}
	for _, tt := range tests {
		got, ok := parseRFC3339([]byte(tt.in))
		if tt.want == "" {
			if ok {
				t.Errorf("parseRFC3339(%q) = %v, want decline", tt.in, got)
			}
			continue
		}
		if !ok || got.Format(time.RFC3339Nano) != tt.want || got.Location() != time.UTC {
			t.Errorf("parseRFC3339(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzParseRFC3339 checks that the fast path agrees with time.Parse
// whenever it accepts.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2026-03-17T23:58:00Z", "2024-02-29T12:00:00.123+01:00", "1999-12-31T23:59:59.999999999-12:30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339([]byte(s))
		if !ok {
			return
		}
		b := []byte(s)
		if len(b) > 10 {
			b[10] = bytes.ToUpper(b[10:11])[0]
		}
		b = bytes.Replace(b, []byte("z"), []byte("Z"), 1)
		want, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			t.Fatalf("fast path accepted %q, time.Parse: %v", s, err)
		}
		if !got.Equal(want) {
			t.Fatalf("parseRFC3339(%q) = %v, time.Parse = %v", s, got, want)
		}
	})
}
