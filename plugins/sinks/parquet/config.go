package parquet

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Config is the parquet sink's config block.
type Config struct {
	// Path is the table folder, relative to the working directory.
	Path string `json:"path"`
	// PartitionBy lists the partition folders, outermost first: each
	// element is a column name (JSON string) or a {column, format} object.
	PartitionBy []json.RawMessage `json:"partition_by"`
	// Compression is snappy, zstd, gzip or none.
	Compression string `json:"compression"`
	// RowGroupSize is a row count ("100000") or a byte size ("64MiB").
	RowGroupSize string `json:"row_group_size"`
	// TargetFileSize is a byte size ("128MiB") past which a file is closed
	// and the next rows go to a new one.
	TargetFileSize string `json:"target_file_size"`
	// TimestampUnit is micros or nanos.
	TimestampUnit string `json:"timestamp_unit"`
	// DecimalScale is the scale of every decimal column (precision 38).
	DecimalScale *int64 `json:"decimal_scale"`
	// FreshRun is what a run without a checkpoint does with this writer's
	// earlier rows: replace or append.
	FreshRun string `json:"fresh_run"`
}

// The defaults of the optional fields.
const (
	defaultCompression    = "snappy"
	defaultRowGroupSize   = "64MiB"
	defaultTargetFileSize = "128MiB"
	defaultTimestampUnit  = "micros"
	defaultDecimalScale   = 9
	defaultFreshRun       = "replace"

	// decimalPrecision is the precision of every decimal column: the most
	// a 16-byte FIXED_LEN_BYTE_ARRAY holds.
	decimalPrecision = 38
)

// partition is one level of partition folders: the rows' value of Column,
// rendered as Name=value where value is the column's value (an identity
// partition, Layout empty) or the column's timestamp formatted with the Go
// time layout Layout.
type partition struct {
	Column string `json:"column"`
	Name   string `json:"name"`
	Layout string `json:"layout,omitempty"`
}

// settings is a checked config with defaults applied.
type settings struct {
	path          string
	partitions    []partition
	codec         compress.Codec
	rowGroupRows  int64 // cut a row group after this many rows, 0: by bytes
	rowGroupBytes int64 // cut a row group after about this many bytes, 0: by rows
	targetFile    int64
	nanos         bool
	scale         int32
	append        bool
}

// sizeUnits are the suffixes a byte size may have, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// parseBytes parses a byte size such as "64MiB" or "500KB". ok is false
// for a bare number.
func parseBytes(s string) (n int64, ok bool, err error) {
	for _, u := range sizeUnits {
		num, found := strings.CutSuffix(s, u.suffix)
		if !found {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || v <= 0 || v > (1<<50)/u.mult {
			return 0, true, fmt.Errorf("%q is not a positive size such as \"64MiB\"", s)
		}
		return v * u.mult, true, nil
	}
	return 0, false, nil
}

// parsePartition reads one element of partition_by.
func parsePartition(raw json.RawMessage) (partition, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		if name == "" {
			return partition{}, fmt.Errorf("must name a column")
		}
		return partition{Column: name, Name: name}, nil
	}
	var obj struct {
		Column string `json:"column"`
		Format string `json:"format"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return partition{}, fmt.Errorf("must be a column name or {column: NAME, format: \"date=2006-01-02\"}: %v", err)
	}
	if obj.Column == "" {
		return partition{}, fmt.Errorf("column: must name a column")
	}
	if obj.Format == "" {
		return partition{Column: obj.Column, Name: obj.Column}, nil
	}
	name, layout, found := strings.Cut(obj.Format, "=")
	if !found || name == "" || layout == "" {
		return partition{}, fmt.Errorf("format: %q must be NAME=LAYOUT with a Go time layout, such as \"date=2006-01-02\"", obj.Format)
	}
	if escape(name) != name {
		return partition{}, fmt.Errorf("format: folder name %q has characters that need escaping", name)
	}
	probe := time.Date(2026, 3, 17, 23, 58, 59, 0, time.UTC).Format(layout)
	if probe == layout {
		return partition{}, fmt.Errorf("format: %q has no time layout element such as 2006, 01 or 02", layout)
	}
	if strings.Contains(probe, "/") {
		return partition{}, fmt.Errorf("format: layout %q must not make a '/'", layout)
	}
	return partition{Column: obj.Column, Name: name, Layout: layout}, nil
}

// check validates c and returns its settings with defaults applied.
func (c *Config) check() (settings, []sdk.Diagnostic) {
	var diags []sdk.Diagnostic
	add := func(path, format string, args ...any) {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	s := settings{path: c.Path}
	if c.Path == "" {
		add("path", "must not be empty")
	}
	names := map[string]bool{}
	for i, raw := range c.PartitionBy {
		p, err := parsePartition(raw)
		if err != nil {
			add(fmt.Sprintf("partition_by[%d]", i), "%v", err)
			continue
		}
		if names[p.Name] {
			add(fmt.Sprintf("partition_by[%d]", i), "folder name %q is used twice", p.Name)
		}
		names[p.Name] = true
		s.partitions = append(s.partitions, p)
	}
	switch c.Compression {
	case "", "snappy":
		s.codec = &pq.Snappy
	case "zstd":
		s.codec = &pq.Zstd
	case "gzip":
		s.codec = &pq.Gzip
	case "none":
		s.codec = &pq.Uncompressed
	default:
		add("compression", "must be snappy, zstd, gzip or none, not %q", c.Compression)
	}
	rg := c.RowGroupSize
	if rg == "" {
		rg = defaultRowGroupSize
	}
	if n, isBytes, err := parseBytes(rg); err != nil {
		add("row_group_size", "%v", err)
	} else if isBytes {
		s.rowGroupBytes = n
	} else if rows, err := strconv.ParseInt(rg, 10, 64); err != nil || rows <= 0 {
		add("row_group_size", "%q must be a row count such as \"100000\" or a size such as \"64MiB\"", rg)
	} else {
		s.rowGroupRows = rows
	}
	tf := c.TargetFileSize
	if tf == "" {
		tf = defaultTargetFileSize
	}
	if n, isBytes, err := parseBytes(tf); err != nil || !isBytes {
		add("target_file_size", "%q must be a size such as \"128MiB\"", tf)
	} else {
		s.targetFile = n
	}
	switch c.TimestampUnit {
	case "", "micros":
	case "nanos":
		s.nanos = true
	default:
		add("timestamp_unit", "must be micros or nanos, not %q", c.TimestampUnit)
	}
	s.scale = defaultDecimalScale
	if c.DecimalScale != nil {
		if *c.DecimalScale < 0 || *c.DecimalScale > decimalPrecision {
			add("decimal_scale", "must be between 0 and %d, not %d", decimalPrecision, *c.DecimalScale)
		} else {
			s.scale = int32(*c.DecimalScale)
		}
	}
	switch c.FreshRun {
	case "", "replace":
	case "append":
		s.append = true
	default:
		add("fresh_run", "must be replace or append, not %q", c.FreshRun)
	}
	return s, diags
}

// parseConfig decodes and checks a config block.
func parseConfig(config []byte) (settings, []sdk.Diagnostic) {
	var c Config
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return settings{}, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	return c.check()
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
