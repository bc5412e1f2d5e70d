package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

// bin is the plugin executable TestMain builds, as a user would.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "flowctl-plugin-webhook")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "flowctl-plugin-webhook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// start runs the plugin executable as flowctl does, a child process
// reached over go-plugin, and returns the client of it.
func start(t *testing.T) *pluginrpc.Client {
	t.Helper()
	cfg := pluginrpc.ClientConfig(exec.Command(bin))
	cfg.Logger = hclog.NewNullLogger()
	client := plugin.NewClient(cfg)
	t.Cleanup(client.Kill)
	cp, err := client.Client()
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	if v := client.NegotiatedVersion(); v != pluginrpc.ProtocolVersion {
		t.Errorf("negotiated protocol %d, want %d", v, pluginrpc.ProtocolVersion)
	}
	c, err := pluginrpc.Dispense(cp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSpecs(t *testing.T) {
	t.Parallel()
	c := start(t)
	specs, err := c.Specs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range specs {
		got = append(got, fmt.Sprintf("%s %s %s: %d fields", s.Kind, s.Name, s.Version, len(s.Fields)))
	}
	want := []string{"sink webhook 0.1.0: 6 fields", "source webhook 0.1.0: 6 fields"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
}

// TestConformance runs the conformance suite on the executable, as
// `flowctl plugin test` does: the handshake, both plugins' checks over a
// real go-plugin connection with AutoMTLS, and a clean shutdown.
func TestConformance(t *testing.T) {
	t.Parallel()
	hook := httptest.NewServer(&store{})
	t.Cleanup(hook.Close)
	doc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n"))
	}))
	t.Cleanup(doc.Close)
	sdktest.RunExecutable(t, bin, sdktest.Cases{
		Sources: map[string]sdktest.ExecCase{"webhook": {
			Config: map[string]any{"url": doc.URL + "/events.jsonl", "bounded": true},
			Bad: map[string]any{
				"ftp-url":       map[string]any{"url": "ftp://127.0.0.1/x"},
				"zero-interval": map[string]any{"url": doc.URL, "interval": "0s"},
			},
		}},
		Sinks: map[string]sdktest.ExecCase{"webhook": {
			Config:  map[string]any{"url": hook.URL + "/hook", "backoff": "1ms"},
			Columns: []string{"n", "name"},
			Rows:    [][]any{{1, "a"}, {2, "b"}, {3, nil}},
			Bad: map[string]any{
				"ftp-url":    map[string]any{"url": "ftp://127.0.0.1/x"},
				"zero-batch": map[string]any{"url": hook.URL, "batch_size": 0},
			},
		}},
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	c := start(t)
	tests := []struct {
		kind   sdk.Kind
		name   string
		config string
		want   []sdk.Diagnostic
	}{
		{sdk.KindSink, "webhook", `{"url":"ftp://x/","timeout":"10s","batch_size":1,"max_retries":0,"backoff":"1s"}`,
			[]sdk.Diagnostic{{Path: "url", Msg: "must be an http:// or https:// URL"}}},
		{sdk.KindSource, "webhook", `{"url":"http://x/","interval":"1s","timeout":"10s","ack_url":"x"}`,
			[]sdk.Diagnostic{{Path: "ack_url", Msg: "must be an http:// or https:// URL"}}},
		{sdk.KindSource, "webhook", `{"url":"http://x/","interval":"1s","timeout":"10s"}`, nil},
	}
	for _, tt := range tests {
		got, err := c.Validate(t.Context(), tt.kind, tt.name, []byte(tt.config))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s %s: diagnostics (-want +got):\n%s", tt.kind, tt.name, diff)
		}
	}
}

// store is an HTTP server on 127.0.0.1 that appends the bodies POSTed to
// it and serves what it holds back at GET, like cmd/receiver.
type store struct {
	mu   sync.Mutex
	data []byte
	fail int // POSTs still to answer 503
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodPost {
		if s.fail > 0 {
			s.fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		s.data = append(s.data, body...)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.data))
}

// TestRoundTrip writes rows through the webhook sink of the executable
// (one request failing on the way) and reads them back through its
// source, resuming in the middle.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := start(t)
	st := &store{fail: 1}
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	ctx := t.Context()

	sink := c.NewSink("webhook")
	config := `{"url":"` + srv.URL + `/rows","timeout":"10s","batch_size":4,"max_retries":2,"backoff":"1ms"}`
	if err := sink.Open(ctx, sdk.SinkOpenRequest{Config: []byte(config), Columns: []string{"n", "at"}}); err != nil {
		t.Fatalf("sink Open: %v", err)
	}
	at := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 10 {
		row := []any{int64(i), at.Add(time.Duration(i) * time.Minute)}
		if err := sink.Write(ctx, sdk.Rows{Columns: []string{"n", "at"}, Rows: [][]any{row}}); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		want = append(want, fmt.Sprintf(`{"n":%d,"at":"%s"}`, i, sdk.FormatTime(row[1].(time.Time))))
	}
	if err := sink.(sdk.Flusher).Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatalf("sink Close: %v", err)
	}

	read := func(resume []sdk.Position) []sdk.Message {
		src := c.NewSource("webhook")
		config := `{"url":"` + srv.URL + `/rows","interval":"1s","timeout":"10s","bounded":true}`
		if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config), Format: "json", Resume: resume}); err != nil {
			t.Fatalf("source Open: %v", err)
		}
		defer src.Close(ctx)
		var msgs []sdk.Message
		for {
			b, err := src.Read(ctx)
			msgs = append(msgs, b.Messages...)
			if errors.Is(err, sdk.ErrEndOfInput) {
				return msgs
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
		}
	}
	payloads := func(msgs []sdk.Message) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, string(m.Payload))
		}
		return out
	}
	all := read(nil)
	if diff := cmp.Diff(want, payloads(all)); diff != "" {
		t.Fatalf("read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[4:], payloads(read([]sdk.Position{all[3].Position}))); diff != "" {
		t.Errorf("read back from line 4 (-want +got):\n%s", diff)
	}
	if got, want := all[3].Position.String(), srv.URL+"/rows:4"; got != want {
		t.Errorf("position %q, want %q", got, want)
	}
}

// TestErrorsCross checks that errors keep their text and kind across the
// process boundary.
func TestErrorsCross(t *testing.T) {
	t.Parallel()
	c := start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()

	sink := c.NewSink("webhook")
	u := strings.Replace(srv.URL, "http://", "http://ann:s3cret@", 1) + "/hook?k=s3cret"
	config := `{"url":"` + u + `","timeout":"10s","batch_size":1,"max_retries":1,"backoff":"1ms"}`
	if err := sink.Open(ctx, sdk.SinkOpenRequest{Config: []byte(config), Columns: []string{"n"}}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	err := sink.Write(ctx, sdk.Rows{Columns: []string{"n"}, Rows: [][]any{{int64(1)}}})
	want := "POST " + srv.URL + "/hook: 502 Bad Gateway (gave up after 2 attempts)"
	if err == nil || err.Error() != want {
		t.Errorf("Write: %v, want %s", err, want)
	}
	_ = sink.Close(ctx)

	src := c.NewSource("webhook")
	err = src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"url":"http://x/","interval":"1s","timeout":"no"}`)})
	_ = src.Close(ctx)
	if _, ok := errors.AsType[*sdk.ConfigError](err); !ok || err.Error() != `timeout: must be a positive duration such as "10s"` {
		t.Errorf("Open with a bad timeout: %v (%T), want a *sdk.ConfigError", err, err)
	}
}

// TestRunByHand runs the executable outside a host: it says it is a
// plugin and exits with status 1.
func TestRunByHand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin).CombinedOutput()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 1 {
		t.Fatalf("run by hand: %v, want exit status 1", err)
	}
	if !strings.Contains(string(out), "plugin") {
		t.Errorf("run by hand printed %q", out)
	}
}
