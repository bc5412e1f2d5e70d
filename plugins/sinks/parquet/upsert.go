package parquet

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// upsert rewrites each partition folder that held rows touch: the rows of
// its current files, then the held rows, each replacing an earlier row
// with the same key, go to new files that replace the old ones.
func (s *Sink) upsert() (add []stagedFile, remove []string, err error) {
	view := s.view()
	for _, part := range slices.Sorted(maps.Keys(s.keyed)) {
		var old []string
		for _, p := range slices.Sorted(maps.Keys(view)) {
			if partOf(p) == part {
				old = append(old, p)
			}
		}
		merged := newMerge()
		for _, p := range old {
			rows, err := s.readRows(view[p])
			if err != nil {
				return nil, nil, fmt.Errorf("rewrite %s: %w", p, err)
			}
			for _, row := range rows {
				if err := merged.put(s, row); err != nil {
					return nil, nil, fmt.Errorf("rewrite %s: %w", p, err)
				}
			}
		}
		for _, row := range s.keyed[part] {
			if err := merged.put(s, row); err != nil {
				return nil, nil, err
			}
		}
		files, err := s.writeRows(part, merged.rows)
		if err != nil {
			return nil, nil, err
		}
		add = append(add, files...)
		remove = append(remove, old...)
	}
	s.keyed = map[string][][]any{}
	return add, remove, nil
}

// view returns the files of the table as it will be once the staged
// records are committed: final path to the path of the file on disk.
func (s *Sink) view() map[string]string {
	v := make(map[string]string, len(s.table.live))
	for p := range s.table.live {
		v[p] = p
	}
	for _, r := range s.staged {
		if r.Replace {
			for p, f := range s.table.live {
				if f.writer == s.writer && f.run != r.Run {
					delete(v, p)
				}
			}
		}
		for _, p := range r.Remove {
			delete(v, p)
		}
		for _, f := range r.Add {
			v[f.Path] = f.Staged
		}
	}
	return v
}

// merge collects rows, a later row replacing an earlier one with the same
// key in place.
type merge struct {
	rows  [][]any
	index map[string]int
	buf   []byte
}

func newMerge() *merge { return &merge{index: map[string]int{}} }

func (m *merge) put(s *Sink, row []any) error {
	k, err := s.keyOf(m.buf[:0], row)
	if err != nil {
		return err
	}
	m.buf = k
	if i, ok := m.index[string(k)]; ok {
		m.rows[i] = row
		return nil
	}
	m.index[string(k)] = len(m.rows)
	m.rows = append(m.rows, row)
	return nil
}

// keyOf appends the key of row to b: each key value as it is stored, so
// that a row read back from a file matches the row it was written from.
func (s *Sink) keyOf(b []byte, row []any) ([]byte, error) {
	for i, c := range s.keyIdx {
		if c < 0 || c >= len(row) || isNull(row[c]) {
			b = append(b, 0)
			continue
		}
		v, err := s.coder.value(s.types[c], row[c])
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", s.key[i], err)
		}
		raw := v.AppendBytes(nil)
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	return b, nil
}

// writeRows writes rows to new staged files of a partition folder.
func (s *Sink) writeRows(part string, rows [][]any) ([]stagedFile, error) {
	var out []stagedFile
	fw := newFileWriter(s, part)
	finish := func() error {
		f, ok, err := fw.finish()
		if err != nil {
			fw.abort()
			return err
		}
		if ok {
			out = append(out, f)
		}
		return nil
	}
	for _, row := range rows {
		if !fw.fits(row) {
			if err := finish(); err != nil {
				return out, err
			}
			fw = newFileWriter(s, part)
		}
		if err := fw.add(row); err != nil {
			fw.abort()
			return out, err
		}
		if fw.full() {
			if err := finish(); err != nil {
				return out, err
			}
			fw = newFileWriter(s, part)
		}
	}
	return out, finish()
}

// readRows reads a data file of the table back into rows in the sink's
// column order, adding the columns the sink has not seen.
func (s *Sink) readRows(rel string) ([][]any, error) {
	f, err := os.Open(s.abs(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	meta, ok := pf.Lookup(metaKey)
	if !ok {
		return nil, errors.New("not written by flowctl: no " + metaKey + " metadata")
	}
	var cols []column
	if err := json.Unmarshal([]byte(meta), &cols); err != nil {
		return nil, fmt.Errorf("%s metadata: %w", metaKey, err)
	}
	fields := pf.Schema().Fields()
	if len(fields) != len(cols) {
		return nil, fmt.Errorf("%d columns for %d in %s metadata", len(fields), len(cols), metaKey)
	}
	coders := make([]coder, len(cols))
	types := make([]colType, len(cols))
	at := make([]int, len(cols))
	for i, c := range cols {
		t, ok := parseType(c.Type)
		if !ok {
			return nil, fmt.Errorf("column %s: unknown type %q", c.Name, c.Type)
		}
		types[i] = t
		coders[i] = coderOf(fields[i], s.coder)
		j := slices.Index(s.names, c.Name)
		if j < 0 {
			j = s.addColumn(c.Name, typeNull)
		}
		switch s.types[j] {
		case t, typeNull:
			if t != typeNull {
				s.types[j] = t
			}
		default:
			if t != typeNull {
				return nil, fmt.Errorf("column %s holds %s values, the rows written now %s values", c.Name, t, s.types[j])
			}
		}
		at[i] = j
	}
	var out [][]any
	buf := make([]pq.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				row := make([]any, len(s.names))
				for _, v := range r {
					i := v.Column()
					if v.IsNull() || i < 0 || i >= len(cols) {
						continue
					}
					x, err := coders[i].decode(types[i], v)
					if err != nil {
						_ = rows.Close()
						return nil, fmt.Errorf("column %s: %w", cols[i].Name, err)
					}
					row[at[i]] = x
				}
				out = append(out, row)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rows.Close()
				return nil, err
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// coderOf returns the coder that decodes a column of a file: base, with
// the timestamp unit or decimal scale the column was written with.
func coderOf(n pq.Node, base coder) coder {
	if !n.Leaf() {
		return base
	}
	lt := n.Type().LogicalType()
	if lt == nil {
		return base
	}
	switch v := lt.Value.(type) {
	case *format.TimestampType:
		_, base.nanos = v.Unit.Value.(*format.NanoSeconds)
	case *format.DecimalType:
		base.scale = v.Scale
	}
	return base
}
