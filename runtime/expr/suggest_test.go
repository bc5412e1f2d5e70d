package expr

import "testing"

func TestSuggest(t *testing.T) {
	t.Parallel()
	names := []string{"amount", "store_id", "event_time", "upper", "sum", "avg"}
	tests := []struct{ name, want string }{
		{"amout", ` (did you mean "amount"?)`},
		{"stor_id", ` (did you mean "store_id"?)`},
		{"eventtime", ` (did you mean "event_time"?)`},
		{"uppr", ` (did you mean "upper"?)`},
		{"summ", ` (did you mean "sum"?)`},
		{"avg", ``}, // an exact match is no suggestion
		{"x", ``},
		{"zzzzzz", ``},
		{"store", ``},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, names); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"amout", "amount", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
