package parquet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The commit protocol (sdk.Committer). A writer is a pipeline's sink
// (Settings.Pipeline/Settings.Name); each of its runs has a random id,
// and a run's checkpoints are the host's. What a writer did is in the
// table folder:
//
//   - log entries naming writer, run and checkpoint;
//   - its staging records, one per prepared checkpoint not yet committed,
//     all of one run;
//   - its marker: the run and checkpoint it last committed.

// latest returns the writer's latest run and the checkpoint it holds
// (committed or staged) in it.
func (s *Sink) latest(recs []record) (string, uint64, error) {
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		return last.Run, last.Checkpoint, nil
	}
	m, ok, err := readMarker(s.cfg.path, s.whash)
	if err != nil {
		return "", 0, err
	}
	for i := len(s.table.entries) - 1; i >= 0; i-- {
		e := s.table.entries[i]
		if e.Writer != s.writer {
			continue
		}
		if !ok || e.Version >= m.Version {
			return e.Run, e.Checkpoint, nil
		}
		break
	}
	if ok {
		return m.Run, m.Checkpoint, nil
	}
	return "", 0, nil
}

// Committed reports the latest checkpoint of the writer's latest run that
// is committed or durably staged.
func (s *Sink) Committed(context.Context) (uint64, error) {
	s.protocol = true
	if err := s.table.refresh(); err != nil {
		return 0, err
	}
	recs, err := readRecords(s.cfg.path, s.whash)
	if err != nil {
		return 0, err
	}
	_, id, err := s.latest(recs)
	return id, err
}

// Recover makes the table hold exactly the writer's checkpoints up to id:
// staged checkpoints up to id are committed, later ones discarded, and
// committed checkpoints after id rolled back. Recover(0) starts a new run,
// which with fresh_run: replace (and no key) swaps the writer's earlier
// rows for its own at its first commit.
func (s *Sink) Recover(_ context.Context, id uint64) error {
	s.protocol = true
	return s.recover(id)
}

// ensureRecovered starts a new run if the host did not call Recover.
func (s *Sink) ensureRecovered() error {
	if s.recovered {
		return nil
	}
	return s.recover(0)
}

func (s *Sink) recover(id uint64) error {
	if s.wrote || len(s.staged) > 0 {
		return errors.New("Recover after rows were written")
	}
	if err := s.table.refresh(); err != nil {
		return err
	}
	recs, err := readRecords(s.cfg.path, s.whash)
	if err != nil {
		return err
	}
	run, _, err := s.latest(recs)
	if err != nil {
		return err
	}
	fresh := id == 0 || run == ""
	for i := range recs {
		r := &recs[i]
		// A record whose entry is in the log was committed: finish it.
		if s.hasEntry(r) || !fresh && r.Run == run && r.Checkpoint <= id {
			err = s.commitRecord(r)
		} else {
			err = s.discard(r)
		}
		if err != nil {
			return err
		}
	}
	if fresh {
		s.run = randomID()
		s.replace = id == 0 && !s.cfg.append && len(s.key) == 0
		if err := s.removeOrphans(); err != nil {
			return err
		}
		if id == 0 {
			if err := s.vacuum(); err != nil {
				return err
			}
		}
		s.recovered = true
		s.logf("table %s: new run %s", s.cfg.path, s.run)
		return nil
	}
	s.run = run
	if err := s.rollback(id); err != nil {
		return err
	}
	if err := s.removeOrphans(); err != nil {
		return err
	}
	s.recovered = true
	s.logf("table %s: recovered run %s at checkpoint %d", s.cfg.path, s.run, id)
	return nil
}

// Prepare closes and syncs every file written since the previous Prepare
// (with a key: rewrites the partitions the held rows touch) and records
// them durably as staged under checkpoint id.
func (s *Sink) Prepare(_ context.Context, id uint64) error {
	s.protocol = true
	return s.prepare(id)
}

func (s *Sink) prepare(id uint64) error {
	if s.err != nil {
		return s.err
	}
	if err := s.ensureRecovered(); err != nil {
		return err
	}
	if id <= s.prepared {
		return fmt.Errorf("prepare checkpoint %d after checkpoint %d", id, s.prepared)
	}
	rec := record{Writer: s.writer, Run: s.run, Checkpoint: id, Replace: s.replace, PartitionBy: s.cfg.partitions}
	for _, part := range slices.Sorted(maps.Keys(s.files)) {
		if err := s.finishFile(part); err != nil {
			s.err = err
			return err
		}
	}
	if len(s.keyed) > 0 {
		add, remove, err := s.upsert()
		if err != nil {
			s.err = err
			return err
		}
		s.done = append(s.done, add...)
		rec.Remove = remove
	}
	rec.Add, s.done = s.done, nil
	if err := s.syncFolders(rec.Add); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(stagingPath(s.cfg.path, s.whash), rec.name(), b); err != nil {
		s.err = fmt.Errorf("stage checkpoint %d: %w", id, err)
		return s.err
	}
	s.staged = append(s.staged, rec)
	s.prepared = id
	s.replace = false
	s.wrote = false
	return nil
}

// syncFolders makes the names of the files' folders durable.
func (s *Sink) syncFolders(files []stagedFile) error {
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(s.abs(f.Staged))
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// Commit makes the checkpoints staged up to id visible, each as one entry
// of the commit log. Committing an id again does nothing.
func (s *Sink) Commit(_ context.Context, id uint64) error {
	s.protocol = true
	return s.commit(id)
}

func (s *Sink) commit(id uint64) error {
	for len(s.staged) > 0 && s.staged[0].Checkpoint <= id {
		if err := s.commitRecord(&s.staged[0]); err != nil {
			return err
		}
		s.staged = s.staged[1:]
	}
	return nil
}

// commitRecord commits one staging record: its files get their final
// names, then one log entry adds them and removes what the record
// replaces, then the marker and the record are updated. Each step can be
// redone after a crash.
func (s *Sink) commitRecord(r *record) error {
	if err := s.table.refresh(); err != nil {
		return err
	}
	if !s.hasEntry(r) {
		if err := s.publish(r); err != nil {
			return err
		}
	}
	if err := writeMarker(s.cfg.path, s.whash, marker{Writer: s.writer, Run: r.Run, Checkpoint: r.Checkpoint, Version: s.table.next()}); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(stagingPath(s.cfg.path, s.whash), r.name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.committed = true
	kept := s.trash[:0]
	for _, t := range s.trash {
		if t.checkpoint < r.Checkpoint {
			s.removeDead(t.path)
		} else {
			kept = append(kept, t)
		}
	}
	s.trash = kept
	return nil
}

// hasEntry reports whether the log has the entry of record r, not rolled
// back since.
func (s *Sink) hasEntry(r *record) bool {
	for i := len(s.table.entries) - 1; i >= 0; i-- {
		e := &s.table.entries[i]
		if e.Writer != r.Writer || e.Run != r.Run {
			continue
		}
		if e.Rollback && e.Checkpoint < r.Checkpoint {
			return false
		}
		if !e.Rollback && e.Checkpoint == r.Checkpoint {
			return true
		}
	}
	return false
}

// publish renames a record's files and appends its log entry.
func (s *Sink) publish(r *record) error {
	e := entry{Writer: r.Writer, Run: r.Run, Checkpoint: r.Checkpoint, PartitionBy: r.PartitionBy}
	dirs := map[string]bool{}
	for _, f := range r.Add {
		if err := os.Rename(s.abs(f.Staged), s.abs(f.Path)); err != nil {
			if _, serr := os.Stat(s.abs(f.Path)); !errors.Is(err, fs.ErrNotExist) || serr != nil {
				return fmt.Errorf("commit checkpoint %d: %w", r.Checkpoint, err)
			}
		}
		dirs[filepath.Dir(s.abs(f.Path))] = true
		e.Add = append(e.Add, f.addedFile)
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	for _, p := range r.Remove {
		if _, ok := s.table.live[p]; !ok {
			return &ConflictError{Path: p, Version: s.table.next() - 1}
		}
	}
	e.Remove = slices.Clone(r.Remove)
	if r.Replace {
		for _, p := range slices.Sorted(maps.Keys(s.table.live)) {
			if f := s.table.live[p]; f.writer == s.writer && f.run != r.Run && !slices.Contains(e.Remove, p) {
				e.Remove = append(e.Remove, p)
			}
		}
	}
	if len(e.Add) == 0 && len(e.Remove) == 0 {
		return nil
	}
	e, err := s.table.append(e)
	if err != nil {
		return fmt.Errorf("commit checkpoint %d: %w", r.Checkpoint, err)
	}
	for _, p := range e.Remove {
		s.trash = append(s.trash, trashed{checkpoint: r.Checkpoint, path: p})
	}
	s.logf("table %s: committed checkpoint %d as version %d: %d files added, %d removed", s.cfg.path, r.Checkpoint, e.Version, len(e.Add), len(e.Remove))
	return nil
}

// discard deletes a staging record and its files.
func (s *Sink) discard(r *record) error {
	for _, f := range r.Add {
		s.removeFile(f.Staged)
		s.removeDead(f.Path)
	}
	err := os.Remove(filepath.Join(stagingPath(s.cfg.path, s.whash), r.name()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.logf("table %s: discarded staged checkpoint %d of run %s", s.cfg.path, r.Checkpoint, r.Run)
	return nil
}

// rollback undoes the writer's commits of its run after checkpoint id,
// in one log entry: files they added are removed, and files they removed
// that are still on disk come back.
func (s *Sink) rollback(id uint64) error {
	var undo []*entry // the run's effective entries after id
	for i := range s.table.entries {
		e := &s.table.entries[i]
		if e.Writer != s.writer || e.Run != s.run {
			continue
		}
		if e.Rollback {
			undo = slices.DeleteFunc(undo, func(u *entry) bool { return u.Checkpoint > e.Checkpoint })
			continue
		}
		if e.Checkpoint > id {
			undo = append(undo, e)
		}
	}
	m, _, err := readMarker(s.cfg.path, s.whash)
	if err != nil {
		return err
	}
	if len(undo) == 0 && (m.Run != s.run || m.Checkpoint <= id) {
		return nil
	}
	back := entry{Writer: s.writer, Run: s.run, Checkpoint: id, Rollback: true}
	for i := len(undo) - 1; i >= 0; i-- {
		for _, a := range undo[i].Add {
			if _, ok := s.table.live[a.Path]; ok && !slices.Contains(back.Remove, a.Path) {
				back.Remove = append(back.Remove, a.Path)
			}
		}
		for _, p := range undo[i].Remove {
			a, ok := s.addedBefore(p, undo[i].Version)
			if _, live := s.table.live[p]; ok && !live && exists(s.abs(p)) {
				back.Add = append(back.Add, a)
			}
		}
	}
	if len(back.Add) > 0 || len(back.Remove) > 0 {
		if _, err := s.table.append(back); err != nil {
			return fmt.Errorf("roll back to checkpoint %d: %w", id, err)
		}
		s.logf("table %s: rolled back to checkpoint %d: %d files removed, %d restored", s.cfg.path, id, len(back.Remove), len(back.Add))
	}
	return writeMarker(s.cfg.path, s.whash, marker{Writer: s.writer, Run: s.run, Checkpoint: id, Version: s.table.next()})
}

// addedBefore finds the entry before version that added path.
func (s *Sink) addedBefore(path string, version int64) (addedFile, bool) {
	for i := version - 1; i >= 0; i-- {
		for _, a := range s.table.entries[i].Add {
			if a.Path == path {
				return a, true
			}
		}
	}
	return addedFile{}, false
}

// vacuum deletes the files the writer added to the table that are no
// longer part of it.
func (s *Sink) vacuum() error {
	if err := s.table.refresh(); err != nil {
		return err
	}
	for _, e := range s.table.entries {
		if e.Writer != s.writer {
			continue
		}
		for _, a := range e.Add {
			s.removeDead(a.Path)
		}
	}
	return nil
}

// removeOrphans deletes the writer's staged files that no record names:
// files of a crashed run that were never prepared.
func (s *Sink) removeOrphans() error {
	prefix := stagedPrefix(s.whash)
	err := filepath.WalkDir(s.cfg.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if d.Name() == logDir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), prefix) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	return err
}

// removeDead deletes a table file if the table no longer lists it.
func (s *Sink) removeDead(rel string) {
	if _, live := s.table.live[rel]; live {
		return
	}
	s.removeFile(rel)
}

// removeFile deletes a table file, ignoring a missing one.
func (s *Sink) removeFile(rel string) {
	if err := os.Remove(s.abs(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logf("table %s: cannot delete %s: %v", s.cfg.path, rel, err)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
