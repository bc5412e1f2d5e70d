package benthos

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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// config turns a config block written in YAML into the JSON the host
// hands a plugin.
func config(t testing.TB, text string) []byte {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, args ...any) { l.t.Logf(format, args...) }

// open opens a sink on a config written in YAML.
func open(t *testing.T, text string, columns ...string) *Sink {
	t.Helper()
	s := Plugin().NewSink().(*Sink)
	req := sdk.SinkOpenRequest{Config: config(t, text), Columns: columns, Settings: sdk.Settings{Name: "test", Logger: testLogger{t}}}
	if err := s.Open(t.Context(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	return s
}

var ts = time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)

var columns = []string{"id", "store", "amount", "at", "tags", "raw"}

// batches are written in order by the write tests.
var batches = [][][]any{
	{
		{int64(1), "a", decimal.RequireFromString("12.50"), ts, []any{"x", "y"}, []byte("hi")},
		{int64(2), "b \"quoted\"\nline", decimal.RequireFromString("-0.05"), ts.Add(time.Millisecond), []any{}, nil},
	},
	{
		{int64(3), nil, decimal.New(12, 2), time.Time{}, nil, []byte{}},
		{int64(4), sdk.Absent, 1.5, ts, map[string]any{"k": int64(1)}, []byte("raw bytes")},
	},
}

// writeAll writes the batches to s, flushes and closes it.
func writeAll(t *testing.T, s *Sink, columns []string) {
	t.Helper()
	for i, rows := range batches {
		if err := s.Write(t.Context(), sdk.Rows{Columns: columns, Rows: rows}); err != nil {
			t.Fatalf("Write of batch %d: %v", i, err)
		}
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFile writes rows with Benthos's file output.
func TestFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
	}{
		{"file_json", "output: {file: {path: OUT, codec: lines}}"},
		{"file_raw", "output: {file: {path: OUT, codec: lines}}\nformat: raw\ncolumn: store"},
		{"file_processors", `
output:
  label: lake
  file: {path: OUT, codec: lines}
  processors:
    - mapping: 'root = {"id": this.id, "n": this.tags.length().or(0)}'
max_in_flight: 4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out.jsonl")
			s := open(t, strings.ReplaceAll(tt.config, "OUT", out), columns...)
			writeAll(t, s, columns)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.config, "max_in_flight") {
				// Batches in flight together may arrive in any order.
				lines := strings.SplitAfter(string(got), "\n")
				slices.Sort(lines)
				got = []byte(strings.Join(lines, ""))
			}
			checkGolden(t, tt.name, got)
		})
	}
}

// receiver is an HTTP server on 127.0.0.1 that records the bodies it is
// sent and answers with status.
type receiver struct {
	mu     sync.Mutex
	bodies []string
	status int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.status == http.StatusOK {
			r.bodies = append(r.bodies, string(b))
		}
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setStatus(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

// TestHTTPClient posts rows to a server on 127.0.0.1 with Benthos's
// http_client output; Flush returns once the server has them all.
func TestHTTPClient(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusOK)
	s := open(t, "output: {http_client: {url: '"+r.srv.URL+"/rows', verb: POST}}\nmax_in_flight: 8", columns...)
	for i, rows := range batches {
		if err := s.Write(t.Context(), sdk.Rows{Columns: columns, Rows: rows}); err != nil {
			t.Fatalf("Write of batch %d: %v", i, err)
		}
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := r.received()
	slices.Sort(got)
	checkGolden(t, "http_client", []byte(strings.Join(got, "\n")+"\n"))
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestHTTPClientFailure checks that a failed delivery reaches the host:
// Flush returns its error (so the host does not checkpoint past the rows
// and does not acknowledge its sources), and keeps returning it.
func TestHTTPClientFailure(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusInternalServerError)
	s := open(t, "output: {http_client: {url: '"+r.srv.URL+"', retries: 1, retry_period: 10ms}}", columns...)
	if err := s.Write(t.Context(), sdk.Rows{Columns: columns, Rows: batches[0]}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	err := s.Flush(t.Context())
	if err == nil {
		t.Fatal("Flush returned no error when the server answered 500")
	}
	t.Logf("Flush: %v", err)
	if !strings.Contains(err.Error(), "delivery of 2 rows failed") {
		t.Errorf("Flush error %q does not say what failed", err)
	}
	r.setStatus(http.StatusOK)
	if err := s.Write(t.Context(), sdk.Rows{Columns: columns, Rows: batches[1]}); err == nil {
		t.Error("Write after a failed delivery returned no error")
	}
	if err := s.Flush(t.Context()); err == nil {
		t.Error("a second Flush forgot the failed delivery")
	}
	if err := s.Close(t.Context()); err == nil {
		t.Error("Close forgot the failed delivery")
	}
}

// TestFlushWaits checks that Flush returns only once Benthos has
// acknowledged the rows, here once a slow server has answered.
func TestFlushWaits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-release
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	defer close(release)
	s := open(t, "output: {http_client: {url: '"+srv.URL+"'}}\nformat: raw", "line")
	defer s.Close(context.Background())
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"line"}, Rows: [][]any{{"one"}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush before the server answered: %v, want %v", err, context.DeadlineExceeded)
	}
	release <- struct{}{}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{"one"}) {
		t.Errorf("server got %q, want [one]", got)
	}
}

// TestOpenErrors checks configs that are valid alone but not for the
// columns the sink is opened with.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		columns      []string
		want         string
	}{
		{"raw_many_columns", "{output: {drop: {}}, format: raw}", []string{"a", "b"}, `column: format raw needs a column to send when rows have 2 columns ["a" "b"]`},
		{"raw_no_column", "{output: {drop: {}}, format: raw, column: c}", []string{"a", "b"}, `column: no column "c" among ["a" "b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Plugin().NewSink()
			err := s.Open(t.Context(), sdk.SinkOpenRequest{Config: config(t, tt.config), Columns: tt.columns})
			if cerr := s.Close(t.Context()); cerr != nil {
				t.Errorf("Close: %v", cerr)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open: %v, want %s", err, tt.want)
			}
		})
	}
}

// TestValidate checks Benthos's lints and the sink's own checks.
func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", "output: {stdout: {codec: lines}}", nil},
		{"unknown_field", `
output:
  http_client:
    url: http://127.0.0.1:1/x
    verbb: POST`, []sdk.Diagnostic{{Path: "output.http_client.verbb", Msg: "field verbb not recognised"}}},
		{"wrong_type", "output: {file: {path: [a, b]}}", []sdk.Diagnostic{{Path: "output.file.path", Msg: "expected string value"}}},
		{"unknown_output", "output: {kafka: {addresses: [x]}}", []sdk.Diagnostic{{Path: "output", Msg: "unable to infer component type: kafka"}}},
		{"excluded", "output: {sync_response: {}}", []sdk.Diagnostic{{Path: "output", Msg: "unable to infer component type: sync_response"}}},
		{"http_server_no_address", "output: {http_server: {path: /get}}", []sdk.Diagnostic{{
			Path: "output.http_server",
			Msg:  "needs an address, such as 127.0.0.1:4195: flowctl runs no service-wide Benthos HTTP server",
		}}},
		{"format", "{output: {drop: {}}, format: csv, column: x, max_in_flight: -1}", []sdk.Diagnostic{
			{Path: "format", Msg: `must be json or raw, not "csv"`},
			{Path: "column", Msg: "is for format raw only"},
			{Path: "max_in_flight", Msg: "must be positive"},
		}},
	}
	validate := Plugin().Validate
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := validate(config(t, tt.config))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func TestConformance(t *testing.T) {
	sdktest.RunSink(t, sdktest.SinkCase{
		Plugin: Plugin(),
		Config: func(t *testing.T) []byte {
			return config(t, fmt.Sprintf("output: {file: {path: %q, codec: lines}}", filepath.Join(t.TempDir(), "out.jsonl")))
		},
		Columns: columns,
		Rows:    slices.Concat(batches...),
		BadConfigs: map[string][]byte{
			"unknown_field": config(t, "output: {file: {path: x, pathz: y}}"),
			"wrong_type":    config(t, "output: {file: {path: {x: 1}}}"),
			"no_output":     config(t, "output: {}"),
			"format":        config(t, "{output: {drop: {}}, format: csv}"),
		},
	})
}
