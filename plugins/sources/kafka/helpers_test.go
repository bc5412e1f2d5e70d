package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// checkGolden compares got with testdata/name.golden.
func checkGolden(t *testing.T, name string, got string) {
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
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// cluster starts a one-broker kfake cluster listening on 127.0.0.1 and
// returns it with its address.
func cluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// client returns a franz-go client of the cluster at addr, closed when
// t ends.
func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes records synchronously with franz-go, each to the
// partition it names.
func produce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl := client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// kcatPath returns the path of kcat. Without it the test is skipped, or
// fails under CI=true, where scripts/ci-kafka-tools.sh installs it.
func kcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("kcat is not on PATH (CI=true): run scripts/ci-kafka-tools.sh")
	}
	t.Skip("kcat is not on PATH; install it with scripts/ci-kafka-tools.sh (Debian's kcat)")
	return ""
}

// kcat runs kcat with args and stdin, failing t if it fails.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// config renders a source config block with the cluster's address and
// the given fields.
func config(addr string, fields map[string]any) []byte {
	m := map[string]any{"brokers": []string{addr}}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// openRequest is the request a source of format json named "in" is
// opened with.
func openRequest(cfg []byte, resume ...sdk.Position) sdk.OpenRequest {
	return sdk.OpenRequest{Config: cfg, Format: "json", Resume: resume, Settings: sdk.Settings{Name: "in"}}
}

// open opens a source, closed when t ends.
func open(t testing.TB, cfg []byte, resume ...sdk.Position) *Source {
	t.Helper()
	s := &Source{}
	req := openRequest(cfg, resume...)
	req.Settings.Logger = testLogger{t}
	if err := s.Open(context.Background(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// readToEnd reads a bounded source until sdk.ErrEndOfInput.
func readToEnd(t testing.TB, s *Source) []sdk.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var all []sdk.Message
	for {
		b, err := s.Read(ctx)
		all = append(all, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return all
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(all), err)
		}
	}
}

// render shows messages one a line, without their timestamps: position,
// key, headers, payload or rejection.
func render(msgs []sdk.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		meta := map[string]any{}
		for _, f := range m.Meta {
			meta[f.Name] = f.Value
		}
		h, _ := json.Marshal(meta[metaHeaders])
		fmt.Fprintf(&b, "%s topic=%v partition=%v offset=%v key=%v headers=%s", m.Position, meta[metaTopic], meta[metaPartition], meta[metaOffset], meta[metaKey], h)
		if m.Reject != "" {
			fmt.Fprintf(&b, " reject=%q\n", m.Reject)
			continue
		}
		fmt.Fprintf(&b, " %s\n", m.Payload)
	}
	return b.String()
}

// payloads returns the payloads of msgs as strings.
func payloads(msgs []sdk.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Payload)
	}
	return out
}

// testLogger logs to a test and keeps the lines.
type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, args ...any) {
	l.t.Helper()
	l.t.Logf(format, args...)
}

// recordingLogger keeps the lines logged.
type recordingLogger struct{ lines chan string }

func newRecordingLogger() *recordingLogger { return &recordingLogger{lines: make(chan string, 100)} }

func (l *recordingLogger) Printf(format string, args ...any) {
	select {
	case l.lines <- fmt.Sprintf(format, args...):
	default:
	}
}

// all returns the lines logged so far.
func (l *recordingLogger) all() []string {
	var out []string
	for {
		select {
		case s := <-l.lines:
			out = append(out, s)
		default:
			return out
		}
	}
}

// checkNestedTables checks, like sdktest.CheckREADME, the tables of the
// fields of each object field (sasl, tls) of spec, found in the README
// between "<!-- config NAME -->" and "<!-- /config NAME -->"; with update
// it rewrites them.
func checkNestedTables(t *testing.T, path string, spec sdk.Spec, update bool) {
	t.Helper()
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, f := range spec.Fields {
		if len(f.Fields) == 0 {
			continue
		}
		begin, end := "<!-- config "+f.Name+" -->\n", "<!-- /config "+f.Name+" -->"
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Errorf("%s has no %q ... %q section", path, begin, end)
			continue
		}
		want := sdktest.ConfigTable(sdk.Spec{Fields: f.Fields})
		if got := text[i+len(begin) : j]; got != want {
			if update {
				text = text[:i+len(begin)] + want + text[j:]
				continue
			}
			t.Errorf("%s table of %s is stale (run go test -update); want:\n%s\ngot:\n%s", path, f.Name, want, got)
		}
	}
	if update && text != string(readme) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
