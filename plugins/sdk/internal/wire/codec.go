package wire

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Encoded is a hot message already encoded as protobuf, held in a pooled
// buffer that gRPC recycles once it has sent it. It is sent once.
type Encoded struct{ buf *[]byte }

// Encode encodes a message with appendTo, which appends the message's
// protobuf encoding to the buffer it is given.
func Encode(appendTo func(b []byte) ([]byte, error)) (*Encoded, error) {
	buf := pool.Get(0)
	b, err := appendTo((*buf)[:0])
	if err != nil {
		pool.Put(buf)
		return nil, err
	}
	*buf = b
	return &Encoded{buf: buf}, nil
}

// Bytes returns the encoding, until the message is sent.
func (e *Encoded) Bytes() []byte {
	if e.buf == nil {
		return nil
	}
	return *e.buf
}

// Parts is a hot message sent as encoded parts one after the other: the
// first as it is, each other one as field num of the message, a nested
// message. The parts are not copied together. It is sent once.
type Parts struct {
	first *Encoded
	num   protowire.Number
	rest  []*Encoded
}

// NewParts returns the message of first followed by each of rest as field
// num.
func NewParts(first *Encoded, num protowire.Number, rest ...*Encoded) *Parts {
	return &Parts{first: first, num: num, rest: rest}
}

// buffers returns the message's buffers, handing the parts' buffers over
// to gRPC, which recycles them once it has sent them.
func (p *Parts) buffers() (mem.BufferSlice, error) {
	first, err := p.first.take()
	if err != nil {
		return nil, err
	}
	out := make(mem.BufferSlice, 0, 1+2*len(p.rest))
	out = append(out, first)
	for _, e := range p.rest {
		hdr := protowire.AppendTag(make([]byte, 0, 16), p.num, protowire.BytesType)
		hdr = protowire.AppendVarint(hdr, uint64(len(e.Bytes())))
		b, err := e.take()
		if err != nil {
			out.Free()
			return nil, err
		}
		out = append(out, mem.SliceBuffer(hdr), b)
	}
	return out, nil
}

// take hands the encoding over as a buffer gRPC recycles once sent.
func (e *Encoded) take() (mem.Buffer, error) {
	if e.buf == nil {
		return nil, errors.New("wire: encoded message sent twice")
	}
	buf := e.buf
	e.buf = nil
	return mem.NewBuffer(buf, pool), nil
}

// Unmarshaler is implemented by the hot messages that decode themselves
// from protobuf wire bytes.
type Unmarshaler interface {
	// UnmarshalWire decodes b, which is valid only during the call: what
	// the message keeps of it (payloads) it copies.
	UnmarshalWire(b []byte) error
}

// Codec is the gRPC codec of both ends: an Encoded message or Parts is
// sent as it is, an Unmarshaler decodes itself, and any other message goes through
// gRPC's protobuf codec. It is named "proto" because what it writes is protobuf, so a
// plugin in another language sees ordinary gRPC.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return protocodec.Name }

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch v := v.(type) {
	case *Encoded:
		b, err := v.take()
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{b}, nil
	case *Parts:
		return v.buffers()
	}
	return protoCodec().Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	u, ok := v.(Unmarshaler)
	if !ok {
		return protoCodec().Unmarshal(data, v)
	}
	if len(data) == 1 {
		return u.UnmarshalWire(data[0].ReadOnlyData())
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return u.UnmarshalWire(buf.ReadOnlyData())
}

func protoCodec() encoding.CodecV2 {
	c := encoding.GetCodecV2(protocodec.Name)
	if c == nil {
		// grpc/encoding/proto registers it when initialized, and this
		// package imports it.
		panic(fmt.Sprintf("wire: no %q codec registered", protocodec.Name))
	}
	return c
}

// pool recycles the buffers of encoded hot messages once gRPC has sent
// them.
var pool = &bufferPool{}

// bufferPool is a mem.BufferPool of growable buffers.
type bufferPool struct{ p sync.Pool }

var _ mem.BufferPool = (*bufferPool)(nil)

// maxPooled is the capacity of the largest buffer kept for reuse.
const maxPooled = 16 << 20

// Get implements mem.BufferPool: it returns a buffer of length n.
func (p *bufferPool) Get(n int) *[]byte {
	b, ok := p.p.Get().(*[]byte)
	if !ok {
		b = new([]byte)
	}
	if cap(*b) < n {
		*b = make([]byte, n, max(n, 64<<10))
	}
	*b = (*b)[:n]
	return b
}

// Put implements mem.BufferPool: gRPC calls it once a buffer was sent.
func (p *bufferPool) Put(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	p.p.Put(b)
}
