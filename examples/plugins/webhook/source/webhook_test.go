package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite the README config table")

// document is an HTTP server on 127.0.0.1 serving a JSON-lines document
// that tests append to. With ranges it honours Range headers (through
// http.ServeContent); without, it always sends the whole document.
type document struct {
	*httptest.Server
	ranges bool
	mu     sync.Mutex
	data   []byte
	status int         // if not 0, the answer to every request
	asked  []string    // the Range header of each request
	times  []time.Time // when each request came
}

func newDocument(t *testing.T, ranges bool, data string) *document {
	t.Helper()
	d := &document{ranges: ranges, data: []byte(data)}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	return d
}

func (d *document) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	data, status := bytes.Clone(d.data), d.status
	d.asked = append(d.asked, r.Header.Get("Range"))
	d.times = append(d.times, time.Now())
	d.mu.Unlock()
	switch {
	case status != 0:
		w.WriteHeader(status)
	case d.ranges:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	default:
		_, _ = w.Write(data)
	}
}

func (d *document) append(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.data = append(d.data, s...)
}

func (d *document) setStatus(code int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = code
}

func (d *document) rangesAsked() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

func config(t *testing.T, c map[string]any) []byte {
	t.Helper()
	defaults := map[string]any{"interval": "10ms", "bounded": false, "timeout": "10s"}
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

func open(t *testing.T, config []byte, resume ...sdk.Position) *Source {
	t.Helper()
	s := Plugin().NewSource().(*Source)
	if err := s.Open(t.Context(), sdk.OpenRequest{Config: config, Format: "json", Resume: resume}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// msg is a message as the tests compare it.
type msg struct {
	Payload, Reject string
	Offset, Line    int64
}

func msgs(batch sdk.Batch) []msg {
	var out []msg
	for _, m := range batch.Messages {
		out = append(out, msg{Payload: string(m.Payload), Reject: m.Reject, Offset: m.Position.Offset, Line: m.Position.Line})
	}
	return out
}

// readAll reads a bounded source to its end.
func readAll(t *testing.T, s *Source) []msg {
	t.Helper()
	var out []msg
	for range 100 {
		b, err := s.Read(t.Context())
		out = append(out, msgs(b)...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return out
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	t.Fatal("no end of input after 100 Reads")
	return nil
}

// doc is the document of the conformance suite: CRLF, blank and
// whitespace lines, and a last line without a newline.
const doc = "{\"n\":1}\n{\"n\":2}\r\n\n  \n{\"n\":3}\n{\"n\":4}\n{\"n\":5}"

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, ranges := range []bool{true, false} {
		t.Run(fmt.Sprintf("ranges=%v", ranges), func(t *testing.T) {
			t.Parallel()
			d := newDocument(t, ranges, doc)
			sdktest.RunSource(t, sdktest.SourceCase{
				Plugin: Plugin(),
				Config: []byte(`{"url": "` + d.URL + `/events.jsonl", "bounded": true, "headers": {"Authorization": "Bearer t0ken"}}`),
				Format: "json",
				BadConfigs: map[string][]byte{
					"ftp-url":       []byte(`{"url": "ftp://127.0.0.1/x"}`),
					"bad-ack-url":   []byte(`{"url": "http://127.0.0.1/x", "ack_url": "127.0.0.1/ack"}`),
					"zero-interval": []byte(`{"url": "http://127.0.0.1/x", "interval": "0s"}`),
					"header-number": []byte(`{"url": "http://127.0.0.1/x", "headers": {"X-Id": 7}}`),
					"unknown-field": []byte(`{"url": "http://127.0.0.1/x", "follow": true}`),
				},
			})
		})
	}
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
		{"valid", map[string]any{"url": "https://u:s3cret@example.com/x?k=s3cret", "ack_url": "https://example.com/ack", "headers": map[string]any{"X-K": "s3cret"}}, nil},
		{"urls", map[string]any{"url": "file:///etc/s3cret", "ack_url": "//s3cret@example.com"}, []sdk.Diagnostic{
			{Path: "url", Msg: "must be an http:// or https:// URL"},
			{Path: "ack_url", Msg: "must be an http:// or https:// URL"},
		}},
		{"durations", map[string]any{"url": "http://h/", "interval": "-1s", "timeout": "often"}, []sdk.Diagnostic{
			{Path: "timeout", Msg: `must be a positive duration such as "10s"`},
			{Path: "interval", Msg: `must be a positive duration such as "5s"`},
		}},
		{"headers", map[string]any{"url": "http://h/", "headers": map[string]any{"X-K": []any{"s3cret"}}}, []sdk.Diagnostic{
			{Path: "headers.X-K", Msg: "must be a string"},
		}},
		{"wrong-type", map[string]any{"url": "http://h/", "bounded": "yes"}, []sdk.Diagnostic{
			{Msg: "json: cannot unmarshal string into Go struct field Config.bounded of type bool"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := validate(config(t, tt.config))
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

// TestRead reads documents to their end, with and without Range support.
func TestRead(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 17)
	tests := []struct {
		name string
		data string
		want []msg
	}{
		{"empty", "", nil},
		{"lines", "{\"a\":1}\n{\"a\":2}\n", []msg{{`{"a":1}`, "", 8, 1}, {`{"a":2}`, "", 16, 2}}},
		{"crlf-blank", "1\r\n\r\n \n2", []msg{{"1", "", 3, 1}, {"2", "", 8, 4}}},
		{"long-line", "1\n\"" + long + "\"\n2\n", []msg{
			{"1", "", 2, 1},
			{`"` + long[:15], "line longer than 16 bytes", 22, 2},
			{"2", "", 24, 3},
		}},
		{"exactly-limit", `"` + long[:14] + "\"\r\n", []msg{{`"` + long[:14] + `"`, "", 18, 1}}},
		{"long-last-line", long, []msg{{long[:16], "line longer than 16 bytes", 17, 1}}},
	}
	for _, tt := range tests {
		for _, ranges := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ranges=%v", tt.name, ranges), func(t *testing.T) {
				t.Parallel()
				d := newDocument(t, ranges, tt.data)
				s := open(t, config(t, map[string]any{"url": d.URL, "bounded": true}))
				s.maxLine, s.maxBatch = 16, 2
				if diff := cmp.Diff(tt.want, readAll(t, s)); diff != "" {
					t.Errorf("messages (-want +got):\n%s", diff)
				}
				if _, err := s.Read(t.Context()); !errors.Is(err, sdk.ErrEndOfInput) {
					t.Errorf("Read after the end: %v", err)
				}
			})
		}
	}
}

// TestFollow polls a growing document: a line still being written waits
// for its newline, a caught-up source waits for interval, and resumed
// polls ask for the bytes after the last line.
func TestFollow(t *testing.T) {
	t.Parallel()
	d := newDocument(t, true, "1\n2\n")
	partition := d.URL + "/log"
	s := open(t, config(t, map[string]any{"url": d.URL + "/log?key=s3cret", "interval": "50ms"}))
	steps := []struct {
		add      string
		want     []msg
		caughtUp bool
	}{
		{"", []msg{{"1", "", 2, 1}, {"2", "", 4, 2}}, true},
		{"3\n{\"half\":", []msg{{"3", "", 6, 3}}, true},
		{"", nil, true},
		{"1}\n", []msg{{`{"half":1}`, "", 17, 4}}, true},
	}
	var reads []time.Time // when each Read was called
	for i, st := range steps {
		d.append(st.add)
		reads = append(reads, time.Now())
		b, err := s.Read(t.Context())
		if err != nil {
			t.Fatalf("step %d: Read: %v", i, err)
		}
		if diff := cmp.Diff(st.want, msgs(b)); diff != "" {
			t.Errorf("step %d: messages (-want +got):\n%s", i, diff)
		}
		if b.CaughtUp != st.caughtUp {
			t.Errorf("step %d: CaughtUp = %v", i, b.CaughtUp)
		}
		for _, m := range b.Messages {
			if m.Position.Partition != partition {
				t.Errorf("step %d: partition %q, want %q", i, m.Position.Partition, partition)
			}
		}
	}
	want := []string{"", "bytes=4-", "bytes=6-", "bytes=6-"}
	if diff := cmp.Diff(want, d.rangesAsked()); diff != "" {
		t.Errorf("Range headers (-want +got):\n%s", diff)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A caught-up source polls again interval after it sent the last
	// poll, which was after the Read that sent it was called.
	for i := 1; i < len(d.times) && i < len(reads); i++ {
		if gap := d.times[i].Sub(reads[i-1]); gap < 50*time.Millisecond {
			t.Errorf("poll %d came %v after the Read before was called, want the 50ms interval at least", i, gap)
		}
	}
}

// TestResume opens the source at a position and checks it reads the
// lines after it, whether the server honours Range or not.
func TestResume(t *testing.T) {
	t.Parallel()
	for _, ranges := range []bool{true, false} {
		t.Run(fmt.Sprintf("ranges=%v", ranges), func(t *testing.T) {
			t.Parallel()
			d := newDocument(t, ranges, "a\nb\nc\n")
			s := open(t, config(t, map[string]any{"url": d.URL + "/x", "bounded": true}),
				sdk.Position{Partition: "http://elsewhere/x", Offset: 1, Line: 1},
				sdk.Position{Partition: d.URL + "/x", Offset: 2, Line: 1},
			)
			want := []msg{{"b", "", 4, 2}, {"c", "", 6, 3}}
			if diff := cmp.Diff(want, readAll(t, s)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if got := d.rangesAsked()[0]; got != "bytes=2-" {
				t.Errorf("first Range %q, want bytes=2-", got)
			}
		})
	}
}

// TestPollErrors checks which failed polls fail the Read: polling, a
// temporary failure is logged and the source reports itself caught up;
// bounded, or on a 4xx answer, the Read fails naming the URL without its
// credentials.
func TestPollErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		bounded bool
		err     string // with HOST for the server's host:port
	}{
		{"503-polling", 503, false, ""},
		{"429-polling", 429, false, ""},
		{"503-bounded", 503, true, "GET http://HOST/x: 503 Service Unavailable"},
		{"404-polling", 404, false, "GET http://HOST/x: 404 Not Found"},
		{"401-bounded", 401, true, "GET http://HOST/x: 401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDocument(t, true, "1\n")
			d.setStatus(tt.status)
			var logs strings.Builder
			s := Plugin().NewSource().(*Source)
			u := strings.Replace(d.URL, "http://", "http://ann:s3cret@", 1) + "/x?token=s3cret"
			err := s.Open(t.Context(), sdk.OpenRequest{
				Config:   config(t, map[string]any{"url": u, "bounded": tt.bounded}),
				Settings: sdk.Settings{Logger: logFunc(func(f string, a ...any) { fmt.Fprintf(&logs, f+"\n", a...) })},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			b, err := s.Read(t.Context())
			want := strings.ReplaceAll(tt.err, "HOST", d.Listener.Addr().String())
			if got := errText(err); got != want {
				t.Errorf("Read error %q, want %q", got, want)
			}
			if err == nil {
				if len(b.Messages) != 0 || !b.CaughtUp {
					t.Errorf("Read after a failed poll: %d messages, CaughtUp %v; want none, caught up", len(b.Messages), b.CaughtUp)
				}
				if !strings.Contains(logs.String(), fmt.Sprintf(": %d ", tt.status)) {
					t.Errorf("log %q does not tell about the %d", logs.String(), tt.status)
				}
				// The server recovers; the next poll reads the line.
				d.setStatus(0)
				b, err = s.Read(t.Context())
				if err != nil || len(b.Messages) != 1 {
					t.Errorf("Read after recovery: %d messages, %v", len(b.Messages), err)
				}
			}
			if strings.Contains(logs.String()+errText(err), "s3cret") {
				t.Errorf("credentials shown: %q %q", logs.String(), errText(err))
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

type logFunc func(format string, args ...any)

func (f logFunc) Printf(format string, args ...any) { f(format, args...) }

// TestCancelledWait checks that a caught-up source waiting for interval
// returns when its context is cancelled, having consumed nothing.
func TestCancelledWait(t *testing.T) {
	t.Parallel()
	d := newDocument(t, true, "1\n")
	s := open(t, config(t, map[string]any{"url": d.URL, "interval": "1h"}))
	if b, err := s.Read(t.Context()); err != nil || len(b.Messages) != 1 {
		t.Fatalf("first Read: %d messages, %v", len(b.Messages), err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read: %v, want %v", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read returned after %v", d)
	}
	if s.offset != 2 || s.line != 1 {
		t.Errorf("position moved to offset %d line %d by a cancelled Read", s.offset, s.line)
	}
}

// TestAck checks the acknowledgements POSTed to ack_url, and that a
// temporary failure is logged, not returned.
func TestAck(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	status := http.StatusNoContent
	ack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Content-Type")+" "+r.Header.Get("X-Key")+" "+string(body))
		w.WriteHeader(status)
	}))
	defer ack.Close()
	d := newDocument(t, true, "1\n2\n")
	s := open(t, config(t, map[string]any{"url": d.URL + "/x", "ack_url": ack.URL, "headers": map[string]any{"X-Key": "k"}}))
	b, err := s.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last := b.Messages[len(b.Messages)-1].Position
	if err := s.Ack(t.Context(), []sdk.Position{{Partition: "other", Offset: 9}, last}); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if err := s.Ack(t.Context(), []sdk.Position{last}); err != nil {
		t.Errorf("Ack answered 503: %v, want it logged", err)
	}
	mu.Lock()
	status = http.StatusNotFound
	mu.Unlock()
	want404 := "POST " + ack.URL + ": 404 Not Found"
	if err := s.Ack(t.Context(), []sdk.Position{last}); errText(err) != want404 {
		t.Errorf("Ack answered 404: %v, want %s", err, want404)
	}
	mu.Lock()
	defer mu.Unlock()
	body := fmt.Sprintf(`{"partition":"%s/x","offset":4,"line":2}`, d.URL)
	want := []string{"application/json k " + body, "application/json k " + body, "application/json k " + body}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
}
