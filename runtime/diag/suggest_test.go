package diag

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"name", "from", "filter", "map", "aggregate", "window", "group_by"}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"filtr", "filter", true},
		{"form", "from", true}, // a swap is one edit
		{"Name", "name", true}, // case is ignored
		{"grop_by", "group_by", true},
		{"aggregates", "aggregate", true},
		{"xyz", "", false},
		{"windw", "window", true},
		{"mpa", "map", true},
		{"ma", "map", true},
		{"grouping", "", false}, // three edits for eight letters is too many
	}
	for _, tt := range tests {
		got, ok := Closest(tt.in, keys)
		if got != tt.want && tt.ok || ok != tt.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
