package benthos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	benthossource "github.com/flowctl/flowctl/plugins/sources/benthos"
)

// freeAddr returns an address on 127.0.0.1 nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// postAll posts each body to url from a goroutine of its own and returns
// the status each got, -1 for a failed request.
func postAll(url string, bodies []string) func() map[string]int {
	type result struct {
		body   string
		status int
	}
	ch := make(chan result, len(bodies))
	for _, b := range bodies {
		go func() {
			resp, err := http.Post(url, "text/plain", strings.NewReader(b))
			if err != nil {
				ch <- result{b, -1}
				return
			}
			resp.Body.Close()
			ch <- result{b, resp.StatusCode}
		}()
	}
	return func() map[string]int {
		out := make(map[string]int, len(bodies))
		for range bodies {
			r := <-ch
			out[r.body] = r.status
		}
		return out
	}
}

// relay does what the host does with one chunk: it reads n messages from
// src, writes them to sink as rows of one column, flushes the sink and,
// only if that succeeded, acknowledges them to the source. Then it closes
// both. It returns the Flush error.
func relay(t *testing.T, src sdk.Source, sink sdk.Sink, n int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var msgs []sdk.Message
	for len(msgs) < n {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(msgs), err)
		}
		msgs = append(msgs, b.Messages...)
	}
	rows := sdk.Rows{Columns: []string{"body"}}
	for _, m := range msgs {
		rows.Rows = append(rows.Rows, []any{string(m.Payload)})
	}
	if err := sink.Write(ctx, rows); err != nil {
		t.Fatalf("Write: %v", err)
	}
	flushErr := sink.(sdk.Flusher).Flush(ctx)
	if flushErr == nil {
		if err := src.(sdk.Acker).Ack(ctx, []sdk.Position{msgs[len(msgs)-1].Position}); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if err := src.Close(ctx); err != nil {
		t.Errorf("source Close: %v", err)
	}
	_ = sink.Close(ctx) // repeats the Flush error
	return flushErr
}

// TestNothingLost runs Benthos to Benthos through the plugins as the
// host does: an http_server input fed by clients on 127.0.0.1, an
// http_client output to a server that first fails. The failed delivery
// reaches Flush, the host acknowledges nothing, the input rejects the
// messages at Close and the clients get errors; they send again, the
// server now works, and every message arrives.
func TestNothingLost(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusInternalServerError)
	bodies := []string{"m1", "m2", "m3", "m4", "m5"}
	srcConfig := func(addr string) []byte {
		return config(t, "input: {http_server: {address: '"+addr+"', timeout: 20s}}")
	}
	sinkConfig := config(t, "output: {http_client: {url: '"+r.srv.URL+"', retries: 0}}\nformat: raw\nmax_in_flight: 4")
	run := func() (map[string]int, error) {
		addr := freeAddr(t)
		src := benthossource.Plugin().NewSource()
		if err := src.Open(t.Context(), sdk.OpenRequest{Config: srcConfig(addr), Format: "raw"}); err != nil {
			t.Fatalf("source Open: %v", err)
		}
		sink := Plugin().NewSink()
		if err := sink.Open(t.Context(), sdk.SinkOpenRequest{Config: sinkConfig, Columns: []string{"body"}}); err != nil {
			t.Fatalf("sink Open: %v", err)
		}
		statuses := postAll("http://"+addr+"/post", bodies)
		err := relay(t, src, sink, len(bodies))
		return statuses(), err
	}

	statuses, err := run()
	if err == nil {
		t.Fatal("Flush succeeded though the server answered 500")
	}
	for _, b := range bodies {
		if statuses[b] == http.StatusOK {
			t.Errorf("client of %s got 200 though its message was not delivered", b)
		}
	}
	if got := r.received(); len(got) > 0 {
		t.Fatalf("the failing server kept %q", got)
	}

	r.setStatus(http.StatusOK)
	statuses, err = run()
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for _, b := range bodies {
		if statuses[b] != http.StatusOK {
			t.Errorf("client of %s got %d, want 200", b, statuses[b])
		}
	}
	got := r.received()
	slices.Sort(got)
	if !slices.Equal(got, bodies) {
		t.Errorf("server received %q, want %q", got, bodies)
	}
}

// TestSecretsRedacted checks that a password written in a URL does not
// reach the errors the host shows.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusInternalServerError)
	url := strings.Replace(r.srv.URL, "http://", "http://user:s3cret@", 1)
	s := open(t, "output: {http_client: {url: '"+url+"', retries: 0}}", "a")
	if err := s.Write(t.Context(), sdk.Rows{Columns: []string{"a"}, Rows: [][]any{{int64(1)}}}); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(t.Context())
	if err == nil {
		t.Fatal("Flush succeeded though the server answered 500")
	}
	_ = s.Close(t.Context())
	if msg := fmt.Sprint(err); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "REDACTED") {
		t.Errorf("Flush error %q shows or does not hide the password", msg)
	}
}
