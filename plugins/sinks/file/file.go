// Package file is flowctl's built-in file sink. It writes rows to one
// local file, as JSON lines or as CSV, exactly once: rows reach the file
// when the checkpoint that covers them commits.
package file

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/flowctl/flowctl/plugins/sdk"
)

const bufferSize = 1 << 20

// Plugin returns the file sink's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "file",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Writes rows to a local file as JSON lines or CSV.",
			Fields: []sdk.FieldSpec{
				{
					Name:     "path",
					Type:     sdk.TypeString,
					Required: true,
					Doc: "The file to write, relative to the working directory. " +
						"Missing parent directories are created. A fresh run replaces the file; a run that resumes from a checkpoint appends to it. " +
						"Rows are staged in the folder `.NAME.flowctl` next to the file until their checkpoint commits.",
				},
				{
					Name:    "format",
					Type:    sdk.TypeString,
					Default: formatJSONL,
					Enum:    []string{formatJSONL, formatCSV},
					Doc: "`jsonl`: one JSON object per row, fields in column order. " +
						"`csv`: a header row, then one row per row.",
				},
			},
		},
		NewSink:  func() sdk.Sink { return &Sink{} },
		Validate: validate,
		Delivery: func(sdk.DeliveryRequest) sdk.DeliveryReport {
			return sdk.DeliveryReport{Delivery: sdk.ExactlyOnce, Reason: "rows are staged and appended to the file when their checkpoint commits; a restart truncates the file to its last commit"}
		},
	}
}

var (
	_ sdk.Sink      = (*Sink)(nil)
	_ sdk.Committer = (*Sink)(nil)
)

// Sink writes rows to a file. In jsonl every row is one JSON object with
// its values written by sdk.AppendJSON. In csv the header row is the first
// batch's columns, and cells are written by sdk.FormatText, quoted as
// encoding/csv does; a batch with other columns is an error.
//
// Rows are delivered exactly once (see commit.go): they are written to a
// staging file next to the output and appended to the output only when the
// host commits the checkpoint that covers them.
type Sink struct {
	path    string
	csv     bool
	columns []string // columns the host announced at Open
	log     *commitLog

	f      *os.File // the pending staging file
	w      *bufio.Writer
	cw     *csv.Writer
	header []string // the csv header, once written
	record []string // scratch csv record
	err    error    // sticky write error
}

// Open creates the file's folder and a fresh staging file; the file itself
// is touched only by Recover and Commit.
func (s *Sink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return err
	}
	s.path, s.csv, s.columns = cfg.Path, cfg.Format == formatCSV, slices.Clone(req.Columns)
	s.log = newCommitLog(cfg.Path)
	return s.startPending()
}

// startPending opens a fresh staging file for the rows of the next
// checkpoint.
func (s *Sink) startPending() error {
	f, err := s.log.createPending()
	if err != nil {
		return err
	}
	s.f = f
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, bufferSize)
	} else {
		s.w.Reset(f)
	}
	if s.csv {
		s.cw = csv.NewWriter(s.w) // writes through s.w, which is large enough
	}
	return nil
}

// Write buffers rows in the staging file; they reach the output file when
// the checkpoint that covers them commits.
func (s *Sink) Write(_ context.Context, rows sdk.Rows) error {
	if s.err != nil {
		return s.err
	}
	if s.f == nil {
		return errors.New("write to a sink that is not open")
	}
	for i, row := range rows.Rows {
		if len(row) != len(rows.Columns) {
			return fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(rows.Columns))
		}
	}
	if s.csv {
		s.err = s.writeCSV(rows)
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
			return fmt.Errorf("write %s: %w", s.path, err)
		}
	}
	return nil
}

func (s *Sink) writeCSV(rows sdk.Rows) error {
	if s.header == nil {
		if err := s.writeHeader(rows.Columns); err != nil {
			return err
		}
	} else if !slices.Equal(s.header, rows.Columns) {
		return fmt.Errorf("csv columns changed from %q to %q; a csv file has one header", s.header, rows.Columns)
	}
	for _, row := range rows.Rows {
		s.record = s.record[:0]
		for _, v := range row {
			s.record = append(s.record, sdk.FormatText(v))
		}
		if len(s.record) == 1 && s.record[0] == "" {
			// encoding/csv would write an empty line, which readers skip.
			// s.cw writes straight into s.w, so the order is kept.
			if _, err := s.w.WriteString("\"\"\n"); err != nil {
				return fmt.Errorf("write %s: %w", s.path, err)
			}
			continue
		}
		if err := s.cw.Write(s.record); err != nil {
			return fmt.Errorf("write %s: %w", s.path, err)
		}
	}
	return nil
}

func (s *Sink) writeHeader(columns []string) error {
	s.header = slices.Clone(columns)
	if s.header == nil {
		s.header = []string{}
	}
	if len(columns) == 0 {
		return nil
	}
	if err := s.cw.Write(columns); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// flush writes the buffered rows to the staging file and syncs it.
func (s *Sink) flush() error {
	if s.cw != nil {
		s.cw.Flush() // into s.w
		if err := s.cw.Error(); err != nil {
			return fmt.Errorf("write %s: %w", s.path, err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	return nil
}

// Close closes the staging file. Rows written since the last Prepare are
// not committed; the next run's Recover discards them.
func (s *Sink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return s.err
}
