package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
	"github.com/flowctl/flowctl/runtime/builtin"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// syncBuffer is a bytes.Buffer that several goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testHost returns a host whose built-in plugins run in this test
// binary, writing to the returned buffers.
func testHost(t *testing.T, opts Options) (*Host, *syncBuffer, *syncBuffer) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	opts.Builtins = builtin.Plugins()
	opts.Server = testServer(t)
	opts.Stdout, opts.Stderr = stdout, stderr
	if opts.SearchPath == nil {
		opts.SearchPath = []string{}
	}
	h := New(opts)
	t.Cleanup(h.Close)
	return h, stdout, stderr
}

// crashStage is a source stage "s" of the crash plugin served by the test
// binary.
func crashStage(h *Host) *stage {
	return &stage{h: h, kind: sdk.KindSource, name: "s", plugin: "crash"}
}

// readUntilError reads src until an error and returns it.
func readUntilError(t *testing.T, ctx context.Context, src sdk.Source, after func(reads int)) error {
	t.Helper()
	for reads := 0; reads < 10_000; reads++ {
		if _, err := src.Read(ctx); err != nil {
			return err
		}
		if after != nil {
			after(reads + 1)
		}
	}
	t.Fatal("no error after 10000 reads")
	return nil
}

// gone reports whether process pid has exited (a zombie counts).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// TestProcessFailure checks that a plugin process that exits, panics, is
// killed or hangs fails the call in flight with a ProcessError naming the
// stage and plugin, how the process ended and the end of its stderr, and
// that the error matches pluginrpc.ErrTransport.
func TestProcessFailure(t *testing.T) {
	tests := []struct {
		name   string
		config string
		kill   bool // SIGKILL the process after two reads
		opts   Options
		status string // regexp
		stderr string // a line the error shows
	}{
		{name: "exit", config: `{"after": 2, "action": "exit", "code": 3, "message": "giving up"}`,
			status: `^exit status 3$`, stderr: "giving up"},
		{name: "panic", config: `{"after": 2, "action": "panic", "message": "boom"}`,
			status: `^exit status 2$`, stderr: "panic: boom"},
		{name: "killed", config: `{"after": 1000000}`, kill: true,
			status: `^signal: killed$`},
		{name: "hung", config: `{"after": 2, "action": "stop"}`,
			opts:   Options{HealthEvery: 100 * time.Millisecond, HealthTimeout: time.Second},
			status: `^hung \(no answer to a health check\); killed \(signal: killed\)$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, _ := testHost(t, tt.opts)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			src := crashStage(h).newSource()
			if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(tt.config), Settings: sdk.Settings{Name: "s"}}); err != nil {
				t.Fatal(err)
			}
			pid := src.(*source).p.pid
			err := readUntilError(t, ctx, src, func(reads int) {
				if tt.kill && reads == 2 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			if !errors.Is(err, pluginrpc.ErrTransport) {
				t.Errorf("error %v does not match pluginrpc.ErrTransport", err)
			}
			var pe *ProcessError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProcessError", err)
			}
			if pe.Label != "source s (crash)" || pe.Pid != pid {
				t.Errorf("Label, Pid = %q, %d; want %q, %d", pe.Label, pe.Pid, "source s (crash)", pid)
			}
			if !regexp.MustCompile(tt.status).MatchString(pe.Status) {
				t.Errorf("Status = %q, want it to match %s", pe.Status, tt.status)
			}
			if tt.stderr != "" && !strings.Contains(strings.Join(pe.Stderr, "\n"), tt.stderr) {
				t.Errorf("Stderr = %q, want a line with %q", pe.Stderr, tt.stderr)
			}
			prefix := fmt.Sprintf("source s (crash): plugin process %s (pid %d): %s: ", os.Args[0], pid, pe.Status)
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) {
				t.Errorf("error:\n%s\nwant it to start with %q", msg, prefix)
			}
			if _, err := src.Read(ctx); err != pe {
				t.Errorf("Read after the failure: %v, want the same ProcessError", err)
			}
			if err := src.Close(ctx); err != nil {
				t.Errorf("Close after the failure: %v", err)
			}
			if !gone(pid) {
				t.Errorf("process %d still runs", pid)
			}
		})
	}
}

// TestStuckClose checks that a plugin stuck in a call that ignores
// cancellation does not hold its host: the cancelled call returns at
// once, and Close, which the plugin cannot serve, kills it in time.
func TestStuckClose(t *testing.T) {
	t.Parallel()
	h, _, _ := testHost(t, Options{})
	h.closeTimeout = time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	src := crashStage(h).newSource()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"after": 1, "action": "block"}`)}); err != nil {
		t.Fatal(err)
	}
	pid := src.(*source).p.pid
	if _, err := src.Read(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer rcancel()
	if _, err := src.Read(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want %v", err, context.DeadlineExceeded)
	}
	err := src.Close(context.WithoutCancel(ctx))
	var pe *ProcessError
	if !errors.As(err, &pe) || pe.Status != "signal: killed" || !strings.HasSuffix(err.Error(), ": Close did not return within 1s; it wrote nothing to stderr") {
		t.Errorf("Close: %v, want a ProcessError of a killed process that did not close in time", err)
	}
	if !gone(pid) {
		t.Errorf("process %d still runs", pid)
	}
}

// TestRestartBackoff checks that a stage whose plugin failed starts the
// next one after a delay that doubles with each failure in a row, up to
// Backoff.Max, and that an instance closed without failing resets it.
func TestRestartBackoff(t *testing.T) {
	t.Parallel()
	backoff := Backoff{Base: 100 * time.Millisecond, Max: 200 * time.Millisecond, Reset: time.Hour}
	h, _, stderr := testHost(t, Options{Backoff: backoff})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st := crashStage(h)
	open := func(config string) (sdk.Source, time.Duration) {
		t.Helper()
		start := time.Now()
		src := st.newSource()
		if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config)}); err != nil {
			t.Fatal(err)
		}
		return src, time.Since(start)
	}
	for i, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond} {
		src, took := open(`{"after": 0, "action": "exit", "code": 1}`)
		if took < want {
			t.Errorf("start %d took %s, want at least the backoff %s", i+1, took, want)
		}
		if err := readUntilError(t, ctx, src, nil); !errors.Is(err, pluginrpc.ErrTransport) {
			t.Fatalf("start %d: Read: %v, want the process's failure", i+1, err)
		}
		_ = src.Close(ctx)
	}
	// A healthy instance resets the count.
	src, _ := open(`{"after": 1}`)
	if err := readUntilError(t, ctx, src, nil); !errors.Is(err, sdk.ErrEndOfInput) {
		t.Fatalf("Read: %v, want the end of input", err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	src, _ = open(`{"after": 1}`)
	_ = src.Close(ctx)
	// The healthy instance still waited: it followed four failures.
	want := "source s (crash): restarting the plugin in 100ms\n" +
		"source s (crash): restarting the plugin in 200ms\n" +
		"source s (crash): restarting the plugin in 200ms\n" +
		"source s (crash): restarting the plugin in 200ms\n"
	var got strings.Builder
	for _, l := range strings.SplitAfter(stderr.String(), "\n") {
		if strings.Contains(l, "restarting") {
			got.WriteString(l)
		}
	}
	if got.String() != want {
		t.Errorf("restarts logged:\n%s\nwant:\n%s", got.String(), want)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	for failures, want := range []time.Duration{0, 100, 200, 400, 800, 1000, 1000} {
		if got := b.Delay(failures); got != want*time.Millisecond {
			t.Errorf("Delay(%d) = %s, want %s", failures, got, want*time.Millisecond)
		}
	}
	if got := b.Delay(1000); got != time.Second {
		t.Errorf("Delay(1000) = %s, want the maximum", got)
	}
	var r restarts
	start := time.Unix(0, 0)
	r.failed(Backoff{Reset: time.Minute}, start, start.Add(time.Second))
	r.failed(Backoff{Reset: time.Minute}, start, start.Add(time.Second))
	if r.failures != 2 {
		t.Errorf("two quick failures: %d in a row, want 2", r.failures)
	}
	r.failed(Backoff{Reset: time.Minute}, start, start.Add(time.Minute))
	if r.failures != 1 {
		t.Errorf("a failure after a healthy minute: %d in a row, want 1", r.failures)
	}
}

// TestLogs checks that what a plugin logs and prints on stderr reaches the
// host's stderr with the stage and plugin before it.
func TestLogs(t *testing.T) {
	t.Parallel()
	h, _, stderr := testHost(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	src := crashStage(h).newSource()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"print": true, "message": "hello there"}`), Settings: sdk.Settings{Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"source s (crash): [INFO] logged hello there\n",
		"source s (crash): printed hello there\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr:\n%s\nwant a line %q", stderr, want)
		}
	}
}

// compilePipeline loads and compiles a pipeline file's text, written into
// dir, resolving its plugins with h.
func compilePipeline(t *testing.T, h *Host, dir, text string) (*plan.Plan, *Set) {
	t.Helper()
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, ds := config.LoadFile(file)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	set, ds := h.Resolve(t.Context(), p)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	pl, ds := plan.Compile(p, set.Catalog, "")
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return pl, set
}

// TestRunOutOfProcess runs a pipeline with its plugins in process and out
// of process and checks that both write the same rows, and that what the
// stdout sink prints out of process reaches the host's stdout whole.
func TestRunOutOfProcess(t *testing.T) {
	t.Parallel()
	h, stdout, stderr := testHost(t, Options{})
	const pipeline = `version: 1
name: oop
sources:
  - name: g
    plugin: generate
    config: {count: 2000, seed: 3, partitions: 2, fields: {n: i, s: 'sprintf("row %%05d", i)', r: "uniform(0, 1)"}}
sinks:
  - {name: file, from: g, plugin: file, config: {path: %q}}
%s`
	dir := t.TempDir()
	inProcess := filepath.Join(dir, "in.jsonl")
	outOfProcess := filepath.Join(dir, "out.jsonl")
	pl, _ := compilePipeline(t, h, dir, fmt.Sprintf(pipeline, inProcess, ""))
	if _, err := exec.Run(t.Context(), pl, exec.Options{Stderr: stderr}); err != nil {
		t.Fatal(err)
	}
	pl, set := compilePipeline(t, h, dir, fmt.Sprintf(pipeline, outOfProcess, "  - {name: print, from: g, plugin: stdout}\n"))
	if ds := set.Bind(pl); len(ds) > 0 {
		t.Fatal(ds)
	}
	for _, st := range pl.Stages {
		switch inst := newInstance(st.Plugin).(type) {
		case nil, *source, *sink, committingSink:
		default:
			t.Errorf("stage %s makes a %T, want an out-of-process one", st.Name, inst)
		}
	}
	if _, err := exec.Run(t.Context(), pl, exec.Options{Stderr: stderr}); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	want, err := os.ReadFile(inProcess)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(outOfProcess)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(want, []byte("\n")) != 2000 {
		t.Fatalf("the in-process run wrote %d rows, want 2000", bytes.Count(want, []byte("\n")))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("out of process the file sink wrote %d bytes, in process %d; they differ", len(got), len(want))
	}
	if stdout.String() != string(want) {
		t.Errorf("the stdout sink printed %d bytes out of process, want the %d the file sink wrote", len(stdout.String()), len(want))
	}
}
