package parquet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The parts of a table folder written by the parquet sink that the source
// reads: the commit log, one entry per version.
const (
	logDir           = "_flowctl_log"
	defaultPartition = "__HIVE_DEFAULT_PARTITION__"
)

// entry is the part of a commit log entry the source needs.
type entry struct {
	Version     int64       `json:"version"`
	PartitionBy []partition `json:"partition_by"`
	Add         []struct {
		Path string `json:"path"`
	} `json:"add"`
	Remove []string `json:"remove"`
}

// partition is how the sink made one level of partition folders: Name
// from Column, formatted with Layout if set.
type partition struct {
	Column string `json:"column"`
	Name   string `json:"name"`
	Layout string `json:"layout"`
}

// dataFile is one file of the table.
type dataFile struct {
	rel   string      // relative to the table, forward slashes
	parts []kv        // partition values from its folders
	spec  []partition // how the sink made them, if known
}

// kv is one partition folder: name=value, value nil for the default
// partition.
type kv struct {
	name  string
	value any // string or nil
}

// listTable returns the table's files in path order and the log version
// read (-1 without a log): the files of the latest committed version if
// the table has a commit log, else every *.parquet file under dir whose
// path has no part starting with "_" or ".".
func listTable(dir string) ([]dataFile, int64, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, 0, err
	}
	if !st.IsDir() {
		return nil, 0, fmt.Errorf("%s is not a folder", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, logDir)); err == nil {
		return listLog(dir)
	}
	files, err := walkTable(dir)
	return files, -1, err
}

// listLog replays the commit log.
func listLog(dir string) ([]dataFile, int64, error) {
	live := map[string][]partition{}
	version := int64(0)
	for ; ; version++ {
		p := filepath.Join(dir, logDir, fmt.Sprintf("%020d.json", version))
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, 0, fmt.Errorf("commit log entry %s: %w", p, err)
		}
		for _, r := range e.Remove {
			delete(live, r)
		}
		for _, a := range e.Add {
			live[a.Path] = e.PartitionBy
		}
	}
	files := make([]dataFile, 0, len(live))
	for rel, spec := range live {
		parts, err := partsOf(rel)
		if err != nil {
			return nil, 0, err
		}
		files = append(files, dataFile{rel: rel, parts: parts, spec: spec})
	}
	slices.SortFunc(files, func(a, b dataFile) int { return strings.Compare(a.rel, b.rel) })
	return files, version - 1, nil
}

// walkTable lists a plain folder of Parquet files.
func walkTable(dir string) ([]dataFile, error) {
	var files []dataFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if name := d.Name(); strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".parquet") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		parts, err := partsOf(rel)
		if err != nil {
			return err
		}
		files = append(files, dataFile{rel: rel, parts: parts})
		return nil
	})
	slices.SortFunc(files, func(a, b dataFile) int { return strings.Compare(a.rel, b.rel) })
	return files, err
}

// partsOf reads the name=value folders of a file path.
func partsOf(rel string) ([]kv, error) {
	var parts []kv
	for _, seg := range strings.Split(path.Dir(rel), "/") {
		name, value, ok := strings.Cut(seg, "=")
		if !ok || name == "" {
			continue
		}
		if value == defaultPartition {
			parts = append(parts, kv{name: name})
			continue
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("partition folder %q of %s: %w", seg, rel, err)
		}
		parts = append(parts, kv{name: name, value: v})
	}
	return parts, nil
}

// timeSpan returns the event times partition folder p of f can hold, and
// whether it says anything about them: for a folder made from the time
// column, the span its value covers.
func (f *dataFile) timeSpan(p kv, timeColumn string) (lo, hi time.Time, known bool) {
	var spec *partition
	for i := range f.spec {
		if f.spec[i].Name == p.name {
			spec = &f.spec[i]
		}
	}
	switch {
	case spec != nil && spec.Column != timeColumn:
		return lo, hi, false
	case spec == nil && p.name != timeColumn:
		return lo, hi, false
	case p.value == nil:
		// Null times: never in a range.
		return time.Time{}, time.Time{}, true
	}
	v := p.value.(string)
	if spec != nil && spec.Layout != "" {
		return layoutSpan(spec.Layout, v)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, t, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, t.AddDate(0, 0, 1).Add(-time.Nanosecond), true
	}
	return lo, hi, false
}

// layoutSpan returns the times that a Go time layout renders as value:
// from the value parsed to just before the next second, minute, hour,
// day, month or year renders differently. Layouts without a year say
// nothing.
func layoutSpan(layout, value string) (lo, hi time.Time, known bool) {
	if !strings.Contains(layout, "2006") {
		return lo, hi, false
	}
	t, err := time.ParseInLocation(layout, value, time.UTC)
	if err != nil || t.Format(layout) != value {
		return lo, hi, false
	}
	steps := []func(time.Time) time.Time{
		func(t time.Time) time.Time { return t.Add(time.Second) },
		func(t time.Time) time.Time { return t.Add(time.Minute) },
		func(t time.Time) time.Time { return t.Add(time.Hour) },
		func(t time.Time) time.Time { return t.AddDate(0, 0, 1) },
		func(t time.Time) time.Time { return t.AddDate(0, 1, 0) },
		func(t time.Time) time.Time { return t.AddDate(1, 0, 0) },
	}
	for _, step := range steps {
		next := step(t)
		if next.Format(layout) != value {
			return t, next.Add(-time.Nanosecond), true
		}
	}
	return lo, hi, false
}
