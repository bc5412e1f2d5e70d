// Package checkpoint stores a running pipeline's checkpoints: every
// source's positions, the state of every stateful operator and the id every
// exactly-once sink commits under, taken together at one consistent point.
//
// A checkpoint is one object, written whole and atomically:
//
//	"FLOWCKPT"                magic, 8 bytes
//	uint32 version            format version (1), little endian
//	uint32 n, n bytes         Meta as JSON
//	uint32 count              operator sections, then for each:
//	  uint16 n, n bytes       stage name
//	  uint64 n, n bytes       the operator's snapshot
//	uint32 crc                CRC-32C of everything before it
//
// The engine takes checkpoints between records on its one goroutine, so
// the point is consistent without barriers: the state holds exactly the
// records before the positions, and every row they produced has been handed
// to the sinks and staged under the checkpoint's id.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// FormatVersion is the version of the checkpoint encoding this build
// writes and reads.
const FormatVersion = 1

const magic = "FLOWCKPT"

// Checkpoint is one consistent snapshot of a pipeline run.
type Checkpoint struct {
	Meta Meta
	// State holds each stateful stage's operator snapshot, by stage name.
	State map[string][]byte
}

// Meta is the readable part of a checkpoint.
type Meta struct {
	ID       uint64    `json:"id"`
	Pipeline string    `json:"pipeline"`
	Mode     string    `json:"mode"`
	Taken    time.Time `json:"taken"`
	// Stages describes every stateful stage, so a restore can tell the
	// user precisely what changed in the pipeline since.
	Stages  []Stage  `json:"stages"`
	Sources []Source `json:"sources"`
	Sinks   []Sink   `json:"sinks"`
	// Watermarks holds each source's watermark, by source name.
	Watermarks map[string]int64 `json:"watermarks"`
}

// Stage describes a stateful stage: its name and what its state means.
type Stage struct {
	Name     string `json:"name"`
	Describe string `json:"describe"`
}

// Source is a source's progress: where each partition resumes, and the
// largest event time seen on it, from which its watermark is recomputed.
type Source struct {
	Name       string      `json:"name"`
	Plugin     string      `json:"plugin"`
	Partitions []Partition `json:"partitions"`
}

// Partition is the progress of one source partition.
type Partition struct {
	Name    string `json:"name"`
	Offset  int64  `json:"offset"`
	Line    int64  `json:"line,omitempty"`
	MaxTime int64  `json:"max_time"` // largest event time seen, Unix ns; math.MinInt64 if none
}

// Sink records a sink and the delivery it was run with.
type Sink struct {
	Name     string `json:"name"`
	Plugin   string `json:"plugin"`
	Delivery string `json:"delivery"`
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Encode renders c in the checkpoint format.
func Encode(c *Checkpoint) ([]byte, error) {
	meta, err := json.Marshal(c.Meta)
	if err != nil {
		return nil, err
	}
	size := len(magic) + 4 + 4 + len(meta) + 4 + 4
	names := sortedKeys(c.State)
	for _, n := range names {
		size += 2 + len(n) + 8 + len(c.State[n])
	}
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, FormatVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(meta)))
	b = append(b, meta...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		if len(n) > 0xffff {
			return nil, fmt.Errorf("stage name too long: %.40s…", n)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(c.State[n])))
		b = append(b, c.State[n]...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable)), nil
}

// ErrCorrupt is wrapped by Decode's errors for data that is not a whole,
// intact checkpoint.
var ErrCorrupt = errors.New("corrupt checkpoint")

// Decode parses a checkpoint written by Encode.
func Decode(b []byte) (*Checkpoint, error) {
	if len(b) < len(magic)+4+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a flowctl checkpoint", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[len(magic):]); v != FormatVersion {
		return nil, fmt.Errorf("checkpoint format version %d; this flowctl reads version %d", v, FormatVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrCorrupt)
	}
	r := reader{b: body[len(magic)+4:]}
	meta := r.bytes(int(r.u32()))
	c := &Checkpoint{State: map[string][]byte{}}
	if r.err == nil {
		if err := json.Unmarshal(meta, &c.Meta); err != nil {
			return nil, fmt.Errorf("%w: metadata: %v", ErrCorrupt, err)
		}
	}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		name := string(r.bytes(int(r.u16())))
		size := r.u64()
		if size > uint64(len(r.b)) {
			r.err = errors.New("section longer than the checkpoint")
			break
		}
		c.State[name] = r.bytes(int(size))
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	return c, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("unexpected end of data")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *reader) bytes(n int) []byte {
	p := r.take(n)
	return bytes.Clone(p)
}
