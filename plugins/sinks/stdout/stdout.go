// Package stdout is flowctl's built-in stdout sink. It prints rows on
// standard output as JSON lines or as an aligned text table.
package stdout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flowctl/flowctl/plugins/sdk"
)

const bufferSize = 64 << 10

// Plugin returns the stdout sink's spec and constructor. The sink writes
// to the process's os.Stdout as it is when the sink is made.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "stdout",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Prints rows on standard output as JSON lines or an aligned table.",
			Fields: []sdk.FieldSpec{{
				Name:    "format",
				Type:    sdk.TypeString,
				Default: formatJSONL,
				Enum:    []string{formatJSONL, formatTable},
				Doc: "`jsonl`: one JSON object per row, fields in column order. " +
					"`table`: aligned columns under a header.",
			}},
		},
		NewSink:  func() sdk.Sink { return New(os.Stdout) },
		Validate: validate,
	}
}

var (
	_ sdk.Sink    = (*Sink)(nil)
	_ sdk.Flusher = (*Sink)(nil)
)

// Sink prints rows to an io.Writer. In jsonl every row is one JSON object
// with its values written by sdk.AppendJSON. In table the first rows are
// printed under a header of column names; every column is as wide as the
// widest cell seen so far, so a later batch with wider values is aligned
// to the new widths while the header keeps the old ones. A batch with
// other columns starts a new header. Cells are written by sdk.FormatText,
// with control characters escaped.
type Sink struct {
	out   io.Writer
	w     *bufio.Writer
	table bool

	columns []string // announced at Open; for a header when no rows come
	header  []string // columns of the last header printed; nil before
	widths  []int    // display width of each column so far
	cells   []string // scratch: one batch's cells, row after row
	line    []byte   // scratch
	err     error    // sticky write error
}

// New returns a sink that prints to w.
func New(w io.Writer) *Sink { return &Sink{out: w} }

// Open prepares the sink.
func (s *Sink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	s.table = cfg.Format == formatTable
	s.columns = slices.Clone(req.Columns)
	s.w = bufio.NewWriterSize(s.out, bufferSize)
	return nil
}

// Write buffers the printed rows; they reach the writer when the buffer
// fills, at Flush and at Close.
func (s *Sink) Write(_ context.Context, rows sdk.Rows) error {
	if s.err != nil {
		return s.err
	}
	if s.w == nil {
		return errors.New("write to a sink that is not open")
	}
	for i, row := range rows.Rows {
		if len(row) != len(rows.Columns) {
			return fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(rows.Columns))
		}
	}
	if s.table {
		s.err = s.writeTable(rows)
	} else {
		s.err = s.writeJSONL(rows)
	}
	return s.err
}

func (s *Sink) writeJSONL(rows sdk.Rows) error {
	for _, row := range rows.Rows {
		b := s.w.AvailableBuffer()
		b = sdk.AppendJSONObject(b, rows.Columns, row, nil)
		b = append(b, '\n')
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

func (s *Sink) writeTable(rows sdk.Rows) error {
	if len(rows.Rows) == 0 {
		return nil
	}
	newHeader := s.header == nil || !slices.Equal(s.header, rows.Columns)
	if newHeader {
		s.header = slices.Clone(rows.Columns)
		s.widths = s.widths[:0]
		for _, c := range rows.Columns {
			s.widths = append(s.widths, utf8.RuneCountInString(c))
		}
	}
	s.cells = s.cells[:0]
	for _, row := range rows.Rows {
		for i, v := range row {
			c := cell(v)
			s.widths[i] = max(s.widths[i], utf8.RuneCountInString(c))
			s.cells = append(s.cells, c)
		}
	}
	if newHeader {
		if err := s.printHeader(); err != nil {
			return err
		}
	}
	n := len(rows.Columns)
	for i := 0; i < len(s.cells); i += n {
		if err := s.printLine(s.cells[i : i+n]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) printHeader() error {
	if err := s.printLine(s.header); err != nil {
		return err
	}
	dashes := make([]string, len(s.widths))
	for i, w := range s.widths {
		dashes[i] = strings.Repeat("-", w)
	}
	return s.printLine(dashes)
}

// printLine prints cells padded to the column widths, without trailing
// spaces.
func (s *Sink) printLine(cells []string) error {
	b := s.line[:0]
	for i, c := range cells {
		if i > 0 {
			b = append(b, "  "...)
		}
		b = append(b, c...)
		if i < len(cells)-1 {
			for range s.widths[i] - utf8.RuneCountInString(c) {
				b = append(b, ' ')
			}
		}
	}
	b = append(b, '\n')
	s.line = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// cell renders v for the table, escaping control characters so that a
// row stays on one line.
func cell(v any) string {
	c := sdk.FormatText(v)
	if strings.ContainsFunc(c, unicode.IsControl) {
		q := strconv.Quote(c)
		return q[1 : len(q)-1]
	}
	return c
}

// Flush writes the buffered output to the writer.
func (s *Sink) Flush(context.Context) error {
	if s.err != nil {
		return s.err
	}
	if s.w == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("write: %w", err)
	}
	return s.err
}

// Close flushes the output. A table that received no rows still gets the
// header of the columns announced at Open.
func (s *Sink) Close(ctx context.Context) error {
	if s.w == nil {
		return nil
	}
	if s.err == nil && s.table && s.header == nil && len(s.columns) > 0 {
		s.header = s.columns
		s.widths = s.widths[:0]
		for _, c := range s.columns {
			s.widths = append(s.widths, utf8.RuneCountInString(c))
		}
		s.err = s.printHeader()
	}
	err := s.Flush(ctx)
	s.w = nil
	return err
}
