package bin

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendUvarint(b, uint64(-5<<1^(-5>>63))) // zigzag -5
	b = binary.LittleEndian.AppendUint64(b, 1<<40)
	b = binary.AppendUvarint(b, 2)
	b = append(b, "ab"...)
	r := Reader{B: b}
	if got := r.Byte(); got != 7 {
		t.Errorf("Byte = %d", got)
	}
	if got := r.Uvarint(); got != 300 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := r.Varint(); got != -5 {
		t.Errorf("Varint = %d", got)
	}
	if got := r.U64(); got != 1<<40 {
		t.Errorf("U64 = %d", got)
	}
	if got := string(r.Bytes(uint64(r.Count(1)))); got != "ab" {
		t.Errorf("Bytes = %q", got)
	}
	if err := r.Done(); err != nil {
		t.Errorf("Done = %v", err)
	}
}

// TestReaderDamaged: every read past the end, and a count the rest cannot
// hold, fail with ErrTruncated, which sticks; Done reports left-overs.
func TestReaderDamaged(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(*Reader)
	}{
		{"byte", nil, func(r *Reader) { r.Byte() }},
		{"uvarint", []byte{0x80}, func(r *Reader) { r.Uvarint() }},
		{"u64", []byte{1, 2, 3}, func(r *Reader) { r.U64() }},
		{"bytes", []byte{1}, func(r *Reader) { r.Bytes(2) }},
		{"count", []byte{200, 1, 0, 0}, func(r *Reader) { r.Count(2) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Reader{B: tc.in}
			tc.read(&r)
			r.Fail(errors.New("later"))
			if !errors.Is(r.Done(), ErrTruncated) || r.Byte() != 0 {
				t.Errorf("Done = %v; want ErrTruncated, and zero values after it", r.Done())
			}
		})
	}
	r := Reader{B: []byte{1, 2}}
	r.Byte()
	if err := r.Done(); err == nil || err.Error() != "1 bytes left over" {
		t.Errorf("Done with a byte left = %v", err)
	}
}
