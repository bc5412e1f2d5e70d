package backfill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// state is what a backfill records of its progress in a small file under
// the pipeline's checkpoint folder, so that a rerun after an interruption
// skips the slices already done. The file goes once every slice is done:
// the same backfill run again is a new one and redoes everything.
type state struct {
	Version  int    `json:"version"`
	Pipeline string `json:"pipeline"`
	From     string `json:"from"`
	To       string `json:"to"`
	Slice    string `json:"slice"`
	// Fingerprint identifies the pipeline as it was backfilled (the
	// file's content, the --set values): finished slices of another
	// pipeline are not skipped.
	Fingerprint string   `json:"fingerprint"`
	Done        []string `json:"done"` // finished slices, by Slice.String
}

const stateVersion = 1

// StatePath is where the state of a backfill of [from, to) lives, in the
// pipeline's checkpoint folder dir.
func StatePath(dir string, from, to time.Time) string {
	const layout = "20060102T150405.999999999Z"
	return filepath.Join(dir, "backfill-"+from.UTC().Format(layout)+"-"+to.UTC().Format(layout)+".json")
}

// loadState reads a state file; a missing file is no state.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backfill state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil || s.Version != stateVersion {
		return nil, fmt.Errorf("backfill state %s is not a state file of this flowctl (remove it, or run with --restart)", path)
	}
	return &s, nil
}

// matches reports whether s was written by a backfill of the same
// pipeline, range and slicing.
func (s *state) matches(o *state) bool {
	return s.Pipeline == o.Pipeline && s.From == o.From && s.To == o.To && s.Slice == o.Slice && s.Fingerprint == o.Fingerprint
}

// save writes the state atomically: a synced temporary file renamed over
// the old one.
func (s *state) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save backfill state: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".backfill-*.tmp")
	if err != nil {
		return fmt.Errorf("save backfill state: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("save backfill state: %w", err)
	}
	return nil
}

// done reports whether a slice is recorded as finished.
func (s *state) done(sl Slice) bool { return slices.Contains(s.Done, sl.String()) }

// removeState deletes a state file, if there is one.
func removeState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove backfill state: %w", err)
	}
	return nil
}
