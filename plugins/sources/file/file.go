// Package file is flowctl's built-in file source. It reads the files a glob
// matches, in sorted order, each as one partition, decompressing .gz files
// on the fly, and splits them into messages by the source's format: one
// message per line for json and raw, one per row for csv.
package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Limits of one Read and of one record.
const (
	maxBatchMessages = 4096
	maxBatchBytes    = 1 << 20
	maxRecordBytes   = 16 << 20
	chunkBytes       = 1 << 20
)

// Plugin returns the file source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "file",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Reads local files matched by a glob, one partition per file; .gz files are decompressed.",
			Fields: []sdk.FieldSpec{{
				Name:     "path",
				Type:     sdk.TypeString,
				Required: true,
				Doc: "The files to read: a path or a glob in filepath.Match syntax (`*`, `?`, `[a-z]`), " +
					"relative to the working directory. Matches are read in sorted order; " +
					"a glob that matches no file fails the run.",
			}},
		},
		NewSource: func() sdk.Source { return newSource() },
		Validate:  validate,
	}
}

var _ sdk.Source = (*Source)(nil)

// Source reads files. It splits them by OpenRequest.Format: "json" and
// "raw" give one message per non-blank line, its Payload being the line
// without the line ending; "csv" gives one message per row after the
// header row, with Fields named by the header, or, for a row that cannot
// be parsed or has the wrong number of fields, with Payload holding the
// row's raw text and Reject the reason, which the host reports as a bad
// record.
//
// A message's Position has the file path as matched for Partition, the
// 1-based line where the record starts for Line, and the byte offset just
// after the record in the decompressed file for Offset.
type Source struct {
	files  []string
	csv    bool
	resume map[string]sdk.Position

	next   int     // index in files of the next file to open
	cur    *stream // the file being read; nil between files
	err    error   // returned by every Read from now on
	done   bool    // every file was read
	avgRec int     // bytes per record in the last batch, to size the next

	// Limits, lowered by tests to reach edge cases with small inputs.
	batchMessages, batchBytes, recordLimit, chunkSize int
}

func newSource() *Source {
	return &Source{
		batchMessages: maxBatchMessages,
		batchBytes:    maxBatchBytes,
		recordLimit:   maxRecordBytes,
		chunkSize:     chunkBytes,
	}
}

// Open expands the glob and prepares to read the first file. It fails if
// the config is invalid, the format is not json, raw or csv, or no file
// matches. Resume positions of files the glob does not match are ignored.
func (s *Source) Open(_ context.Context, req sdk.OpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	switch req.Format {
	case "", "json", "raw":
	case "csv":
		s.csv = true
	default:
		return fmt.Errorf("format %q is not supported by the file source; want json, csv or raw", req.Format)
	}
	matches, err := filepath.Glob(cfg.Path)
	if err != nil {
		return &sdk.ConfigError{Path: "path", Msg: fmt.Sprintf("bad glob %q: %v", cfg.Path, err)}
	}
	s.files = s.files[:0]
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			s.files = append(s.files, m)
		}
	}
	if len(s.files) == 0 {
		return fmt.Errorf("no files match %q", cfg.Path)
	}
	slices.Sort(s.files)
	s.resume = make(map[string]sdk.Position, len(req.Resume))
	for _, p := range req.Resume {
		if _, ok := slices.BinarySearch(s.files, p.Partition); ok {
			s.resume[p.Partition] = p
		} else if req.Settings.Logger != nil {
			req.Settings.Logger.Printf("resume position %s ignored: %q does not match that file", p, cfg.Path)
		}
	}
	return nil
}

// Read returns the next batch: up to 4096 messages or about 1 MiB of
// input, possibly from several files. Payloads stay valid after later
// Reads. With the last batch, or after it, Read returns sdk.ErrEndOfInput.
// An error (unreadable file, line longer than 16 MiB, bad resume offset)
// names the file and, where it applies, the line; it is returned after the
// messages read before it were delivered, and then by every later Read.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if s.err != nil {
		return sdk.Batch{}, s.err
	}
	if s.done {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	est := min(s.batchMessages, 256) // grows as needed in the first batch
	if s.avgRec > 0 {
		est = min(s.batchMessages, s.batchBytes/s.avgRec+1)
	}
	b := batch{msgs: make([]sdk.Message, 0, est), maxMsgs: s.batchMessages, maxBytes: s.batchBytes}
	for !b.full() {
		if s.cur == nil {
			if s.next == len(s.files) {
				s.done = true
				break
			}
			st, err := s.openStream(s.files[s.next])
			s.next++
			if err != nil {
				return s.fail(b, err)
			}
			s.cur = st
		}
		var more bool
		var err error
		if s.csv {
			more, err = s.cur.readCSV(&b)
		} else {
			more, err = s.cur.readLines(&b)
		}
		if err != nil {
			return s.fail(b, err)
		}
		if !more {
			if err := s.cur.close(); err != nil {
				return s.fail(b, err)
			}
			s.cur = nil
		}
	}
	if len(b.msgs) > 0 {
		s.avgRec = max(b.bytes/len(b.msgs), 1)
	}
	out := sdk.Batch{Messages: b.msgs}
	if s.done {
		return out, sdk.ErrEndOfInput
	}
	return out, nil
}

// fail makes err sticky and delivers what b holds first.
func (s *Source) fail(b batch, err error) (sdk.Batch, error) {
	s.err = err
	if s.cur != nil {
		_ = s.cur.close() // err is what the caller needs to see
		s.cur = nil
	}
	if len(b.msgs) > 0 {
		return sdk.Batch{Messages: b.msgs}, nil
	}
	return sdk.Batch{}, err
}

// Close closes the file being read, if any.
func (s *Source) Close(context.Context) error {
	if s.cur == nil {
		return nil
	}
	err := s.cur.close()
	s.cur = nil
	return err
}

// batch collects the messages of one Read.
type batch struct {
	msgs     []sdk.Message
	fields   []sdk.Field // arena the csv rows' Fields are sliced from
	bytes    int         // input bytes consumed, blank lines included
	maxMsgs  int
	maxBytes int
}

func (b *batch) full() bool { return len(b.msgs) >= b.maxMsgs || b.bytes >= b.maxBytes }

// add appends a zero message and returns it.
func (b *batch) add() *sdk.Message {
	n := len(b.msgs)
	if n == cap(b.msgs) {
		b.msgs = append(b.msgs, sdk.Message{})
	} else {
		// Elements past len of a slice made or grown by append are zero.
		b.msgs = b.msgs[:n+1]
	}
	return &b.msgs[n]
}

// stream is one open file. Its bytes are read in chunks; a chunk is never
// written again once bytes of it may have been handed out, so payloads can
// be sliced from it. buf[pos:] are the bytes not consumed yet.
type stream struct {
	path string
	f    *os.File
	r    io.Reader // f, or a gzip reader over f

	buf        []byte
	base       int64 // stream offset of buf[0]
	pos        int   // buf index of the next record; base+pos is its offset
	line       int64 // 1-based line number at buf[pos]
	eof        bool  // r is exhausted: buf[pos:] is the rest of the stream
	bomChecked bool  // a leading byte order mark was looked for

	chunkSize   int
	recordLimit int
	sizeHint    int // if > 0, the size of the next chunk: small files get small ones

	// csv only
	csv     *csv.Reader
	served  int   // buf index up to which csv has read
	csvBase int64 // stream offset where csv started reading
	header  []string
	fields  int // len(header)
}

// openStream opens path and moves to where reading starts: after the csv
// header, and after the resume position if there is one.
func (s *Source) openStream(path string) (*stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st := &stream{path: path, f: f, r: f, line: 1, chunkSize: s.chunkSize, recordLimit: s.recordLimit}
	if err := s.start(st); err != nil {
		_ = st.close() // err is the one to report
		return nil, err
	}
	return st, nil
}

func (s *Source) start(st *stream) error {
	gz := strings.HasSuffix(st.path, ".gz")
	// A payload keeps its whole chunk alive, so a small file must not get
	// a full-size one. One byte more than the file lets the first fill
	// see the end.
	fi, err := st.f.Stat()
	if err != nil {
		return err
	}
	if gz {
		st.sizeHint = int(min(fi.Size()*8, int64(st.chunkSize)))
	} else {
		st.sizeHint = int(min(fi.Size()+1, int64(st.chunkSize)))
	}
	if gz {
		zr, err := gzip.NewReader(st.f)
		switch {
		case errors.Is(err, io.EOF):
			st.eof = true // an empty file
		case err != nil:
			return fmt.Errorf("read %s: %w", st.path, err)
		default:
			st.r = zr
		}
	}
	resume, resuming := s.resume[st.path]
	if s.csv {
		if err := st.readHeader(); err != nil {
			return err
		}
		if resuming && resume.Offset > st.base+int64(st.pos) {
			if err := st.skip(resume.Offset); err != nil {
				return err
			}
		}
		st.startCSV()
		return nil
	}
	switch {
	case !resuming || resume.Offset <= 0:
		return nil
	case gz || resume.Line <= 0:
		return st.skip(resume.Offset)
	default:
		return st.seek(resume)
	}
}

func (st *stream) close() error {
	if st.f == nil {
		return nil
	}
	err := st.f.Close()
	st.f = nil
	return err
}

// fill reads more of the stream into buf, moving buf[pos:] to a new chunk
// first if buf is full. It returns an error if that rest is longer than the
// record limit.
func (st *stream) fill() error {
	if len(st.buf) == cap(st.buf) {
		rest := len(st.buf) - st.pos
		if rest > st.recordLimit {
			return &tooLongError{}
		}
		size := st.chunkSize
		if st.sizeHint > 0 {
			size, st.sizeHint = st.sizeHint, 0
		}
		nb := make([]byte, rest, max(size, 2*rest))
		copy(nb, st.buf[st.pos:])
		st.served = max(st.served-st.pos, 0)
		st.base += int64(st.pos)
		st.buf, st.pos = nb, 0
	}
	for len(st.buf) < cap(st.buf) && !st.eof {
		n, err := st.r.Read(st.buf[len(st.buf):cap(st.buf)])
		st.buf = st.buf[:len(st.buf)+n]
		if errors.Is(err, io.EOF) {
			st.eof = true
		} else if err != nil {
			return fmt.Errorf("read %s: %w", st.path, err)
		}
	}
	if !st.bomChecked && st.base == 0 && (len(st.buf) >= 3 || st.eof) {
		st.bomChecked = true
		if bytes.HasPrefix(st.buf, []byte("\xef\xbb\xbf")) && st.pos == 0 {
			st.pos, st.served = 3, 3
		}
	}
	return nil
}

// tooLongError is fill's complaint about a record over the limit; callers
// add the file and line.
type tooLongError struct{}

func (*tooLongError) Error() string { return "record too long" }

func (st *stream) tooLong(what string) error {
	return fmt.Errorf("%s:%d: %s longer than %s", st.path, st.line, what, formatSize(st.recordLimit))
}

func formatSize(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// readLines adds one message per non-blank line to b until b is full or
// the stream ends; more is false at the end.
func (st *stream) readLines(b *batch) (more bool, err error) {
	for !b.full() {
		var end, next int
		if i := bytes.IndexByte(st.buf[st.pos:], '\n'); i >= 0 {
			end = st.pos + i
			next = end + 1
		} else if !st.eof {
			if err := st.fill(); err != nil {
				if errors.As(err, new(*tooLongError)) {
					return false, st.tooLong("line")
				}
				return false, err
			}
			continue
		} else if st.pos < len(st.buf) {
			end, next = len(st.buf), len(st.buf)
		} else {
			return false, nil
		}
		if end-st.pos > st.recordLimit {
			return false, st.tooLong("line")
		}
		line := st.buf[st.pos:end:end]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[: n-1 : n-1]
		}
		if !blank(line) {
			// Set the fields of a zero element in place: copying a whole
			// Message costs a bulk write barrier while the GC runs.
			m := b.add()
			m.Payload = line
			m.Position.Partition = st.path
			m.Position.Offset = st.base + int64(next)
			m.Position.Line = st.line
		}
		b.bytes += next - st.pos
		st.line++
		st.pos = next
	}
	return true, nil
}

// blank reports whether line holds only ASCII white space.
func blank(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r', '\v', '\f':
		default:
			return false
		}
	}
	return true
}

// seek moves a plain file to just after the record at p, trusting its
// Line for the line count.
func (st *stream) seek(p sdk.Position) error {
	fi, err := st.f.Stat()
	if err != nil {
		return err
	}
	if p.Offset > fi.Size() {
		return st.pastEnd(p.Offset, fi.Size())
	}
	var prev [1]byte
	if _, err := st.f.ReadAt(prev[:], p.Offset-1); err != nil {
		return fmt.Errorf("read %s: %w", st.path, err)
	}
	if prev[0] != '\n' && p.Offset < fi.Size() {
		return st.notAtBoundary(p.Offset)
	}
	if _, err := st.f.Seek(p.Offset, io.SeekStart); err != nil {
		return err
	}
	st.base, st.line, st.bomChecked = p.Offset, p.Line+1, true
	st.sizeHint = int(min(fi.Size()-p.Offset+1, int64(st.chunkSize)))
	return nil
}

// skip reads up to the stream offset target, counting lines, and checks
// that target is at a line boundary.
func (st *stream) skip(target int64) error {
	var last byte = '\n'
	for st.base+int64(st.pos) < target {
		if st.pos == len(st.buf) {
			if st.eof {
				return st.pastEnd(target, st.base+int64(st.pos))
			}
			if err := st.fill(); err != nil {
				return err
			}
			continue
		}
		n := int(min(int64(len(st.buf)-st.pos), target-st.base-int64(st.pos)))
		chunk := st.buf[st.pos : st.pos+n]
		st.line += int64(bytes.Count(chunk, []byte{'\n'}))
		last = chunk[n-1]
		st.pos += n
	}
	if last != '\n' {
		if st.pos == len(st.buf) && !st.eof {
			if err := st.fill(); err != nil {
				return err
			}
		}
		if st.pos < len(st.buf) {
			return st.notAtBoundary(target)
		}
	}
	return nil
}

func (st *stream) pastEnd(offset, size int64) error {
	return fmt.Errorf("resume offset %d is past the end of %s (%d bytes)", offset, st.path, size)
}

func (st *stream) notAtBoundary(offset int64) error {
	return fmt.Errorf("resume offset %d of %s is not at the end of a record", offset, st.path)
}

// csvInput feeds a stream's bytes to encoding/csv, keeping them in buf so
// that the raw text of a bad row can be recovered.
type csvInput struct{ st *stream }

func (in csvInput) Read(p []byte) (int, error) {
	st := in.st
	if st.served == len(st.buf) {
		if st.eof {
			return 0, io.EOF
		}
		if err := st.fill(); err != nil {
			return 0, err
		}
		if st.served == len(st.buf) {
			return 0, io.EOF
		}
	}
	n := copy(p, st.buf[st.served:])
	st.served += n
	return n, nil
}

// startCSV starts a csv reader at buf[pos].
func (st *stream) startCSV() {
	st.served = st.pos
	st.csvBase = st.base + int64(st.pos)
	st.csv = csv.NewReader(csvInput{st})
	st.csv.ReuseRecord = true
	st.csv.FieldsPerRecord = st.fields
}

// readHeader reads the header row. A file without rows has no header and
// no records.
func (st *stream) readHeader() error {
	// Fill before starting csv so that a byte order mark is skipped first.
	if err := st.fill(); err != nil {
		if errors.As(err, new(*tooLongError)) {
			return st.tooLong("csv record")
		}
		return err
	}
	st.startCSV()
	st.csv.FieldsPerRecord = -1
	rec, _, line, err := st.readRow()
	if errors.Is(err, io.EOF) {
		st.csv = nil
		return nil
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return fmt.Errorf("%s:%d: bad csv header: %w", st.path, line, pe.Err)
	}
	if err != nil {
		return err
	}
	st.header = slices.Clone(rec)
	st.fields = len(rec)
	return nil
}

// readRow reads one csv row and consumes its bytes. It returns the row's
// raw text without its line ending and the line it starts on. err is the
// csv reader's: io.EOF at the end, a *csv.ParseError for a bad row (raw
// and line are set), anything else for a failure to read.
func (st *stream) readRow() (rec []string, raw []byte, line int64, err error) {
	if st.csv == nil {
		return nil, nil, 0, io.EOF
	}
	startOff := st.csvBase + st.csv.InputOffset()
	rec, err = st.csv.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, 0, io.EOF
	}
	if err != nil && errors.As(err, new(*tooLongError)) {
		return nil, nil, 0, st.tooLong("csv record")
	}
	if _, ok := errors.AsType[*csv.ParseError](err); err != nil && !ok {
		return nil, nil, 0, err
	}
	// fill may have moved the bytes to a new chunk: index buf only now.
	start, end := int(startOff-st.base), int(st.csvBase+st.csv.InputOffset()-st.base)
	if end <= start {
		return nil, nil, 0, fmt.Errorf("%s:%d: csv reader made no progress: %v", st.path, st.line, err)
	}
	if end-start > st.recordLimit {
		return nil, nil, 0, st.tooLong("csv record")
	}
	raw = st.buf[start:end:end]
	// encoding/csv skips empty lines before a row.
	line = st.line
	for {
		if len(raw) > 0 && raw[0] == '\n' {
			raw = raw[1:]
		} else if len(raw) > 1 && raw[0] == '\r' && raw[1] == '\n' {
			raw = raw[2:]
		} else {
			break
		}
		line++
	}
	st.line += int64(bytes.Count(st.buf[start:end], []byte{'\n'}))
	st.pos = end
	raw = bytes.TrimSuffix(raw, []byte{'\n'})
	raw = bytes.TrimSuffix(raw, []byte{'\r'})
	return rec, raw, line, err
}

// readCSV adds one message per csv row to b until b is full or the stream
// ends; more is false at the end.
func (st *stream) readCSV(b *batch) (more bool, err error) {
	for !b.full() {
		start := st.base + int64(st.pos)
		rec, raw, line, err := st.readRow()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if _, ok := errors.AsType[*csv.ParseError](err); err != nil && !ok {
			return false, err
		}
		offset := st.base + int64(st.pos)
		msg := sdk.Message{Position: sdk.Position{Partition: st.path, Offset: offset, Line: line}}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			msg.Payload = raw
			msg.Reject = "csv: " + pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				msg.Reject = fmt.Sprintf("csv: row has %d fields, the header has %d", len(rec), len(st.header))
			}
		} else {
			if cap(b.fields)-len(b.fields) < len(rec) {
				b.fields = make([]sdk.Field, 0, max(1024, len(rec)))
			}
			from := len(b.fields)
			for i, v := range rec {
				b.fields = append(b.fields, sdk.Field{Name: st.header[i], Value: v})
			}
			msg.Fields = b.fields[from:len(b.fields):len(b.fields)]
		}
		b.msgs = append(b.msgs, msg)
		b.bytes += int(offset - start)
	}
	return true, nil
}
