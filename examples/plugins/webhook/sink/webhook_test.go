package sink

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// request is what the test server received in one request.
type request struct {
	header http.Header
	body   string
	user   string // basic auth user:password, if any
}

// server is an HTTP server on 127.0.0.1 that records the requests to it
// and answers each with the next status of its script (then 204).
type server struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	script []int
	delay  time.Duration
}

func newServer(t *testing.T, script ...int) *server {
	t.Helper()
	s := &server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	status := http.StatusNoContent
	if len(s.script) > 0 {
		status, s.script = s.script[0], s.script[1:]
	}
	req := request{header: r.Header.Clone(), body: string(body)}
	if u, p, ok := r.BasicAuth(); ok {
		req.user = u + ":" + p
	}
	s.got = append(s.got, req)
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

// bodies returns the body of every request.
func (s *server) bodies() []string {
	var out []string
	for _, r := range s.requests() {
		out = append(out, r.body)
	}
	return out
}

func jsonConfig(t *testing.T, c map[string]any) []byte {
	t.Helper()
	defaults := map[string]any{"timeout": "10s", "batch_size": 500, "max_retries": 3, "backoff": "1ms"}
	for k, v := range defaults {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openSink(t *testing.T, config []byte, columns ...string) *Sink {
	t.Helper()
	s := Plugin().NewSink().(*Sink)
	set := sdk.Settings{Logger: logFunc(t.Logf)}
	if err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: config, Columns: columns, Settings: set}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

var columns = []string{"id", "store", "amount", "at", "tags"}

var at = time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)

func rows(from, to int) sdk.Rows {
	r := sdk.Rows{Columns: columns}
	for i := from; i < to; i++ {
		r.Rows = append(r.Rows, []any{
			int64(i), fmt.Sprintf("s-%d", i%3), decimal.New(int64(1250+i), -2), at.Add(time.Duration(i) * time.Second), []any{"a", nil},
		})
	}
	return r
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	sdktest.RunSink(t, sdktest.SinkCase{
		Plugin: Plugin(),
		Config: func(*testing.T) []byte {
			return []byte(`{"url": "` + srv.URL + `/hook", "headers": {"Authorization": "Bearer t0ken"}}`)
		},
		Columns: columns,
		Rows:    rows(0, 5).Rows,
		BadConfigs: map[string][]byte{
			"ftp-url":        []byte(`{"url": "ftp://127.0.0.1/hook"}`),
			"no-host":        []byte(`{"url": "http:///hook"}`),
			"header-number":  []byte(`{"url": "http://127.0.0.1/hook", "headers": {"X-Id": 7}}`),
			"header-name":    []byte(`{"url": "http://127.0.0.1/hook", "headers": {"Bad Name": "x"}}`),
			"zero-batch":     []byte(`{"url": "http://127.0.0.1/hook", "batch_size": 0}`),
			"negative-retry": []byte(`{"url": "http://127.0.0.1/hook", "max_retries": -1}`),
			"bad-timeout":    []byte(`{"url": "http://127.0.0.1/hook", "timeout": "soon"}`),
			"unknown-field":  []byte(`{"url": "http://127.0.0.1/hook", "retries": 3}`),
		},
	})
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config map[string]any
		want   []sdk.Diagnostic
	}{
		{"valid", map[string]any{"url": "https://user:pw@hooks.example.com/v1?token=x", "headers": map[string]any{"X-Token": "s3cret"}}, nil},
		{"empty-url", map[string]any{"url": ""}, []sdk.Diagnostic{{Path: "url", Msg: "must not be empty"}}},
		{"bad-url", map[string]any{"url": "http://user:s3cret@[::1"}, []sdk.Diagnostic{{Path: "url", Msg: "is not a valid URL"}}},
		{"scheme", map[string]any{"url": "ftp://user:s3cret@example.com/"}, []sdk.Diagnostic{{Path: "url", Msg: "must be an http:// or https:// URL"}}},
		{"no-host", map[string]any{"url": "http:///hook"}, []sdk.Diagnostic{{Path: "url", Msg: "must name a host"}}},
		{"headers", map[string]any{"url": "http://h/", "headers": map[string]any{"X-A": 1, "Bad:Name": "v", "X-B": "s3cret\r\nX-Evil: 1"}}, []sdk.Diagnostic{
			{Path: "headers", Msg: `"Bad:Name" is not a valid header name`},
			{Path: "headers.X-A", Msg: "must be a string"},
			{Path: "headers.X-B", Msg: "must not hold a line break"},
		}},
		{"numbers", map[string]any{"url": "http://h/", "timeout": "0s", "batch_size": 0, "max_retries": 101, "backoff": "-1s"}, []sdk.Diagnostic{
			{Path: "timeout", Msg: `must be a positive duration such as "10s"`},
			{Path: "backoff", Msg: `must be a positive duration such as "200ms"`},
			{Path: "batch_size", Msg: "must be between 1 and 100000"},
			{Path: "max_retries", Msg: "must be between 0 and 100"},
		}},
		{"unknown", map[string]any{"url": "http://h/", "retries": 1}, []sdk.Diagnostic{{Msg: `json: unknown field "retries"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := validate(jsonConfig(t, tt.config))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			for _, d := range got {
				if strings.Contains(d.Msg, "s3cret") {
					t.Errorf("diagnostic %q shows a secret", d.Msg)
				}
			}
		})
	}
}

// TestWrite writes 7 rows in batches of 3 and checks the requests: bodies
// of 3, 3 and 1 JSON lines (the last at Flush), the configured headers,
// the content type and basic auth from the URL.
func TestWrite(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	u := strings.Replace(srv.URL, "http://", "http://ann:pw@", 1) + "/hook?token=q"
	s := openSink(t, jsonConfig(t, map[string]any{"url": u, "batch_size": 3, "headers": map[string]any{"X-Token": "t0ken"}}), columns...)
	for _, r := range []sdk.Rows{rows(0, 2), rows(2, 7)} {
		if err := s.Write(t.Context(), r); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests before Flush, want 2", n)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	got := strings.Join(srv.bodies(), "----\n")
	checkGolden(t, "write", got)
	for i, r := range srv.requests() {
		if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		if tok := r.header.Get("X-Token"); tok != "t0ken" {
			t.Errorf("request %d: X-Token %q", i, tok)
		}
		if r.user != "ann:pw" {
			t.Errorf("request %d: basic auth %q, want ann:pw", i, r.user)
		}
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestRetry runs scripted answers against one Flush of one row.
func TestRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   []int
		retries  int
		requests int
		err      string // with HOST for the server's host:port; "" for none
	}{
		{"ok", nil, 3, 1, ""},
		{"503-then-ok", []int{503, 503}, 3, 3, ""},
		{"429-then-ok", []int{429}, 1, 2, ""},
		{"408-then-ok", []int{408}, 1, 2, ""},
		{"gave-up", []int{503, 500, 502}, 2, 3, "POST http://HOST/hook: 502 Bad Gateway (gave up after 3 attempts)"},
		{"no-retries", []int{500}, 0, 1, "POST http://HOST/hook: 500 Internal Server Error (gave up after 1 attempts)"},
		{"400-not-retried", []int{400}, 3, 1, "POST http://HOST/hook: 400 Bad Request"},
		{"401-not-retried", []int{401}, 3, 1, "POST http://HOST/hook: 401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.script...)
			u := strings.Replace(srv.URL, "http://", "http://ann:s3cret@", 1) + "/hook?token=s3cret"
			s := openSink(t, jsonConfig(t, map[string]any{"url": u, "max_retries": tt.retries}), columns...)
			if err := s.Write(t.Context(), rows(0, 1)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			err := s.Flush(t.Context())
			want := strings.ReplaceAll(tt.err, "HOST", srv.Listener.Addr().String())
			if got := errText(err); got != want {
				t.Errorf("Flush error %q, want %q", got, want)
			}
			if n := len(srv.requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			for i, b := range srv.bodies() {
				if b != srv.bodies()[0] {
					t.Errorf("request %d sent %q, the first %q", i, b, srv.bodies()[0])
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFailedRowsKept checks that the rows of a failed request go with the
// next one, in order, before later rows.
func TestFailedRowsKept(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 400)
	s := openSink(t, jsonConfig(t, map[string]any{"url": srv.URL, "batch_size": 2}), columns...)
	if err := s.Write(t.Context(), rows(0, 3)); err == nil {
		t.Fatal("Write with a 400 answer: no error")
	}
	if err := s.Write(t.Context(), rows(3, 4)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var ids []int64
	for _, b := range srv.bodies()[1:] {
		for line := range strings.Lines(b) {
			var row struct{ ID int64 }
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, row.ID)
		}
	}
	if diff := cmp.Diff([]int64{0, 1, 2, 3}, ids); diff != "" {
		t.Errorf("ids delivered (-want +got):\n%s", diff)
	}
}

// TestErrorsHideCredentials checks errors and log lines for the user
// info and query of the URL, after a failed answer and after a refused
// connection.
func TestErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	srv := newServer(t, 500, 500)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for name, base := range map[string]string{"500": srv.URL, "refused": closed.URL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := strings.Replace(base, "http://", "http://ann:s3cret@", 1) + "/hook?token=s3cret#s3cret"
			var logs strings.Builder
			var mu sync.Mutex
			s := Plugin().NewSink().(*Sink)
			err := s.Open(t.Context(), sdk.SinkOpenRequest{
				Config:   jsonConfig(t, map[string]any{"url": u, "max_retries": 1, "headers": map[string]any{"Authorization": "s3cret"}}),
				Columns:  columns,
				Settings: sdk.Settings{Logger: logFunc(func(format string, args ...any) { mu.Lock(); fmt.Fprintf(&logs, format+"\n", args...); mu.Unlock() })},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			if err := s.Write(t.Context(), rows(0, 1)); err != nil {
				t.Fatal(err)
			}
			err = s.Flush(t.Context())
			if err == nil {
				t.Fatal("Flush: no error")
			}
			prefix := "POST " + base + "/hook: "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			mu.Lock()
			defer mu.Unlock()
			if logs.Len() == 0 {
				t.Error("no log line about the retry")
			}
			for _, text := range []string{err.Error(), logs.String()} {
				if strings.Contains(text, "s3cret") || strings.Contains(text, "ann:") {
					t.Errorf("credentials shown: %q", text)
				}
			}
		})
	}
}

type logFunc func(format string, args ...any)

func (f logFunc) Printf(format string, args ...any) { f(format, args...) }

// TestCancel checks that a cancelled context ends the backoff and the
// request at once.
func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script []int
		delay  time.Duration
	}{
		{"during-backoff", []int{503, 503, 503}, 0},
		{"during-request", nil, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.script...)
			srv.delay = tt.delay
			s := openSink(t, jsonConfig(t, map[string]any{"url": srv.URL, "backoff": "10s", "timeout": "30s"}), columns...)
			if err := s.Write(t.Context(), rows(0, 1)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s.Flush(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Flush: %v, want %v", err, context.DeadlineExceeded)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Flush returned after %v", d)
			}
		})
	}
}

// TestTimeout checks that a request longer than timeout fails and is
// retried.
func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.delay = 2 * time.Second
	s := openSink(t, jsonConfig(t, map[string]any{"url": srv.URL, "timeout": "50ms", "max_retries": 1}), columns...)
	if err := s.Write(t.Context(), rows(0, 1)); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Client.Timeout exceeded") || !strings.HasSuffix(err.Error(), "(gave up after 2 attempts)") {
		t.Errorf("Flush: %v, want a timeout after 2 attempts", err)
	}
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	got := Plugin().Delivery(sdk.DeliveryRequest{})
	if got.Delivery != sdk.AtLeastOnce || got.Reason == "" {
		t.Errorf("Delivery = %+v, want at-least-once with a reason", got)
	}
}
