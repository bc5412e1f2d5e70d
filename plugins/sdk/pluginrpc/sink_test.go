package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// writeAll opens sink, writes batches of rows, makes each durable (as
// checkpoint i+1 if the sink commits, else with a flush) and closes.
func writeAll(t *testing.T, sink sdk.Sink, config string, batches []sdk.Rows) {
	t.Helper()
	ctx := context.Background()
	req := sdk.SinkOpenRequest{Config: []byte(config), Columns: batches[0].Columns, Key: []string{"id"}}
	if err := sink.Open(ctx, req); err != nil {
		t.Fatalf("Open: %v", err)
	}
	committer, commits := sink.(sdk.Committer)
	if commits {
		if err := committer.Recover(ctx, 0); err != nil {
			t.Fatalf("Recover: %v", err)
		}
	}
	for i, rows := range batches {
		if err := sink.Write(ctx, rows); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if !commits {
			if err := sink.(sdk.Flusher).Flush(ctx); err != nil {
				t.Fatalf("Flush %d: %v", i, err)
			}
			continue
		}
		if err := committer.Prepare(ctx, uint64(i+1)); err != nil {
			t.Fatalf("Prepare %d: %v", i+1, err)
		}
		if err := committer.Commit(ctx, uint64(i+1)); err != nil {
			t.Fatalf("Commit %d: %v", i+1, err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFileSink writes rows through the remote file sink and in process,
// and compares the files.
func TestFileSink(t *testing.T) {
	t.Parallel()
	c := serve(t, filesink.Plugin())
	plugins, err := c.Plugins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	remoteFile := pluginByName(t, plugins, "file")
	_, localCommits := filesink.Plugin().NewSink().(sdk.Committer)
	if _, remoteCommits := remoteFile.NewSink().(sdk.Committer); remoteCommits != localCommits {
		t.Errorf("the remote file sink implements sdk.Committer: %v; in process: %v", remoteCommits, localCommits)
	}
	at := time.Date(2026, 3, 17, 23, 58, 0, 250_000_000, time.UTC)
	columns := []string{"id", "amount", "at", "tags", "device", "note", "raw", "wait"}
	var batches []sdk.Rows
	for b := range 4 {
		rows := sdk.Rows{Columns: columns}
		for i := range 500 {
			n := int64(b*500 + i)
			rows.Rows = append(rows.Rows, []any{
				n,
				decimal.New(n*125, -2),
				at.Add(time.Duration(n) * time.Second),
				[]any{"a", n, nil},
				map[string]any{"os": "linux", "version": n % 3},
				[]any{nil, sdk.Absent, "x,\"y\""}[i%3],
				[]byte{byte(n), 0, 255},
				time.Duration(n) * time.Millisecond,
			})
		}
		batches = append(batches, rows)
	}
	for _, format := range []string{"jsonl", "csv"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			local, remote := filepath.Join(dir, "local."+format), filepath.Join(dir, "remote."+format)
			writeAll(t, filesink.Plugin().NewSink(), fmt.Sprintf(`{"path": %q, "format": %q}`, local, format), batches)
			writeAll(t, remoteFile.NewSink(), fmt.Sprintf(`{"path": %q, "format": %q}`, remote, format), batches)
			want, err := os.ReadFile(local)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(remote)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 100000 {
				t.Fatalf("in-process sink wrote only %d bytes", len(want))
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("file (-in process +remote):\n%s", diff)
			}
		})
	}
}

// failingSink fails as its config says.
type failingSink struct{ err error }

func (s *failingSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	var cfg struct{ Fail string }
	if err := sdk.DecodeConfig(req.Config, &cfg); err != nil {
		return err
	}
	switch cfg.Fail {
	case "backoff":
		s.err = fmt.Errorf("queue full: %w", sdk.ErrBackoff)
	case "not connected":
		s.err = sdk.ErrNotConnected
	default:
		s.err = errors.New(cfg.Fail)
	}
	return nil
}

func (s *failingSink) Write(context.Context, sdk.Rows) error { return s.err }
func (s *failingSink) Close(context.Context) error           { return nil }

// TestSinkErrors checks Write errors and a sink without Flush.
func TestSinkErrors(t *testing.T) {
	t.Parallel()
	failing := sdk.Plugin{Spec: sdk.Spec{Name: "failing", Kind: sdk.KindSink}, NewSink: func() sdk.Sink { return &failingSink{} }}
	c := serve(t, failing)
	ctx := context.Background()
	rows := sdk.Rows{Columns: []string{"a"}, Rows: [][]any{{int64(1)}}}
	for _, fail := range []string{"backoff", "not connected", "disk full"} {
		local, remote := &failingSink{}, c.NewSink("failing")
		req := sdk.SinkOpenRequest{Config: []byte(fmt.Sprintf(`{"fail": %q}`, fail)), Columns: rows.Columns}
		if err := local.Open(ctx, req); err != nil {
			t.Fatal(err)
		}
		if err := remote.Open(ctx, req); err != nil {
			t.Fatal(err)
		}
		sameError(t, local.Write(ctx, rows), remote.Write(ctx, rows))
		if err := remote.(sdk.Flusher).Flush(ctx); err != nil {
			t.Errorf("Flush on a sink that does not flush: %v", err)
		}
		if err := remote.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	// A value the protocol cannot carry fails before anything is sent.
	remote := c.NewSink("failing")
	if err := remote.Open(ctx, sdk.SinkOpenRequest{Config: []byte(`{"fail": "x"}`)}); err != nil {
		t.Fatal(err)
	}
	err := remote.Write(ctx, sdk.Rows{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), struct{}{}}}})
	if want := "row 0: b: unsupported value type struct {}"; err == nil || err.Error() != want {
		t.Errorf("Write() error = %v, want %q", err, want)
	}
}

// TestSpecsAndValidate checks the specs and config checks of several
// plugins served by one process.
func TestSpecsAndValidate(t *testing.T) {
	t.Parallel()
	plugins := []sdk.Plugin{filesource.Plugin(), filesink.Plugin(), generate.Plugin()}
	c := serve(t, plugins...)
	ctx := context.Background()
	specs, err := c.Specs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []sdk.Spec
	for _, p := range plugins {
		want = append(want, p.Spec)
	}
	if diff := cmp.Diff(want, specs); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}

	tests := []struct {
		name   string
		plugin sdk.Plugin
		config string
	}{
		{"file source without path", filesource.Plugin(), `{}`},
		{"file source unknown field", filesource.Plugin(), `{"path": "x", "colour": 1}`},
		{"file sink bad format", filesink.Plugin(), `{"path": "", "format": "xml"}`},
		{"generate bad fields", generate.Plugin(), `{"rate": -1, "fields": {"a": "1 +", "b": "i"}}`},
		{"generate fine", generate.Plugin(), `{"fields": {"a": "i"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantDiags := tt.plugin.Validate([]byte(tt.config))
			gotDiags, err := c.Validate(ctx, tt.plugin.Spec.Kind, tt.plugin.Spec.Name, []byte(tt.config))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantDiags, gotDiags); diff != "" {
				t.Errorf("diagnostics (-in process +remote):\n%s", diff)
			}
		})
	}
	if _, err := c.Validate(ctx, sdk.KindTransform, "file", []byte(`{}`)); err == nil || err.Error() != `no transform plugin "file"` {
		t.Errorf("Validate of an unknown plugin: %v", err)
	}
}
