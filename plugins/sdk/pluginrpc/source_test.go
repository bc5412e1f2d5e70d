package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// readAll opens src, reads until an error and closes it, returning every
// batch (the one that came with the error included) and the error.
func readAll(t *testing.T, src sdk.Source, req sdk.OpenRequest) ([]sdk.Batch, error) {
	t.Helper()
	ctx := context.Background()
	if err := src.Open(ctx, req); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() {
		if err := src.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	var batches []sdk.Batch
	for {
		batch, err := src.Read(ctx)
		if len(batch.Messages) > 0 || batch.CaughtUp {
			batches = append(batches, batch)
		}
		if err != nil {
			return batches, err
		}
	}
}

// sentinels are the errors whose identity must survive the transport.
var sentinels = []error{sdk.ErrEndOfInput, sdk.ErrBackoff, sdk.ErrNotConnected, context.Canceled, context.DeadlineExceeded}

// configErrors returns the configuration errors in err's tree.
func configErrors(err error) []sdk.ConfigError {
	var out []sdk.ConfigError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *sdk.ConfigError:
			out = append(out, *e)
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// sameError checks that the error a remote plugin returned means what the
// in-process one did: the same text, the same sentinels, the same
// configuration errors.
func sameError(t *testing.T, local, remote error) {
	t.Helper()
	if (local == nil) != (remote == nil) {
		t.Fatalf("error %v, in process %v", remote, local)
	}
	if local == nil {
		return
	}
	if remote.Error() != local.Error() {
		t.Errorf("error text %q, in process %q", remote, local)
	}
	for _, s := range sentinels {
		if errors.Is(remote, s) != errors.Is(local, s) {
			t.Errorf("errors.Is(%q, %v) = %v, in process %v", remote, s, errors.Is(remote, s), errors.Is(local, s))
		}
	}
	if diff := cmp.Diff(configErrors(local), configErrors(remote)); diff != "" {
		t.Errorf("configuration errors (-in process +remote):\n%s", diff)
	}
	var ce *sdk.ConfigError
	if errors.As(local, &ce) != errors.As(remote, &ce) {
		t.Errorf("errors.As(%q, *sdk.ConfigError) differs from in process", remote)
	}
	if errors.Is(remote, ErrTransport) {
		t.Errorf("plugin error %q matches ErrTransport", remote)
	}
}

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFileSource reads files through the remote file source and in
// process: the same batches, positions, CaughtUp and end of input.
func TestFileSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var big strings.Builder
	for i := range 9000 {
		if i%1000 == 7 {
			big.WriteString("\n") // blank lines are skipped
		}
		fmt.Fprintf(&big, `{"n": %d, "s": "line %d"}`+"\n", i, i)
	}
	writeFile(t, dir, "a.jsonl", big.String())
	writeFile(t, dir, "b.jsonl", `{"n": 1}`+"\n"+`{"n": 2}`+"\n")
	csvPath := writeFile(t, dir, "c.csv", "id,name\n1,one\n2,\"two, too\"\n3\n4,four\n")

	glob := fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "*.jsonl"))
	// Resume after a record in the middle of a.jsonl.
	all, _ := readAll(t, filesource.Plugin().NewSource(), sdk.OpenRequest{Config: []byte(glob), Format: "json"})
	middle := all[1].Messages[100].Position

	c := serve(t, filesource.Plugin())
	tests := []struct {
		name       string
		config     string
		format     string
		resume     []sdk.Position
		minBatches int
	}{
		{"json glob", glob, "json", nil, 3},
		{"csv with a bad row", fmt.Sprintf(`{"path": %q}`, csvPath), "csv", nil, 1},
		{"resumed", glob, "raw", []sdk.Position{middle}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := sdk.OpenRequest{Config: []byte(tt.config), Format: tt.format, Resume: tt.resume}
			want, wantErr := readAll(t, filesource.Plugin().NewSource(), req)
			got, gotErr := readAll(t, c.NewSource("file"), req)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("batches (-in process +remote):\n%s", diff)
			}
			sameError(t, wantErr, gotErr)
			if gotErr != sdk.ErrEndOfInput {
				t.Errorf("last error %v, want sdk.ErrEndOfInput itself", gotErr)
			}
			if len(got) < tt.minBatches {
				t.Errorf("%d batches, want at least %d", len(got), tt.minBatches)
			}
		})
	}
}

// TestGenerateSource reads structured, timed, partitioned messages with
// values of many types through the remote generate source and in process.
func TestGenerateSource(t *testing.T) {
	t.Parallel()
	c := serve(t, generate.Plugin())
	config := `{"count": 5000, "partitions": 3, "disorder": "2s", "interval": "10ms", "start": "1970-01-01T00:00:00Z", "fields": {
		"i": "i",
		"half": "i / 2",
		"name": "sprintf(\"user-%d\", i % 7)",
		"even": "i % 2 == 0",
		"at": "event_time",
		"wait": "duration(\"1m30s\")",
		"list": "[i, \"x\", nil]",
		"object": "{\"k\": i, \"nested\": {\"deep\": true}}",
		"none": "nil"
	}}`
	for _, tt := range []struct {
		name   string
		resume []sdk.Position
	}{
		{"fresh", nil},
		{"resumed", []sdk.Position{{Partition: "generate-1", Offset: 2998}, {Partition: "generate-2", Offset: 1001}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := sdk.OpenRequest{Config: []byte(config), Resume: tt.resume}
			want, wantErr := readAll(t, generate.Plugin().NewSource(), req)
			got, gotErr := readAll(t, c.NewSource("generate"), req)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("batches (-in process +remote):\n%s", diff)
			}
			sameError(t, wantErr, gotErr)
			if got[0].Messages[0].Time.IsZero() {
				t.Error("the first event's time, the epoch, was lost")
			}
		})
	}
}

// scripted is a source that returns the reads of its case, then end of
// input. Its config is {"case": NAME}.
type scripted struct {
	reads    []read
	ackErr   error
	closeErr error

	mu    sync.Mutex
	acked [][]sdk.Position
}

type read struct {
	batch sdk.Batch
	err   error
}

var _ sdk.Acker = (*scripted)(nil)

// scriptedCases are the scripted sources, by name.
func scriptedCases() map[string]*scripted {
	twoMessages := sdk.Batch{Messages: []sdk.Message{
		{Payload: []byte("a"), Position: sdk.Position{Partition: "p", Offset: 1}},
		{Payload: []byte("b"), Position: sdk.Position{Partition: "p", Offset: 2}},
	}}
	return map[string]*scripted{
		"end of input":   {reads: []read{{err: sdk.ErrEndOfInput}}},
		"end with batch": {reads: []read{{batch: twoMessages, err: sdk.ErrEndOfInput}}},
		"wrapped end":    {reads: []read{{batch: twoMessages, err: fmt.Errorf("no more files: %w", sdk.ErrEndOfInput)}}},
		"backoff":        {reads: []read{{err: fmt.Errorf("broker busy: %w", sdk.ErrBackoff)}}},
		"caught up":      {reads: []read{{batch: sdk.Batch{CaughtUp: true}, err: sdk.ErrBackoff}}},
		"not connected":  {reads: []read{{batch: twoMessages}, {err: sdk.ErrNotConnected}}},
		"config":         {reads: []read{{err: &sdk.ConfigError{Path: "brokers[1]", Msg: "bad host"}}}},
		"joined config": {reads: []read{{err: errors.Join(
			&sdk.ConfigError{Path: "topic", Msg: "no such topic"},
			fmt.Errorf("auth: %w", &sdk.ConfigError{Msg: "bad password"}),
		)}}},
		"plain":    {reads: []read{{err: errors.New("disk on fire")}}},
		"deadline": {reads: []read{{err: fmt.Errorf("poll: %w", context.DeadlineExceeded)}}},
		"ack fails": {
			reads:  []read{{batch: twoMessages}},
			ackErr: fmt.Errorf("commit offsets: %w", sdk.ErrNotConnected),
		},
		"close fails": {closeErr: errors.New("flush on close")},
	}
}

func (s *scripted) Open(context.Context, sdk.OpenRequest) error { return nil }

func (s *scripted) Read(context.Context) (sdk.Batch, error) {
	if len(s.reads) == 0 {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	r := s.reads[0]
	s.reads = s.reads[1:]
	return r.batch, r.err
}

func (s *scripted) Ack(_ context.Context, positions []sdk.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, positions)
	return s.ackErr
}

func (s *scripted) Close(context.Context) error { return s.closeErr }

// scriptedPlugin serves the scripted cases; opened records the sources it
// opened, by case.
func scriptedPlugin(opened map[string]*scripted, mu *sync.Mutex) sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{Name: "scripted", Kind: sdk.KindSource},
		NewSource: func() sdk.Source {
			return &caseSource{opened: opened, mu: mu}
		},
	}
}

// caseSource picks its scripted case at Open.
type caseSource struct {
	*scripted
	opened map[string]*scripted
	mu     *sync.Mutex
}

func (s *caseSource) Open(_ context.Context, req sdk.OpenRequest) error {
	var cfg struct{ Case string }
	if err := sdk.DecodeConfig(req.Config, &cfg); err != nil {
		return err
	}
	sc, ok := scriptedCases()[cfg.Case]
	if !ok {
		return &sdk.ConfigError{Path: "case", Msg: fmt.Sprintf("no case %q", cfg.Case)}
	}
	s.scripted = sc
	s.mu.Lock()
	s.opened[cfg.Case] = sc
	s.mu.Unlock()
	return nil
}

// TestErrors checks that errors from Read, Ack, Close and Open mean the
// same on the host as in the plugin: sentinels, configuration errors and
// their text.
func TestErrors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	opened := map[string]*scripted{}
	c := serve(t, scriptedPlugin(opened, &mu), generate.Plugin())
	ctx := context.Background()
	for name := range scriptedCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			local := scriptedCases()[name]
			remote := c.NewSource("scripted")
			if err := remote.Open(ctx, sdk.OpenRequest{Config: []byte(fmt.Sprintf(`{"case": %q}`, name))}); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				want, wantErr := local.Read(ctx)
				got, gotErr := remote.Read(ctx)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("read %d (-in process +remote):\n%s", i, diff)
				}
				sameError(t, wantErr, gotErr)
				if wantErr != nil {
					if wantErr == sdk.ErrEndOfInput && gotErr != sdk.ErrEndOfInput {
						t.Errorf("read %d: %v is not sdk.ErrEndOfInput itself", i, gotErr)
					}
					break
				}
			}
			positions := []sdk.Position{{Partition: "p", Offset: 2}, {Partition: "q", Offset: 9, Line: 3}}
			sameError(t, local.Ack(ctx, positions), remote.(sdk.Acker).Ack(ctx, positions))
			mu.Lock()
			acked := opened[name].acked
			mu.Unlock()
			if diff := cmp.Diff([][]sdk.Position{positions}, acked); diff != "" {
				t.Errorf("positions the plugin was acked (-want +got):\n%s", diff)
			}
			sameError(t, local.Close(ctx), remote.Close(ctx))
		})
	}
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		req := sdk.OpenRequest{Config: []byte(`{"rate": -1, "partitions": 0, "fields": {"x": "nosuchfunc()"}}`)}
		wantErr := generate.Plugin().NewSource().Open(ctx, req)
		gotErr := c.NewSource("generate").Open(ctx, req)
		sameError(t, wantErr, gotErr)
		if len(configErrors(gotErr)) < 3 {
			t.Errorf("Open error %q holds %d configuration errors, want 3", gotErr, len(configErrors(gotErr)))
		}
	})
	t.Run("unknown plugin", func(t *testing.T) {
		t.Parallel()
		err := c.NewSource("nope").Open(ctx, sdk.OpenRequest{})
		if want := `no source plugin "nope"`; err == nil || err.Error() != want {
			t.Errorf("Open() error = %v, want %q", err, want)
		}
		err = c.NewSink("generate").Open(ctx, sdk.SinkOpenRequest{})
		if want := `no sink plugin "generate"`; err == nil || err.Error() != want {
			t.Errorf("Open() error = %v, want %q", err, want)
		}
	})
}

// TestCancelBlockedRead cancels a Read that waits for a paced generator's
// next event: it returns at once with the context's error.
func TestCancelBlockedRead(t *testing.T) {
	t.Parallel()
	c := serve(t, generate.Plugin())
	ctx := context.Background()
	src := c.NewSource("generate")
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"rate": 0.1, "fields": {"n": "i"}}`)}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	// The first event is due at once; the next one in 10s.
	if batch, err := src.Read(ctx); err != nil || len(batch.Messages) != 1 {
		t.Fatalf("first Read: %d messages, %v", len(batch.Messages), err)
	}
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 100*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		readCtx, cancel := tt.ctx()
		start := time.Now()
		_, err := src.Read(readCtx)
		cancel()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Read() error = %v, want %v", tt.name, err, tt.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Read took %s to return", tt.name, d)
		}
	}
}

// TestInstances runs two sources of one plugin process at once.
func TestInstances(t *testing.T) {
	t.Parallel()
	c := serve(t, generate.Plugin())
	ctx := context.Background()
	open := func(src sdk.Source, seed int) sdk.Source {
		t.Helper()
		config := fmt.Sprintf(`{"count": 5000, "seed": %d, "fields": {"r": "uniform(0, 1)"}}`, seed)
		if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config)}); err != nil {
			t.Fatal(err)
		}
		return src
	}
	locals := []sdk.Source{open(generate.Plugin().NewSource(), 1), open(generate.Plugin().NewSource(), 2)}
	remotes := []sdk.Source{open(c.NewSource("generate"), 1), open(c.NewSource("generate"), 2)}
	for round := range 2 {
		for i := range remotes {
			want, wantErr := locals[i].Read(ctx)
			got, gotErr := remotes[i].Read(ctx)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round %d, source %d (-in process +remote):\n%s", round, i, diff)
			}
			sameError(t, wantErr, gotErr)
		}
	}
	if err := remotes[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := remotes[0].Read(ctx); err == nil {
		t.Error("Read after Close succeeded")
	}
	want, _ := locals[1].Read(ctx)
	got, err := remotes[1].Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the other source after one closed (-in process +remote):\n%s", diff)
	}
	if err := remotes[1].Close(ctx); err != nil {
		t.Fatal(err)
	}
	// A source that does not ask for acks is not sent any.
	if err := c.NewSource("generate").(sdk.Acker).Ack(ctx, []sdk.Position{{Partition: "x"}}); err != nil {
		t.Errorf("Ack on a source that does not ack: %v", err)
	}
}

// queue is a source whose Read waits for batches pushed to it. It fails
// the test if Read and Close ever run at the same time (Ack may overlap a
// Read: see sdk.Acker).
type queue struct {
	t      *testing.T
	in     chan sdk.Batch
	busy   atomic.Bool
	mu     sync.Mutex
	acked  []sdk.Position
	closed bool
}

// errConcurrent is what a call returns when another is running.
var errConcurrent = errors.New("two calls on the source at once")

// enter marks the source busy; false means another call is running.
func (q *queue) enter() bool {
	if !q.busy.CompareAndSwap(false, true) {
		q.t.Error(errConcurrent)
		return false
	}
	return true
}

func (q *queue) Open(context.Context, sdk.OpenRequest) error { return nil }

func (q *queue) Read(ctx context.Context) (sdk.Batch, error) {
	if !q.enter() {
		return sdk.Batch{}, errConcurrent
	}
	defer q.busy.Store(false)
	select {
	case b := <-q.in:
		return b, nil
	case <-ctx.Done():
		return sdk.Batch{}, ctx.Err()
	}
}

func (q *queue) Ack(_ context.Context, positions []sdk.Position) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acked = append(q.acked, positions...)
	return nil
}

func (q *queue) Close(context.Context) error {
	if !q.enter() {
		return errConcurrent
	}
	defer q.busy.Store(false)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return nil
}

// TestReadAhead checks the plugin's read-ahead: the host gets every batch
// once and in order, Ack is served at once beside a read-ahead that
// waits, and Close cancels such a read-ahead.
func TestReadAhead(t *testing.T) {
	t.Parallel()
	q := &queue{t: t, in: make(chan sdk.Batch, 10)}
	c := serve(t, sdk.Plugin{
		Spec:      sdk.Spec{Name: "queue", Kind: sdk.KindSource},
		NewSource: func() sdk.Source { return q },
	})
	ctx := context.Background()
	batch := func(n int64) sdk.Batch {
		return sdk.Batch{Messages: []sdk.Message{{Payload: []byte("m"), Position: sdk.Position{Partition: "q", Offset: n}}}}
	}
	src := c.NewSource("queue")
	if err := src.Open(ctx, sdk.OpenRequest{}); err != nil {
		t.Fatal(err)
	}
	read := func(want int64) {
		t.Helper()
		got, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 1 || got.Messages[0].Position.Offset != want {
			t.Fatalf("read %+v, want message %d", got.Messages, want)
		}
	}
	// Batch 1 is read; batch 2 is read ahead meanwhile, and kept for the
	// next Read across an Ack.
	q.in <- batch(1)
	q.in <- batch(2)
	read(1)
	for deadline := time.Now().Add(5 * time.Second); len(q.in) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("batch 2 was not read ahead")
		}
		time.Sleep(time.Millisecond)
	}
	ack := func(n int64) {
		t.Helper()
		start := time.Now()
		if err := src.(sdk.Acker).Ack(ctx, []sdk.Position{{Partition: "q", Offset: n}}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Ack took %s", d)
		}
	}
	ack(1)
	read(2)
	// Now the read-ahead waits on an empty queue: Ack does not wait for
	// it, and the next Read gets what it reads.
	time.Sleep(50 * time.Millisecond)
	ack(2)
	time.AfterFunc(50*time.Millisecond, func() { q.in <- batch(3) })
	read(3)
	// A Read cancelled while it waits for the read-ahead returns at once;
	// the read-ahead goes on, and the next Read gets its batch.
	waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	if _, err := src.Read(waitCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read() error = %v, want the deadline", err)
	}
	cancel()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled Read took %s", d)
	}
	q.in <- batch(4)
	read(4)
	// Close cancels a waiting read-ahead too.
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s", d)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if diff := cmp.Diff([]sdk.Position{{Partition: "q", Offset: 1}, {Partition: "q", Offset: 2}}, q.acked); diff != "" {
		t.Errorf("acked (-want +got):\n%s", diff)
	}
	if !q.closed {
		t.Error("the source was not closed")
	}
}

// TestReadResend asks for a Read result again, as a host whose call was
// cancelled while the answer crossed does: it gets the same batch, and the
// next one after it.
func TestReadResend(t *testing.T) {
	t.Parallel()
	c := serve(t, generate.Plugin())
	ctx := context.Background()
	src := c.NewSource("generate").(*remoteSource)
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"count": 3000, "fields": {"n": "i"}}`)}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	read := func(seq uint64) (sdk.Batch, error) {
		reply := &readReply{}
		if err := c.hot(ctx, pb.Source_Read_FullMethodName, &pb.SourceReadRequest{Instance: src.id, Seq: seq}, reply); err != nil {
			return sdk.Batch{}, callError(ctx, err)
		}
		return reply.batch, reply.err
	}
	first, err := read(0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := read(0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("batch sent again (-first +again):\n%s", diff)
	}
	next, err := read(1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.Messages[0].Position.Offset, int64(len(first.Messages)); got != want {
		t.Errorf("next batch starts at %d, want %d", got, want)
	}
	if _, err := read(5); err == nil || err.Error() != "read 5 of a source that sent 2" {
		t.Errorf("out-of-sequence Read: %v", err)
	}
}

// TestReadAheadBound checks how far the two ends read ahead of the host's
// caller: the results of one call held by the host (at least one, at
// most readResults) and readResults read ahead by the plugin, no more. A
// Read with a cancelled context takes none of them.
func TestReadAheadBound(t *testing.T) {
	t.Parallel()
	q := &queue{t: t, in: make(chan sdk.Batch, 1+2*readResults+1)}
	c := serve(t, sdk.Plugin{
		Spec:      sdk.Spec{Name: "queue", Kind: sdk.KindSource},
		NewSource: func() sdk.Source { return q },
	})
	ctx := context.Background()
	src := c.NewSource("queue")
	if err := src.Open(ctx, sdk.OpenRequest{}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	const total = 1 + 2*readResults + 1
	for n := range int64(total) {
		q.in <- sdk.Batch{Messages: []sdk.Message{{Payload: []byte("m"), Position: sdk.Position{Partition: "q", Offset: n}}}}
	}
	if _, err := src.Read(ctx); err != nil {
		t.Fatal(err)
	}
	// Batch 0 was returned; the host holds the next call's results and
	// the plugin reads readResults beyond them.
	const least, most = 1 + 1 + readResults, 1 + 2*readResults
	deadline := time.Now().Add(5 * time.Second)
	for total-len(q.in) < least && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if read := total - len(q.in); read < least || read > most {
		t.Errorf("the source read %d batches after the host's caller read 1, want %d to %d", read, least, most)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := src.Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v, want context.Canceled", err)
	}
	for want := int64(1); want < total; want++ {
		batch, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := batch.Messages[0].Position.Offset; got != want {
			t.Fatalf("read batch %d, want %d", got, want)
		}
	}
}

// TestReadResendMany asks again for a response of several results, as a
// host whose call was cancelled while the answer crossed does: it gets
// the same results, and the ones after them next.
func TestReadResendMany(t *testing.T) {
	t.Parallel()
	var list []sdk.Batch
	for n := range int64(12) {
		list = append(list, sdk.Batch{Messages: []sdk.Message{{Payload: []byte("m"), Position: sdk.Position{Partition: "p", Offset: n}}}})
	}
	c := serve(t, sdk.Plugin{
		Spec:      sdk.Spec{Name: "batches", Kind: sdk.KindSource},
		NewSource: func() sdk.Source { return &batches{list: list} },
	})
	ctx := context.Background()
	src := c.NewSource("batches").(*remoteSource)
	if err := src.Open(ctx, sdk.OpenRequest{}); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	read := func(seq uint64) []int64 {
		t.Helper()
		reply := &readReply{}
		req := &pb.SourceReadRequest{Instance: src.id, Seq: seq, MaxResults: readResults}
		if err := c.hot(ctx, pb.Source_Read_FullMethodName, req, reply); err != nil {
			t.Fatal(callError(ctx, err))
		}
		var offsets []int64
		for _, r := range reply.results() {
			if r.err != nil {
				t.Fatalf("result error %v", r.err)
			}
			offsets = append(offsets, r.batch.Messages[0].Position.Offset)
		}
		return offsets
	}
	// The first call reads one batch and starts the read-ahead; wait for
	// it to fill, so that the next call gets several results.
	if diff := cmp.Diff([]int64{0}, read(0)); diff != "" {
		t.Fatalf("first call (-want +got):\n%s", diff)
	}
	time.Sleep(100 * time.Millisecond)
	many := read(1)
	if diff := cmp.Diff([]int64{1, 2, 3, 4}, many); diff != "" {
		t.Errorf("second call (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(many, read(1)); diff != "" {
		t.Errorf("the second call asked again (-first +again):\n%s", diff)
	}
	time.Sleep(100 * time.Millisecond)
	if diff := cmp.Diff([]int64{5, 6, 7, 8}, read(5)); diff != "" {
		t.Errorf("third call (-want +got):\n%s", diff)
	}
}

// TestReadEncodeError reads a source whose third batch holds a value the
// protocol cannot carry: the batches before it arrive, even when they
// are sent along with it, and then every Read fails with the encoding
// error.
func TestReadEncodeError(t *testing.T) {
	t.Parallel()
	good := func(n int64) sdk.Batch {
		return sdk.Batch{Messages: []sdk.Message{{Fields: []sdk.Field{{Name: "n", Value: n}}, Position: sdk.Position{Partition: "p", Offset: n}}}}
	}
	bad := sdk.Batch{Messages: []sdk.Message{{Fields: []sdk.Field{{Name: "n", Value: struct{}{}}}, Position: sdk.Position{Partition: "p", Offset: 2}}}}
	c := serve(t, sdk.Plugin{
		Spec:      sdk.Spec{Name: "batches", Kind: sdk.KindSource},
		NewSource: func() sdk.Source { return &batches{list: []sdk.Batch{good(0), good(1), bad, good(3)}} },
	})
	ctx := context.Background()
	const want = "message 0 (p@2): field n: unsupported value type struct {}"
	t.Run("read", func(t *testing.T) {
		t.Parallel()
		src := c.NewSource("batches")
		if err := src.Open(ctx, sdk.OpenRequest{}); err != nil {
			t.Fatal(err)
		}
		defer src.Close(ctx)
		for n := range int64(2) {
			got, err := src.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(good(n), got); diff != "" {
				t.Errorf("batch %d (-want +got):\n%s", n, diff)
			}
		}
		for range 2 {
			if _, err := src.Read(ctx); err == nil || err.Error() != want {
				t.Errorf("Read() error = %v, want %q", err, want)
			}
		}
	})
	t.Run("calls", func(t *testing.T) {
		t.Parallel()
		src := c.NewSource("batches").(*remoteSource)
		if err := src.Open(ctx, sdk.OpenRequest{}); err != nil {
			t.Fatal(err)
		}
		defer src.Close(ctx)
		read := func(seq uint64) ([]readResult, error) {
			reply := &readReply{}
			req := &pb.SourceReadRequest{Instance: src.id, Seq: seq, MaxResults: readResults}
			if err := c.hot(ctx, pb.Source_Read_FullMethodName, req, reply); err != nil {
				return nil, callError(ctx, err)
			}
			return reply.results(), nil
		}
		if _, err := read(0); err != nil {
			t.Fatal(err)
		}
		// Batch 1 and the bad batch are read ahead by now; the call
		// gets batch 1 alone, the next one the error.
		time.Sleep(100 * time.Millisecond)
		results, err := read(1)
		if err != nil || len(results) != 1 || results[0].err != nil {
			t.Fatalf("second call: %d results, %v; want batch 1 alone", len(results), err)
		}
		if diff := cmp.Diff(good(1), results[0].batch); diff != "" {
			t.Errorf("batch 1 (-want +got):\n%s", diff)
		}
		if _, err := read(2); err == nil || err.Error() != want {
			t.Errorf("third call: %v, want %q", err, want)
		}
	})
}
