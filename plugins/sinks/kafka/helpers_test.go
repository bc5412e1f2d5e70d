package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
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
// returns its address.
func cluster(t testing.TB, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
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

// consume reads every record of topic up to its end offsets (its last
// stable offsets with committed) with franz-go, as a consumer with that
// isolation level sees them: without transaction markers, in partition
// and offset order.
func consume(t testing.TB, addr, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, addr))
	list := adm.ListEndOffsets
	isolation := kgo.ReadUncommitted()
	if committed {
		list, isolation = adm.ListCommittedOffsets, kgo.ReadCommitted()
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	if len(left) == 0 {
		return nil
	}
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %v; read %d records, waiting for %v", topic, err, len(out), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	slices.SortStableFunc(out, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out
}

// values returns the values of records as strings.
func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
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

// kcat runs kcat with args, failing t if it fails, and returns its output.
func kcat(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// config renders a sink config block with the cluster's address and the
// given fields.
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

// open opens a sink of the pipeline "test" named name, closed when t ends.
func open(t testing.TB, cfg []byte, name string, columns []string, key ...string) *Sink {
	t.Helper()
	s := &Sink{}
	req := sdk.SinkOpenRequest{Config: cfg, Columns: columns, Key: key,
		Settings: sdk.Settings{Name: name, Pipeline: "test", Logger: testLogger{t}}}
	if err := s.Open(context.Background(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// write writes rows, failing t if that fails.
func write(t testing.TB, s *Sink, columns []string, rows ...[]any) {
	t.Helper()
	if err := s.Write(context.Background(), sdk.Rows{Columns: columns, Rows: rows}); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// testLogger logs to a test.
type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, args ...any) {
	l.t.Helper()
	l.t.Logf(format, args...)
}

// recordingLogger keeps the lines logged.
type recordingLogger struct{ lines []string }

func (l *recordingLogger) Printf(format string, args ...any) {
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
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
