package parquet

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// The table's bookkeeping lives in logDir: the commit log (one entry per
// file named by its version, 20 digits), the staging records of prepared
// checkpoints under stagingDir, and one marker per writer under
// writersDir. Readers follow the entries only.
const (
	logDir     = "_flowctl_log"
	stagingDir = "_staging"
	writersDir = "_writers"
)

var entryName = regexp.MustCompile(`^[0-9]{20}\.json$`)

// entry is one commit of the log: files that became part of the table
// and files that stopped being part of it, by one writer for one
// checkpoint.
type entry struct {
	Version     int64       `json:"version"`
	Writer      string      `json:"writer"`
	Run         string      `json:"run"`
	Checkpoint  uint64      `json:"checkpoint"`
	Rollback    bool        `json:"rollback,omitempty"`
	CommittedAt string      `json:"committed_at"`
	PartitionBy []partition `json:"partition_by,omitempty"`
	Add         []addedFile `json:"add,omitempty"`
	Remove      []string    `json:"remove,omitempty"`
}

// addedFile is a data file an entry adds: its path relative to the table,
// with forward slashes.
type addedFile struct {
	Path  string `json:"path"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// liveFile is a file of the table's current version.
type liveFile struct {
	addedFile
	writer string
	run    string
}

// table is the state of a table folder as its log tells it.
type table struct {
	dir     string
	entries []entry
	live    map[string]liveFile
}

// loadTable reads the log of the table in dir; a missing log is an empty
// table.
func loadTable(dir string) (*table, error) {
	t := &table{dir: dir, live: map[string]liveFile{}}
	return t, t.refresh()
}

// next is the version the next entry gets.
func (t *table) next() int64 { return int64(len(t.entries)) }

// refresh reads the entries written since the table was loaded.
func (t *table) refresh() error {
	for {
		e, err := readEntry(t.dir, t.next())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		t.apply(e)
	}
}

func entryPath(dir string, version int64) string {
	return filepath.Join(dir, logDir, fmt.Sprintf("%020d.json", version))
}

func readEntry(dir string, version int64) (entry, error) {
	var e entry
	p := entryPath(dir, version)
	b, err := os.ReadFile(p)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("commit log entry %s: %w", p, err)
	}
	if e.Version != version {
		return e, fmt.Errorf("commit log entry %s says version %d", p, e.Version)
	}
	return e, nil
}

func (t *table) apply(e entry) {
	for _, r := range e.Remove {
		delete(t.live, r)
	}
	for _, a := range e.Add {
		t.live[a.Path] = liveFile{addedFile: a, writer: e.Writer, run: e.Run}
	}
	t.entries = append(t.entries, e)
}

// ConflictError says another writer changed files an entry was about to
// remove.
type ConflictError struct {
	Path    string
	Version int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("file %s was removed by another writer's commit (version %d) while this one rewrote it", e.Path, e.Version)
}

// append writes e as the next entry of the log and applies it. Entries are
// created with a hard link, which fails if the version exists, so that two
// writers never overwrite each other's entry: the loser reads the new
// entries, checks that the files it removes are still there, and retries.
func (t *table) append(e entry) (entry, error) {
	dir := filepath.Join(t.dir, logDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return e, err
	}
	for {
		e.Version = t.next()
		e.CommittedAt = time.Now().UTC().Format(time.RFC3339Nano)
		b, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			return e, err
		}
		tmp, err := writeTemp(dir, fmt.Sprintf("%020d.json", e.Version), b)
		if err != nil {
			return e, err
		}
		err = os.Link(tmp, entryPath(t.dir, e.Version))
		_ = os.Remove(tmp)
		if err == nil {
			if err := syncDir(dir); err != nil {
				return e, err
			}
			t.apply(e)
			return e, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return e, fmt.Errorf("commit log: %w", err)
		}
		before := t.next()
		if err := t.refresh(); err != nil {
			return e, err
		}
		for _, r := range e.Remove {
			if _, ok := t.live[r]; !ok {
				return e, &ConflictError{Path: r, Version: before}
			}
		}
	}
}

// writeTemp writes b to a new hidden temporary file in dir, named after
// name, synced to disk, and returns its path.
func writeTemp(dir, name string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// writeAtomic replaces dir/name with b: a synced temporary file renamed
// over it, then the folder synced.
func writeAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := writeTemp(dir, name, b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes the entries of a folder durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// record is a prepared checkpoint: files written and synced under hidden
// staged names, waiting for their commit.
type record struct {
	Writer     string `json:"writer"`
	Run        string `json:"run"`
	Checkpoint uint64 `json:"checkpoint"`
	// Replace makes the commit also remove every live file of the writer
	// from its earlier runs.
	Replace     bool         `json:"replace,omitempty"`
	PartitionBy []partition  `json:"partition_by,omitempty"`
	Add         []stagedFile `json:"add,omitempty"`
	Remove      []string     `json:"remove,omitempty"`
}

// stagedFile is a data file under its staged name and the name it gets
// at commit.
type stagedFile struct {
	addedFile
	Staged string `json:"staged"`
}

func (r *record) name() string { return fmt.Sprintf("%020d.json", r.Checkpoint) }

func stagingPath(dir, whash string) string {
	return filepath.Join(dir, logDir, stagingDir, whash)
}

// readRecords returns the staging records of a writer, by checkpoint.
func readRecords(dir, whash string) ([]record, error) {
	sdir := stagingPath(dir, whash)
	des, err := os.ReadDir(sdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []record
	for _, de := range des {
		if !entryName.MatchString(de.Name()) {
			continue // a temporary file left by a crash
		}
		b, err := os.ReadFile(filepath.Join(sdir, de.Name()))
		if err != nil {
			return nil, err
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("staging record %s: %w", filepath.Join(sdir, de.Name()), err)
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b record) int { return compareUint(a.Checkpoint, b.Checkpoint) })
	return recs, nil
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// marker is what a writer last committed; it is written after every
// commit, including those that change no file.
type marker struct {
	Writer     string `json:"writer"`
	Run        string `json:"run"`
	Checkpoint uint64 `json:"checkpoint"`
	// Version is the number of log entries when the marker was written.
	Version int64 `json:"version"`
}

func markerDir(dir string) string { return filepath.Join(dir, logDir, writersDir) }

func readMarker(dir, whash string) (marker, bool, error) {
	var m marker
	b, err := os.ReadFile(filepath.Join(markerDir(dir), whash+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("writer marker %s: %w", whash, err)
	}
	return m, true, nil
}

func writeMarker(dir, whash string, m marker) error {
	b, _ := json.Marshal(m)
	return writeAtomic(markerDir(dir), whash+".json", b)
}

// writerHash is a short stable name of a writer for file names.
func writerHash(writer string) string {
	h := sha256.Sum256([]byte(writer))
	return hex.EncodeToString(h[:8])
}

// randomID returns 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// stagedPrefix starts the name of every staged file of a writer; the
// leading dot hides it from Hive-style readers.
func stagedPrefix(whash string) string { return ".staged-" + whash + "-" }

// newFileNames returns the staged and final paths, relative to the table,
// of a new data file in partition folder part.
func newFileNames(whash, part string) (staged, final string) {
	id := randomID()
	return path.Join(part, stagedPrefix(whash)+id+".parquet"), path.Join(part, "part-"+id+".parquet")
}
