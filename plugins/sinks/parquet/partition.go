package parquet

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// defaultPartition is the folder value of a null or empty partition
// value, as Hive and Spark write it.
const defaultPartition = "__HIVE_DEFAULT_PARTITION__"

// escape escapes a partition value for a folder name as Hive does: the
// characters Hive escapes become %XX.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c byte) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	return strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0
}

// partitionValue renders the value v of partition p's column as the
// text of its folder.
func partitionValue(p partition, v any) (string, error) {
	if v == nil || v == sdk.Absent {
		return defaultPartition, nil
	}
	if p.Layout != "" {
		t, ok := v.(time.Time)
		if !ok {
			return "", fmt.Errorf("partition column %s: format %s=%s needs a timestamp, not %s", p.Column, p.Name, p.Layout, typeName(v))
		}
		return escape(t.UTC().Format(p.Layout)), nil
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case bool:
		s = strconv.FormatBool(v)
	case time.Time:
		s = sdk.FormatTime(v)
	case decimal.Decimal:
		s = v.String()
	case time.Duration:
		s = v.String()
	default:
		return "", fmt.Errorf("partition column %s: cannot partition by a %s", p.Column, typeName(v))
	}
	if s == "" {
		return defaultPartition, nil
	}
	return escape(s), nil
}

// partitionDir returns the folder of a row, relative to the table with
// forward slashes ("" without partitions); idx holds the row index of
// each partition's column, -1 for a column the row lacks.
func partitionDir(parts []partition, idx []int, row []any) (string, error) {
	if len(parts) == 0 {
		return "", nil
	}
	var b strings.Builder
	for i, p := range parts {
		var v any
		if idx[i] >= 0 && idx[i] < len(row) {
			v = row[idx[i]]
		}
		s, err := partitionValue(p, v)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(s)
	}
	return b.String(), nil
}
