package benthos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/plugins/internal/benthosblock"
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

// open opens a source on a config written in YAML; it is closed when the
// test ends.
func open(t *testing.T, text string, resume ...sdk.Position) *Source {
	t.Helper()
	s := Plugin().NewSource().(*Source)
	req := sdk.OpenRequest{Config: config(t, text), Format: "json", Resume: resume, Settings: sdk.Settings{Name: "test", Logger: testLogger{t}}}
	if err := s.Open(t.Context(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, args ...any) { l.t.Logf(format, args...) }

// readAll reads s until the end of its input.
func readAll(t *testing.T, s *Source) []sdk.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var msgs []sdk.Message
	for {
		b, err := s.Read(ctx)
		msgs = append(msgs, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return msgs
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(msgs), err)
		}
	}
}

// readSome reads s until a Read returns messages.
func readSome(t *testing.T, s *Source) sdk.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		b, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(b.Messages) > 0 {
			return b
		}
	}
}

// render writes messages one a line: position, payload and meta, leaving
// out the file modification times.
func render(msgs []sdk.Message) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s %s", m.Position, m.Payload)
		for _, f := range m.Meta {
			if !strings.HasPrefix(f.Name, "mod_time") {
				fmt.Fprintf(&b, " %s=%v", f.Name, f.Value)
			}
		}
		if m.Reject != "" {
			fmt.Fprintf(&b, " reject=%q", m.Reject)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestRead reads bounded Benthos inputs to their end.
func TestRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
	}{
		{"file_lines", `
input:
  file:
    paths: [testdata/events.jsonl]
    scanner: {lines: {}}`},
		{"file_label_processors", `
input:
  label: orders
  file:
    paths: [testdata/events.jsonl, testdata/more.jsonl]
    scanner: {lines: {}}
  processors:
    - mapping: |
        root = this
        root.amount_cents = (this.amount * 100).round()
        meta store = this.store`},
		{"generate", `
input:
  generate:
    count: 4
    interval: ""
    mapping: 'root = {"n": counter(), "kind": "tick"}'`},
		{"csv", `
input:
  csv:
    paths: [testdata/orders.csv]`},
		{"sequence", `
input:
  sequence:
    inputs:
      - file: {paths: [testdata/more.jsonl], scanner: {lines: {}}}
      - generate: {count: 2, interval: "", mapping: 'root.n = counter()'}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, tt.config)
			checkGolden(t, tt.name, render(readAll(t, s)))
			if _, err := s.Read(t.Context()); !errors.Is(err, sdk.ErrEndOfInput) {
				t.Errorf("Read after the end: %v, want %v", err, sdk.ErrEndOfInput)
			}
		})
	}
}

// TestResumeReplay restarts a replayable input after a checkpoint: the
// messages it covers are skipped.
func TestResumeReplay(t *testing.T) {
	t.Parallel()
	const text = `
input:
  file:
    paths: [testdata/events.jsonl, testdata/more.jsonl]
    scanner: {lines: {}}`
	all := readAll(t, open(t, text))
	if len(all) != 7 {
		t.Fatalf("read %d messages, want 7", len(all))
	}
	for _, k := range []int{0, 3, 6, 7} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			var resume []sdk.Position
			if k > 0 {
				resume = []sdk.Position{all[k-1].Position}
			}
			got := readAll(t, open(t, text, resume...))
			if diff := cmp.Diff(string(render(all[k:])), string(render(got))); diff != "" {
				t.Errorf("resumed after %d messages (-want +got):\n%s", k, diff)
			}
		})
	}
}

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

// post sends body to url from a goroutine and reports the response's
// status (or -1 if the request failed) on the channel it returns.
func post(url, body string) <-chan int {
	ch := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			ch <- -1
			return
		}
		resp.Body.Close()
		ch <- resp.StatusCode
	}()
	return ch
}

// TestHTTPServerAcks feeds an http_server input from clients on
// 127.0.0.1. A client gets its 200 only when the host's Ack covers its
// message; the messages left unacknowledged at Close are rejected, so
// their clients get an error and send them again: nothing is lost.
func TestHTTPServerAcks(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := Plugin().NewSource().(*Source)
	req := sdk.OpenRequest{
		Config:   config(t, "input:\n  http_server: {address: \""+addr+"\", path: /events, timeout: 20s}"),
		Format:   "json",
		Settings: sdk.Settings{Name: "test", Logger: testLogger{t}},
	}
	if err := s.Open(t.Context(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	url := "http://" + addr + "/events"
	const n = 6
	statuses := make(map[string]<-chan int)
	for i := range n {
		body := fmt.Sprintf(`{"id":%d}`, i)
		statuses[body] = post(url, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var msgs []sdk.Message
	for len(msgs) < n {
		b, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(msgs), err)
		}
		msgs = append(msgs, b.Messages...)
	}
	for i, m := range msgs {
		if want := (sdk.Position{Partition: "http_server", Offset: int64(i + 1)}); m.Position != want {
			t.Errorf("message %d at %v, want %v", i, m.Position, want)
		}
	}
	// Nothing is answered before the host's Ack.
	for body, ch := range statuses {
		select {
		case st := <-ch:
			t.Fatalf("client of %s answered %d before any Ack", body, st)
		case <-time.After(50 * time.Millisecond):
		}
	}
	const acked = 4
	if err := s.Ack(ctx, []sdk.Position{msgs[acked-1].Position}); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	for _, m := range msgs[:acked] {
		if st := <-statuses[string(m.Payload)]; st != http.StatusOK {
			t.Errorf("client of acknowledged %s got %d, want 200", m.Payload, st)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, m := range msgs[acked:] {
		if st := <-statuses[string(m.Payload)]; st == http.StatusOK {
			t.Errorf("client of %s, never acknowledged, got 200; want an error so that it sends it again", m.Payload)
		}
	}
}

// TestHTTPServerResume checks that an upstream input continues numbering
// after a restart instead of skipping: its messages are new ones.
func TestHTTPServerResume(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := open(t, "input:\n  http_server: {address: \""+addr+"\"}", sdk.Position{Partition: "http_server", Offset: 41})
	st := post("http://"+addr+"/post", `{"id":1}`)
	b := readSome(t, s)
	want := []sdk.Message{{Payload: []byte(`{"id":1}`), Position: sdk.Position{Partition: "http_server", Offset: 42}}}
	for i := range b.Messages {
		b.Messages[i].Meta = nil // request headers
	}
	if diff := cmp.Diff(want, b.Messages); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if err := s.Ack(t.Context(), []sdk.Position{{Partition: "http_server", Offset: 42}}); err != nil {
		t.Fatal(err)
	}
	if got := <-st; got != http.StatusOK {
		t.Errorf("client got %d, want 200", got)
	}
}

// TestReadCancelled checks that a Read cancelled while waiting consumes
// nothing, that a Read of an idle input says it is caught up, and that a
// later Read gets the message.
func TestReadCancelled(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := open(t, "input:\n  http_server: {address: \""+addr+"\"}")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read of an idle input: %v, want %v", err, context.DeadlineExceeded)
	}
	if b, err := s.Read(t.Context()); err != nil || len(b.Messages) > 0 || !b.CaughtUp {
		t.Fatalf("Read of an idle input: %v, caught up %v, %v; want nothing, caught up", b.Messages, b.CaughtUp, err)
	}
	st := post("http://"+addr+"/post", `{"id":1}`)
	b := readSome(t, s)
	if len(b.Messages) != 1 || string(b.Messages[0].Payload) != `{"id":1}` {
		t.Fatalf("Read: %v", b.Messages)
	}
	if err := s.Ack(t.Context(), []sdk.Position{b.Messages[0].Position}); err != nil {
		t.Fatal(err)
	}
	<-st
}

// TestBatches checks that one Read returns every message the input has
// ready, not one per call, and that every message is read once, in order.
func TestBatches(t *testing.T) {
	t.Parallel()
	const n = 20000
	s := open(t, fmt.Sprintf("input:\n  generate: {count: %d, interval: \"\", mapping: 'root.n = counter()'}", n))
	for deadline := time.Now().Add(20 * time.Second); len(s.batches) < pumpDepth; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pump read %d batches ahead, want %d", len(s.batches), pumpDepth)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	reads, total := 0, 0
	for {
		b, err := s.Read(ctx)
		if reads == 0 && len(b.Messages) < pumpDepth {
			t.Errorf("the first Read returned %d messages of the %d ready", len(b.Messages), pumpDepth)
		}
		for _, m := range b.Messages {
			total++
			if want := fmt.Sprintf(`{"n":%d}`, total); string(m.Payload) != want || m.Position.Offset != int64(total) {
				t.Fatalf("message %d: %s at %v, want %s", total, m.Payload, m.Position, want)
			}
		}
		reads++
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != n {
		t.Fatalf("read %d messages, want %d", total, n)
	}
	t.Logf("%d messages in %d Reads", n, reads)
}

// TestValidate checks Benthos's lints, reported at the path of the
// offending value inside the block.
func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", "input: {file: {paths: [x.jsonl]}}", nil},
		{"unknown_field", `
input:
  file:
    paths: [x.jsonl]
    pathz: [y.jsonl]`, []sdk.Diagnostic{{Path: "input.file.pathz", Msg: "field pathz not recognised"}}},
		{"wrong_type", `
input:
  file:
    paths: x.jsonl`, []sdk.Diagnostic{{Path: "input.file.paths", Msg: "expected array value"}}},
		{"wrong_type_block", `
input:
  file:
    paths:
      x: 1`, []sdk.Diagnostic{{Path: "input.file.paths", Msg: "expected array value"}}},
		{"unknown_input", "input: {fil: {paths: [x]}}", []sdk.Diagnostic{{Path: "input", Msg: "unable to infer component type: fil"}}},
		{"two_inputs", "input: {file: {paths: [x]}, stdin: {}}", []sdk.Diagnostic{{Path: "input", Msg: "unable to infer component type: [file stdin]"}}},
		{"no_input", "input: {label: x}", []sdk.Diagnostic{{Path: "input", Msg: "unable to infer component type: label"}}},
		{"empty", "input: {}", []sdk.Diagnostic{{Path: "input", Msg: "names no Benthos input (such as file)"}}},
		{"bad_bloblang", `
input:
  label: ticks
  generate:
    mapping: 'root = '
  processors:
    - mapping: 'root = this'
    - mapping: |
        root = this
        root.x = nope(`, []sdk.Diagnostic{
			{Path: "input.generate.mapping", Msg: "expected query, but reached end of input"},
			{Path: "input.processors[1].mapping", Msg: "required: expected function argument, but reached end of input"},
		}},
		{"nested", `
input:
  sequence:
    inputs:
      - file: {paths: [a]}
      - file: {paths: [b], codecc: lines}`, []sdk.Diagnostic{{Path: "input.sequence.inputs[1].file.codecc", Msg: "field codecc not recognised"}}},
		{"http_server_no_address", "input: {http_server: {path: /in}}", []sdk.Diagnostic{{
			Path: "input.http_server",
			Msg:  "needs an address, such as 127.0.0.1:4195: flowctl runs no service-wide Benthos HTTP server",
		}}},
		{"excluded", "input: {inproc: x}", []sdk.Diagnostic{{Path: "input", Msg: "unable to infer component type: inproc"}}},
		{"not_a_mapping", "input: [file]", []sdk.Diagnostic{{Path: "input", Msg: "input: must be a mapping"}}},
		{"resume", "{input: {file: {paths: [x]}}, resume: never}", []sdk.Diagnostic{{Path: "resume", Msg: `must be auto, replay, upstream or none, not "never"`}}},
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

// TestAutoResume checks what `resume: auto` means for each input.
func TestAutoResume(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input, want string
	}{
		{"{file: {paths: [x]}}", "replay"},
		{"{label: a, file: {paths: [x]}, processors: [{mapping: root = this}]}", "replay"},
		{"{generate: {mapping: root = 1}}", "replay"},
		{"{csv: {paths: [x]}}", "replay"},
		{"{sequence: {inputs: [{file: {paths: [x]}}, {generate: {mapping: root = 1}}]}}", "replay"},
		{"{sequence: {inputs: [{file: {paths: [x]}}, {stdin: {}}]}}", "none"},
		{"{sequence: {inputs: [{file: {paths: [x]}}, {http_server: {address: x}}]}}", "upstream"},
		{"{batched: {child: {file: {paths: [x]}}, policy: {count: 10}}}", "replay"},
		{"{batched: {child: {stdin: {}}, policy: {count: 10}}}", "none"},
		{"{broker: {inputs: [{file: {paths: [x]}}, {file: {paths: [y]}}]}}", "upstream"},
		{"{http_server: {address: x}}", "upstream"},
		{"{stdin: {}}", "none"},
		{"{socket_server: {network: tcp, address: x}}", "none"},
	}
	for _, tt := range tests {
		if got := autoResume(config(t, tt.input)); got != tt.want {
			t.Errorf("autoResume(%s) = %s, want %s", tt.input, got, tt.want)
		}
	}
}

// TestBlockYAML checks the text given to Benthos and the path of each of
// its lines.
func TestBlockYAML(t *testing.T) {
	t.Parallel()
	b, err := benthosblock.New("input", config(t, `
label: in
file:
  paths: [a, "5", "yes"]
  max_buffer: 1000000
  ratio: 0.5
processors:
  - mapping: |
      root = this
      root.x = 1
  - {}`))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for i, line := range strings.Split(b.Text, "\n") {
		fmt.Fprintf(&got, "%-50s # %s\n", line, b.Path(i+1))
	}
	checkGolden(t, "block_yaml", []byte(got.String()))
	if b.Name != "file" || b.Label != "in" {
		t.Errorf("name %q, label %q; want file, in", b.Name, b.Label)
	}
}

func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func TestConformance(t *testing.T) {
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: config(t, `
input:
  file:
    paths: [testdata/events.jsonl, testdata/more.jsonl]
    scanner: {lines: {}}`),
		Format: "json",
		BadConfigs: map[string][]byte{
			"unknown_field": config(t, "input: {file: {paths: [x], pathz: [y]}}"),
			"wrong_type":    config(t, "input: {file: {paths: {x: 1}}}"),
			"no_input":      config(t, "input: {}"),
			"construction":  config(t, "input: {generate: {mapping: root = 1, count: many}}"),
		},
	})
}

// TestConcurrentAck acknowledges from another goroutine while reading,
// as an in-process host may.
func TestConcurrentAck(t *testing.T) {
	t.Parallel()
	s := open(t, "input: {generate: {count: 5000, interval: \"\", mapping: 'root.n = counter()'}}\nresume: upstream")
	positions := make(chan sdk.Position, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		for p := range positions {
			if err := s.Ack(t.Context(), []sdk.Position{p}); err != nil {
				t.Error(err)
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	n := 0
	for {
		b, err := s.Read(ctx)
		n += len(b.Messages)
		if len(b.Messages) > 0 {
			positions <- b.Messages[len(b.Messages)-1].Position
		}
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", n, err)
		}
	}
	close(positions)
	wg.Wait()
	if n != 5000 {
		t.Errorf("read %d messages, want 5000", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unacked) != 0 {
		t.Errorf("%d batches left unacknowledged", len(s.unacked))
	}
}

// TestSocketServer feeds a socket_server input from a TCP client on
// 127.0.0.1. It can deliver nothing again, so it is acknowledged as read.
func TestSocketServer(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := open(t, "input:\n  socket_server: {network: tcp, address: '"+addr+"', scanner: {lines: {}}}")
	if !s.ackOnRead {
		t.Error("socket_server is not acknowledged on read")
	}
	// The input listens once Benthos has connected it, in the background.
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		for _, m := range readSome(t, s).Messages {
			got = append(got, fmt.Sprintf("%s %s", m.Position, m.Payload))
		}
	}
	want := []string{`socket_server@1 {"n":1}`, `socket_server@2 {"n":2}`, `socket_server@3 {"n":3}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

// TestStdin reads the process's standard input, which a bounded stdin
// input ends with, acknowledged as read so that it ends without waiting
// for a checkpoint. It replaces os.Stdin, so it does not run in parallel.
func TestStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin }()
	go func() {
		fmt.Fprint(w, "{\"a\":1}\n{\"a\":2}\n")
		w.Close()
	}()
	s := open(t, "input: {stdin: {scanner: {lines: {}}}}")
	if diff := cmp.Diff("stdin@1 {\"a\":1}\nstdin@2 {\"a\":2}\n", string(render(readAll(t, s)))); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}
