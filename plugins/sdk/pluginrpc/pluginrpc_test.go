package pluginrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// pluginBin is the plugin executable TestMain builds from
// testdata/plugin.
var pluginBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginrpc")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginBin = filepath.Join(dir, "flowctl-plugin-test")
	build := exec.Command("go", "build", "-o", pluginBin, "./testdata/plugin")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test plugin: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// serve serves plugins in process, as go-plugin's test mode does, and
// returns a Client attached to them.
func serve(tb testing.TB, plugins ...sdk.Plugin) *Client {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg := ServeConfig(plugins...)
	cfg.Logger = hclog.NewNullLogger()
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("the plugin did not start serving")
	}
	ccfg := ClientConfig(nil)
	ccfg.Reattach = rc
	ccfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(ccfg)
	tb.Cleanup(func() {
		client.Kill()
		cancel()
		<-closed
	})
	cp, err := client.Client()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := Dispense(cp)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// startProcess runs the test plugin executable and returns a Client of
// it and its process id.
func startProcess(tb testing.TB) (*Client, int) {
	tb.Helper()
	cfg := ClientConfig(exec.Command(pluginBin))
	cfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(cfg)
	tb.Cleanup(client.Kill)
	cp, err := client.Client()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := Dispense(cp)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Plugins(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return c, client.ReattachConfig().Pid
}

// syncBuffer is a bytes.Buffer safe for the log writer's goroutine.
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

// TestProcess runs the plugin executable as a real child process: the
// handshake, the specs, a few batches, a plugin log line reaching the
// host, and a killed process failing the next call instead of hanging.
func TestProcess(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	cmd := exec.Command(pluginBin)
	cfg := ClientConfig(cmd)
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	client := plugin.NewClient(cfg)
	t.Cleanup(client.Kill)
	cp, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	if v := client.NegotiatedVersion(); v != ProtocolVersion {
		t.Errorf("negotiated version %d, want %d", v, ProtocolVersion)
	}
	c, err := Dispense(cp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	specs, err := c.Specs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]sdk.Spec{generate.Plugin().Spec, discardPlugin().Spec}, specs); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}

	src := c.NewSource("generate")
	err = src.Open(ctx, sdk.OpenRequest{
		Config:   []byte(`{"fields": {"n": "i"}}`),
		Resume:   []sdk.Position{{Partition: "elsewhere", Offset: 3}},
		Settings: sdk.Settings{Name: "events"},
	})
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for range 3 {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range batch.Messages {
			if m.Position.Offset != next || m.Fields[0].Value != next {
				t.Fatalf("message %+v, want event %d", m, next)
			}
			next++
		}
	}
	if next == 0 {
		t.Fatal("read no messages")
	}

	// The source logged that it ignored the resume position; the line
	// reaches the host's logger with the plugin's name.
	const logged = `resume position elsewhere@3 ignored: no such partition with 1 partitions`
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), logged) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, logged) || !strings.Contains(out, "source.generate") || !strings.Contains(out, "name=events") {
		t.Errorf("host log does not hold the plugin's line with its name:\n%s", out)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := src.Read(ctx)
		if err == nil {
			continue // a batch that was on its way
		}
		if !errors.Is(err, ErrTransport) {
			t.Errorf("Read after kill: %v, want an error matching ErrTransport", err)
		}
		break
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Read took %s to fail after the plugin was killed", d)
	}
}

// TestVersionMismatch runs a plugin that speaks only a protocol version
// this host does not: go-plugin refuses it, naming both versions.
func TestVersionMismatch(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(pluginBin)
	cmd.Env = append(os.Environ(), "PLUGINRPC_TEST_SERVE_VERSION=2")
	cfg := ClientConfig(cmd)
	cfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(cfg)
	t.Cleanup(client.Kill)
	_, err := client.Client()
	want := "incompatible API version with plugin. Plugin version: 2, Client versions: [1]"
	if err == nil || err.Error() != want {
		t.Errorf("Client() error = %v, want %q", err, want)
	}
}

// TestRunByHand runs the plugin executable without a host: it says what
// it is and exits with status 1.
func TestRunByHand(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(pluginBin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("run by hand: %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "This binary is a plugin.") {
		t.Errorf("stderr = %q, want go-plugin's explanation", stderr.String())
	}
}
