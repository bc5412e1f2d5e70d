package sdktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// commitSink is a memSink that commits with checkpoints, keeping its
// state in the config's dir as files: committed holds the last id
// committed, staged-ID the rows prepared under ID.
type commitSink struct {
	memSink
	dir     string
	pending int // rows written since the last Prepare
}

func (s *commitSink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	if err := s.memSink.Open(ctx, req); err != nil {
		return err
	}
	var c memConfig
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	if c.Dir == "" {
		return &sdk.ConfigError{Path: "dir", Msg: "required by a sink that commits"}
	}
	s.dir = c.Dir
	return nil
}

func (s *commitSink) Write(ctx context.Context, rows sdk.Rows) error {
	if err := s.memSink.Write(ctx, rows); err != nil {
		return err
	}
	s.pending += len(rows.Rows)
	return nil
}

// state returns the last id committed and the ids staged, in order.
func (s *commitSink) state() (uint64, []uint64, error) {
	var committed uint64
	b, err := os.ReadFile(filepath.Join(s.dir, "committed"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, nil, err
	default:
		if committed, err = strconv.ParseUint(string(b), 10, 64); err != nil {
			return 0, nil, err
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, nil, err
	}
	var staged []uint64
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), "staged-"); ok {
			id, err := strconv.ParseUint(rest, 10, 64)
			if err != nil {
				return 0, nil, err
			}
			staged = append(staged, id)
		}
	}
	slices.Sort(staged)
	return committed, staged, nil
}

func (s *commitSink) Committed(context.Context) (uint64, error) {
	committed, staged, err := s.state()
	if err != nil {
		return 0, err
	}
	if len(staged) > 0 {
		committed = max(committed, staged[len(staged)-1])
	}
	switch {
	case s.f.forgets:
		return 0, nil
	case s.f.freshNonZero:
		return committed + 1, nil
	}
	return committed, nil
}

func (s *commitSink) Recover(ctx context.Context, id uint64) error {
	_, staged, err := s.state()
	if err != nil {
		return err
	}
	for _, st := range staged {
		if st <= id {
			continue
		}
		if s.f.keepsLater {
			return fmt.Errorf("checkpoint %d is staged after %d", st, id)
		}
		if err := os.Remove(filepath.Join(s.dir, fmt.Sprintf("staged-%d", st))); err != nil {
			return err
		}
	}
	s.pending = 0
	return s.commit(id, false)
}

func (s *commitSink) Prepare(_ context.Context, id uint64) error {
	committed, staged, err := s.state()
	if err != nil {
		return err
	}
	if id <= committed || (len(staged) > 0 && id <= staged[len(staged)-1]) {
		return fmt.Errorf("checkpoint %d does not follow the last one", id)
	}
	err = os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("staged-%d", id)), []byte(strconv.Itoa(s.pending)), 0o644)
	s.pending = 0
	return err
}

func (s *commitSink) Commit(_ context.Context, id uint64) error {
	return s.commit(id, s.f.nonIdem)
}

// commit makes what is staged up to id committed; strict, it fails if id
// is committed already.
func (s *commitSink) commit(id uint64, strict bool) error {
	committed, staged, err := s.state()
	if err != nil {
		return err
	}
	if strict && id <= committed {
		return fmt.Errorf("checkpoint %d is already committed", id)
	}
	for _, st := range staged {
		if st > id {
			break
		}
		if err := os.Remove(filepath.Join(s.dir, fmt.Sprintf("staged-%d", st))); err != nil {
			return err
		}
		committed = max(committed, st)
	}
	return os.WriteFile(filepath.Join(s.dir, "committed"), []byte(strconv.FormatUint(committed, 10)), 0o644)
}

// committingCase is the sink case of a committing sink with flaws f, each
// config in a new directory.
func committingCase(f flaws) SinkCase {
	c := sinkCase(f)
	c.Plugin = memSinkPlugin(withCommits(f))
	c.Config = func(t *testing.T) []byte {
		return fmt.Appendf(nil, `{"messages": 1, "dir": %q}`, t.TempDir())
	}
	return c
}

func withCommits(f flaws) flaws {
	f.commits = true
	return f
}

func TestRunSinkCommits(t *testing.T) {
	t.Parallel()
	RunSink(t, committingCase(flaws{}))
}
