// Package bin reads the binary encodings of operator state: varints,
// little-endian words and length-prefixed bytes, as the window operator's
// snapshots and the aggregates' states write them.
package bin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated reports input that ends early.
var ErrTruncated = errors.New("truncated")

// Reader reads B. The first error sticks in Err: later reads return zero
// values, and callers check Err (or Done) once.
type Reader struct {
	B   []byte
	Err error
}

// Fail records err, unless an error is recorded already, and drops the
// rest of the input.
func (r *Reader) Fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
	r.B = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.B) == 0 {
		r.Fail(ErrTruncated)
		return 0
	}
	c := r.B[0]
	r.B = r.B[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if len(r.B) > 0 && r.B[0] < 0x80 {
		v := uint64(r.B[0])
		r.B = r.B[1:]
		return v
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Fail(ErrTruncated)
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a zigzag-encoded signed varint.
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// U64 reads a little-endian 64-bit word.
func (r *Reader) U64() uint64 {
	if len(r.B) < 8 {
		r.Fail(ErrTruncated)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.B)
	r.B = r.B[8:]
	return v
}

// Bytes returns the next n bytes, not copied.
func (r *Reader) Bytes(n uint64) []byte {
	if n > uint64(len(r.B)) {
		r.Fail(ErrTruncated)
		return nil
	}
	b := r.B[:n:n]
	r.B = r.B[n:]
	return b
}

// Count reads a number of items that take at least size bytes each; a
// number the rest of the input cannot hold is an error, so that damaged
// input never makes the caller allocate much.
func (r *Reader) Count(size int) int {
	n := r.Uvarint()
	if n > uint64(len(r.B)/size) {
		r.Fail(ErrTruncated)
		return 0
	}
	return int(n)
}

// Done reports the first error, or bytes left over.
func (r *Reader) Done() error {
	if r.Err == nil && len(r.B) > 0 {
		return fmt.Errorf("%d bytes left over", len(r.B))
	}
	return r.Err
}
