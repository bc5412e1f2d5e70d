package config

import (
	"bytes"
	"unicode/utf8"
)

// lines indexes the lines of a source file the way the YAML scanner counts
// them: "\r\n", "\r", "\n", NEL, LS and PS all end a line. A leading UTF-8
// byte order mark is not part of line 1, as the scanner skips it.
type lines struct {
	src    []byte
	starts []int // byte offset of the start of each line
	ends   []int // byte offset of the end of each line, before its break
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func newLines(src []byte) *lines {
	t := &lines{src: src}
	start := 0
	if bytes.HasPrefix(src, bom) {
		start = len(bom)
	}
	for i := start; i < len(src); {
		n := breakLen(src[i:])
		if n == 0 {
			i++
			continue
		}
		t.starts = append(t.starts, start)
		t.ends = append(t.ends, i)
		i += n
		start = i
	}
	t.starts = append(t.starts, start)
	t.ends = append(t.ends, len(src))
	return t
}

// breakLen is the length of the line break at the start of b, or 0.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\n':
		return 1
	case b[0] == '\r':
		if len(b) > 1 && b[1] == '\n' {
			return 2
		}
		return 1
	case bytes.HasPrefix(b, []byte("\u0085")):
		return 2
	case bytes.HasPrefix(b, []byte("\u2028")), bytes.HasPrefix(b, []byte("\u2029")):
		return 3
	}
	return 0
}

// count is the number of lines; a file ending in a line break has an empty
// last line.
func (t *lines) count() int { return len(t.starts) }

// text is line n (1-based) without its break, or nil when out of range.
func (t *lines) text(n int) []byte {
	if n < 1 || n > len(t.starts) {
		return nil
	}
	return t.src[t.starts[n-1]:t.ends[n-1]]
}

// byteCol converts a 1-based column counted in characters, as the YAML
// scanner counts, to a 1-based column counted in bytes.
func (t *lines) byteCol(line, col int) int {
	text := t.text(line)
	if text == nil || col < 1 {
		return col
	}
	off := 0
	for c := 1; c < col; c++ {
		if off >= len(text) {
			return off + 1 + (col - c)
		}
		_, size := utf8.DecodeRune(text[off:])
		off += size
	}
	return off + 1
}

// offset is the byte offset in the source of a 1-based line and byte
// column, or -1 when the line does not exist.
func (t *lines) offset(line, col int) int {
	if line < 1 || line > len(t.starts) || col < 1 {
		return -1
	}
	off := t.starts[line-1] + col - 1
	if off > len(t.src) {
		return len(t.src)
	}
	return off
}

// position converts a byte offset to a 1-based line and byte column.
func (t *lines) position(off int) (line, col int) {
	// Binary search for the last line starting at or before off.
	lo, hi := 0, len(t.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if t.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, off - t.starts[lo] + 1
}
