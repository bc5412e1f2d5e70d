package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

// TestReadKcatProduced reads what kcat, an independent client, produced:
// keys, headers, JSON values, three partitions.
func TestReadKcatProduced(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(3, "payments.v1"))
	kcat(t, "s1:{\"payment_id\":\"p1\",\"amount\":12.5}\ns2:{\"payment_id\":\"p2\",\"amount\":3}\n",
		"-P", "-b", addr, "-t", "payments.v1", "-p", "0", "-K:", "-H", "source=kcat", "-H", "trace=t-1")
	kcat(t, "s3:{\"payment_id\":\"p3\",\"amount\":7.25}\n",
		"-P", "-b", addr, "-t", "payments.v1", "-p", "2", "-K:")
	kcat(t, "{\"payment_id\":\"p4\",\"amount\":1}\n",
		"-P", "-b", addr, "-t", "payments.v1", "-p", "2")
	before := time.Now()
	s := open(t, config(addr, map[string]any{"topics": []string{"payments.v1"}, "bounded": true}))
	msgs := readToEnd(t, s)
	// Partitions interleave as fetches come; each keeps its order.
	slices.SortStableFunc(msgs, func(a, b sdk.Message) int { return strings.Compare(a.Position.Partition, b.Position.Partition) })
	checkGolden(t, "kcat_read", render(msgs))
	for _, m := range msgs {
		var ts time.Time
		for _, f := range m.Meta {
			if f.Name == metaTimestamp {
				ts = f.Value.(time.Time)
			}
		}
		if !m.Time.Equal(ts) || m.Time.Location() != time.UTC || m.Time.After(before) || before.Sub(m.Time) > time.Minute {
			t.Errorf("%s: Time %v, meta timestamp %v; want the same UTC produce time, shortly before %v", m.Position, m.Time, ts, before)
		}
	}
}

// TestReadCaughtUp reads an unbounded source: a cancelled Read returns
// the context's error; the first Read of a source with nothing to read
// says CaughtUp at once, records produced later are
// read, the batch that reaches the end says CaughtUp, and a Read with
// nothing to read waits until its context ends.
func TestReadCaughtUp(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(2, "t"))
	s := open(t, config(addr, map[string]any{"topics": []string{"t"}}))
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if b, err := s.Read(cancelled); !errors.Is(err, context.Canceled) || b.CaughtUp {
		t.Errorf("Read with a cancelled context = caught up %v, %v; want %v", b.CaughtUp, err, context.Canceled)
	}
	b, err := s.Read(ctx)
	if err != nil || len(b.Messages) > 0 || !b.CaughtUp {
		t.Fatalf("first Read = %d messages, caught up %v, %v; want none, caught up", len(b.Messages), b.CaughtUp, err)
	}
	produce(t, addr, &kgo.Record{Topic: "t", Partition: 0, Value: []byte(`{"n":1}`)},
		&kgo.Record{Topic: "t", Partition: 1, Value: []byte(`{"n":2}`)})
	var got []sdk.Message
	caught := false
	for len(got) < 2 || !caught {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b, err := s.Read(rctx)
		cancel()
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(got), err)
		}
		got, caught = append(got, b.Messages...), b.CaughtUp
	}
	if len(got) != 2 {
		t.Fatalf("read %d messages, want 2: %s", len(got), render(got))
	}
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	b, err = s.Read(rctx)
	if !errors.Is(err, context.DeadlineExceeded) || len(b.Messages) > 0 {
		t.Errorf("Read with nothing new = %d messages, %v; want none and the deadline", len(b.Messages), err)
	}
}

// TestResume reopens the source at the positions of a checkpoint: each
// partition goes on after its position, whatever the group committed,
// and a partition without one is read from start.
func TestResume(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(3, "t"))
	var recs []*kgo.Record
	for i := range 9 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	produce(t, addr, recs...)
	// The group says everything was read; the checkpoint says otherwise.
	adm := kadm.NewClient(client(t, addr))
	ends, err := adm.ListEndOffsets(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CommitOffsets(context.Background(), "g", ends.Offsets()); err != nil {
		t.Fatal(err)
	}
	cfg := config(addr, map[string]any{"topics": []string{"t"}, "bounded": true, "group": "g", "start": "latest"})
	s := open(t, cfg, sdk.Position{Partition: "t/0", Offset: 1}, sdk.Position{Partition: "t/2", Offset: 3}, sdk.Position{Partition: "gone/0", Offset: 5})
	got := payloads(readToEnd(t, s))
	// t/0 holds n=0,3,6: after offset 1 come 3 and 6; t/2 is done; t/1
	// has no position and starts at latest: nothing.
	if want := []string{`{"n":3}`, `{"n":6}`}; !slices.Equal(got, want) {
		t.Errorf("resumed read = %v, want %v", got, want)
	}
}

// TestResumeDeleted resumes at an offset retention has deleted: the
// partition is read from its log start, and that is logged.
func TestResumeDeleted(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "t"))
	for i := range 5 {
		produce(t, addr, &kgo.Record{Topic: "t", Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	adm := kadm.NewClient(client(t, addr))
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "t", Partition: 0, At: 3})
	if resp, err := adm.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, resp.Error())
	}
	log := newRecordingLogger()
	s := &Source{}
	req := sdk.OpenRequest{
		Config:   config(addr, map[string]any{"topics": []string{"t"}, "bounded": true}),
		Resume:   []sdk.Position{{Partition: "t/0", Offset: 1}},
		Settings: sdk.Settings{Logger: log},
	}
	if err := s.Open(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if got, want := payloads(readToEnd(t, s)), []string{`{"n":3}`, `{"n":4}`}; !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
	want := []string{"t/0: resume offset 1 was deleted by retention; reading from the log start, 3"}
	if diff := cmp.Diff(want, log.all()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestAckCommitsGroupOffsets checks that acknowledged positions reach the
// group, where kadm (as lag tools do) sees them, and that without a group
// Ack does nothing.
func TestAckCommitsGroupOffsets(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(2, "a", "b"))
	produce(t, addr, &kgo.Record{Topic: "a", Partition: 1, Value: []byte(`{}`)}, &kgo.Record{Topic: "a", Partition: 1, Value: []byte(`{}`)},
		&kgo.Record{Topic: "b", Partition: 0, Value: []byte(`{}`)})
	s := open(t, config(addr, map[string]any{"topics": []string{"a", "b"}, "group": "flowctl-test", "bounded": true}))
	msgs := readToEnd(t, s)
	last := map[string]sdk.Position{}
	for _, m := range msgs {
		last[m.Position.Partition] = m.Position
	}
	var positions []sdk.Position
	for _, p := range last {
		positions = append(positions, p)
	}
	if err := s.Ack(context.Background(), positions); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	adm := kadm.NewClient(client(t, addr))
	resp, err := adm.FetchOffsets(context.Background(), "flowctl-test")
	if err != nil || resp.Error() != nil {
		t.Fatalf("FetchOffsets: %v %v", err, resp.Error())
	}
	got := map[string]int64{}
	resp.Each(func(o kadm.OffsetResponse) { got[partitionName(o.Topic, o.Partition)] = o.At })
	if diff := cmp.Diff(map[string]int64{"a/1": 2, "b/0": 1}, got); diff != "" {
		t.Errorf("committed offsets (-want +got):\n%s", diff)
	}
	lag, err := adm.Lag(context.Background(), "flowctl-test")
	if err != nil {
		t.Fatal(err)
	}
	if total := lag["flowctl-test"].Lag.Total(); total != 0 {
		t.Errorf("group lag = %d, want 0", total)
	}

	noGroup := open(t, config(addr, map[string]any{"topics": []string{"a"}, "bounded": true}))
	if err := noGroup.Ack(context.Background(), []sdk.Position{{Partition: "a/1", Offset: 1}}); err != nil {
		t.Errorf("Ack without a group: %v", err)
	}
	if err := s.Ack(context.Background(), []sdk.Position{{Partition: "a", Offset: 1}}); err == nil ||
		err.Error() != `ack: "a" is not a kafka partition (topic/N)` {
		t.Errorf("Ack of a bad partition name = %v", err)
	}
}

// TestBounded checks that a bounded source ends at the end offsets found
// when it opened, whatever is produced afterwards, and that it ends on a
// partition whose last offsets are transaction markers: the records of
// an aborted transaction are skipped under read_committed and read under
// read_uncommitted.
func TestBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		isolation string
		want      []string
	}{
		{readCommitted, []string{`"committed"`, `"plain"`}},
		{readUncommitted, []string{`"aborted"`, `"committed"`, `"plain"`}},
	}
	for _, tt := range tests {
		t.Run(tt.isolation, func(t *testing.T) {
			t.Parallel()
			_, addr := cluster(t, kfake.SeedTopics(2, "t"))
			produce(t, addr, &kgo.Record{Topic: "t", Partition: 0, Value: []byte(`"plain"`)})
			transact(t, addr, "t", 1, `"committed"`, kgo.TryCommit)
			transact(t, addr, "t", 1, `"aborted"`, kgo.TryAbort)
			s := open(t, config(addr, map[string]any{"topics": []string{"t"}, "bounded": true, "isolation": tt.isolation}))
			// Produced after Open: past the end.
			produce(t, addr, &kgo.Record{Topic: "t", Partition: 0, Value: []byte(`"late"`)}, &kgo.Record{Topic: "t", Partition: 1, Value: []byte(`"late"`)})
			got := payloads(readToEnd(t, s))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("bounded read = %v, want %v", got, tt.want)
			}
			if b, err := s.Read(context.Background()); !errors.Is(err, sdk.ErrEndOfInput) || len(b.Messages) > 0 {
				t.Errorf("Read after the end = %d messages, %v", len(b.Messages), err)
			}
		})
	}
}

// transact writes one record to a partition in a transaction and commits
// or aborts it.
func transact(t *testing.T, addr, topic string, partition int32, value string, end kgo.TransactionEndTry) {
	t.Helper()
	txn := client(t, addr, kgo.TransactionalID("test-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(context.Background(), end); err != nil {
		t.Fatal(err)
	}
}

// TestStartByTimestamp starts at the first record at or after a time;
// Time and meta.timestamp are the records' timestamps.
func TestStartByTimestamp(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "t"))
	t0 := time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC)
	// One batch per record: kfake looks a time up within a batch as the
	// last record at or before it, where Kafka gives the first at or
	// after it; across batches both give the first batch that reaches it.
	for i := range 6 {
		produce(t, addr, &kgo.Record{Topic: "t", Timestamp: t0.Add(time.Duration(i) * time.Minute), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
	}
	tests := []struct {
		start string
		want  []string
	}{
		{"2026-03-17T12:03:00Z", []string{`{"i":3}`, `{"i":4}`, `{"i":5}`}},
		{"2026-03-17T12:02:30.5Z", []string{`{"i":3}`, `{"i":4}`, `{"i":5}`}},
		{"2026-03-17T13:03:00+01:00", []string{`{"i":3}`, `{"i":4}`, `{"i":5}`}},
		{"2026-03-17T11:00:00Z", []string{`{"i":0}`, `{"i":1}`, `{"i":2}`, `{"i":3}`, `{"i":4}`, `{"i":5}`}},
		{"2026-03-18T00:00:00Z", nil},
		{"earliest", []string{`{"i":0}`, `{"i":1}`, `{"i":2}`, `{"i":3}`, `{"i":4}`, `{"i":5}`}},
		{"latest", nil},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			t.Parallel()
			msgs := readToEnd(t, open(t, config(addr, map[string]any{"topics": []string{"t"}, "bounded": true, "start": tt.start})))
			if got := payloads(msgs); !slices.Equal(got, tt.want) {
				t.Errorf("read %v, want %v", got, tt.want)
			}
			for _, m := range msgs {
				want := t0.Add(time.Duration(m.Position.Offset-1) * time.Minute)
				if !m.Time.Equal(want) {
					t.Errorf("%s: Time = %v, want %v", m.Position, m.Time, want)
				}
			}
		})
	}
}

// TestTopicRegex reads the topics a regular expression matches.
func TestTopicRegex(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "orders.eu", "orders.us", "payments", "old.orders.eu"))
	for _, topic := range []string{"orders.eu", "orders.us", "payments", "old.orders.eu"} {
		produce(t, addr, &kgo.Record{Topic: topic, Value: []byte(`"` + topic + `"`)})
	}
	msgs := readToEnd(t, open(t, config(addr, map[string]any{"topic_regex": `^orders\.`, "bounded": true})))
	got := payloads(msgs)
	slices.Sort(got)
	if want := []string{`"orders.eu"`, `"orders.us"`}; !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
}

// TestTombstone rejects a record with a null value with the reason.
func TestTombstone(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "t"))
	produce(t, addr, &kgo.Record{Topic: "t", Key: []byte("k"), Value: nil}, &kgo.Record{Topic: "t", Key: []byte{0xff, 0}, Value: []byte(`{}`)})
	msgs := readToEnd(t, open(t, config(addr, map[string]any{"topics": []string{"t"}, "bounded": true})))
	got := render(msgs)
	want := "t/0@1 topic=t partition=0 offset=0 key=k headers=null reject=\"the record's value is null (a tombstone)\"\n" +
		"t/0@2 topic=t partition=0 offset=1 key=[255 0] headers=null {}\n"
	if got != want {
		t.Errorf("read:\n%s\nwant:\n%s", got, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"topics", `{"brokers":["127.0.0.1:9092"],"topics":["a","b.c-d_e"]}`, nil},
		{"regex", `{"brokers":["kafka-1.internal:9092","[::1]:9093"],"topic_regex":"^orders\\."}`, nil},
		{"timestamp", `{"brokers":["h:1"],"topics":["a"],"start":"2026-03-17T00:00:00+02:00"}`, nil},
		{"sasl", `{"brokers":["h:1"],"topics":["a"],"sasl":{"mechanism":"scram-sha-512","username":"u","password":"p"}}`, nil},
		{"no port", `{"brokers":["localhost"],"topics":["a"]}`,
			[]sdk.Diagnostic{{Path: "brokers[0]", Msg: `"localhost" is not host:port (such as "127.0.0.1:9092")`}}},
		{"bad port", `{"brokers":["h:1","h:99999","h:x",":9092"],"topics":["a"]}`, []sdk.Diagnostic{
			{Path: "brokers[1]", Msg: `"h:99999" has no valid port (1 to 65535)`},
			{Path: "brokers[2]", Msg: `"h:x" has no valid port (1 to 65535)`},
			{Path: "brokers[3]", Msg: `":9092" has no host`},
		}},
		{"no brokers", `{"brokers":[],"topics":["a"]}`, []sdk.Diagnostic{{Path: "brokers", Msg: "must list at least one broker"}}},
		{"no topics", `{"brokers":["h:1"]}`, []sdk.Diagnostic{{Path: "topics", Msg: "set topics or topic_regex"}}},
		{"both", `{"brokers":["h:1"],"topics":["a"],"topic_regex":"a"}`, []sdk.Diagnostic{{Path: "topic_regex", Msg: "set only one of topics and topic_regex"}}},
		{"bad topics", `{"brokers":["h:1"],"topics":["a b","ok","ok",""]}`, []sdk.Diagnostic{
			{Path: "topics[0]", Msg: `"a b" is not a valid topic name: only ASCII letters, digits, '.', '_' and '-' are allowed`},
			{Path: "topics[2]", Msg: `"ok" is listed twice`},
			{Path: "topics[3]", Msg: "must not be empty"},
		}},
		{"bad regex", `{"brokers":["h:1"],"topic_regex":"a("}`, []sdk.Diagnostic{{Path: "topic_regex", Msg: "bad regular expression: error parsing regexp: missing closing ): `a(`"}}},
		{"bad start", `{"brokers":["h:1"],"topics":["a"],"start":"yesterday"}`, []sdk.Diagnostic{
			{Path: "start", Msg: `"yesterday" is not earliest, latest or an RFC 3339 timestamp such as "2026-03-17T00:00:00Z"`}}},
		{"bad fetch", `{"brokers":["h:1"],"topics":["a"],"fetch_max_bytes":0,"fetch_max_partition_bytes":4294967296,"fetch_max_wait":"1ms"}`, []sdk.Diagnostic{
			{Path: "fetch_max_bytes", Msg: "must be between 1 and 2147483647, not 0"},
			{Path: "fetch_max_partition_bytes", Msg: "must be between 1 and 2147483647, not 4294967296"},
			{Path: "fetch_max_wait", Msg: `"1ms" is not a duration between 10ms and 1h`},
		}},
		{"group timeouts", `{"brokers":["h:1"],"topics":["a"],"session_timeout":"1s","rebalance_timeout":"5m"}`, nil},
		{"bad group timeouts", `{"brokers":["h:1"],"topics":["a"],"session_timeout":"50ms","rebalance_timeout":"25h"}`, []sdk.Diagnostic{
			{Path: "session_timeout", Msg: `"50ms" is not a duration between 100ms and 24h`},
			{Path: "rebalance_timeout", Msg: `"25h" is not a duration between 100ms and 24h`},
		}},
		{"bad session timeout", `{"brokers":["h:1"],"topics":["a"],"session_timeout":"soon"}`, []sdk.Diagnostic{
			{Path: "session_timeout", Msg: `"soon" is not a duration between 100ms and 24h`}}},
		{"bad isolation", `{"brokers":["h:1"],"topics":["a"],"isolation":"serializable"}`, []sdk.Diagnostic{
			{Path: "isolation", Msg: `must be read_committed or read_uncommitted, not "serializable"`}}},
		{"bad sasl", `{"brokers":["h:1"],"topics":["a"],"sasl":{"mechanism":"gssapi","username":"","password":""}}`, []sdk.Diagnostic{
			{Path: "sasl.mechanism", Msg: `"gssapi" is not one of plain, scram-sha-256, scram-sha-512`},
			{Path: "sasl.username", Msg: "must not be empty"},
			{Path: "sasl.password", Msg: "must not be empty"},
		}},
		{"half a key pair", `{"brokers":["h:1"],"topics":["a"],"tls":{"cert_file":"c.pem"}}`, []sdk.Diagnostic{
			{Path: "tls", Msg: "cert_file and key_file go together: set both or neither"}}},
		{"bad timeout", `{"brokers":["h:1"],"topics":["a"],"connect_timeout":"0s"}`, []sdk.Diagnostic{
			{Path: "connect_timeout", Msg: `"0s" is not a positive duration such as "10s"`}}},
		{"unknown field", `{"brokers":["h:1"],"topic":"a"}`, []sdk.Diagnostic{{Msg: `json: unknown field "topic"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Plugin().Validate([]byte(tt.config))); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenErrors checks the errors of a source that cannot start.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "there"))
	tests := []struct {
		name   string
		fields map[string]any
		addr   string
		want   string
	}{
		{"missing topic", map[string]any{"topics": []string{"there", "missing"}}, addr, `topic "missing" does not exist`},
		{"regex matches none", map[string]any{"topic_regex": "^nope"}, addr, `topic_regex "^nope" matches none of the 1 topics`},
		{"bad config", map[string]any{"topics": []string{"there"}, "start": "soon"}, addr,
			`start: "soon" is not earliest, latest or an RFC 3339 timestamp such as "2026-03-17T00:00:00Z"`},
		{"refused", map[string]any{"topics": []string{"there"}}, "127.0.0.1:1",
			"list topics: unable to dial: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"silent", map[string]any{"topics": []string{"there"}, "connect_timeout": "300ms"}, silent(t),
			"brokers " + silent(t) + ": no answer within connect_timeout 300ms: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Source{}
			err := s.Open(context.Background(), sdk.OpenRequest{Config: config(tt.addr, tt.fields)})
			_ = s.Close(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Open = %v, want %s", err, tt.want)
			}
		})
	}
}

// silent returns the address of a listener that accepts connections and
// never answers, the same one for the whole test.
func silent(t *testing.T) string {
	t.Helper()
	silentOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		silentAddr = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				silentConns = append(silentConns, c) // held open, never read
			}
		}()
	})
	return silentAddr
}

var (
	silentOnce  sync.Once
	silentAddr  string
	silentConns []net.Conn
)

func TestSpec(t *testing.T) {
	t.Parallel()
	p := Plugin()
	if err := p.Spec.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "kafka" || p.Spec.Kind != sdk.KindSource || !p.Spec.Times || !p.Spec.ScaleOut {
		t.Errorf("spec = %s %s times %v scale-out %v", p.Spec.Name, p.Spec.Kind, p.Spec.Times, p.Spec.ScaleOut)
	}
	// The spec's defaults are the ones parseConfig fills in.
	defaults := map[string]any{"brokers": []string{"h:1"}, "topics": []string{"a"}}
	for _, f := range p.Spec.Fields {
		if f.Default != nil {
			defaults[f.Name] = f.Default
		}
	}
	withDefaults, _ := parseConfig(config("h:1", defaults))
	bare, diags := parseConfig([]byte(`{"brokers":["h:1"],"topics":["a"]}`))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(bare, withDefaults); diff != "" {
		t.Errorf("spec defaults differ from parseConfig's (-parseConfig +spec):\n%s", diff)
	}
	var secret []string
	for _, f := range p.Spec.Fields {
		for _, g := range f.Fields {
			if g.Secret {
				secret = append(secret, f.Name+"."+g.Name)
			}
		}
	}
	if diff := cmp.Diff([]string{"sasl.password"}, secret); diff != "" {
		t.Errorf("secret fields (-want +got):\n%s", diff)
	}
}

// TestGroupTimeouts checks the group settings given to franz-go: the
// heartbeat goes every third of the session timeout, at most every 3s.
func TestGroupTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fields                       map[string]any
		session, rebalance, interval time.Duration
	}{
		{nil, 10 * time.Second, time.Minute, 3 * time.Second},
		{map[string]any{"session_timeout": "1500ms", "rebalance_timeout": "5m"}, 1500 * time.Millisecond, 5 * time.Minute, 500 * time.Millisecond},
		{map[string]any{"session_timeout": "45s"}, 45 * time.Second, time.Minute, 3 * time.Second},
	}
	for _, tt := range tests {
		fields := map[string]any{"topics": []string{"a"}}
		maps.Copy(fields, tt.fields)
		c, diags := parseConfig(config("h:1", fields))
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		if c.sessionTimeout() != tt.session || c.rebalanceTimeout() != tt.rebalance || c.heartbeatInterval() != tt.interval {
			t.Errorf("%v: session %v, rebalance %v, heartbeat %v; want %v, %v, %v", tt.fields,
				c.sessionTimeout(), c.rebalanceTimeout(), c.heartbeatInterval(), tt.session, tt.rebalance, tt.interval)
		}
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
	checkNestedTables(t, "README.md", Plugin().Spec, *update)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(2, "conformance"))
	var recs []*kgo.Record
	for i := range 7 {
		recs = append(recs, &kgo.Record{Topic: "conformance", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}, Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	produce(t, addr, recs...)
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: config(addr, map[string]any{"topics": []string{"conformance"}, "bounded": true}),
		Format: "json",
		BadConfigs: map[string][]byte{
			"no-port":       config("localhost", map[string]any{"topics": []string{"conformance"}}),
			"missing-topic": config(addr, map[string]any{"topics": []string{"missing"}, "connect_timeout": "2s"}),
			"no-topics":     config(addr, nil),
			"bad-start":     config(addr, map[string]any{"topics": []string{"conformance"}, "start": "now"}),
		},
	})
}

// TestAckToBusyGroup acknowledges positions to a group another consumer
// is a member of: the broker refuses the commit, which is logged, and Ack
// succeeds, since the offsets there are only for people.
func TestAckToBusyGroup(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(1, "t"))
	produce(t, addr, &kgo.Record{Topic: "t", Value: []byte(`{}`)})
	member := client(t, addr, kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("t"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if fs := member.PollFetches(ctx); fs.NumRecords() != 1 {
		t.Fatalf("the group member read %d records: %v", fs.NumRecords(), fs.Errors())
	}
	log := newRecordingLogger()
	s := &Source{}
	req := openRequest(config(addr, map[string]any{"topics": []string{"t"}, "group": "busy", "bounded": true}))
	req.Settings.Logger = log
	if err := s.Open(ctx, req); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.Ack(ctx, []sdk.Position{{Partition: "t/0", Offset: 1}}); err != nil {
		t.Errorf("Ack = %v, want nil", err)
	}
	want := []string{"committing offsets to group busy: UNKNOWN_MEMBER_ID: The coordinator is not aware of this member."}
	if diff := cmp.Diff(want, log.all()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
