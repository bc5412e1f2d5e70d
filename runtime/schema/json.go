package schema

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// reader scans one JSON document held in data. It validates as it goes
// (RFC 8259, as strict as encoding/json) and never builds a tree: the
// decoder pulls keys and values from it and converts them straight into
// record values.
type reader struct {
	data  []byte
	pos   int
	buf   []byte // unescaped strings; valid until the next call of str
	depth int
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// maxDepth bounds the nesting of objects and arrays in one payload.
const maxDepth = 1000

// syntaxError is a JSON syntax error at a byte offset of the payload.
type syntaxError struct {
	off int // 0-based offset of the offending byte (len(data) at the end)
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.off+1) + ": " + e.msg
}

func (r *reader) reset(data []byte) {
	r.data = data
	r.pos = 0
	r.depth = 0
}

func (r *reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// fail reports the byte at r.pos (or the end of input) as unexpected.
func (r *reader) fail(context string) error {
	if r.pos >= len(r.data) {
		return &syntaxError{off: len(r.data), msg: "unexpected end of input"}
	}
	return &syntaxError{off: r.pos, msg: "invalid character " + quoteChar(r.data[r.pos]) + " " + context}
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < utf8.RuneSelf:
		s := strconv.QuoteRune(rune(c))
		return "'" + s[1:len(s)-1] + "'"
	default:
		return "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
}

// expect consumes c after optional white space.
func (r *reader) expect(c byte, context string) error {
	r.ws()
	if r.pos < len(r.data) && r.data[r.pos] == c {
		r.pos++
		return nil
	}
	return r.fail(context)
}

// next consumes white space, then one of the two bytes, and reports which.
func (r *reader) next(end byte, context string) (more bool, err error) {
	r.ws()
	if r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ',':
			r.pos++
			r.ws()
			return true, nil
		case end:
			r.pos++
			return false, nil
		}
	}
	return false, r.fail(context)
}

// enter starts an object or array at r.pos (its opening byte) and
// reports whether it is empty, consuming the closing byte if so. The
// caller calls leave when the container is closed, empty or not.
func (r *reader) enter(end byte) (empty bool, err error) {
	r.depth++
	if r.depth > maxDepth {
		return false, &syntaxError{off: r.pos, msg: "nesting too deep"}
	}
	r.pos++
	r.ws()
	if r.pos < len(r.data) && r.data[r.pos] == end {
		r.pos++
		return true, nil
	}
	return false, nil
}

func (r *reader) leave() { r.depth-- }

// key reads an object key and the colon after it.
func (r *reader) key() ([]byte, error) {
	if r.pos >= len(r.data) || r.data[r.pos] != '"' {
		return nil, r.fail("looking for beginning of object key string")
	}
	k, err := r.str()
	if err != nil {
		return nil, err
	}
	if err := r.expect(':', "after object key"); err != nil {
		return nil, err
	}
	r.ws()
	return k, nil
}

// str reads a string at r.pos (which holds '"'). The result aliases the
// input when the string has no escapes and is valid UTF-8, and r.buf
// otherwise; either way it is only valid until the next call. Invalid
// UTF-8 is replaced by U+FFFD, as encoding/json does.
func (r *reader) str() ([]byte, error) {
	start := r.pos + 1
	i := start
	d := r.data
	// Eight bytes at a time, find the first that is '"', '\\', a control
	// character or not ASCII; the lowest flagged byte is exact.
	for i+8 <= len(d) {
		w := binary.LittleEndian.Uint64(d[i:])
		q := w ^ (lsb * '"')
		bs := w ^ (lsb * '\\')
		m := ((q - lsb) &^ q) | ((bs - lsb) &^ bs) | ((w - lsb*0x20) &^ w) | w
		if m &= msb; m != 0 {
			i += bits.TrailingZeros64(m) / 8
			break
		}
		i += 8
	}
	for i < len(r.data) {
		c := r.data[i]
		if c == '"' {
			r.pos = i + 1
			return r.data[start:i], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return r.strSlow(start, i)
		}
		i++
	}
	r.pos = len(r.data)
	return nil, r.fail("")
}

func (r *reader) strSlow(start, i int) ([]byte, error) {
	b := append(r.buf[:0], r.data[start:i]...)
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			r.pos = i + 1
			r.buf = b
			return b, nil
		case c < 0x20:
			r.pos = i
			return nil, r.fail("in string literal")
		case c == '\\':
			i++
			if i >= len(r.data) {
				r.pos = i
				return nil, r.fail("")
			}
			switch c := r.data[i]; c {
			case '"', '\\', '/':
				b = append(b, c)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				ru, n, err := r.hex4(i + 1)
				if err != nil {
					return nil, err
				}
				i += n
				if utf16.IsSurrogate(ru) {
					ru2 := rune(-1)
					if i+2 < len(r.data) && r.data[i+1] == '\\' && r.data[i+2] == 'u' {
						if v, _, err := r.hex4(i + 3); err == nil {
							ru2 = v
						}
					}
					if dec := utf16.DecodeRune(ru, ru2); dec != utf8.RuneError {
						ru = dec
						i += 6
					} else {
						ru = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, ru)
			default:
				r.pos = i
				return nil, r.fail("in string escape code")
			}
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			ru, w := utf8.DecodeRune(r.data[i:])
			if ru == utf8.RuneError && w == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, r.data[i:i+w]...)
			}
			i += w
		}
	}
	r.pos = len(r.data)
	r.buf = b
	return nil, r.fail("")
}

// hex4 reads the four hex digits of a \u escape starting at i.
func (r *reader) hex4(i int) (rune, int, error) {
	var v rune
	for j := range 4 {
		if i+j >= len(r.data) {
			r.pos = len(r.data)
			return 0, 0, r.fail("")
		}
		c := r.data[i+j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			r.pos = i + j
			return 0, 0, r.fail("in \\u hexadecimal character escape")
		}
		v = v<<4 | rune(c)
	}
	return v, 4, nil
}

// num reads a number at r.pos and reports whether it is an integer
// (no fraction, no exponent). The result aliases the input.
func (r *reader) num() (b []byte, isInt bool, err error) {
	d := r.data
	start := r.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		r.pos = i
		return nil, false, r.fail("")
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i++
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		r.pos = i
		return nil, false, r.fail("in numeric literal")
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			r.pos = i
			return nil, false, r.fail("after decimal point in numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			r.pos = i
			return nil, false, r.fail("in exponent of numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	r.pos = i
	return d[start:i], isInt, nil
}

// lit reads the literal true, false or null whose first byte is at r.pos.
func (r *reader) lit(word string) error {
	for j := 1; j < len(word); j++ {
		if r.pos+j >= len(r.data) {
			r.pos += j
			return r.fail("")
		}
		if r.data[r.pos+j] != word[j] {
			r.pos += j
			return r.fail("in literal " + word + " (expecting " + quoteChar(word[j]) + ")")
		}
	}
	r.pos += len(word)
	return nil
}

// skip reads and discards one value.
func (r *reader) skip() error {
	if r.pos >= len(r.data) {
		return r.fail("")
	}
	switch c := r.data[r.pos]; c {
	case '"':
		_, err := r.str()
		return err
	case '{':
		empty, err := r.enter('}')
		if err != nil {
			return err
		}
		for !empty {
			if _, err := r.key(); err != nil {
				return err
			}
			if err := r.skip(); err != nil {
				return err
			}
			more, err := r.next('}', "after object key:value pair")
			if err != nil {
				return err
			}
			empty = !more
		}
		r.leave()
		return nil
	case '[':
		empty, err := r.enter(']')
		if err != nil {
			return err
		}
		for !empty {
			if err := r.skip(); err != nil {
				return err
			}
			more, err := r.next(']', "after array element")
			if err != nil {
				return err
			}
			empty = !more
		}
		r.leave()
		return nil
	case 't':
		return r.lit("true")
	case 'f':
		return r.lit("false")
	case 'n':
		return r.lit("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			_, _, err := r.num()
			return err
		}
		return r.fail("looking for beginning of value")
	}
}

// end checks that only white space follows the top-level value.
func (r *reader) end() error {
	r.ws()
	if r.pos < len(r.data) {
		return r.fail("after top-level value")
	}
	return nil
}

// parseInt parses the text of a JSON integer (or of a decimal integer in
// text: optional sign, digits) into an int64.
func parseInt[T text](b T) (int64, bool) {
	neg := false
	i := 0
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	if i >= len(b) {
		return 0, false
	}
	for i < len(b)-1 && b[i] == '0' {
		i++
	}
	if len(b)-i > 19 {
		return 0, false
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// text is the two forms text comes in: strings (CSV cells, Go values)
// and bytes (payloads).
type text interface{ ~string | ~[]byte }

// b2s views b as a string without copying, for parse functions that do
// not keep their argument. The result must not outlive the call it is
// passed to, nor b be changed meanwhile.
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses the text of a JSON number. Numbers of at most 15
// significant digits and a small exponent are exact in float64, and so
// is one multiplication or division by an exact power of ten (Clinger's
// fast path); the rest go to strconv.
func parseFloat(b []byte) (float64, error) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i++
	}
	var m uint64
	nd, exp := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if m != 0 || b[i] != '0' {
			nd++
		}
		m = m*10 + uint64(b[i]-'0')
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if m != 0 || b[i] != '0' {
				nd++
			}
			m = m*10 + uint64(b[i]-'0')
			exp--
		}
	}
	if i == len(b) && nd <= 15 && exp >= -22 {
		f := float64(m)
		if exp < 0 {
			f /= pow10f[-exp]
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	return strconv.ParseFloat(b2s(b), 64)
}
