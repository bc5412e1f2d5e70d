// Package parquet is flowctl's built-in parquet sink. It writes rows into
// a table folder of Parquet files, in Hive-style partition folders, and
// makes them visible atomically through a commit log tied to the
// pipeline's checkpoints; with a key, rows are upserts.
package parquet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Plugin returns the parquet sink's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "parquet",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Writes rows into a partitioned table of Parquet files with an atomic commit log.",
			// Each instance is a writer of its own (writerName).
			Instances: true,
			Fields: []sdk.FieldSpec{
				{
					Name:     "path",
					Type:     sdk.TypeString,
					Required: true,
					Doc:      "The table folder, relative to the working directory; created if missing.",
				},
				{
					Name: "partition_by",
					Type: sdk.TypeList,
					Elem: sdk.TypeObject,
					Doc: "Partition folders, outermost first. A column name makes `column=value/` folders; " +
						"`{column: event_time, format: \"date=2006-01-02\"}` makes `date=2026-03-17/` folders " +
						"from a timestamp column with a Go time layout (in UTC).",
				},
				{
					Name:    "compression",
					Type:    sdk.TypeString,
					Default: defaultCompression,
					Enum:    []string{"snappy", "zstd", "gzip", "none"},
					Doc:     "The compression codec of the column chunks.",
				},
				{
					Name:    "row_group_size",
					Type:    sdk.TypeString,
					Default: defaultRowGroupSize,
					Doc: "When a row group is cut: after a number of rows (`\"100000\"`) or once its values " +
						"take about this size before compression (`\"64MiB\"`; units B, KB, MB, GB, KiB, MiB, GiB).",
				},
				{
					Name:    "target_file_size",
					Type:    sdk.TypeString,
					Default: defaultTargetFileSize,
					Doc:     "A data file is closed once it reaches this size and the next rows start a new one; files are also closed at each checkpoint.",
				},
				{
					Name:    "timestamp_unit",
					Type:    sdk.TypeString,
					Default: defaultTimestampUnit,
					Enum:    []string{"micros", "nanos"},
					Doc:     "The unit of timestamp columns (TIMESTAMP, adjusted to UTC). `micros` is read by every engine and truncates below the microsecond; `nanos` keeps nanoseconds for 1677 to 2262.",
				},
				{
					Name:    "decimal_scale",
					Type:    sdk.TypeInt,
					Default: int64(defaultDecimalScale),
					Doc:     "The scale of decimal columns, which are DECIMAL(38, scale); values with more fractional digits are rounded half away from zero.",
				},
				{
					Name:    "fresh_run",
					Type:    sdk.TypeString,
					Default: defaultFreshRun,
					Enum:    []string{"replace", "append"},
					Doc: "What a run that starts without a checkpoint does with the rows this pipeline's sink committed " +
						"in earlier runs: `replace` swaps them for the new run's rows at its first commit, " +
						"`append` keeps them. Without effect when the pipeline has a `key`: rows are then upserts.",
				},
			},
		},
		NewSink:  func() sdk.Sink { return &Sink{} },
		Validate: validate,
		Delivery: delivery,
	}
}

// delivery is the plugin's Delivery hook.
func delivery(req sdk.DeliveryRequest) sdk.DeliveryReport {
	if len(req.Key) > 0 {
		return sdk.DeliveryReport{
			Delivery: sdk.ExactlyOnce,
			Reason:   "files are listed in the table's commit log only once the checkpoint covering them is durable, and rows upsert by key, so reruns and backfills replace rows",
		}
	}
	return sdk.DeliveryReport{
		Delivery: sdk.ExactlyOnce,
		Reason:   "files are listed in the table's commit log only once the checkpoint covering them is durable",
	}
}

var (
	_ sdk.Sink      = (*Sink)(nil)
	_ sdk.Committer = (*Sink)(nil)
)

// Sink writes rows into a table folder. Each column's type is fixed by its
// first non-null value. Rows go to staged (hidden) files, one open file per
// partition folder; Prepare closes and syncs them and records them in a
// staging record, and Commit renames them to their final names and lists
// them in a commit log entry. With a key, rows are held in memory until
// Prepare, which rewrites each partition they touch.
//
// A host that never calls the Committer methods gets one commit at Close,
// if rows were written.
type Sink struct {
	cfg    settings
	coder  coder
	writer string // the writer's identity: pipeline/sink
	whash  string
	log    sdk.Logger

	names    []string  // every column seen, in order
	types    []colType // their types
	key      []string
	keyIdx   []int // index in names of each key column, -1 if unseen
	partIdx  []int // index in names of each partition column, -1 if unseen
	lastCols []string
	lastMap  []int
	rowNum   int64 // rows written since Open, for messages

	table    *table
	run      string
	replace  bool     // the next record replaces the writer's earlier runs
	staged   []record // prepared, not yet committed
	prepared uint64   // the last checkpoint prepared or recovered
	trash    []trashed

	files map[string]*fileWriter // open files by partition folder (no key)
	done  []stagedFile           // files finished since the last Prepare
	keyed map[string][][]any     // rows held by partition folder (key)

	opened, recovered, protocol, wrote, committed bool
	err                                           error // sticky failure of a write
}

// trashed is a file a commit removed from the table, deleted from disk at
// the writer's next commit so that a rollback can bring it back.
type trashed struct {
	checkpoint uint64
	path       string
}

// Open reads the table's commit log and prepares for rows with the given
// columns (nil for rows whose columns grow).
func (s *Sink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	for _, p := range cfg.partitions {
		if len(req.Columns) > 0 && !slices.Contains(req.Columns, p.Column) {
			return &sdk.ConfigError{Path: "partition_by", Msg: fmt.Sprintf("column %q is not among the sink's columns %q", p.Column, req.Columns)}
		}
	}
	for _, k := range req.Key {
		if len(req.Columns) > 0 && !slices.Contains(req.Columns, k) {
			return fmt.Errorf("key column %q is not among the sink's columns %q", k, req.Columns)
		}
	}
	s.cfg = cfg
	s.coder = coder{nanos: cfg.nanos, scale: cfg.scale}
	s.writer = writerName(req.Settings)
	s.whash = writerHash(s.writer)
	s.log = req.Settings.Logger
	s.key = slices.Clone(req.Key)
	s.files = map[string]*fileWriter{}
	s.keyed = map[string][][]any{}
	for _, c := range req.Columns {
		s.addColumn(c, typeNull)
	}
	t, err := loadTable(cfg.path)
	if err != nil {
		return fmt.Errorf("table %s: %w", cfg.path, err)
	}
	s.table = t
	s.opened = true
	return nil
}

// writerName is the identity a sink writes under: the pipeline and sink
// names, stable across runs, and the instance, if any
// ("lake_gold/gold#2026-03-01T00:00:00Z/2026-03-02T00:00:00Z").
func writerName(set sdk.Settings) string {
	name := set.Pipeline + "/" + set.Name
	switch {
	case set.Pipeline == "" && set.Name == "":
		name = "flowctl"
	case set.Pipeline == "":
		name = set.Name
	}
	if set.Instance != "" {
		name += "#" + set.Instance
	}
	return name
}

func (s *Sink) logf(format string, args ...any) {
	if s.log != nil {
		s.log.Printf(format, args...)
	}
}

// addColumn appends a column and recomputes the key and partition
// indexes.
func (s *Sink) addColumn(name string, t colType) int {
	s.names = append(s.names, name)
	s.types = append(s.types, t)
	s.keyIdx = indexes(s.names, s.key)
	cols := make([]string, len(s.cfg.partitions))
	for i, p := range s.cfg.partitions {
		cols[i] = p.Column
	}
	s.partIdx = indexes(s.names, cols)
	return len(s.names) - 1
}

func indexes(names, of []string) []int {
	idx := make([]int, len(of))
	for i, n := range of {
		idx[i] = slices.Index(names, n)
	}
	return idx
}

// columnMap returns, for each column of a batch, its index in s.names.
func (s *Sink) columnMap(cols []string) []int {
	if slices.Equal(cols, s.lastCols) {
		return s.lastMap
	}
	m := make([]int, len(cols))
	for i, c := range cols {
		j := slices.Index(s.names, c)
		if j < 0 {
			j = s.addColumn(c, typeNull)
		}
		m[i] = j
	}
	s.lastCols, s.lastMap = slices.Clone(cols), m
	return m
}

// Write checks and types each row and hands it to the file of its
// partition folder, or holds it for the upsert at Prepare.
func (s *Sink) Write(ctx context.Context, rows sdk.Rows) error {
	if !s.opened {
		return errors.New("write to a sink that is not open")
	}
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.ensureRecovered(); err != nil {
		return err
	}
	if len(rows.Rows) > 0 {
		s.wrote = true
	}
	m := s.columnMap(rows.Columns)
	if err := s.checkColumns(); err != nil {
		return err
	}
	for i, row := range rows.Rows {
		s.rowNum++
		if len(row) != len(rows.Columns) {
			return fmt.Errorf("row %d has %d values for %d columns", s.rowNum, len(row), len(rows.Columns))
		}
		full, err := s.widen(m, row)
		if err != nil {
			s.err = err
			return err
		}
		if err := s.route(full); err != nil {
			s.err = fmt.Errorf("row %d: %w", s.rowNum, err)
			return s.err
		}
		if i%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkColumns fails if a partition or key column is not among the
// columns of the rows.
func (s *Sink) checkColumns() error {
	for i, p := range s.cfg.partitions {
		if s.partIdx[i] < 0 {
			return &sdk.ConfigError{Path: "partition_by", Msg: fmt.Sprintf("column %q is not among the columns of the rows %q", p.Column, s.names)}
		}
	}
	for i, k := range s.key {
		if s.keyIdx[i] < 0 {
			return fmt.Errorf("key column %q is not among the columns of the rows %q", k, s.names)
		}
	}
	return nil
}

// widen returns row in the sink's column order, typing each column by
// its first non-null value and checking the others against it.
func (s *Sink) widen(m []int, row []any) ([]any, error) {
	full := make([]any, len(s.names))
	for j, v := range row {
		if isNull(v) {
			continue
		}
		c := m[j]
		t, ok := typeOf(v)
		if !ok {
			return nil, fmt.Errorf("column %q, row %d: cannot write a value of Go type %T", s.names[c], s.rowNum, v)
		}
		switch s.types[c] {
		case t:
		case typeNull:
			s.types[c] = t
		default:
			return nil, fmt.Errorf("column %q, row %d: a %s value in a column of %s values (typed by its first non-null value)", s.names[c], s.rowNum, t, s.types[c])
		}
		full[c] = v
	}
	return full, nil
}

// route sends a row to its partition's file, or holds it for an upsert.
func (s *Sink) route(row []any) error {
	part, err := partitionDir(s.cfg.partitions, s.partIdx, row)
	if err != nil {
		return err
	}
	if len(s.key) > 0 {
		s.keyed[part] = append(s.keyed[part], row)
		return nil
	}
	fw := s.files[part]
	if fw != nil && !fw.fits(row) {
		if err := s.finishFile(part); err != nil {
			return err
		}
		fw = nil
	}
	if fw == nil {
		fw = newFileWriter(s, part)
		s.files[part] = fw
	}
	if err := fw.add(row); err != nil {
		return err
	}
	if fw.full() {
		return s.finishFile(part)
	}
	return nil
}

// finishFile completes the open file of a partition folder.
func (s *Sink) finishFile(part string) error {
	fw := s.files[part]
	delete(s.files, part)
	f, ok, err := fw.finish()
	if err != nil {
		fw.abort()
		return err
	}
	if ok {
		s.done = append(s.done, f)
	}
	return nil
}

// Close ends the sink. Rows written since the last Prepare are dropped
// (their staged files deleted); prepared, uncommitted files stay for
// Recover. A host that never used the Committer methods gets its rows
// committed here instead. After a clean end, files that commits removed
// are deleted from disk.
func (s *Sink) Close(context.Context) error {
	if !s.opened {
		return nil
	}
	s.opened = false
	var err error
	if !s.protocol && s.wrote && s.err == nil {
		err = s.prepare(1)
		if err == nil {
			err = s.commit(1)
		}
	}
	for _, part := range slices.Sorted(maps.Keys(s.files)) {
		s.files[part].abort()
	}
	for _, f := range s.done {
		s.removeFile(f.Staged)
	}
	s.files, s.done, s.keyed = nil, nil, nil
	if err == nil && s.err == nil && s.committed && len(s.staged) == 0 {
		err = s.vacuum()
	}
	return err
}

// abs returns the path on disk of a table-relative path.
func (s *Sink) abs(rel string) string {
	return filepath.Join(s.cfg.path, filepath.FromSlash(rel))
}

// partOf returns the partition folder of a table-relative file path.
func partOf(rel string) string {
	dir := path.Dir(rel)
	if dir == "." {
		return ""
	}
	return dir
}
