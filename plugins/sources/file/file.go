// Package file is flowctl's built-in file source. It reads the files a glob
// matches, in sorted order, each as one partition, decompressing .gz files
// on the fly, and splits them into messages by the source's format: one
// message per line for json and raw, one per row for csv. With `follow`
// it tails the files like tail -F, reading appended records and new
// matching files until cancelled.
package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

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
					"a glob that matches no file fails the run, unless `follow` is set.",
			}, {
				Name:    "follow",
				Type:    sdk.TypeBool,
				Default: false,
				Doc: "Keep reading after the end of the files, like `tail -F`: records appended to them " +
					"and files that start to match `path` are read as they come, and the source never ends. " +
					"A last line without its line ending waits for it. A file that shrinks or is replaced " +
					"is read again from the start. `.gz` files are read once.",
			}, {
				Name:    "poll_interval",
				Type:    sdk.TypeDuration,
				Default: "200ms",
				Doc:     "With `follow`, how often to look for appended data and new files.",
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
//
// With Config.Follow, a plain file's last line is a record only once its
// line ending is there (for csv: a row only once it is complete), files
// are looked at again every poll interval for appended data, and files
// that start to match the glob are added, those found in one look in
// sorted order. A file that shrank or was replaced by another is read
// again from its start; .gz files are read once.
type Source struct {
	files  []string
	csv    bool
	resume map[string]sdk.Position
	logger sdk.Logger

	pending []int   // indexes in files of the files to read next, in order
	cur     *stream // the file being read; nil between files
	curIdx  int     // index in files of cur
	err     error   // returned by every Read from now on
	done    bool    // every file was read
	avgRec  int     // bytes per record in the last batch, to size the next

	// Following (tail -F).
	follow    bool
	glob      string
	pollEvery time.Duration
	tails     []tail         // per file, where reading stopped
	known     map[string]int // path -> index in files
	lastPoll  time.Time
	timer     *time.Timer

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
// matches and the source does not follow. Resume positions of files the
// glob does not match are ignored; with follow, they apply to files that
// start to match later.
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
	s.logger = req.Settings.Logger
	s.follow, s.glob, s.pollEvery = cfg.Follow, cfg.Path, cfg.pollEvery()
	files, err := s.match()
	if err != nil {
		return err
	}
	s.files = files
	if len(s.files) == 0 {
		if !s.follow {
			return fmt.Errorf("no files match %q", cfg.Path)
		}
		s.logf("no files match %q yet; waiting for some", cfg.Path)
	}
	s.pending = make([]int, len(s.files))
	for i := range s.pending {
		s.pending[i] = i
	}
	s.resume = make(map[string]sdk.Position, len(req.Resume))
	for _, p := range req.Resume {
		if _, ok := slices.BinarySearch(s.files, p.Partition); ok || s.follow && matchGlob(cfg.Path, p.Partition) {
			s.resume[p.Partition] = p
		} else {
			s.logf("resume position %s ignored: %q does not match that file", p, cfg.Path)
		}
	}
	if s.follow {
		s.tails = make([]tail, len(s.files))
		s.known = make(map[string]int, len(s.files))
		for i, f := range s.files {
			s.known[f] = i
		}
	}
	return nil
}

// match returns the files the glob matches, sorted, directories left out.
// A match that vanishes before it is looked at is left out too.
func (s *Source) match() ([]string, error) {
	matches, err := filepath.Glob(s.glob)
	if err != nil {
		return nil, &sdk.ConfigError{Path: "path", Msg: fmt.Sprintf("bad glob %q: %v", s.glob, err)}
	}
	files := matches[:0]
	for _, m := range matches {
		fi, err := os.Stat(m)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, m)
		}
	}
	slices.Sort(files)
	return files, nil
}

func matchGlob(glob, path string) bool {
	ok, err := filepath.Match(glob, path)
	return ok && err == nil
}

func (s *Source) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf(format, args...)
	}
}

// Read returns the next batch: up to 4096 messages or about 1 MiB of
// input, possibly from several files. Payloads stay valid after later
// Reads. With the last batch, or after it, Read returns sdk.ErrEndOfInput.
// An error (unreadable file, line longer than 16 MiB, bad resume offset)
// names the file and, where it applies, the line; it is returned after the
// messages read before it were delivered, and then by every later Read.
//
// A following source never ends: once it has read everything there is,
// Read returns what it has, or, with nothing, polls the files every
// poll interval until it has something or ctx is cancelled, and then
// returns ctx.Err().
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
	caughtUp := false
	for !b.full() {
		if s.cur == nil {
			if len(s.pending) == 0 {
				if !s.follow {
					s.done = true
					break
				}
				if len(b.msgs) > 0 {
					caughtUp = true // everything there is has been read
					break
				}
				if err := s.poll(ctx); err != nil {
					if ctx.Err() != nil {
						return sdk.Batch{}, ctx.Err()
					}
					return s.fail(b, err)
				}
				continue
			}
			k := s.pending[0]
			s.pending = s.pending[1:]
			st, err := s.openFile(k)
			if err != nil {
				return s.fail(b, err)
			}
			if st == nil {
				continue
			}
			s.cur, s.curIdx = st, k
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
			if s.follow {
				s.tails[s.curIdx].stop(s.cur)
			}
			if err := s.cur.close(); err != nil {
				return s.fail(b, err)
			}
			s.cur = nil
		}
	}
	if len(b.msgs) > 0 {
		s.avgRec = max(b.bytes/len(b.msgs), 1)
	}
	out := sdk.Batch{Messages: b.msgs, CaughtUp: caughtUp}
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
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.cur == nil {
		return nil
	}
	err := s.cur.close()
	s.cur = nil
	return err
}

// tail is where a followed file's reading stopped: at the end of what was
// there, before a record not complete yet.
type tail struct {
	opened bool     // the file was read once; its resume position is spent
	gz     bool     // a .gz file, read once and never again
	offset int64    // where the next record starts
	line   int64    // the 1-based line at offset
	end    int64    // the file's size when it was last read to its end
	header []string // csv: the header row, once read
	fi     os.FileInfo
}

// stop records where st, at the end of its file, stopped.
func (t *tail) stop(st *stream) {
	t.opened = true
	t.gz = !st.follow
	t.offset = st.base + int64(st.pos)
	t.line = st.line
	t.end = st.base + int64(len(st.buf))
	t.header = st.header
	t.fi = st.fi
}

// reset makes the file be read again from its start.
func (t *tail) reset() {
	*t = tail{opened: true, line: 1}
}

// openFile opens files[k] at the position reading starts from. With
// follow, it returns a nil stream for a file that has vanished, and a
// file seen before is reopened where its reading stopped.
func (s *Source) openFile(k int) (*stream, error) {
	path := s.files[k]
	if !s.follow {
		return s.openStream(path)
	}
	t := &s.tails[k]
	var st *stream
	var err error
	if t.opened {
		st, err = s.reopen(path, t)
	} else {
		st, err = s.openStream(path)
		if _, ok := errors.AsType[*pastEndError](err); ok {
			// The file shrank while the pipeline was stopped.
			s.logf("%v: reading %s from the start", err, path)
			delete(s.resume, path)
			st, err = s.openStream(path)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // scan reads it if it comes back
	}
	return st, err
}

// reopen opens a followed file where t says its reading stopped, or at its
// start if it shrank or is another file now.
func (s *Source) reopen(path string, t *tail) (*stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st := &stream{path: path, f: f, r: f, chunkSize: s.chunkSize, recordLimit: s.recordLimit, follow: true}
	if err := s.restart(st, t); err != nil {
		_ = st.close() // err is the one to report
		return nil, err
	}
	return st, nil
}

func (s *Source) restart(st *stream, t *tail) error {
	fi, err := st.f.Stat()
	if err != nil {
		return err
	}
	st.fi = fi
	switch {
	case t.fi != nil && !os.SameFile(fi, t.fi):
		s.logf("%s was replaced: reading it from the start", st.path)
		t.reset()
	case fi.Size() < t.end:
		s.logf("%s shrank from %d to %d bytes: reading it from the start", st.path, t.end, fi.Size())
		t.reset()
	}
	st.base, st.line, st.bomChecked = t.offset, t.line, t.offset > 0
	st.sizeHint = int(max(min(fi.Size()-t.offset+1, int64(st.chunkSize)), 1))
	if t.offset > 0 {
		if _, err := st.f.Seek(t.offset, io.SeekStart); err != nil {
			return err
		}
	}
	if !s.csv {
		return nil
	}
	if t.header == nil {
		if err := st.readHeader(); err != nil {
			return err
		}
	} else {
		st.header, st.fields = t.header, len(t.header)
	}
	st.startCSV()
	return nil
}

// poll waits until a poll interval has passed since the last poll, then
// looks for files that grew, shrank, were replaced or started to match,
// and queues them.
func (s *Source) poll(ctx context.Context) error {
	if !s.lastPoll.IsZero() {
		if d := time.Until(s.lastPoll.Add(s.pollEvery)); d > 0 {
			if s.timer == nil {
				s.timer = time.NewTimer(d)
			} else {
				s.timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				s.timer.Stop()
				return ctx.Err()
			case <-s.timer.C:
			}
		}
	}
	s.lastPoll = time.Now()
	return s.scan()
}

// scan queues, in the order they were found, the followed files that have
// something new to read. Files that start to match the glob come after
// the others, sorted.
func (s *Source) scan() error {
	files, err := s.match()
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, ok := s.known[f]; !ok {
			s.known[f] = len(s.files)
			s.files = append(s.files, f)
			s.tails = append(s.tails, tail{})
		}
	}
	for k := range s.tails {
		t := &s.tails[k]
		if t.gz {
			continue
		}
		fi, err := os.Stat(s.files[k])
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !t.opened || fi.Size() != t.end || !os.SameFile(fi, t.fi) {
			s.pending = append(s.pending, k) // reopen sorts out which
		}
	}
	return nil
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
	path   string
	f      *os.File
	r      io.Reader   // f, or a gzip reader over f
	fi     os.FileInfo // f's, when it was opened
	follow bool        // a followed plain file: a record not ended yet waits

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
	st.fi = fi
	st.follow = s.follow && !gz
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
		} else if st.pos < len(st.buf) && !st.follow {
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
	return &pastEndError{path: st.path, offset: offset, size: size}
}

// pastEndError is a resume position past the end of its file.
type pastEndError struct {
	path         string
	offset, size int64
}

func (e *pastEndError) Error() string {
	return fmt.Sprintf("resume offset %d is past the end of %s (%d bytes)", e.offset, e.path, e.size)
}

func (st *stream) notAtBoundary(offset int64) error {
	return fmt.Errorf("resume offset %d of %s is not at the end of a record", offset, st.path)
}

// csvInput feeds a stream's bytes to encoding/csv, keeping them in buf so
// that the raw text of a bad row can be recovered. A followed file is fed
// complete lines only: the end of what is there is the end of the last
// line.
type csvInput struct{ st *stream }

func (in csvInput) Read(p []byte) (int, error) {
	st := in.st
	for {
		end := len(st.buf)
		if st.follow {
			end = st.served + bytes.LastIndexByte(st.buf[st.served:], '\n') + 1
		}
		if st.served < end {
			n := copy(p, st.buf[st.served:end])
			st.served += n
			return n, nil
		}
		if st.eof {
			return 0, io.EOF
		}
		if err := st.fill(); err != nil {
			return 0, err
		}
	}
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
	if pe, ok := errors.AsType[*csv.ParseError](err); ok && st.follow && st.eof &&
		errors.Is(pe.Err, csv.ErrQuote) && st.csvBase+st.csv.InputOffset() == st.base+int64(st.served) {
		// A quoted field runs to the end of what the file holds: the row
		// is not complete yet. (A row whose quotes are wrong on its last
		// line looks the same until more of the file arrives.) It is read
		// again when the file grows.
		st.csv = nil
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
