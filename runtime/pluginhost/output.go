package pluginhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// A plugin process has three outputs besides the protocol:
//
//   - its original standard error, which go-plugin reads line by line and
//     hands to ClientConfig.Stderr: hclog JSON lines from Settings.Logger,
//     and anything written to file descriptor 2, such as a panic;
//   - its os.Stdout and os.Stderr, which go-plugin replaces in the plugin
//     by streams to ClientConfig.SyncStdout and SyncStderr: what a stdout
//     sink prints, say.
//
// The host passes log lines on to its log prefixed with the stage and
// plugin, stdout on to its own stdout, and keeps the last lines of both
// stderrs for the error that reports a failed process.

// tailLines is how many lines of a plugin's stderr an error shows.
const tailLines = 10

// tail keeps the last lines written by a process, and the first line of
// a panic (or fatal error), which the goroutine dump that follows it
// would push out.
type tail struct {
	mu     sync.Mutex
	lines  []string
	panic  string
	panicN int // lines added before the panic line
	n      int // lines added
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.panic == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		t.panic, t.panicN = line, t.n
	}
	t.n++
	if len(t.lines) == tailLines {
		t.lines = slices.Delete(t.lines, 0, 1)
	}
	t.lines = append(t.lines, line)
}

// last returns the last lines, after the panic line and "..." if that
// is no longer among them.
func (t *tail) last() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.panic != "" && t.panicN < t.n-len(t.lines) {
		return append([]string{t.panic, "..."}, t.lines...)
	}
	return slices.Clone(t.lines)
}

// lockedWriter serializes writes of several processes to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lines splits what is written into lines and calls line for each
// complete one, without its newline.
type lines struct {
	buf  []byte
	line func(string)
}

func (l *lines) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			return n, nil
		}
		l.buf = append(l.buf, p[:i]...)
		l.line(strings.TrimSuffix(string(l.buf), "\r"))
		l.buf = l.buf[:0]
		p = p[i+1:]
	}
}

// flush passes on an incomplete last line.
func (l *lines) flush() {
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = l.buf[:0]
	}
}

// logLine renders one line of a plugin's stderr for the host's log: an
// hclog JSON entry as "[LEVEL] message key=value ...", keys sorted and
// the stage name (already in the prefix) left out; any other line as it
// is. ok is false for an entry below level.
func logLine(line string, level hclog.Level) (text string, ok bool) {
	if !strings.HasPrefix(line, "{") {
		return line, true
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		return line, true
	}
	msg, _ := entry["@message"].(string)
	lvl, _ := entry["@level"].(string)
	if l := hclog.LevelFromString(lvl); l != hclog.NoLevel && l < level {
		return "", false
	}
	var b strings.Builder
	if lvl != "" {
		fmt.Fprintf(&b, "[%s] ", strings.ToUpper(lvl))
	}
	b.WriteString(msg)
	keys := make([]string, 0, len(entry))
	for k := range entry {
		if !strings.HasPrefix(k, "@") && k != "name" && k != "timestamp" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fmt.Sprint(entry[k])
		if strings.ContainsAny(v, " \t\"=") || v == "" {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	return b.String(), true
}

// marked passes what is written on to w, less every occurrence of mark,
// and calls seen each time it removes one. The mark may arrive split
// across writes.
type marked struct {
	mu      sync.Mutex
	w       io.Writer
	mark    []byte
	pending []byte // a prefix of mark held back from the end of a write
	seen    func()
}

func (m *marked) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(p)
	data := append(m.pending, p...)
	m.pending = nil
	for {
		i := bytes.Index(data, m.mark)
		if i < 0 {
			break
		}
		if err := m.pass(data[:i]); err != nil {
			return 0, err
		}
		m.seen()
		data = data[i+len(m.mark):]
	}
	// Hold back the longest end of data that could start a mark.
	keep := 0
	for k := min(len(m.mark)-1, len(data)); k > 0; k-- {
		if bytes.HasSuffix(data, m.mark[:k]) {
			keep = k
			break
		}
	}
	m.pending = append([]byte(nil), data[len(data)-keep:]...)
	if err := m.pass(data[:len(data)-keep]); err != nil {
		return 0, err
	}
	return n, nil
}

func (m *marked) pass(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_, err := m.w.Write(p)
	return err
}

// flush passes on what was held back, and an incomplete last line.
func (m *marked) flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending
	m.pending = nil
	err := m.pass(p)
	if l, ok := m.w.(*lines); ok {
		l.flush()
	}
	return err
}
