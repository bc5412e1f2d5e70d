package scaleout

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// prefixWriter writes each line with a prefix: a partition run's lines,
// among the other partitions'.
type prefixWriter struct {
	w      io.Writer
	prefix string

	mu      sync.Mutex
	partial []byte // a line not yet ended
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			break
		}
		line := make([]byte, 0, len(p.prefix)+len(p.partial)+i+1)
		line = append(append(append(line, p.prefix...), p.partial...), b[:i+1]...)
		p.partial = p.partial[:0]
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

// logger is the sdk.Logger of the coordinator, when it runs in process.
type logger struct{ w io.Writer }

func (l logger) Printf(format string, args ...any) {
	fmt.Fprintf(l.w, format+"\n", args...)
}

// syncWriter serializes the writes of the partition runs.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
