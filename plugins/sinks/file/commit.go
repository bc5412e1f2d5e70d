package file

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The commit protocol. Next to the output file NAME, the folder
// .NAME.flowctl holds:
//
//	pending             rows written since the last Prepare
//	staged-ID           rows prepared under checkpoint ID, not yet appended
//	commit.json         {"checkpoint": ID, "size": BYTES}: the last
//	                    checkpoint appended, and the file's size after it
//
// Prepare(id) syncs pending and renames it to staged-id. Commit(id)
// appends every staged file up to id to the output, in order, each time
// truncating the output to the recorded size first (so a half-done append
// is redone, never doubled), syncing it and then recording the new size.
// Recover(id) truncates the output to the recorded size, commits what is
// staged up to id and deletes the rest.

// commitLog manages the staging folder of one output file.
type commitLog struct {
	out string // the output file
	dir string // its staging folder
}

// state is the content of commit.json.
type state struct {
	Checkpoint uint64 `json:"checkpoint"`
	Size       int64  `json:"size"`
}

func newCommitLog(out string) *commitLog {
	return &commitLog{out: out, dir: filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".flowctl")}
}

const stagedPrefix = "staged-"

func (l *commitLog) staged(id uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%s%020d", stagedPrefix, id))
}

func (l *commitLog) createPending() (*os.File, error) {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(l.dir, "pending"))
}

func (l *commitLog) readState() (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(l.dir, "commit.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(l.dir, "commit.json"), err)
	}
	return st, nil
}

// writeState replaces commit.json atomically.
func (l *commitLog) writeState(st state) error {
	b, _ := json.Marshal(st)
	tmp := filepath.Join(l.dir, "commit.json.tmp")
	if err := writeSynced(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, "commit.json")); err != nil {
		return err
	}
	return syncDir(l.dir)
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// stagedIDs lists the ids of the staged files, in order.
func (l *commitLog) stagedIDs() ([]uint64, error) {
	entries, err := os.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, e := range entries {
		if id, err := strconv.ParseUint(strings.TrimPrefix(e.Name(), stagedPrefix), 10, 64); err == nil && strings.HasPrefix(e.Name(), stagedPrefix) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// commit appends the staged files up to id to the output and records id.
func (l *commitLog) commit(id uint64) error {
	st, err := l.readState()
	if err != nil {
		return err
	}
	ids, err := l.stagedIDs()
	if err != nil {
		return err
	}
	for _, sid := range ids {
		if sid > id {
			break
		}
		if sid <= st.Checkpoint {
			// Appended before a crash that came before its deletion.
			if err := os.Remove(l.staged(sid)); err != nil {
				return err
			}
			continue
		}
		if st.Size, err = l.appendStaged(l.staged(sid), st.Size); err != nil {
			return err
		}
		st.Checkpoint = sid
		if err := l.writeState(st); err != nil {
			return err
		}
		if err := os.Remove(l.staged(sid)); err != nil {
			return err
		}
	}
	if st.Checkpoint < id {
		st.Checkpoint = id
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return err
		}
		return l.writeState(st)
	}
	return nil
}

// appendStaged writes the staged file at the output's committed size and
// returns the new size.
func (l *commitLog) appendStaged(staged string, size int64) (int64, error) {
	in, err := os.Open(staged)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(l.out, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	if err := out.Truncate(size); err != nil {
		return 0, err
	}
	if _, err := out.Seek(size, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", l.out, err)
	}
	if err := out.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", l.out, err)
	}
	return size + n, out.Close()
}

// prepare syncs the pending file and stages it under id.
func (l *commitLog) prepare(id uint64) error {
	if err := os.Rename(filepath.Join(l.dir, "pending"), l.staged(id)); err != nil {
		return err
	}
	return syncDir(l.dir)
}

// committed reports the newest checkpoint appended or staged.
func (l *commitLog) committed() (uint64, error) {
	st, err := l.readState()
	if err != nil {
		return 0, err
	}
	ids, err := l.stagedIDs()
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		return max(st.Checkpoint, ids[len(ids)-1]), nil
	}
	return st.Checkpoint, nil
}

// recover makes the output that of checkpoints up to id. Recover(0) starts
// an empty file.
func (l *commitLog) recover(id uint64) (size int64, err error) {
	if id == 0 {
		// Everything but the rows being written now goes.
		entries, err := os.ReadDir(l.dir)
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			if e.Name() != "pending" {
				if err := os.RemoveAll(filepath.Join(l.dir, e.Name())); err != nil {
					return 0, err
				}
			}
		}
		if err := writeSynced(l.out, nil); err != nil {
			return 0, err
		}
		return 0, l.writeState(state{})
	}
	ids, err := l.stagedIDs()
	if err != nil {
		return 0, err
	}
	for _, sid := range ids {
		if sid > id {
			if err := os.Remove(l.staged(sid)); err != nil {
				return 0, err
			}
		}
	}
	st, err := l.readState()
	if err != nil {
		return 0, err
	}
	if err := os.Truncate(l.out, st.Size); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if err := l.commit(id); err != nil {
		return 0, err
	}
	st, err = l.readState()
	return st.Size, err
}

// Committed implements sdk.Committer.
func (s *Sink) Committed(context.Context) (uint64, error) {
	return s.log.committed()
}

// Recover implements sdk.Committer: it brings the file to checkpoint id and
// starts staging the rows of the next one.
func (s *Sink) Recover(_ context.Context, id uint64) error {
	size, err := s.log.recover(id)
	if err != nil {
		return fmt.Errorf("recover %s to checkpoint %d: %w", s.path, id, err)
	}
	s.header = nil
	if s.csv && size > 0 {
		// The file has its header: later rows must match it.
		if s.header, err = readHeader(s.path); err != nil {
			return fmt.Errorf("recover %s: %w", s.path, err)
		}
	}
	return nil
}

// Prepare implements sdk.Committer.
func (s *Sink) Prepare(_ context.Context, id uint64) error {
	if s.err != nil {
		return s.err
	}
	if s.f == nil {
		return errors.New("prepare on a sink that is not open")
	}
	if s.csv && s.header == nil && len(s.columns) > 0 {
		// A csv file that receives no rows still gets its header.
		if s.err = s.writeHeader(s.columns); s.err != nil {
			return s.err
		}
	}
	if s.err = s.flush(); s.err != nil {
		return s.err
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	s.f = nil
	if err := s.log.prepare(id); err != nil {
		s.err = fmt.Errorf("stage %s: %w", s.path, err)
		return s.err
	}
	s.err = s.startPending()
	return s.err
}

// Commit implements sdk.Committer.
func (s *Sink) Commit(_ context.Context, id uint64) error {
	if err := s.log.commit(id); err != nil {
		return fmt.Errorf("commit %s checkpoint %d: %w", s.path, id, err)
	}
	return nil
}

func readHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	h, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the csv header: %w", err)
	}
	return h, nil
}
