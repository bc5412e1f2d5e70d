package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var (
	ts      = time.Date(2026, 3, 17, 23, 58, 0, 0, time.UTC)
	columns = []string{"store", "window_start", "revenue", "orders", "ok", "tags", "note"}
	rows    = [][]any{
		{"ABC", ts, decimal.RequireFromString("12.50"), int64(3), true, []any{"a", "b"}, "tab\there"},
		{"XYZ", ts.Add(time.Hour), decimal.RequireFromString("-0.05"), int64(1), false, []any{}, nil},
		{"ABC", ts.Add(time.Hour), decimal.RequireFromString("7"), int64(2), nil, nil, sdk.Absent},
	}
)

// TestWriteKcatReads writes rows with each compression and reads them
// back with kcat, an independent client: the key is the pipeline's key,
// store is also a header, the value is the row as JSON.
func TestWriteKcatReads(t *testing.T) {
	t.Parallel()
	for _, compression := range compressionNames {
		t.Run(compression, func(t *testing.T) {
			t.Parallel()
			addr := cluster(t, kfake.SeedTopics(3, "revenue"))
			s := open(t, config(addr, map[string]any{"topic": "revenue", "compression": compression, "header_columns": []string{"store", "ok"}}),
				"out", columns, "store")
			write(t, s, columns, rows[:2]...)
			write(t, s, columns, rows[2:]...)
			if err := s.Flush(context.Background()); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			out := kcat(t, "-C", "-b", addr, "-t", "revenue", "-e", "-q", "-f", "%t/%p@%o key=%k headers=%h %s\n")
			lines := strings.SplitAfter(out, "\n")
			slices.Sort(lines)
			checkGolden(t, "kcat_write", strings.Join(lines, ""))
		})
	}
}

// TestKeys checks the record keys: a key column as text, several pipeline
// key columns as a JSON object, no key, and a null key value.
func TestKeys(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(1, "k"))
	tests := []struct {
		name      string
		keyColumn string
		key       []string
		want      []string
	}{
		{"pipeline key", "", []string{"store"}, []string{"ABC", "XYZ", "ABC"}},
		{"key column", "orders", []string{"store"}, []string{"3", "1", "2"}},
		{"two key columns", "", []string{"store", "window_start"}, []string{
			`{"store":"ABC","window_start":"2026-03-17T23:58:00Z"}`,
			`{"store":"XYZ","window_start":"2026-03-18T00:58:00Z"}`,
			`{"store":"ABC","window_start":"2026-03-18T00:58:00Z"}`,
		}},
		{"null key value", "note", nil, []string{"tab\there", "<nil>", "<nil>"}},
		{"no key", "", nil, []string{"<nil>", "<nil>", "<nil>"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := fmt.Sprintf("k%d", i)
			if _, err := kadm.NewClient(client(t, addr)).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			cfg := map[string]any{"topic": topic}
			if tt.keyColumn != "" {
				cfg["key_column"] = tt.keyColumn
			}
			s := open(t, config(addr, cfg), "out", columns, tt.key...)
			write(t, s, columns, rows...)
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range consume(t, addr, topic, true) {
				if r.Key == nil {
					got = append(got, "<nil>")
				} else {
					got = append(got, string(r.Key))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTopicColumn writes each row to the topic its column names.
func TestTopicColumn(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(1, "eu", "us"))
	cols := []string{"region", "n"}
	s := open(t, config(addr, map[string]any{"topic_column": "region"}), "out", cols)
	write(t, s, cols, []any{"eu", int64(1)}, []any{"us", int64(2)}, []any{"eu", int64(3)})
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string][]string{"eu": {`{"region":"eu","n":1}`, `{"region":"eu","n":3}`}, "us": {`{"region":"us","n":2}`}} {
		if got := values(consume(t, addr, topic, true)); !slices.Equal(got, want) {
			t.Errorf("topic %s holds %v, want %v", topic, got, want)
		}
	}
	tests := []struct {
		row  []any
		want string
	}{
		{[]any{nil, int64(4)}, `row 1: topic_column "region" is null, want a topic name`},
		{[]any{int64(7), int64(4)}, `row 1: topic_column "region" is int64 7, want a topic name`},
		{[]any{"a b", int64(4)}, `row 1: topic_column "region": "a b" is not a valid topic name: only ASCII letters, digits, '.', '_' and '-' are allowed`},
	}
	for _, tt := range tests {
		err := s.Write(context.Background(), sdk.Rows{Columns: cols, Rows: [][]any{{"eu", int64(0)}, tt.row}})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Write of %v = %v, want %s", tt.row, err, tt.want)
		}
	}
}

// TestRefusedRecord checks that a record the broker refuses fails the
// sink, naming the topic.
func TestRefusedRecord(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(1, "small"))
	big := "max.message.bytes"
	limit := "200"
	if _, err := kadm.NewClient(client(t, addr)).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: big, Value: &limit}}, "small"); err != nil {
		t.Fatal(err)
	}
	cols := []string{"text"}
	s := open(t, config(addr, map[string]any{"topic": "small"}), "out", cols)
	write(t, s, cols, []any{strings.Repeat("x", 500)})
	err := s.Flush(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "write to topic small: MESSAGE_TOO_LARGE") {
		t.Fatalf("Flush = %v, want the refused record", err)
	}
	if err2 := s.Write(context.Background(), sdk.Rows{Columns: cols, Rows: [][]any{{"x"}}}); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("Write after a refused record = %v, want %v", err2, err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"topic", `{"brokers":["127.0.0.1:9092"],"topic":"out"}`, nil},
		{"topic column", `{"brokers":["h:1"],"topic_column":"dest","key_column":"id","header_columns":["a","b"]}`, nil},
		{"transactional", `{"brokers":["h:1"],"topic":"out","transactional":true,"compression":"zstd"}`, nil},
		{"leader acks", `{"brokers":["h:1"],"topic":"out","acks":"leader","idempotent":false}`, nil},
		{"no port", `{"brokers":["kafka"],"topic":"out"}`, []sdk.Diagnostic{{Path: "brokers[0]", Msg: `"kafka" is not host:port (such as "127.0.0.1:9092")`}}},
		{"no topic", `{"brokers":["h:1"]}`, []sdk.Diagnostic{{Path: "topic", Msg: "set topic or topic_column"}}},
		{"both topics", `{"brokers":["h:1"],"topic":"a","topic_column":"b"}`, []sdk.Diagnostic{{Path: "topic_column", Msg: "set only one of topic and topic_column"}}},
		{"bad topic", `{"brokers":["h:1"],"topic":"a/b"}`, []sdk.Diagnostic{{Path: "topic", Msg: `"a/b" is not a valid topic name: only ASCII letters, digits, '.', '_' and '-' are allowed`}}},
		{"bad headers", `{"brokers":["h:1"],"topic":"a","header_columns":["x","","x"]}`, []sdk.Diagnostic{
			{Path: "header_columns[1]", Msg: "must not be empty"},
			{Path: "header_columns[2]", Msg: `"x" is listed twice`},
		}},
		{"bad compression", `{"brokers":["h:1"],"topic":"a","compression":"brotli"}`, []sdk.Diagnostic{{Path: "compression", Msg: `"brotli" is not one of none, gzip, snappy, lz4, zstd`}}},
		{"idempotent leader", `{"brokers":["h:1"],"topic":"a","acks":"leader"}`, []sdk.Diagnostic{{Path: "acks", Msg: "an idempotent producer needs acks: all; set idempotent: false to use acks: leader"}}},
		{"transactional none", `{"brokers":["h:1"],"topic":"a","acks":"none","transactional":true,"idempotent":false}`, []sdk.Diagnostic{
			{Path: "acks", Msg: "transactional needs acks: all"},
			{Path: "idempotent", Msg: "transactional needs an idempotent producer"},
		}},
		{"bad acks", `{"brokers":["h:1"],"topic":"a","acks":"some"}`, []sdk.Diagnostic{{Path: "acks", Msg: `"some" is not one of all, leader, none`}}},
		{"short timeout", `{"brokers":["h:1"],"topic":"a","transaction_timeout":"10ms"}`, []sdk.Diagnostic{{Path: "transaction_timeout", Msg: `"10ms" is not a duration of at least 1s`}}},
		{"bad marker topic", `{"brokers":["h:1"],"topic":"a","marker_topic":""}`, []sdk.Diagnostic{{Path: "marker_topic", Msg: "must not be empty"}}},
		{"unknown field", `{"brokers":["h:1"],"topics":["a"]}`, []sdk.Diagnostic{{Msg: `json: unknown field "topics"`}}},
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

// TestOpenErrors checks the errors of a sink that cannot start.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(1, "there"))
	tests := []struct {
		name     string
		fields   map[string]any
		key      []string
		pipeline string
		want     string
	}{
		{"missing topic", map[string]any{"topic": "missing"}, nil, "p", `topic "missing" does not exist`},
		{"missing key column", map[string]any{"topic": "there"}, []string{"id"}, "p", `key column "id" is not among the columns a, b`},
		{"missing key_column", map[string]any{"topic": "there", "key_column": "k"}, nil, "p", `key_column "k" is not among the columns a, b`},
		{"missing header column", map[string]any{"topic": "there", "header_columns": []string{"h"}}, nil, "p", `header column "h" is not among the columns a, b`},
		{"missing topic column", map[string]any{"topic_column": "dest"}, nil, "p", `topic_column "dest" is not among the columns a, b`},
		{"no pipeline name", map[string]any{"topic": "there", "transactional": true}, nil, "",
			"transactional_id: the host gave no pipeline name to derive the transactional id from; set transactional_id"},
		{"bad config", map[string]any{"topic": "there", "acks": "leader"}, nil, "p", "acks: an idempotent producer needs acks: all; set idempotent: false to use acks: leader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Sink{}
			err := s.Open(context.Background(), sdk.SinkOpenRequest{Config: config(addr, tt.fields), Columns: []string{"a", "b"}, Key: tt.key,
				Settings: sdk.Settings{Name: "out", Pipeline: tt.pipeline}})
			_ = s.Close(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestDelivery checks the guarantee reported for each configuration.
func TestDelivery(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(1, "plain"))
	compact := "compact"
	if _, err := kadm.NewClient(client(t, addr)).CreateTopic(context.Background(), 1, 1, map[string]*string{"cleanup.policy": &compact}, "table"); err != nil {
		t.Fatal(err)
	}
	const resend = ": rows written after the checkpoint a run resumes from are written again; set transactional: true for exactly-once"
	tests := []struct {
		name   string
		addr   string
		fields map[string]any
		key    []string
		want   sdk.DeliveryReport
	}{
		{"transactional", addr, map[string]any{"topic": "plain", "transactional": true}, nil, sdk.DeliveryReport{Delivery: sdk.ExactlyOnce,
			Reason: "the rows of each checkpoint are written in one Kafka transaction, committed with it; read_committed consumers see them once"}},
		{"compacted", addr, map[string]any{"topic": "table"}, []string{"store", "window_start"}, sdk.DeliveryReport{Delivery: sdk.Idempotent,
			Reason: "records are keyed by store, window_start and topic table is compacted: rows written again after a crash replace the earlier ones"}},
		{"compacted, key column", addr, map[string]any{"topic": "table", "key_column": "store"}, []string{"store"}, sdk.DeliveryReport{Delivery: sdk.Idempotent,
			Reason: "records are keyed by store and topic table is compacted: rows written again after a crash replace the earlier ones"}},
		{"not compacted", addr, map[string]any{"topic": "plain"}, []string{"store"}, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce,
			Reason: "topic plain is not compacted (cleanup.policy=delete)" + resend}},
		{"no key", addr, map[string]any{"topic": "table"}, nil, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: "the pipeline has no key" + resend}},
		{"other key", addr, map[string]any{"topic": "table", "key_column": "id"}, []string{"store"}, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce,
			Reason: "records are keyed by key_column id, not by the pipeline's key" + resend}},
		{"topic column", addr, map[string]any{"topic_column": "dest"}, []string{"store"}, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce,
			Reason: "the topics come from column dest, whose compaction is not known" + resend}},
		{"unreachable", "127.0.0.1:1", map[string]any{"topic": "table"}, []string{"store"}, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce,
			Reason: "the cleanup.policy of topic table could not be read (unable to dial: dial tcp 127.0.0.1:1: connect: connection refused)" + resend}},
		{"bad config", addr, map[string]any{}, nil, sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: "the config is not valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Plugin().Delivery(sdk.DeliveryRequest{Config: config(tt.addr, tt.fields), Key: tt.key})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Delivery (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	p := Plugin()
	if err := p.Spec.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "kafka" || p.Spec.Kind != sdk.KindSink || p.Delivery == nil || !p.Spec.Instances {
		t.Errorf("spec = %s %s, delivery hook %v, instances %v", p.Spec.Name, p.Spec.Kind, p.Delivery != nil, p.Spec.Instances)
	}
	defaults := map[string]any{"topic": "a"}
	for _, f := range p.Spec.Fields {
		if f.Default != nil {
			defaults[f.Name] = f.Default
		}
	}
	withDefaults, _ := parseConfig(config("h:1", defaults))
	bare, diags := parseConfig([]byte(`{"brokers":["h:1"],"topic":"a"}`))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(bare, withDefaults); diff != "" {
		t.Errorf("spec defaults differ from parseConfig's (-parseConfig +spec):\n%s", diff)
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
	checkNestedTables(t, "README.md", Plugin().Spec, *update)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	addr := cluster(t, kfake.SeedTopics(2, "conformance"))
	for _, transactional := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactional=%v", transactional), func(t *testing.T) {
			t.Parallel()
			sdktest.RunSink(t, sdktest.SinkCase{
				Plugin: Plugin(),
				Config: func(t *testing.T) []byte {
					return config(addr, map[string]any{"topic": "conformance", "transactional": transactional,
						"transactional_id": "conformance-" + strings.ReplaceAll(t.Name(), "/", "-")})
				},
				Columns: []string{"id", "name", "at", "price", "tags"},
				Rows: [][]any{
					{int64(1), "one", ts, decimal.RequireFromString("1.50"), []any{"a"}},
					{int64(2), nil, ts.Add(time.Hour), decimal.RequireFromString("-2"), []any{}},
					{int64(3), "three", time.Time{}, decimal.Zero, nil},
				},
				BadConfigs: map[string][]byte{
					"no-port":       config("localhost", map[string]any{"topic": "conformance"}),
					"missing-topic": config(addr, map[string]any{"topic": "missing"}),
					"no-topic":      config(addr, nil),
					"bad-acks":      config(addr, map[string]any{"topic": "conformance", "acks": "leader"}),
				},
			})
		})
	}
}

// TestSASL writes to a cluster that requires SASL/SCRAM; a wrong password
// fails Open with an error that does not show it. (The connection code is
// the source's, tested there with every mechanism and TLS.)
func TestSASL(t *testing.T) {
	t.Parallel()
	const password = "s3cr3t-9482"
	addr := cluster(t, kfake.EnableSASL(), kfake.SeedTopics(1, "out"), kfake.Superuser("SCRAM-SHA-256", "writer", password))
	sasl := func(pass string) map[string]any {
		return map[string]any{"mechanism": "scram-sha-256", "username": "writer", "password": pass}
	}
	s := open(t, config(addr, map[string]any{"topic": "out", "transactional": true, "sasl": sasl(password)}), "out", nCols)
	write(t, s, nCols, nRows(1)...)
	step(t, "Prepare(1)", s.Prepare(context.Background(), 1))
	step(t, "Commit(1)", s.Commit(context.Background(), 1))
	bad := &Sink{}
	err := bad.Open(context.Background(), sdk.SinkOpenRequest{Config: config(addr, map[string]any{"topic": "out", "connect_timeout": "500ms", "sasl": sasl(password + "x")})})
	_ = bad.Close(context.Background())
	if err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("Open with a wrong password = %v; want an error without the password", err)
	}
}
