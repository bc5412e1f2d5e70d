package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of flowctl.plugin.v1.Rows and Row.
const (
	rowsColumns = 1
	rowsRows    = 2
	rowValues   = 1
)

// AppendRows appends field num holding a flowctl.plugin.v1.Rows of the
// given columns and rows. absent is the value that stands for an absent
// field.
func AppendRows(b []byte, num protowire.Number, columns []string, rows [][]any, absent any) ([]byte, error) {
	b, start := Begin(b, num)
	for _, c := range columns {
		b = protowire.AppendTag(b, rowsColumns, protowire.BytesType)
		b = protowire.AppendString(b, c)
	}
	for i, row := range rows {
		var rowStart int
		b, rowStart = Begin(b, rowsRows)
		for j, v := range row {
			var err error
			if b, err = AppendValue(b, rowValues, v, absent); err != nil {
				return b, fmt.Errorf("row %d: %s: %w", i, column(columns, j), err)
			}
		}
		b = End(b, rowStart)
	}
	return End(b, start), nil
}

// column names column j for an error message.
func column(columns []string, j int) string {
	if j < len(columns) {
		return columns[j]
	}
	return fmt.Sprintf("value %d", j)
}

// Rows reads a field holding a flowctl.plugin.v1.Rows. The values of all
// rows share one backing array, sized by a first pass that counts the
// rows.
func (r *Reader) Rows(typ protowire.Type) (columns []string, rows [][]any, err error) {
	m, err := r.Message(typ)
	if err != nil {
		return nil, nil, err
	}
	count, width, size := 0, 0, len(m.b)
	for first := m; !first.Done(); {
		num, typ, err := first.Next()
		if err != nil {
			return nil, nil, err
		}
		switch num {
		case rowsRows:
			count++
		case rowsColumns:
			width++
		}
		if err := first.Skip(num, typ); err != nil {
			return nil, nil, err
		}
	}
	if count > 0 {
		rows = make([][]any, 0, count)
	}
	var values []any
	for !m.Done() {
		num, typ, err := m.Next()
		if err != nil {
			return nil, nil, err
		}
		switch num {
		case rowsColumns:
			c, err := m.String(typ)
			if err != nil {
				return nil, nil, err
			}
			columns = append(columns, c)
		case rowsRows:
			row, err := m.Message(typ)
			if err != nil {
				return nil, nil, err
			}
			if values == nil {
				// Every value takes two bytes at least, which bounds
				// what a hostile message can make this allocate.
				values = make([]any, 0, min(max(width, 1)*count, size/2))
			}
			start := len(values)
			for !row.Done() {
				num, typ, err := row.Next()
				if err != nil {
					return nil, nil, err
				}
				if num != rowValues {
					if err := row.Skip(num, typ); err != nil {
						return nil, nil, err
					}
					continue
				}
				v, err := row.Value(typ)
				if err != nil {
					return nil, nil, fmt.Errorf("row %d: %s: %w", len(rows), column(columns, len(values)-start), err)
				}
				values = append(values, v)
			}
			rows = append(rows, values[start:len(values):len(values)])
		default:
			if err := m.Skip(num, typ); err != nil {
				return nil, nil, err
			}
		}
	}
	return columns, rows, nil
}
