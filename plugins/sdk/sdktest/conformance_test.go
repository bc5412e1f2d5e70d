package sdktest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// flaws are the ways the fake plugins below break the SDK's contract.
type flaws struct {
	ignoreResume  bool // the source reads from the start whatever Resume says
	ignoreCancel  bool // the source's Read does not look at its context
	noPartition   bool // the source's positions have no partition
	noEnd         bool // the source returns nothing, not ErrEndOfInput, after its end
	lenient       bool // Validate and Open accept a config without its required field
	closeFails    bool // Close returns an error
	flushFails    bool // the sink's Flush returns an error
	rejectsColumn bool // the sink's Open rejects the valid config

	// Sinks that commit (commitSink).
	commits      bool // the sink implements sdk.Committer
	forgets      bool // Committed reports 0 whatever was committed
	nonIdem      bool // Commit of an id already committed fails
	freshNonZero bool // Committed reports one more than it committed
	keepsLater   bool // Recover fails when a later id is staged

	// Transforms (upperTransform).
	lenientField bool // Open accepts a config without its field
	wrongWidth   bool // output rows lack their last value
	badValue     bool // output rows hold a value of a type the SDK does not list
	wrongColumns bool // output batches name the input columns
	slowCancel   bool // Process takes long once its context is cancelled
}

type memConfig struct {
	Messages int    `json:"messages"` // messages per partition; required
	Prefix   string `json:"prefix"`   // default "m"
	Dir      string `json:"dir"`      // where a committing sink keeps its state
}

func memValidate(f flaws) func([]byte) []sdk.Diagnostic {
	return func(config []byte) []sdk.Diagnostic {
		var c memConfig
		if err := sdk.DecodeConfig(config, &c); err != nil {
			return []sdk.Diagnostic{{Msg: err.Error()}}
		}
		if c.Messages <= 0 && !f.lenient {
			return []sdk.Diagnostic{{Path: "messages", Msg: "must be positive"}}
		}
		if c.Prefix == "" {
			return []sdk.Diagnostic{{Path: "prefix", Msg: "must not be empty (the default was not filled in)"}}
		}
		return nil
	}
}

func memSourcePlugin(f flaws) sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "mem", Kind: sdk.KindSource, Version: "0.1.0", Times: true,
			Fields: []sdk.FieldSpec{
				{Name: "messages", Type: sdk.TypeInt, Required: true},
				{Name: "prefix", Type: sdk.TypeString, Default: "m"},
			},
		},
		NewSource: func() sdk.Source { return &memSource{f: f} },
		Validate:  memValidate(f),
	}
}

// memSource gives messages in two partitions, two per Read.
type memSource struct {
	f    flaws
	msgs []sdk.Message
}

func (s *memSource) Open(_ context.Context, req sdk.OpenRequest) error {
	var c memConfig
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	if c.Messages <= 0 {
		if !s.f.lenient {
			return &sdk.ConfigError{Path: "messages", Msg: "must be positive"}
		}
		c.Messages = 3
	}
	after := map[string]int64{}
	if !s.f.ignoreResume {
		for _, p := range req.Resume {
			after[p.Partition] = p.Offset
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range int64(c.Messages) {
		for _, part := range []string{"p0", "p1"} {
			if off, ok := after[part]; ok && i < off {
				continue
			}
			pos := sdk.Position{Partition: part, Offset: i + 1}
			if s.f.noPartition {
				pos.Partition = ""
			}
			s.msgs = append(s.msgs, sdk.Message{
				Fields:   []sdk.Field{{Name: "id", Value: c.Prefix + strconv.FormatInt(i, 10)}, {Name: "at", Value: t0.Add(time.Duration(i) * time.Second)}},
				Time:     t0.Add(time.Duration(i) * time.Second),
				Position: pos,
			})
		}
	}
	return nil
}

func (s *memSource) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil && !s.f.ignoreCancel {
		return sdk.Batch{}, err
	}
	if len(s.msgs) == 0 {
		if s.f.noEnd {
			return sdk.Batch{}, nil
		}
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	n := min(2, len(s.msgs))
	b := sdk.Batch{Messages: s.msgs[:n]}
	s.msgs = s.msgs[n:]
	return b, nil
}

func (s *memSource) Close(context.Context) error {
	if s.f.closeFails {
		return errors.New("close failed")
	}
	return nil
}

func memSinkPlugin(f flaws) sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "mem", Kind: sdk.KindSink, Version: "0.1.0",
			Fields: []sdk.FieldSpec{
				{Name: "messages", Type: sdk.TypeInt, Required: true},
				{Name: "prefix", Type: sdk.TypeString, Default: "m"},
			},
		},
		NewSink: func() sdk.Sink {
			if f.commits {
				return &commitSink{memSink: memSink{f: f}}
			}
			return &memSink{f: f}
		},
		Validate: memValidate(f),
	}
}

// memSink keeps the rows written to it.
type memSink struct {
	f       flaws
	columns []string
	rows    [][]any
}

func (s *memSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	var c memConfig
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	if (c.Messages <= 0 && !s.f.lenient) || s.f.rejectsColumn {
		return &sdk.ConfigError{Path: "messages", Msg: "must be positive"}
	}
	s.columns = req.Columns
	return nil
}

func (s *memSink) Write(ctx context.Context, rows sdk.Rows) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, r := range rows.Rows {
		if len(r) != len(s.columns) {
			return errors.New("row of the wrong width")
		}
	}
	s.rows = append(s.rows, rows.Rows...)
	return nil
}

func (s *memSink) Flush(context.Context) error {
	if s.f.flushFails {
		return errors.New("flush failed")
	}
	return nil
}

func (s *memSink) Close(context.Context) error {
	if s.f.closeFails {
		return errors.New("close failed")
	}
	return nil
}

func sourceCase(f flaws) SourceCase {
	return SourceCase{
		Plugin: memSourcePlugin(f),
		Config: []byte(`{"messages": 4}`),
		BadConfigs: map[string][]byte{
			"zero":    []byte(`{"messages": 0}`),
			"unknown": []byte(`{"messages": 1, "mesages": 2}`),
		},
	}
}

func sinkCase(f flaws) SinkCase {
	return SinkCase{
		Plugin:  memSinkPlugin(f),
		Config:  func(*testing.T) []byte { return []byte(`{"messages": 1}`) },
		Columns: []string{"id", "at"},
		Rows:    [][]any{{int64(1), time.Now()}, {int64(2), nil}, {int64(3), time.Time{}}},
		BadConfigs: map[string][]byte{
			"unknown": []byte(`{"messages": 1, "mesages": 2}`),
		},
	}
}

func TestRunSource(t *testing.T) {
	t.Parallel()
	RunSource(t, sourceCase(flaws{}))
}

func TestRunSink(t *testing.T) {
	t.Parallel()
	RunSink(t, sinkCase(flaws{}))
}

// broken are plugins that break the contract, by name, and what the
// suite must say about them. Unless inProcessOnly is set, the suite must
// fail them in both modes; a Read that ignores its cancelled context is
// caught in process only, since over go-plugin the host's call returns at
// once anyway.
var broken = []struct {
	name          string
	run           func(t *testing.T)
	want          string
	inProcessOnly bool
}{
	{"source-ignores-resume", func(t *testing.T) { RunSource(t, sourceCase(flaws{ignoreResume: true})) }, `partition "p0" resumed at`, false},
	{"source-ignores-cancel", func(t *testing.T) { RunSource(t, sourceCase(flaws{ignoreCancel: true})) }, "Read with a cancelled context returned no error", true},
	{"source-no-partition", func(t *testing.T) { RunSource(t, sourceCase(flaws{noPartition: true})) }, "Position.Partition is empty", false},
	{"source-no-end", func(t *testing.T) { RunSource(t, sourceCase(flaws{noEnd: true})) }, "no end of input after", false},
	{"source-lenient", func(t *testing.T) { RunSource(t, sourceCase(flaws{lenient: true})) }, "accepted by Validate and Open, want it rejected", false},
	{"source-close-fails", func(t *testing.T) { RunSource(t, sourceCase(flaws{closeFails: true})) }, "Close: close failed", false},
	{"sink-lenient", func(t *testing.T) { RunSink(t, sinkCase(flaws{lenient: true})) }, "accepted by Validate and Open, want it rejected", false},
	{"sink-flush-fails", func(t *testing.T) { RunSink(t, sinkCase(flaws{flushFails: true})) }, "Flush: flush failed", false},
	{"sink-close-fails", func(t *testing.T) { RunSink(t, sinkCase(flaws{closeFails: true})) }, "Close: close failed", false},
	{"sink-rejects-valid", func(t *testing.T) { RunSink(t, sinkCase(flaws{rejectsColumn: true})) }, "Open: messages: must be positive", false},
	{"commit-forgets", func(t *testing.T) { RunSink(t, committingCase(flaws{forgets: true})) },
		"after a restart with checkpoint 1 committed and 2 prepared, Committed = 0, want 1 or 2", false},
	{"commit-not-idempotent", func(t *testing.T) { RunSink(t, committingCase(flaws{nonIdem: true})) },
		"Commit(1) again, which must be idempotent: checkpoint 1 is already committed", false},
	{"commit-fresh-nonzero", func(t *testing.T) { RunSink(t, committingCase(flaws{freshNonZero: true})) },
		"Committed on a fresh destination = 1, want 0", false},
	{"commit-keeps-later", func(t *testing.T) { RunSink(t, committingCase(flaws{keepsLater: true})) },
		"Recover(1) after a restart: checkpoint 2 is staged after 1", false},
	{"transform-lenient", func(t *testing.T) { RunTransform(t, transformCase(flaws{lenientField: true})) },
		"accepted by Validate and Open, want it rejected", false},
	{"transform-wrong-width", func(t *testing.T) { RunTransform(t, transformCase(flaws{wrongWidth: true})) },
		"output of batch 1: row 0 has 2 values for 3 columns", false},
	{"transform-bad-value", func(t *testing.T) { RunTransform(t, transformCase(flaws{badValue: true})) },
		"[]string", false},
	{"transform-wrong-columns", func(t *testing.T) { RunTransform(t, transformCase(flaws{wrongColumns: true})) },
		`output of batch 1 has the columns ["id" "name" "length"]; Open named ["id" "name" "len"]`, false},
	{"transform-slow-cancel", func(t *testing.T) { RunTransform(t, transformCase(flaws{slowCancel: true})) },
		"Process with a cancelled context did not return within", true},
	{"transform-close-fails", func(t *testing.T) { RunTransform(t, transformCase(flaws{closeFails: true})) },
		"Close: close failed", false},
}

const brokenEnv = "SDKTEST_RUN_BROKEN"

// TestBroken runs the suite on a broken plugin when the test binary is
// run again by TestRunCatches; on its own it is skipped.
func TestBroken(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestRunCatches")
	}
	maxReads = 1000
	promptly = time.Second
	for _, b := range broken {
		if b.name == name {
			b.run(t)
			return
		}
	}
	t.Fatalf("no broken plugin %q", name)
}

// TestRunCatches checks that the suite fails plugins that break the
// contract, in process and over go-plugin, and says why.
func TestRunCatches(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBroken$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a broken plugin:\n%s", out)
			}
			for _, mode := range []string{"in-process", "go-plugin"} {
				want := mode == "in-process" || !b.inProcessOnly
				if got := strings.Contains(string(out), "--- FAIL: TestBroken/"+mode+"/"); got != want {
					t.Errorf("failed in mode %s: %v, want %v", mode, got, want)
				}
			}
			if !strings.Contains(string(out), b.want) {
				t.Errorf("output lacks %q:\n%s", b.want, out)
			}
		})
	}
}
