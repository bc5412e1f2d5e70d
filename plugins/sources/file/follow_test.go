package file

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Bounds of the waits in follow tests: how long to wait for data that must
// come, and how long to watch for data that must not.
const (
	arriveWithin = 10 * time.Second
	quietFor     = 40 * time.Millisecond
)

// logRecorder collects a source's log lines; safe for concurrent use.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// openFollow opens a following source over glob.
func openFollow(t *testing.T, l limits, glob, format, poll string, logger sdk.Logger, resume ...sdk.Position) *Source {
	t.Helper()
	src := Plugin().NewSource().(*Source)
	if l.batchMessages > 0 {
		src.batchMessages, src.batchBytes, src.chunkSize = l.batchMessages, l.batchBytes, l.chunkSize
	}
	cfg := fmt.Sprintf(`{"path":%q,"follow":true,"poll_interval":%q}`, glob, poll)
	req := sdk.OpenRequest{Config: []byte(cfg), Format: format, Resume: resume, Settings: sdk.Settings{Logger: logger}}
	if err := src.Open(t.Context(), req); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := src.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

// readN reads until it has n messages, failing the test if they do not
// arrive in time or Read fails.
func readN(t *testing.T, src *Source, n int) []sdk.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), arriveWithin)
	defer cancel()
	var all []sdk.Message
	for len(all) < n {
		b, err := src.Read(ctx)
		all = append(all, b.Messages...)
		if err != nil {
			t.Fatalf("Read after %d of %d messages: %v", len(all), n, err)
		}
	}
	if len(all) > n {
		t.Fatalf("read %d messages, want %d:\n%s", len(all), n, renderBase(all))
	}
	return all
}

// readNothing checks that nothing arrives for a while.
func readNothing(t *testing.T, src *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), quietFor)
	defer cancel()
	for {
		b, err := src.Read(ctx)
		if len(b.Messages) > 0 {
			t.Fatalf("unexpected messages:\n%s", renderBase(b.Messages))
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
}

// renderBase renders messages like render, with file names for paths.
func renderBase(msgs []sdk.Message) string {
	return render(withBase(msgs))
}

func withBase(msgs []sdk.Message) []sdk.Message {
	out := make([]sdk.Message, len(msgs))
	for i, m := range msgs {
		m.Position.Partition = filepath.Base(m.Position.Partition)
		out[i] = m
	}
	return out
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// followStep appends to a file, then expects exactly these messages.
type followStep struct {
	file, add string
	want      string // render of the new messages, paths as base names
}

func TestFollowWaitsForCompleteRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, glob, format string
		steps              []followStep
	}{
		{
			name: "lines", glob: "*.jsonl", format: "json",
			steps: []followStep{
				{"a.jsonl", "{\"n\":1}\n{\"n\":2", "a.jsonl:1@8 payload=\"{\\\"n\\\":1}\"\n"},
				{"a.jsonl", "}", ""},
				{"a.jsonl", "\n", "a.jsonl:2@16 payload=\"{\\\"n\\\":2}\"\n"},
				{"a.jsonl", "\n  \n{\"n\":3}\r\n{\"n\"", "a.jsonl:5@29 payload=\"{\\\"n\\\":3}\"\n"},
				{"b.jsonl", "{\"b\":1}\n", "b.jsonl:1@8 payload=\"{\\\"b\\\":1}\"\n"},
				{"a.jsonl", ":4}\n", "a.jsonl:6@37 payload=\"{\\\"n\\\":4}\"\n"},
				{"a.jsonl", "   ", ""},
				{"a.jsonl", "\n", ""},
			},
		},
		{
			name: "byte order mark", glob: "*.jsonl", format: "raw",
			steps: []followStep{
				{"a.jsonl", "\xef\xbb", ""},
				{"a.jsonl", "\xbfx", ""},
				{"a.jsonl", "\n", "a.jsonl:1@5 payload=\"x\"\n"},
			},
		},
		{
			name: "csv", glob: "*.csv", format: "csv",
			steps: []followStep{
				{"a.csv", "id,no", ""},
				{"a.csv", "te\n1,x\n2,\"multi", "a.csv:2@12 id=\"1\" note=\"x\"\n"},
				{"a.csv", "\nline\"", ""},
				{"a.csv", "\n3", "a.csv:3@27 id=\"2\" note=\"multi\\nline\"\n"},
				{"a.csv", ",y\n4,z,extra\n\n", "a.csv:5@31 id=\"3\" note=\"y\"\n" +
					"a.csv:6@41 payload=\"4,z,extra\" reject=\"csv: row has 3 fields, the header has 2\"\n"},
				{"b.csv", "k\n", ""},
				{"b.csv", "v\n", "b.csv:2@4 k=\"v\"\n"},
				{"a.csv", "5,\"q\"\"\"\n", "a.csv:8@50 id=\"5\" note=\"q\\\"\"\n"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, l := range tinyLimits {
				dir := t.TempDir()
				src := openFollow(t, l, filepath.Join(dir, tt.glob), tt.format, "5ms", nil)
				for i, step := range tt.steps {
					appendFile(t, filepath.Join(dir, step.file), step.add)
					n := strings.Count(step.want, "\n")
					got := renderBase(readN(t, src, n))
					if got != step.want {
						t.Fatalf("limits %q, step %d (%q to %s):\n%s", l.name, i, step.add, step.file, cmp.Diff(step.want, got))
					}
					readNothing(t, src)
				}
			}
		})
	}
}

func TestFollowShrinkAndReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "a\nb\n")
	logs := &logRecorder{}
	src := openFollow(t, limits{}, filepath.Join(dir, "*.log"), "raw", "5ms", logs)
	steps := []struct {
		name    string
		do      func()
		want    string
		wantLog []string
	}{
		{"initial", func() {}, "app.log:1@2 payload=\"a\"\napp.log:2@4 payload=\"b\"\n", nil},
		{"append", func() { appendFile(t, path, "c\n") }, "app.log:3@6 payload=\"c\"\n", nil},
		{
			"truncate", func() {
				if err := os.WriteFile(path, []byte("d\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			"app.log:1@2 payload=\"d\"\n",
			[]string{path + " shrank from 6 to 2 bytes: reading it from the start"},
		},
		{
			"replace", func() {
				tmp := filepath.Join(dir, "app.log.tmp")
				if err := os.WriteFile(tmp, []byte("e\nf\ng\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, path); err != nil {
					t.Fatal(err)
				}
			},
			"app.log:1@2 payload=\"e\"\napp.log:2@4 payload=\"f\"\napp.log:3@6 payload=\"g\"\n",
			[]string{path + " was replaced: reading it from the start"},
		},
		{"append after replace", func() { appendFile(t, path, "h\n") }, "app.log:4@8 payload=\"h\"\n", nil},
		{
			"removed", func() {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			},
			"", nil,
		},
		// The new file may get the old one's inode number back, and then
		// it looks like a shrunk file.
		{"recreated", func() { appendFile(t, path, "i\n") }, "app.log:1@2 payload=\"i\"\n", []string{path + " was replaced: reading it from the start"}},
	}
	recreatedLogs := []string{path + " shrank from 8 to 2 bytes: reading it from the start"}
	for _, step := range steps {
		step.do()
		got := renderBase(readN(t, src, strings.Count(step.want, "\n")))
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", step.name, diff)
		}
		readNothing(t, src)
		logged := logs.take()
		if step.name == "recreated" && cmp.Equal(logged, recreatedLogs) {
			continue
		}
		if diff := cmp.Diff(step.wantLog, logged); diff != "" {
			t.Errorf("%s: log (-want +got):\n%s", step.name, diff)
		}
	}
}

// TestFollowConcurrentWriter appends records in random pieces to several
// files, one created midway, while the source reads: every record arrives
// exactly once, in order, with its line.
func TestFollowConcurrentWriter(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"raw", "csv"} {
		for _, l := range []limits{tinyLimits[0], tinyLimits[2]} {
			t.Run(format+"/"+l.name, func(t *testing.T) {
				t.Parallel()
				testConcurrentWriter(t, format, l)
			})
		}
	}
}

func testConcurrentWriter(t *testing.T, format string, l limits) {
	const perFile = 150
	dir := t.TempDir()
	files := []string{"a.log", "b.log", "c.log"}
	record := func(f string, i int) (text, want string) {
		if format == "csv" {
			if i%7 == 3 {
				return fmt.Sprintf("%d,\"%s\nsecond, line\"\n", i, f), fmt.Sprintf("%d|%s\nsecond, line", i, f)
			}
			return fmt.Sprintf("%d,%s\n", i, f), fmt.Sprintf("%d|%s", i, f)
		}
		return fmt.Sprintf("{\"file\":%q,\"i\":%d}\n", f, i), fmt.Sprintf("{\"file\":%q,\"i\":%d}", f, i)
	}
	header := ""
	if format == "csv" {
		header = "i,text\n"
	}
	appendFile(t, filepath.Join(dir, files[0]), header)
	appendFile(t, filepath.Join(dir, files[1]), header)
	src := openFollow(t, l, filepath.Join(dir, "*.log"), format, "2ms", nil)

	want := map[string][]string{}
	var pieces []struct{ file, text string }
	rng := rand.New(rand.NewPCG(3, uint64(len(format))))
	for i := range perFile {
		for _, f := range files {
			if f == "c.log" && i < perFile/3 {
				continue
			}
			if f == "c.log" && i == perFile/3 {
				pieces = append(pieces, struct{ file, text string }{f, header})
			}
			text, w := record(f, i)
			want[f] = append(want[f], w)
			for text != "" {
				n := min(len(text), 1+rng.IntN(12))
				pieces = append(pieces, struct{ file, text string }{f, text[:n]})
				text = text[n:]
			}
		}
	}
	writeErr := make(chan error, 1)
	go func() {
		for j, p := range pieces {
			f, err := os.OpenFile(filepath.Join(dir, p.file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				_, err = f.WriteString(p.text)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				writeErr <- err
				return
			}
			if j%40 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		writeErr <- nil
	}()
	total := 0
	for _, w := range want {
		total += len(w)
	}
	msgs := readN(t, src, total)
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	lines := map[string]int64{}
	for _, m := range msgs {
		f := filepath.Base(m.Position.Partition)
		var s string
		if m.Fields != nil {
			vals := make([]string, len(m.Fields))
			for i, fv := range m.Fields {
				vals[i] = fv.Value.(string)
			}
			s = strings.Join(vals, "|")
		} else {
			s = string(m.Payload)
		}
		if m.Reject != "" {
			t.Errorf("%s rejected: %s", m.Position, m.Reject)
		}
		if m.Position.Line <= lines[f] {
			t.Errorf("%s: line after line %d", m.Position, lines[f])
		}
		lines[f] = m.Position.Line
		got[f] = append(got[f], s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records per file (-want +got):\n%s", diff)
	}
	readNothing(t, src)
}

func TestFollowCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "a.jsonl"), "{}\n")
	// A poll interval far longer than the test: Read must return on
	// cancellation, not at the next poll.
	src := openFollow(t, limits{}, filepath.Join(dir, "*.jsonl"), "json", "1h", nil)
	readN(t, src, 1)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	b, err := src.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || len(b.Messages) != 0 {
		t.Errorf("Read = %d messages, %v; want none and the deadline", len(b.Messages), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read returned %v after its deadline", d)
	}

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	if _, err := src.Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v", err)
	}
}

func TestFollowNoFilesYet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := &logRecorder{}
	glob := filepath.Join(dir, "*.jsonl")
	src := openFollow(t, limits{}, glob, "json", "5ms", logs)
	if diff := cmp.Diff([]string{fmt.Sprintf("no files match %q yet; waiting for some", glob)}, logs.take()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	readNothing(t, src)
	if err := os.Mkdir(filepath.Join(dir, "dir.jsonl"), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(dir, "b.jsonl"), "{\"b\":1}\n")
	appendFile(t, filepath.Join(dir, "a.jsonl"), "{\"a\":1}\n")
	got := renderBase(readN(t, src, 2))
	want := "a.jsonl:1@8 payload=\"{\\\"a\\\":1}\"\nb.jsonl:1@8 payload=\"{\\\"b\\\":1}\"\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files found in one poll are read in sorted order (-want +got):\n%s", diff)
	}
	readNothing(t, src)
}

func TestFollowGzipReadOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gz := filepath.Join(dir, "old.jsonl.gz")
	writeGzip(t, gz, []byte("{\"n\":1}\n{\"n\":2}"))
	src := openFollow(t, limits{}, filepath.Join(dir, "*"), "json", "5ms", nil)
	got := renderBase(readN(t, src, 2))
	want := "old.jsonl.gz:1@8 payload=\"{\\\"n\\\":1}\"\nold.jsonl.gz:2@15 payload=\"{\\\"n\\\":2}\"\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	writeGzip(t, gz, []byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"))
	readNothing(t, src)
}

func TestFollowResume(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "csv"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.txt")
			first, more, again := "{\"n\":1}\n{\"n\":2}\n{\"n\":", "3}\n{\"n\":4}\n", "{\"n\":5}\n{\"n\":6}\n"
			if format == "csv" {
				first, more, again = "n\n1\n2\n\"3", "\"\n4\n", "5\n6\n"
			}
			appendFile(t, path, first)
			glob := filepath.Join(dir, "*.txt")
			src := openFollow(t, limits{}, glob, format, "5ms", nil)
			msgs := readN(t, src, 2)
			readNothing(t, src)
			appendFile(t, path, more)
			rest := readN(t, src, 2)

			// A new source resumed after the second message reads the
			// rest, and follows on.
			logs := &logRecorder{}
			resumed := openFollow(t, limits{}, glob, format, "5ms", logs, msgs[1].Position)
			if diff := cmp.Diff(rest, readN(t, resumed, 2)); diff != "" {
				t.Errorf("resumed (-want +got):\n%s", diff)
			}
			appendFile(t, path, again)
			if got := readN(t, resumed, 2); got[1].Position.Line != rest[1].Position.Line+2 {
				t.Errorf("after more appends, position %v", got[1].Position)
			}
			readNothing(t, resumed)

			// A position past the end of a file that shrank: read it from
			// the start.
			small, wantLine, wantValue := "{\"n\":9}\n", int64(1), "{\"n\":9}"
			if format == "csv" {
				small, wantLine, wantValue = "n\n9\n", 2, "9"
			}
			if err := os.WriteFile(path, []byte(small), 0o644); err != nil {
				t.Fatal(err)
			}
			restarted := openFollow(t, limits{}, glob, format, "5ms", logs, rest[1].Position)
			got := readN(t, restarted, 1)[0]
			value := string(got.Payload)
			if got.Fields != nil {
				value = got.Fields[0].Value.(string)
			}
			if got.Position.Line != wantLine || value != wantValue {
				t.Errorf("restarted: %s %q, want line %d %q", got.Position, value, wantLine, wantValue)
			}
			wantLog := []string{fmt.Sprintf("resume offset %d is past the end of %s (%d bytes): reading %s from the start",
				rest[1].Position.Offset, path, len(small), path)}
			if diff := cmp.Diff(wantLog, logs.take()); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFollowSaysCaughtUp checks that a followed source marks the batch
// that reaches the end of what is there, and only that one, as caught up,
// so that a micro-batch trigger knows when to stop reading.
func TestFollowSaysCaughtUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "a.jsonl"), strings.Repeat("{\"n\":1}\n", 5))
	src := openFollow(t, limits{"two a batch", 2, maxBatchBytes, chunkBytes}, filepath.Join(dir, "*.jsonl"), "json", "5ms", nil)
	var caught []bool
	for n := 0; n < 5; {
		b, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Messages)
		caught = append(caught, b.CaughtUp)
	}
	if got := fmt.Sprint(caught); got != "[false false true]" {
		t.Errorf("caught up per batch of 2 over 5 lines: %s, want [false false true]", got)
	}
}
