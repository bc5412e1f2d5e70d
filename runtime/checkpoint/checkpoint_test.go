package checkpoint

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample(id uint64) *Checkpoint {
	return &Checkpoint{
		Meta: Meta{
			ID: id, Pipeline: "p", Mode: "stream", Taken: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
			Stages:     []Stage{{Name: "totals", Describe: "window tumbling 1s"}},
			Sources:    []Source{{Name: "in", Plugin: "file", Partitions: []Partition{{Name: "a.jsonl", Offset: 120, Line: 3, MaxTime: 42}}}},
			Sinks:      []Sink{{Name: "out", Plugin: "file", Delivery: "exactly-once"}},
			Watermarks: map[string]int64{"in": 40},
		},
		State: map[string][]byte{"totals": []byte("state bytes"), "empty": {}},
	}
}

func TestRoundTrip(t *testing.T) {
	c := sample(7)
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// Every truncation and every flipped byte is caught, with ErrCorrupt.
func TestDecodeDamaged(t *testing.T) {
	b, err := Encode(sample(7))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := Decode(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
	for i := len(magic) + 4; i < len(b); i++ {
		d := slices.Clone(b)
		d[i] ^= 0x40
		if _, err := Decode(d); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: err = %v, want ErrCorrupt", i, err)
		}
	}
	d := slices.Clone(b)
	d[len(magic)] = 9
	if _, err := Decode(d); err == nil || !strings.Contains(err.Error(), "format version 9; this flowctl reads version 1") {
		t.Errorf("future version: err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(sample(1))
	f.Add(b)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Decode(b) // never panics
	})
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ckpt")
	s := &Store{Bucket: Dir{Path: dir}, Where: dir, Keep: 3}
	if c, err := s.LatestAtMost(ctx, 100); c != nil || err != nil {
		t.Fatalf("empty store: %v, %v", c, err)
	}
	for id := uint64(1); id <= 5; id++ {
		if err := s.Save(ctx, sample(id)); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := s.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []uint64{3, 4, 5}) {
		t.Errorf("kept %v, want [3 4 5]", ids)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the folder, want 3 (no temporary files left)", len(entries))
	}
	c, err := s.LatestAtMost(ctx, 4)
	if err != nil || c.Meta.ID != 4 {
		t.Fatalf("LatestAtMost(4) = %v, %v", c, err)
	}
	if c, err := s.LatestAtMost(ctx, 2); c != nil || err != nil {
		t.Errorf("LatestAtMost(2) = %v, %v; want none", c, err)
	}
	// A damaged file is reported with its id and folder.
	if err := os.WriteFile(filepath.Join(dir, objectName(5)), []byte("FLOWCKPT\x01\x00\x00\x00junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(ctx, 5)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checkpoint 5 in "+dir) {
		t.Errorf("Load damaged = %v", err)
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.IDs(ctx); len(ids) != 0 {
		t.Errorf("after Clear: %v", ids)
	}
}

// memBucket is a Bucket in memory: object storage's shape, flat names
// that may hold slashes.
type memBucket map[string][]byte

func (m memBucket) Put(_ context.Context, name string, data []byte) error {
	m[name] = slices.Clone(data)
	return nil
}

func (m memBucket) Get(_ context.Context, name string) ([]byte, error) {
	d, ok := m[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return d, nil
}

func (m memBucket) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m memBucket) Delete(_ context.Context, name string) error {
	delete(m, name)
	return nil
}

// TestSub keeps the checkpoints of two partitions apart, in a folder's
// subfolders and under an object store's prefixes, with the partition
// names escaped.
func TestSub(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mem := memBucket{}
	for _, root := range []*Store{NewDir(dir), {Bucket: mem, Where: "mem://ckpt", Keep: 2}} {
		a, b := root.Sub("payments").Sub("payments.v1/0"), root.Sub("payments").Sub("payments.v1/1")
		for id := uint64(1); id <= 3; id++ {
			if err := a.Save(ctx, sample(id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Save(ctx, sample(9)); err != nil {
			t.Fatal(err)
		}
		idsA, _ := a.IDs(ctx)
		idsB, _ := b.IDs(ctx)
		want := []uint64{3 - uint64(root.Keep) + 1}
		for id := want[0] + 1; id <= 3; id++ {
			want = append(want, id)
		}
		if !slices.Equal(idsA, want) || !slices.Equal(idsB, []uint64{9}) {
			t.Errorf("%s: partition 0 keeps %v (want %v), partition 1 %v (want [9])", root.Where, idsA, want, idsB)
		}
		if ids, _ := root.IDs(ctx); len(ids) != 0 {
			t.Errorf("%s: the root lists the partitions' checkpoints: %v", root.Where, ids)
		}
		if a.Where != root.Where+"/payments/payments.v1%2F0" {
			t.Errorf("Where = %q", a.Where)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "payments", "payments.v1%2F0", objectName(3))); err != nil {
		t.Errorf("the folder of partition 0: %v", err)
	}
	if _, ok := mem["payments/payments.v1%2F1/"+objectName(9)]; !ok {
		t.Errorf("object names: %v", slices.Sorted(maps.Keys(mem)))
	}
}
