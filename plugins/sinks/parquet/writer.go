package parquet

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/shopspring/decimal"
)

// holdRows is how many rows a file holds back, waiting for every column
// to get a type, before it fixes its schema anyway (with null columns).
const holdRows = 1024

// fileWriter writes one data file of one partition folder under its
// staged name. Its schema is the sink's columns when the file starts;
// until then (every column typed, or holdRows rows) rows are held.
type fileWriter struct {
	s      *Sink
	part   string // partition folder, relative to the table
	staged string // relative paths
	final  string

	f  *os.File
	cw *countingWriter
	w  *pq.GenericWriter[any]

	names []string  // the file's columns
	types []colType // their types; typeNull columns hold only nulls
	held  [][]any
	rows  int64
	row   pq.Row

	groupRows, groupBytes int64
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newFileWriter(s *Sink, part string) *fileWriter {
	staged, final := newFileNames(s.whash, part)
	return &fileWriter{s: s, part: part, staged: staged, final: final}
}

// fits reports whether row (in the sink's column order) can go into this
// file: every non-null value has a typed column in the file.
func (fw *fileWriter) fits(row []any) bool {
	if fw.w == nil {
		return true
	}
	for i, v := range row {
		if isNull(v) {
			continue
		}
		if i >= len(fw.names) || fw.types[i] == typeNull {
			return false
		}
	}
	return true
}

// add writes row, which fits, or holds it until the schema is known.
func (fw *fileWriter) add(row []any) error {
	if fw.w == nil {
		fw.held = append(fw.held, row)
		if len(fw.held) >= holdRows || !slices.Contains(fw.s.types, typeNull) {
			return fw.start()
		}
		return nil
	}
	return fw.write(row)
}

// start creates the file with the sink's current columns and writes the
// held rows.
func (fw *fileWriter) start() error {
	abs := filepath.Join(fw.s.cfg.path, filepath.FromSlash(fw.staged))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	fw.f = f
	fw.names = slices.Clone(fw.s.names)
	fw.types = slices.Clone(fw.s.types)
	fw.cw = &countingWriter{w: bufio.NewWriterSize(f, 1<<20)}
	fw.w = pq.NewGenericWriter[any](fw.cw, fw.s.coder.schemaOf(fw.names, fw.types),
		pq.Compression(fw.s.cfg.codec),
		pq.CreatedBy("flowctl", "", ""),
		pq.KeyValueMetadata(metaKey, columnsMeta(fw.names, fw.types)),
	)
	fw.row = make(pq.Row, len(fw.names))
	held := fw.held
	fw.held = nil
	for _, row := range held {
		if err := fw.write(row); err != nil {
			return err
		}
	}
	return nil
}

// write encodes one row into the file and cuts a row group when it is
// big enough.
func (fw *fileWriter) write(row []any) error {
	var size int64
	for i, t := range fw.types {
		var v any
		if i < len(row) {
			v = row[i]
		}
		if isNull(v) {
			fw.row[i] = pq.NullValue().Level(0, 0, i)
			continue
		}
		pv, err := fw.s.coder.value(t, v)
		if err != nil {
			return fmt.Errorf("column %s: %w", fw.names[i], err)
		}
		fw.row[i] = pv.Level(0, 1, i)
		size += valueSize(v)
	}
	if _, err := fw.w.WriteRows([]pq.Row{fw.row}); err != nil {
		return fmt.Errorf("write %s: %w", fw.staged, err)
	}
	fw.rows++
	fw.groupRows++
	fw.groupBytes += size
	cfg := &fw.s.cfg
	if (cfg.rowGroupRows > 0 && fw.groupRows >= cfg.rowGroupRows) || (cfg.rowGroupBytes > 0 && fw.groupBytes >= cfg.rowGroupBytes) {
		if err := fw.w.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", fw.staged, err)
		}
		fw.groupRows, fw.groupBytes = 0, 0
	}
	return nil
}

// valueSize estimates the bytes a value takes before compression.
func valueSize(v any) int64 {
	switch v := v.(type) {
	case string:
		return int64(len(v)) + 4
	case []byte:
		return int64(len(v)) + 4
	case decimal.Decimal:
		return 16
	case bool:
		return 1
	case []any, map[string]any:
		return 64
	case time.Time, time.Duration, int64, float64:
		return 8
	}
	return 8
}

// full reports whether the file reached the target file size, counting
// the row group in progress before compression. It looks every 64 rows.
func (fw *fileWriter) full() bool {
	return fw.w != nil && fw.rows%64 == 0 && fw.w.Size() >= fw.s.cfg.targetFile
}

// finish writes the footer and syncs the file. It returns false if the
// file had no rows (and was never created).
func (fw *fileWriter) finish() (stagedFile, bool, error) {
	if fw.w == nil && len(fw.held) == 0 {
		return stagedFile{}, false, nil
	}
	if fw.w == nil {
		if err := fw.start(); err != nil {
			return stagedFile{}, false, err
		}
	}
	err := fw.w.Close()
	if err == nil {
		err = fw.cw.w.Flush()
	}
	if err == nil {
		err = fw.f.Sync()
	}
	if cerr := fw.f.Close(); err == nil {
		err = cerr
	}
	fw.f = nil
	if err != nil {
		return stagedFile{}, false, fmt.Errorf("write %s: %w", fw.staged, err)
	}
	return stagedFile{addedFile: addedFile{Path: fw.final, Rows: fw.rows, Bytes: fw.cw.n}, Staged: fw.staged}, true, nil
}

// abort closes and deletes the file.
func (fw *fileWriter) abort() {
	if fw.f != nil {
		_ = fw.f.Close()
		fw.f = nil
	}
	if fw.w != nil {
		_ = os.Remove(filepath.Join(fw.s.cfg.path, filepath.FromSlash(fw.staged)))
	}
}
