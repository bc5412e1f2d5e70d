package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// limits are the Source limits a test runs with.
type limits struct {
	name                                 string
	batchMessages, batchBytes, chunkSize int
}

// tinyLimits exercise chunk and batch boundaries on small inputs.
var tinyLimits = []limits{
	{"default", maxBatchMessages, maxBatchBytes, chunkBytes},
	{"one message per batch", 1, maxBatchBytes, chunkBytes},
	{"tiny chunks", 3, 10, 5},
	{"small chunks", 7, 64, 16},
}

func openSource(t *testing.T, l limits, path, format string, resume ...sdk.Position) (*Source, error) {
	t.Helper()
	src := Plugin().NewSource().(*Source)
	if l.batchMessages > 0 {
		src.batchMessages, src.batchBytes, src.chunkSize = l.batchMessages, l.batchBytes, l.chunkSize
	}
	cfg, err := json.Marshal(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Open(t.Context(), sdk.OpenRequest{Config: cfg, Format: format, Resume: resume})
	return src, err
}

// readAll reads src to the end. Every batch is kept, so payloads handed
// out early are checked after later Reads.
func readAll(t *testing.T, src *Source) ([]sdk.Message, error) {
	t.Helper()
	defer func() {
		if err := src.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	var all []sdk.Message
	for range 1_000_000 {
		b, err := src.Read(t.Context())
		all = append(all, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return all, nil
		}
		if err != nil {
			return all, err
		}
	}
	t.Fatal("no end of input after a million reads")
	return nil, nil
}

func mustReadAll(t *testing.T, l limits, path, format string, resume ...sdk.Position) []sdk.Message {
	t.Helper()
	src, err := openSource(t, l, path, format, resume...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	msgs, err := readAll(t, src)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return msgs
}

// render prints messages one a line for golden files.
func render(msgs []sdk.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s@%d", m.Position, m.Position.Offset)
		if m.Fields != nil {
			for _, f := range m.Fields {
				fmt.Fprintf(&b, " %s=%q", f.Name, f.Value)
			}
		} else {
			fmt.Fprintf(&b, " payload=%q", m.Payload)
		}
		if m.Reject != "" {
			fmt.Fprintf(&b, " reject=%q", m.Reject)
		}
		b.WriteByte('\n')
	}
	return b.String()
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
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// withPartition returns msgs with every Partition replaced.
func withPartition(msgs []sdk.Message, partition string) []sdk.Message {
	out := make([]sdk.Message, len(msgs))
	for i, m := range msgs {
		m.Position.Partition = partition
		out[i] = m
	}
	return out
}

var readCases = []struct {
	name, glob, format string
	sameAs             string // a file with the same content once decompressed
}{
	{name: "events", glob: "testdata/events.jsonl", format: "json"},
	{name: "events_raw", glob: "testdata/events.jsonl", format: "raw"},
	{name: "events_gz", glob: "testdata/events.jsonl.gz", format: "json", sameAs: "testdata/events.jsonl"},
	{name: "orders", glob: "testdata/orders.csv", format: "csv"},
	{name: "orders_gz", glob: "testdata/orders.csv.gz", format: "csv", sameAs: "testdata/orders.csv"},
	{name: "bom_csv", glob: "testdata/bom.csv", format: "csv"},
	{name: "bom_jsonl", glob: "testdata/bom.jsonl", format: "json"},
	{name: "parts", glob: "testdata/parts/*", format: "json"},
}

func TestRead(t *testing.T) {
	t.Parallel()
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := mustReadAll(t, limits{}, tc.glob, tc.format)
			checkGolden(t, tc.name, render(want))
			if tc.sameAs != "" {
				plain := withPartition(mustReadAll(t, limits{}, tc.sameAs, tc.format), tc.glob)
				if diff := cmp.Diff(plain, want); diff != "" {
					t.Errorf("%s and %s differ (-plain +gz):\n%s", tc.sameAs, tc.glob, diff)
				}
			}
			for _, l := range tinyLimits {
				got := mustReadAll(t, l, tc.glob, tc.format)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("with limits %q (-default +got):\n%s", l.name, diff)
				}
			}
		})
	}
}

// reference splits content into line messages the simple way.
func reference(path string, content []byte) []sdk.Message {
	var msgs []sdk.Message
	offset := 0
	lines := bytes.SplitAfter(content, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		offset += len(line)
		p := bytes.TrimSuffix(line, []byte("\n"))
		p = bytes.TrimSuffix(p, []byte("\r"))
		if i == 0 {
			p = bytes.TrimPrefix(p, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.Trim(p, " \t\r\v\f")) == 0 {
			continue
		}
		msgs = append(msgs, sdk.Message{
			Payload:  p,
			Position: sdk.Position{Partition: path, Offset: int64(offset), Line: int64(i + 1)},
		})
	}
	return msgs
}

func randomLines(rng *rand.Rand) []byte {
	pieces := []string{"a", "{\"k\":1}", " ", "\t", "\r", "\r\n", "\n", "\n", "\n", "é", "0123456789", "\xef\xbb\xbf"}
	var b []byte
	if rng.IntN(4) == 0 {
		b = append(b, "\xef\xbb\xbf"...)
	}
	for range rng.IntN(60) {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return b
}

func writeGzip(t testing.TB, path string, content []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	dir := t.TempDir()
	for i := range 200 {
		content := randomLines(rng)
		plain := filepath.Join(dir, fmt.Sprintf("r%d.jsonl", i))
		if err := os.WriteFile(plain, content, 0o644); err != nil {
			t.Fatal(err)
		}
		gz := plain + ".gz"
		writeGzip(t, gz, content)
		for _, path := range []string{plain, gz} {
			want := reference(path, content)
			for _, l := range tinyLimits {
				got := mustReadAll(t, l, path, "raw")
				if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
					t.Fatalf("%s %q, limits %q (-want +got):\n%s", path, content, l.name, diff)
				}
				for _, m := range got {
					if cap(m.Payload) != len(m.Payload) {
						t.Fatalf("payload %q has spare capacity %d", m.Payload, cap(m.Payload)-len(m.Payload))
					}
				}
				// Resuming after any message gives the rest.
				for k := range got {
					rest := mustReadAll(t, l, path, "raw", got[k].Position)
					if diff := cmp.Diff(want[k+1:], rest, cmp.Comparer(bytes.Equal), cmpEmpty); diff != "" {
						t.Fatalf("%s %q resumed at %v (-want +got):\n%s", path, content, got[k].Position, diff)
					}
				}
			}
		}
	}
}

var cmpEmpty = cmp.Transformer("empty", func(m []sdk.Message) []sdk.Message {
	if len(m) == 0 {
		return nil
	}
	return m
})

func TestResume(t *testing.T) {
	t.Parallel()
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := mustReadAll(t, limits{}, tc.glob, tc.format)
			for k, m := range all {
				var want []sdk.Message
				for j, o := range all {
					if o.Position.Partition != m.Position.Partition || j > k {
						want = append(want, o)
					}
				}
				for _, l := range tinyLimits[:3] {
					got := mustReadAll(t, l, tc.glob, tc.format, m.Position)
					if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
						t.Errorf("resumed at %v with limits %q (-want +got):\n%s", m.Position, l.name, diff)
					}
				}
			}
		})
	}
}

func TestResumeSeveralPartitions(t *testing.T) {
	t.Parallel()
	all := mustReadAll(t, limits{}, "testdata/parts/*", "json")
	resume := []sdk.Position{
		{Partition: "testdata/parts/part-1.jsonl", Offset: all[1].Position.Offset, Line: 2}, // all of part-1
		{Partition: "testdata/parts/part-2.jsonl", Offset: all[3].Position.Offset, Line: 1},
		{Partition: "testdata/parts/gone.jsonl", Offset: 1000, Line: 9},
	}
	var logged []string
	src := Plugin().NewSource()
	cfg := []byte(`{"path":"testdata/parts/*"}`)
	err := src.Open(t.Context(), sdk.OpenRequest{Config: cfg, Format: "json", Resume: resume, Settings: sdk.Settings{Logger: logFunc(func(s string) { logged = append(logged, s) })}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, src.(*Source))
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Message{all[2], all[4]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantLog := []string{`resume position testdata/parts/gone.jsonl:9 ignored: "testdata/parts/*" does not match that file`}
	if diff := cmp.Diff(wantLog, logged); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

type logFunc func(string)

func (f logFunc) Printf(format string, args ...any) { f(fmt.Sprintf(format, args...)) }

// TestSmallFilesSmallBuffers guards against a full-size chunk per small
// file: every payload keeps its chunk alive. Not parallel, so that the
// allocation count is this test's alone.
func TestSmallFilesSmallBuffers(t *testing.T) {
	for _, tc := range []struct{ glob, format string }{
		{"testdata/parts/*", "json"},
		{"testdata/events.jsonl.gz", "json"},
		{"testdata/orders.csv", "csv"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		msgs := mustReadAll(t, limits{}, tc.glob, tc.format)
		runtime.ReadMemStats(&after)
		if len(msgs) == 0 {
			t.Fatalf("%s: no messages", tc.glob)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<10 {
			t.Errorf("reading %s allocated %d KiB", tc.glob, alloc>>10)
		}
	}
}

func TestSortedGlobOrder(t *testing.T) {
	t.Parallel()
	msgs := mustReadAll(t, limits{}, "testdata/parts/*", "json")
	var got []string
	for _, m := range msgs {
		got = append(got, m.Position.String())
	}
	want := []string{
		"testdata/parts/part-1.jsonl:1", "testdata/parts/part-1.jsonl:2",
		"testdata/parts/part-10.jsonl:1",
		"testdata/parts/part-2.jsonl:1", "testdata/parts/part-2.jsonl:3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, format, want string
	}{
		{"no match", `{"path":"testdata/nothing*.jsonl"}`, "json", `no files match "testdata/nothing*.jsonl"`},
		{"missing file", `{"path":"testdata/missing.jsonl"}`, "json", `no files match "testdata/missing.jsonl"`},
		{"only directories", `{"path":"testdata/par?s"}`, "json", `no files match "testdata/par?s"`},
		{"bad format", `{"path":"testdata/events.jsonl"}`, "parquet", `format "parquet" is not supported by the file source; want json, csv or raw`},
		{"empty path", `{"path":""}`, "json", `path: must not be empty`},
		{"no config", ``, "json", `path: must not be empty`},
		{"bad glob", `{"path":"data/[a"}`, "json", `path: bad glob "data/[a": syntax error in pattern`},
		{"unknown field", `{"path":"x","tail":true}`, "json", `json: unknown field "tail"`},
		{"bad poll interval", `{"path":"x","follow":true,"poll_interval":"0s"}`, "json", `poll_interval: must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := Plugin().NewSource()
			err := src.Open(t.Context(), sdk.OpenRequest{Config: []byte(tt.config), Format: tt.format})
			if err == nil {
				t.Fatalf("Open succeeded, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Open error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", `{"path":"data/*.jsonl"}`, nil},
		{"empty", `{"path":""}`, []sdk.Diagnostic{{Path: "path", Msg: "must not be empty"}}},
		{"bad glob", `{"path":"[x"}`, []sdk.Diagnostic{{Path: "path", Msg: `bad glob "[x": syntax error in pattern`}}},
		{"wrong type", `{"path":3}`, []sdk.Diagnostic{{Msg: "json: cannot unmarshal number into Go struct field Config.path of type string"}}},
		{"follow", `{"path":"x","follow":true,"poll_interval":"10ms"}`, nil},
		{"zero poll interval", `{"path":"x","poll_interval":"0s"}`, []sdk.Diagnostic{{Path: "poll_interval", Msg: "must be positive"}}},
		{"negative poll interval", `{"path":"x","poll_interval":"-1s"}`, []sdk.Diagnostic{{Path: "poll_interval", Msg: "must be positive"}}},
		{"bad poll interval", `{"path":"x","poll_interval":"soon"}`, []sdk.Diagnostic{{Path: "poll_interval", Msg: `"soon" is not a duration such as "200ms" or "1s"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Plugin().Validate([]byte(tt.config))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := write("long.jsonl", "{}\n\n"+strings.Repeat("x", 17)+"\n{}\n")
	longLast := write("longlast.jsonl", "{}\n"+strings.Repeat("x", 17))
	longCSV := write("long.csv", "a,b\n1,2\n\"3\n"+strings.Repeat("x", 20)+"\",4\n")
	notGzip := write("plain.jsonl.gz", strings.Repeat("{}\n", 10))
	var gzbuf bytes.Buffer
	zw := gzip.NewWriter(&gzbuf)
	if _, err := zw.Write(bytes.Repeat([]byte("{\"a\":1}\n"), 100)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.jsonl.gz", gzbuf.String()[:gzbuf.Len()-10])

	tests := []struct {
		name, path, format string
		resume             []sdk.Position
		limits             limits
		recordLimit        int
		wantMsgs           bool // messages arrive before the error
		want               string
	}{
		{name: "line too long", recordLimit: 16, path: long, format: "json", wantMsgs: true, want: long + ":3: line longer than 16 bytes"},
		{name: "line too long in small chunks", recordLimit: 16, path: long, format: "json", limits: limits{"", 1, 1 << 20, 4}, wantMsgs: true, want: long + ":3: line longer than 16 bytes"},
		{name: "last line too long", recordLimit: 16, path: longLast, format: "json", limits: limits{"", 1, 1 << 20, 64}, wantMsgs: true, want: longLast + ":2: line longer than 16 bytes"},
		{name: "csv record too long", recordLimit: 16, path: longCSV, format: "csv", limits: limits{"", 1, 1 << 20, 4}, wantMsgs: true, want: longCSV + ":3: csv record longer than 16 bytes"},
		{name: "bad csv header", path: "testdata/bad_header.csv", format: "csv", want: `testdata/bad_header.csv:1: bad csv header: bare " in non-quoted-field`},
		{name: "not gzip", path: notGzip, format: "json", want: "read " + notGzip + ": gzip: invalid header"},
		{name: "truncated gzip", path: truncated, format: "json", limits: limits{"", 4096, 1 << 20, 64}, wantMsgs: true, want: "read " + truncated + ": unexpected EOF"},
		{
			name: "resume past end", path: "testdata/events.jsonl", format: "json",
			resume: []sdk.Position{{Partition: "testdata/events.jsonl", Offset: 106, Line: 9}},
			want:   "resume offset 106 is past the end of testdata/events.jsonl (105 bytes)",
		},
		{
			name: "resume past end gz", path: "testdata/events.jsonl.gz", format: "json",
			resume: []sdk.Position{{Partition: "testdata/events.jsonl.gz", Offset: 106, Line: 9}},
			want:   "resume offset 106 is past the end of testdata/events.jsonl.gz (105 bytes)",
		},
		{
			name: "resume past end csv", path: "testdata/orders.csv", format: "csv",
			resume: []sdk.Position{{Partition: "testdata/orders.csv", Offset: 500, Line: 9}},
			want:   "resume offset 500 is past the end of testdata/orders.csv (180 bytes)",
		},
		{
			name: "resume inside a line", path: "testdata/events.jsonl", format: "json",
			resume: []sdk.Position{{Partition: "testdata/events.jsonl", Offset: 10, Line: 1}},
			want:   "resume offset 10 of testdata/events.jsonl is not at the end of a record",
		},
		{
			name: "resume inside a line gz", path: "testdata/events.jsonl.gz", format: "json",
			resume: []sdk.Position{{Partition: "testdata/events.jsonl.gz", Offset: 10, Line: 1}},
			want:   "resume offset 10 of testdata/events.jsonl.gz is not at the end of a record",
		},
		{
			name: "resume inside a csv row", path: "testdata/orders.csv", format: "csv",
			resume: []sdk.Position{{Partition: "testdata/orders.csv", Offset: 20, Line: 2}},
			want:   "resume offset 20 of testdata/orders.csv is not at the end of a record",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.limits
			if l.batchMessages == 0 {
				l = limits{"", maxBatchMessages, maxBatchBytes, chunkBytes}
			}
			src, err := openSource(t, l, tt.path, tt.format, tt.resume...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.recordLimit > 0 {
				src.recordLimit = tt.recordLimit
			}
			msgs, err := readAll(t, src)
			if err == nil {
				t.Fatalf("read %d messages and no error, want %s", len(msgs), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if got := len(msgs) > 0; got != tt.wantMsgs {
				t.Errorf("got %d messages before the error, want some: %v", len(msgs), tt.wantMsgs)
			}
			if _, again := src.Read(t.Context()); again == nil || again.Error() != tt.want {
				t.Errorf("Read after the error = %v, want it again", again)
			}
		})
	}
}

func TestEndOfInputAndCancel(t *testing.T) {
	t.Parallel()
	src, err := openSource(t, limits{}, "testdata/events.jsonl", "json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Read(t.Context())
	if !errors.Is(err, sdk.ErrEndOfInput) || len(b.Messages) != 4 {
		t.Fatalf("first Read = %d messages, %v; want 4 and end of input", len(b.Messages), err)
	}
	if b, err := src.Read(t.Context()); !errors.Is(err, sdk.ErrEndOfInput) || len(b.Messages) != 0 {
		t.Errorf("Read after the end = %d messages, %v; want none and end of input", len(b.Messages), err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v", err)
	}
	if err := src.Close(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	p := Plugin()
	if err := p.Spec.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "file" || p.Spec.Kind != sdk.KindSource || p.Spec.Version != "0.1.0" {
		t.Errorf("spec = %s %s %s", p.Spec.Name, p.Spec.Kind, p.Spec.Version)
	}
	if p.NewSource == nil || p.NewSink != nil || p.NewTransform != nil || p.Validate == nil {
		t.Error("want exactly NewSource and Validate set")
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func BenchmarkRead(b *testing.B) {
	const size = 100 << 20
	lines := []string{
		`{"payment_id":"p-000123","amount":"12.50","store_id":"s-17","card_id":"c-9981","event_time":"2026-03-17T23:58:00Z"}`,
		`{"payment_id":"p-000124","amount":"3.10","store_id":"s-2","card_id":"c-12","channel":"web","event_time":"2026-03-17T23:58:01Z"}`,
		`{"n":1}`,
	}
	csvRows := []string{
		`p-000123,12.50,s-17,c-9981,,2026-03-17T23:58:00Z`,
		`p-000124,3.10,s-2,c-12,"web, mobile",2026-03-17T23:58:01Z`,
	}
	generate := func(b *testing.B, name, header string, rows []string, gz bool) (string, int64) {
		b.Helper()
		var buf bytes.Buffer
		buf.Grow(size + 200)
		buf.WriteString(header)
		var n int64
		for i := 0; buf.Len() < size; i++ {
			buf.WriteString(rows[i%len(rows)])
			buf.WriteByte('\n')
			n++
		}
		path := filepath.Join(b.TempDir(), name)
		if gz {
			writeGzip(b, path, buf.Bytes())
		} else if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
		return path, n
	}
	for _, bc := range []struct {
		name, file, format, header string
		rows                       []string
		gz                         bool
	}{
		{"jsonl", "data.jsonl", "json", "", lines, false},
		{"jsonl.gz", "data.jsonl.gz", "json", "", lines, true},
		{"csv", "data.csv", "csv", "payment_id,amount,store_id,card_id,channel,event_time\n", csvRows, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path, n := generate(b, bc.file, bc.header, bc.rows, bc.gz)
			cfg := []byte(fmt.Sprintf(`{"path":%q}`, path))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				src := Plugin().NewSource()
				if err := src.Open(ctx, sdk.OpenRequest{Config: cfg, Format: bc.format}); err != nil {
					b.Fatal(err)
				}
				var got int64
				for {
					batch, err := src.Read(ctx)
					got += int64(len(batch.Messages))
					if errors.Is(err, sdk.ErrEndOfInput) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := src.Close(ctx); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("read %d records, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte("{\"n\": 1}\n{\"n\": 2}\n\n{\"n\": 3}\n{\"n\": 4}\n{\"n\": 5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(map[string]any{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: config,
		Format: "json",
		BadConfigs: map[string][]byte{
			"no-match":      fmt.Appendf(nil, `{"path": %q}`, filepath.Join(t.TempDir(), "*.jsonl")),
			"bad-glob":      []byte(`{"path": "[a-"}`),
			"bad-interval":  fmt.Appendf(nil, `{"path": %q, "poll_interval": "soon"}`, path),
			"unknown-field": fmt.Appendf(nil, `{"path": %q, "paht": "x"}`, path),
			"not-an-object": []byte(`[]`),
		},
	})
}
