// Package diag holds positioned diagnostics: problems found in a pipeline
// file or a record schema, each with the file, line and column it is about.
package diag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a file. Line and Col are 1-based; Col counts bytes.
// The zero Pos means "unknown".
type Pos struct {
	File      string
	Line, Col int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders "file:line:col", or just the file when line is unknown.
func (p Pos) String() string {
	switch {
	case !p.IsValid():
		return p.File
	case p.Col > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	default:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
}

// Severity says whether a diagnostic stops the pipeline from running.
type Severity int

// Severities.
const (
	Error Severity = iota
	Warning
)

// Diagnostic is one problem, located in a file.
type Diagnostic struct {
	Severity Severity
	Pos      Pos
	Path     string // "sources[0].config.path", for context; may be empty
	Msg      string
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Diagnostics is a list of problems.
type Diagnostics []Diagnostic

// Add appends an error at pos.
func (ds *Diagnostics) Add(pos Pos, path, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Severity: Error, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Warn appends a warning at pos.
func (ds *Diagnostics) Warn(pos Pos, path, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Severity: Warning, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Sort orders the diagnostics by file, line and column, keeping the order
// of diagnostics at the same position.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// HasErrors reports whether any diagnostic is an error (not a warning).
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns the errors as an error, or nil when there are none. Warnings
// alone give nil.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return &ListError{List: ds}
}

// ListError is the error form of a list of diagnostics.
type ListError struct{ List Diagnostics }

func (e *ListError) Error() string {
	var lines []string
	for _, d := range e.List {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// AsList extracts the diagnostics from an error made by Err.
func AsList(err error) (Diagnostics, bool) {
	var e *ListError
	if errors.As(err, &e) {
		return e.List, true
	}
	return nil, false
}
