package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLinesTable checks the line index against the YAML scanner's idea of
// a line break.
func TestLinesTable(t *testing.T) {
	tests := []struct {
		src       string
		wantLines []string
	}{
		{"", []string{""}},
		{"a", []string{"a"}},
		{"a\n", []string{"a", ""}},
		{"a\r\nb", []string{"a", "b"}},
		{"a\rb\n", []string{"a", "b", ""}},
		{"a\u2028b\u0085c", []string{"a", "b", "c"}},
		{"\xEF\xBB\xBFa\nb", []string{"a", "b"}},
	}
	for _, tt := range tests {
		lt := newLines([]byte(tt.src))
		var got []string
		for i := 1; i <= lt.count(); i++ {
			got = append(got, string(lt.text(i)))
		}
		if diff := cmp.Diff(tt.wantLines, got); diff != "" {
			t.Errorf("lines of %q (-want +got):\n%s", tt.src, diff)
		}
	}
	lt := newLines([]byte("ab\nxéy z\n"))
	for _, c := range []struct{ line, col, want int }{
		{1, 1, 1}, {1, 3, 3}, {2, 2, 2}, {2, 3, 4}, {2, 4, 5}, {2, 6, 7}, {2, 9, 10}, {9, 4, 4},
	} {
		if got := lt.byteCol(c.line, c.col); got != c.want {
			t.Errorf("byteCol(%d, %d) = %d, want %d", c.line, c.col, got, c.want)
		}
	}
	for _, c := range []struct{ off, line, col int }{{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {8, 2, 6}} {
		if line, col := lt.position(c.off); line != c.line || col != c.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", c.off, line, col, c.line, c.col)
		}
	}
}
