package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Bucket is where checkpoints are kept: named objects written whole. A
// local directory implements it; object storage (S3, GCS) fits the same
// four calls, which is what lets several processes share checkpoints.
type Bucket interface {
	// Put stores data under name atomically: a reader sees the old object,
	// or none, or all of the new one, and a crash never leaves a part.
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the object, or an error wrapping fs.ErrNotExist.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names that start with prefix, in any order.
	List(ctx context.Context, prefix string) ([]string, error)
	Delete(ctx context.Context, name string) error
}

// Dir is a Bucket in a local directory. Put writes a temporary file,
// fsyncs it, renames it into place and fsyncs the directory.
type Dir struct {
	Path string
}

// Put implements Bucket.
func (d Dir) Put(_ context.Context, name string, data []byte) error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.Path, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(d.Path, name)); err != nil {
		return err
	}
	return syncDir(d.Path)
}

func syncDir(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// Get implements Bucket.
func (d Dir) Get(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(d.Path, name))
}

// List implements Bucket.
func (d Dir) List(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Delete implements Bucket.
func (d Dir) Delete(_ context.Context, name string) error {
	err := os.Remove(filepath.Join(d.Path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Store keeps a pipeline's checkpoints in a Bucket, the newest Keep of
// them; older ones are pruned after each save.
type Store struct {
	Bucket Bucket
	// Where names the bucket for messages: the directory, or a URL.
	Where string
	// Keep is how many checkpoints to retain; at least 2, since a sink may
	// report that it could not commit the newest one.
	Keep int
}

const prefix = "checkpoint-"

func objectName(id uint64) string { return fmt.Sprintf("%s%020d", prefix, id) }

// IDs lists the ids of the stored checkpoints, oldest first.
func (s *Store) IDs(ctx context.Context) ([]uint64, error) {
	names, err := s.Bucket.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("checkpoints in %s: %w", s.Where, err)
	}
	var ids []uint64
	for _, n := range names {
		if id, err := strconv.ParseUint(strings.TrimPrefix(n, prefix), 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Save writes c durably and prunes old checkpoints.
func (s *Store) Save(ctx context.Context, c *Checkpoint) error {
	b, err := Encode(c)
	if err != nil {
		return err
	}
	if err := s.Bucket.Put(ctx, objectName(c.Meta.ID), b); err != nil {
		return fmt.Errorf("checkpoint %d to %s: %w", c.Meta.ID, s.Where, err)
	}
	ids, err := s.IDs(ctx)
	if err != nil {
		return err
	}
	keep := max(s.Keep, 2)
	for len(ids) > keep {
		if err := s.Bucket.Delete(ctx, objectName(ids[0])); err != nil {
			return fmt.Errorf("pruning checkpoint %d in %s: %w", ids[0], s.Where, err)
		}
		ids = ids[1:]
	}
	return nil
}

// Load reads checkpoint id.
func (s *Store) Load(ctx context.Context, id uint64) (*Checkpoint, error) {
	b, err := s.Bucket.Get(ctx, objectName(id))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d in %s: %w", id, s.Where, err)
	}
	c, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d in %s: %w", id, s.Where, err)
	}
	if c.Meta.ID != id {
		return nil, fmt.Errorf("checkpoint %d in %s: %w: it says it is checkpoint %d", id, s.Where, ErrCorrupt, c.Meta.ID)
	}
	return c, nil
}

// LatestAtMost loads the newest checkpoint whose id is at most limit, or
// returns nil when there is none.
func (s *Store) LatestAtMost(ctx context.Context, limit uint64) (*Checkpoint, error) {
	ids, err := s.IDs(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if ids[i] <= limit {
			return s.Load(ctx, ids[i])
		}
	}
	return nil, nil
}

// Clear deletes every checkpoint: `--from-scratch`.
func (s *Store) Clear(ctx context.Context) error {
	ids, err := s.IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.Bucket.Delete(ctx, objectName(id)); err != nil {
			return fmt.Errorf("deleting checkpoint %d in %s: %w", id, s.Where, err)
		}
	}
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// NewDir returns the store of a local checkpoint directory, keeping the
// newest 3 checkpoints.
func NewDir(dir string) *Store {
	return &Store{Bucket: Dir{Path: dir}, Where: dir, Keep: 3}
}

// Sub returns the store of the checkpoints kept under folder (one path
// segment; it is escaped) within s's bucket: for a Dir, its subdirectory;
// for another Bucket, the objects whose names start with "folder/". A
// scaled-out pipeline keeps each partition's checkpoints in a Sub of its
// checkpoint folder, which every process reaches.
func (s *Store) Sub(folder string) *Store {
	seg := url.PathEscape(folder)
	sub := &Store{Where: s.Where + "/" + seg, Keep: s.Keep}
	switch b := s.Bucket.(type) {
	case Dir:
		sub.Bucket = Dir{Path: filepath.Join(b.Path, seg)}
	case prefixed:
		sub.Bucket = prefixed{b.b, b.prefix + seg + "/"}
	default:
		sub.Bucket = prefixed{b, seg + "/"}
	}
	return sub
}

// prefixed is a Bucket whose names are those of another under a prefix.
type prefixed struct {
	b      Bucket
	prefix string
}

func (p prefixed) Put(ctx context.Context, name string, data []byte) error {
	return p.b.Put(ctx, p.prefix+name, data)
}

func (p prefixed) Get(ctx context.Context, name string) ([]byte, error) {
	return p.b.Get(ctx, p.prefix+name)
}

func (p prefixed) Delete(ctx context.Context, name string) error {
	return p.b.Delete(ctx, p.prefix+name)
}

// List returns the names directly under the prefix, without it.
func (p prefixed) List(ctx context.Context, pfx string) ([]string, error) {
	names, err := p.b.List(ctx, p.prefix+pfx)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if rest := strings.TrimPrefix(n, p.prefix); !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	return out, nil
}
