package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/encoding/protowire"
)

// maxDepth bounds the nesting of lists and maps a Reader decodes, as
// protobuf's own decoder does, so that hostile input cannot exhaust the
// stack.
const maxDepth = 10000

// errDepth is the error of a value nested deeper than maxDepth.
var errDepth = errors.New("values nested too deeply")

// Reader reads the fields of one protobuf message in turn. The message's
// bytes may be reused once it is decoded, so what a Reader returns is
// copied: strings one by one, byte values into one arena per message with
// their capacity cut to their length, so that appending to one never
// overwrites its neighbours.
type Reader struct {
	b     []byte
	st    *state
	depth int
}

// NewReader returns a Reader of the message encoded in b. absent is the
// value Value returns for an absent field.
func NewReader(b []byte, absent any) Reader {
	return Reader{b: b, st: &state{absent: absent, size: len(b)}}
}

// state is what the readers of one message share.
type state struct {
	absent any
	// arena holds copies of byte values. Its first chunk is as large as
	// the whole message, so one allocation holds every copy.
	arena []byte
	size  int
	// strings caches short string values, boxed, so that a value repeated
	// from record to record (a country, a status) costs no allocation
	// after the first. It is direct-mapped by hash: a new string takes
	// the slot of whatever was there.
	strings *[stringSlots]cached
}

// stringSlots is the size of the string cache, and maxCached the length
// of the longest string it holds.
const (
	stringSlots = 256
	maxCached   = 32
)

type cached struct {
	s string
	v any
}

// seed seeds the string cache's hash.
var seed = maphash.MakeSeed()

func (st *state) copy(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if len(b) > cap(st.arena)-len(st.arena) {
		st.arena = make([]byte, 0, max(len(b), st.size))
	}
	n := len(st.arena)
	st.arena = append(st.arena, b...)
	return st.arena[n:len(st.arena):len(st.arena)]
}

// stringValue returns b as a string in an interface, the same one for
// equal short strings seen recently.
func (st *state) stringValue(b []byte) any {
	if len(b) > maxCached {
		return string(b)
	}
	if st.strings == nil {
		st.strings = new([stringSlots]cached)
	}
	c := &st.strings[maphash.Bytes(seed, b)%stringSlots]
	if c.v != nil && c.s == string(b) {
		return c.v
	}
	c.s = string(b)
	c.v = c.s
	return c.v
}

// Done reports whether every field was read.
func (r *Reader) Done() bool { return len(r.b) == 0 }

// Next reads the next field's tag.
func (r *Reader) Next() (protowire.Number, protowire.Type, error) {
	if len(r.b) > 0 && r.b[0] < 0x80 && r.b[0] >= 1<<3 {
		// A one-byte tag: field numbers 1 to 15.
		t := r.b[0]
		r.b = r.b[1:]
		return protowire.Number(t >> 3), protowire.Type(t & 7), nil
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		return 0, 0, malformed(n)
	}
	r.b = r.b[n:]
	return num, typ, nil
}

// Skip skips the value of a field of type typ that the reader does not
// know.
func (r *Reader) Skip(num protowire.Number, typ protowire.Type) error {
	n := protowire.ConsumeFieldValue(num, typ, r.b)
	if n < 0 {
		return malformed(n)
	}
	r.b = r.b[n:]
	return nil
}

// Varint reads a varint field's value.
func (r *Reader) Varint(typ protowire.Type) (uint64, error) {
	if typ != protowire.VarintType {
		return 0, wrongType(typ)
	}
	if len(r.b) > 0 && r.b[0] < 0x80 {
		v := uint64(r.b[0])
		r.b = r.b[1:]
		return v, nil
	}
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		return 0, malformed(n)
	}
	r.b = r.b[n:]
	return v, nil
}

// Fixed64 reads a fixed64 field's value.
func (r *Reader) Fixed64(typ protowire.Type) (uint64, error) {
	if typ != protowire.Fixed64Type {
		return 0, wrongType(typ)
	}
	v, n := protowire.ConsumeFixed64(r.b)
	if n < 0 {
		return 0, malformed(n)
	}
	r.b = r.b[n:]
	return v, nil
}

// CopyBytes reads a bytes field's value, copied into the arena.
func (r *Reader) CopyBytes(typ protowire.Type) ([]byte, error) {
	v, err := r.Bytes(typ)
	if err != nil {
		return nil, err
	}
	return r.st.copy(v), nil
}

// Bytes reads a length-delimited field's value, aliasing the message: it
// is valid only as long as the message's bytes are.
func (r *Reader) Bytes(typ protowire.Type) ([]byte, error) {
	if typ != protowire.BytesType {
		return nil, wrongType(typ)
	}
	if len(r.b) > 0 && r.b[0] < 0x80 && int(r.b[0]) < len(r.b) {
		// A one-byte length.
		n := int(r.b[0])
		v := r.b[1 : 1+n : 1+n]
		r.b = r.b[1+n:]
		return v, nil
	}
	v, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		return nil, malformed(n)
	}
	r.b = r.b[n:]
	return v, nil
}

// String reads a string field's value.
func (r *Reader) String(typ protowire.Type) (string, error) {
	v, err := r.Bytes(typ)
	return string(v), err
}

// Message reads a nested message field and returns its reader.
func (r *Reader) Message(typ protowire.Type) (Reader, error) {
	v, err := r.Bytes(typ)
	return Reader{b: v, st: r.st, depth: r.depth}, err
}

// Value reads a field holding a flowctl.plugin.v1.Value.
func (r *Reader) Value(typ protowire.Type) (any, error) {
	body, err := r.Bytes(typ)
	if err != nil {
		return nil, err
	}
	if v, ok := r.scalar(body); ok {
		return v, nil
	}
	m := Reader{b: body, st: r.st, depth: r.depth}
	return m.valueBody()
}

// scalar decodes the common Values, one scalar field with a one-byte tag,
// without the general loop.
func (r *Reader) scalar(body []byte) (any, bool) {
	if len(body) < 2 {
		return nil, false
	}
	switch body[0] {
	case valueInt<<3 | byte(protowire.VarintType):
		if body[1] < 0x80 && len(body) == 2 {
			return protowire.DecodeZigZag(uint64(body[1])), true
		}
		if v, n := protowire.ConsumeVarint(body[1:]); n == len(body)-1 {
			return protowire.DecodeZigZag(v), true
		}
	case valueString<<3 | byte(protowire.BytesType):
		if body[1] < 0x80 && int(body[1]) == len(body)-2 {
			return r.st.stringValue(body[2:]), true
		}
	case valueDouble<<3 | byte(protowire.Fixed64Type):
		if len(body) == 9 {
			return math.Float64frombits(binary.LittleEndian.Uint64(body[1:])), true
		}
	case valueTimestamp<<3 | byte(protowire.Fixed64Type):
		if len(body) == 9 {
			return time.Unix(0, int64(binary.LittleEndian.Uint64(body[1:]))).UTC(), true
		}
	case valueBool<<3 | byte(protowire.VarintType):
		if len(body) == 2 && body[1] < 0x80 {
			return body[1] != 0, true
		}
	case valueNull<<3 | byte(protowire.VarintType):
		if len(body) == 2 && body[1] < 0x80 {
			return nil, true
		}
	}
	return nil, false
}

// valueBody decodes the Value message r holds. As protobuf does for a
// oneof, the last kind set wins; a Value with none is null.
func (r *Reader) valueBody() (any, error) {
	var v any
	for !r.Done() {
		num, typ, err := r.Next()
		if err != nil {
			return nil, err
		}
		switch num {
		case valueNull, valueAbsent:
			if _, err := r.Varint(typ); err != nil {
				return nil, err
			}
			v = nil
			if num == valueAbsent {
				v = r.st.absent
			}
		case valueBool:
			x, err := r.Varint(typ)
			if err != nil {
				return nil, err
			}
			v = x != 0
		case valueInt:
			x, err := r.Varint(typ)
			if err != nil {
				return nil, err
			}
			v = protowire.DecodeZigZag(x)
		case valueDouble:
			x, err := r.Fixed64(typ)
			if err != nil {
				return nil, err
			}
			v = math.Float64frombits(x)
		case valueString:
			b, err := r.Bytes(typ)
			if err != nil {
				return nil, err
			}
			v = r.st.stringValue(b)
		case valueBytes:
			b, err := r.CopyBytes(typ)
			if err != nil {
				return nil, err
			}
			v = b
		case valueTimestamp:
			x, err := r.Fixed64(typ)
			if err != nil {
				return nil, err
			}
			v = time.Unix(0, int64(x)).UTC()
		case valueWideTime:
			t, err := r.WideTime(typ)
			if err != nil {
				return nil, err
			}
			v = t
		case valueDuration:
			x, err := r.Varint(typ)
			if err != nil {
				return nil, err
			}
			v = time.Duration(protowire.DecodeZigZag(x))
		case valueDecimal:
			b, err := r.Bytes(typ)
			if err != nil {
				return nil, err
			}
			d, err := decimal.NewFromString(string(b))
			if err != nil {
				return nil, fmt.Errorf("decimal %q: %w", b, err)
			}
			v = d
		case valueList:
			m, err := r.nested(typ)
			if err != nil {
				return nil, err
			}
			if v, err = m.list(); err != nil {
				return nil, err
			}
		case valueMap:
			m, err := r.nested(typ)
			if err != nil {
				return nil, err
			}
			if v, err = m.mapValue(); err != nil {
				return nil, err
			}
		default:
			if err := r.Skip(num, typ); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// nested reads a list or a map one level deeper.
func (r *Reader) nested(typ protowire.Type) (Reader, error) {
	if r.depth >= maxDepth {
		return Reader{}, errDepth
	}
	m, err := r.Message(typ)
	m.depth++
	return m, err
}

func (r *Reader) list() ([]any, error) {
	l := []any{}
	for !r.Done() {
		num, typ, err := r.Next()
		if err != nil {
			return nil, err
		}
		if num != listValues {
			if err := r.Skip(num, typ); err != nil {
				return nil, err
			}
			continue
		}
		v, err := r.Value(typ)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

func (r *Reader) mapValue() (map[string]any, error) {
	var keys []string
	var values []any
	for !r.Done() {
		num, typ, err := r.Next()
		if err != nil {
			return nil, err
		}
		switch num {
		case mapKeys:
			k, err := r.String(typ)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		case mapValues:
			v, err := r.Value(typ)
			if err != nil {
				return nil, err
			}
			values = append(values, v)
		default:
			if err := r.Skip(num, typ); err != nil {
				return nil, err
			}
		}
	}
	if len(keys) != len(values) {
		return nil, fmt.Errorf("map with %d keys and %d values", len(keys), len(values))
	}
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = values[i]
	}
	return m, nil
}

// WideTime reads a field holding a flowctl.plugin.v1.WideTime.
func (r *Reader) WideTime(typ protowire.Type) (time.Time, error) {
	m, err := r.Message(typ)
	if err != nil {
		return time.Time{}, err
	}
	var sec, nsec int64
	for !m.Done() {
		num, typ, err := m.Next()
		if err != nil {
			return time.Time{}, err
		}
		switch num {
		case wideSeconds, wideNanos:
			x, err := m.Varint(typ)
			if err != nil {
				return time.Time{}, err
			}
			if num == wideSeconds {
				sec = protowire.DecodeZigZag(x)
			} else {
				nsec = int64(int32(x))
			}
		default:
			if err := m.Skip(num, typ); err != nil {
				return time.Time{}, err
			}
		}
	}
	if nsec < 0 || nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("timestamp nanoseconds %d out of range", nsec)
	}
	t := time.Unix(sec, nsec).UTC()
	if t.Unix() != sec {
		return time.Time{}, fmt.Errorf("timestamp seconds %d out of range", sec)
	}
	return t, nil
}

// malformed turns a protowire parse error code into an error.
func malformed(n int) error {
	return fmt.Errorf("malformed protobuf: %w", protowire.ParseError(n))
}

func wrongType(typ protowire.Type) error {
	return fmt.Errorf("malformed protobuf: unexpected wire type %d", typ)
}
