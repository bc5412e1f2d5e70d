// Package parquet is flowctl's built-in parquet source. It reads a table
// folder of Parquet files: the committed files of a table written by the
// parquet sink, following its commit log, or every Parquet file of a plain
// folder, Hive partition folders becoming columns. A time range prunes
// partitions and row groups.
package parquet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Plugin returns the parquet source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "parquet",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Reads a table folder of Parquet files, optionally over an event-time range.",
			// `flowctl backfill` sets from and to for each slice.
			TimeRange: &sdk.TimeRange{From: "from", To: "to"},
			Fields: []sdk.FieldSpec{
				{
					Name:     "path",
					Type:     sdk.TypeString,
					Required: true,
					Doc: "The table folder, relative to the working directory. With a `_flowctl_log` commit log, " +
						"the files of its latest version; otherwise every `*.parquet` file below it, skipping names that start with `_` or `.`.",
				},
				{
					Name: "time_column",
					Type: sdk.TypeString,
					Doc:  "The timestamp (or date) column that `from` and `to` select on; also sets each message's time.",
				},
				{
					Name: "from",
					Type: sdk.TypeString,
					Doc:  "Read only rows whose `time_column` is at or after this time: RFC 3339 (`2026-03-01T00:00:00Z`) or a date (`2026-03-01`, midnight UTC).",
				},
				{
					Name: "to",
					Type: sdk.TypeString,
					Doc:  "Read only rows whose `time_column` is before this time (exclusive), in the same forms as `from`.",
				},
				{
					Name:    "batch_size",
					Type:    sdk.TypeInt,
					Default: int64(defaultBatchSize),
					Doc:     "The most rows one read hands to the pipeline.",
				},
			},
		},
		NewSource: func() sdk.Source { return &Source{} },
		Validate:  validate,
	}
}

var _ sdk.Source = (*Source)(nil)

// Source reads the files of a table one after the other, in path order;
// each file is one partition of the source, and a message's offset is
// the number of rows of its file up to and including it.
type Source struct {
	cfg    settings
	log    sdk.Logger
	files  []dataFile
	resume map[string]int64
	next   int      // index in files of the next file to open
	cur    *cursor  // the file being read
	buf    []pq.Row // scratch rows
	stats  stats
}

// stats counts what the source read, for its log lines and tests.
type stats struct {
	files, groups, groupsRead int
	rows                      int64
}

// cursor is an open file being read.
type cursor struct {
	file   *dataFile
	f      *os.File
	pf     *pq.File
	names  []string
	decode []decoder
	extra  []kv // partition values that are not file columns
	timeAt int  // index of the time column among names, -1 if none
	groups []int
	starts []int64 // first row index of each row group
	g      int     // index in groups of the group being read
	rows   pq.Rows
	index  int64 // index in the file of the next row
	skip   int64 // rows of the file already delivered
	read   int64 // rows emitted from this file
}

// Open lists the table's files and drops those whose partition folders
// lie outside the time range.
func (s *Source) Open(_ context.Context, req sdk.OpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	s.cfg, s.log = cfg, req.Settings.Logger
	files, version, err := listTable(cfg.path)
	if err != nil {
		return fmt.Errorf("table %s: %w", cfg.path, err)
	}
	kept := files[:0]
	for _, f := range files {
		if s.keep(&f) {
			kept = append(kept, f)
		}
	}
	s.files = kept
	s.resume = map[string]int64{}
	for _, p := range req.Resume {
		s.resume[p.Partition] = p.Offset
	}
	s.buf = make([]pq.Row, cfg.batch)
	where := "plain folder"
	if version >= 0 {
		where = fmt.Sprintf("commit log version %d", version)
	}
	s.logf("table %s (%s): %d files, %d pruned by partition", cfg.path, where, len(files), len(files)-len(kept))
	return nil
}

func (s *Source) logf(format string, args ...any) {
	if s.log != nil {
		s.log.Printf(format, args...)
	}
}

// keep reports whether f's partition folders may hold rows in the range.
func (s *Source) keep(f *dataFile) bool {
	if !s.cfg.ranged() {
		return true
	}
	for _, p := range f.parts {
		lo, hi, known := f.timeSpan(p, s.cfg.timeColumn)
		if !known {
			continue
		}
		if p.value == nil || !s.cfg.overlaps(lo, hi) {
			return false
		}
	}
	return true
}

// Read returns the next rows, up to batch_size, and sdk.ErrEndOfInput
// once every file is read.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	var b sdk.Batch
	for len(b.Messages) < s.cfg.batch {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		if s.cur == nil {
			if s.next >= len(s.files) {
				if len(b.Messages) > 0 {
					return b, nil
				}
				return b, sdk.ErrEndOfInput
			}
			f := &s.files[s.next]
			s.next++
			cur, err := s.open(f)
			if err != nil {
				return b, fmt.Errorf("%s: %w", f.rel, err)
			}
			if cur == nil {
				continue
			}
			s.cur = cur
		}
		more, err := s.readRows(&b)
		if err != nil {
			return b, fmt.Errorf("%s: %w", s.cur.file.rel, err)
		}
		if !more {
			s.finish()
		}
	}
	return b, nil
}

// open opens a file and chooses the row groups to read; nil if there is
// nothing left to read in it.
func (s *Source) open(f *dataFile) (*cursor, error) {
	skip := s.resume[f.rel]
	fh, err := os.Open(filepath.Join(s.cfg.path, filepath.FromSlash(f.rel)))
	if err != nil {
		return nil, err
	}
	c, err := s.start(f, fh, skip)
	if err != nil || c == nil {
		_ = fh.Close()
		return nil, err
	}
	return c, nil
}

func (s *Source) start(f *dataFile, fh *os.File, skip int64) (*cursor, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := pq.OpenFile(fh, st.Size(), pq.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	c := &cursor{file: f, f: fh, pf: pf, skip: skip, timeAt: -1}
	if err := c.columns(s.cfg.timeColumn); err != nil {
		return nil, err
	}
	s.stats.files++
	var start int64
	for i, rg := range pf.Metadata().RowGroups {
		c.starts = append(c.starts, start)
		end := start + rg.NumRows
		s.stats.groups++
		if end > skip && s.groupInRange(c, i) {
			c.groups = append(c.groups, i)
		}
		start = end
	}
	if len(c.groups) == 0 {
		s.logf("%s: skipped, %d row groups outside the range or already read", f.rel, len(pf.Metadata().RowGroups))
		return nil, nil
	}
	s.stats.groupsRead += len(c.groups)
	return c, nil
}

// columns sets up the decoders of a file's columns and the partition
// values that are not among them.
func (c *cursor) columns(timeColumn string) error {
	var types map[string]string
	if meta, ok := c.pf.Lookup(metaKey); ok {
		var cols []column
		if json.Unmarshal([]byte(meta), &cols) == nil {
			types = make(map[string]string, len(cols))
			for _, col := range cols {
				types[col.Name] = col.Type
			}
		}
	}
	for _, fld := range c.pf.Schema().Fields() {
		if !fld.Leaf() || fld.Repeated() {
			return fmt.Errorf("column %s: nested and repeated Parquet columns are not supported", fld.Name())
		}
		d, err := decoderOf(fld, types[fld.Name()])
		if err != nil {
			return fmt.Errorf("column %s: %w", fld.Name(), err)
		}
		if fld.Name() == timeColumn {
			if !isTime(fld) {
				return fmt.Errorf("time_column %s is a %s column, not a timestamp or date", timeColumn, fld.Type())
			}
			c.timeAt = len(c.names)
		}
		c.names = append(c.names, fld.Name())
		c.decode = append(c.decode, d)
	}
	for _, p := range c.file.parts {
		if !contains(c.names, p.name) {
			c.extra = append(c.extra, p)
		}
	}
	return nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// groupInRange reports whether row group i may hold rows in the time
// range, by the min and max statistics of the time column.
func (s *Source) groupInRange(c *cursor, i int) bool {
	if !s.cfg.ranged() || c.timeAt < 0 {
		return true
	}
	chunk := c.pf.Metadata().RowGroups[i].Columns[c.timeAt].MetaData
	if chunk.NumValues > 0 && chunk.Statistics.NullCount == chunk.NumValues {
		return false // only nulls, never in a range
	}
	minB, maxB := chunk.Statistics.MinValue, chunk.Statistics.MaxValue
	if len(minB) == 0 || len(maxB) == 0 {
		return true
	}
	node := c.pf.Schema().Fields()[c.timeAt]
	lo, ok1 := statTime(node, minB)
	hi, ok2 := statTime(node, maxB)
	if !ok1 || !ok2 {
		return true
	}
	return s.cfg.overlaps(lo, hi)
}

// readRows reads rows of the current file into b; more is false once the
// file is done.
func (s *Source) readRows(b *sdk.Batch) (more bool, err error) {
	c := s.cur
	if c.rows == nil {
		if c.g >= len(c.groups) {
			return false, nil
		}
		gi := c.groups[c.g]
		c.rows = c.pf.RowGroups()[gi].Rows()
		c.index = c.starts[gi]
		if c.skip > c.index {
			if err := c.rows.SeekToRow(c.skip - c.index); err != nil {
				return false, err
			}
			c.index = c.skip
		}
	}
	n, err := c.rows.ReadRows(s.buf[:s.cfg.batch-len(b.Messages)])
	for _, row := range s.buf[:n] {
		c.index++
		if err := s.emit(b, row); err != nil {
			return false, fmt.Errorf("row %d: %w", c.index, err)
		}
	}
	if errors.Is(err, io.EOF) {
		err = c.rows.Close()
		c.rows = nil
		c.g++
		return err == nil, err
	}
	return err == nil, err
}

// emit turns one row into a message, unless its time is outside the
// range.
func (s *Source) emit(b *sdk.Batch, row pq.Row) error {
	c := s.cur
	fields := make([]sdk.Field, len(c.names), len(c.names)+len(c.extra))
	for i, name := range c.names {
		fields[i].Name = name
	}
	for _, v := range row {
		i := v.Column()
		if i < 0 || i >= len(c.names) || v.IsNull() {
			continue
		}
		x, err := c.decode[i](v)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.names[i], err)
		}
		fields[i].Value = x
	}
	for _, p := range c.extra {
		fields = append(fields, sdk.Field{Name: p.name, Value: p.value})
	}
	var at time.Time
	if c.timeAt >= 0 {
		at, _ = fields[c.timeAt].Value.(time.Time)
		if s.cfg.ranged() && (fields[c.timeAt].Value == nil || !s.cfg.inRange(at)) {
			return nil
		}
	}
	c.read++
	b.Messages = append(b.Messages, sdk.Message{
		Fields:   fields,
		Time:     at,
		Position: sdk.Position{Partition: c.file.rel, Offset: c.index},
	})
	return nil
}

// finish closes the current file and logs what was read of it.
func (s *Source) finish() {
	c := s.cur
	s.cur = nil
	if c.rows != nil {
		_ = c.rows.Close()
	}
	_ = c.f.Close()
	s.stats.rows += c.read
	s.logf("%s: %d rows from %d of %d row groups (file %d of %d)", c.file.rel, c.read, len(c.groups), len(c.starts), s.next, len(s.files))
}

// Close closes the file being read.
func (s *Source) Close(context.Context) error {
	if s.cur != nil {
		if s.cur.rows != nil {
			_ = s.cur.rows.Close()
		}
		err := s.cur.f.Close()
		s.cur = nil
		return err
	}
	return nil
}
