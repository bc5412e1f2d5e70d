package generate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files and the README config table")

// open opens a source over a config given as JSON.
func open(t testing.TB, config string, resume ...sdk.Position) *Source {
	t.Helper()
	src, err := tryOpen(t, config, nil, resume...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return src
}

func tryOpen(t testing.TB, config string, logger sdk.Logger, resume ...sdk.Position) (*Source, error) {
	t.Helper()
	src := Plugin().NewSource().(*Source)
	err := src.Open(context.Background(), sdk.OpenRequest{
		Config: []byte(config), Resume: resume, Settings: sdk.Settings{Logger: logger},
	})
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src, err
}

// readAll reads a bounded source to its end.
func readAll(t testing.TB, src *Source) []sdk.Message {
	t.Helper()
	var all []sdk.Message
	for range 100_000 {
		b, err := src.Read(context.Background())
		all = append(all, b.Messages...)
		if errors.Is(err, sdk.ErrEndOfInput) {
			return all
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(all), err)
		}
	}
	t.Fatal("no end of input")
	return nil
}

// render prints messages one a line for golden files.
func render(msgs []sdk.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s %s", m.Position, sdk.FormatTime(m.Time))
		for _, f := range m.Fields {
			fmt.Fprintf(&b, " %s=%s", f.Name, sdk.AppendJSON(nil, f.Value))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

func diag(path, msg string) sdk.Diagnostic { return sdk.Diagnostic{Path: path, Msg: msg} }

func field(name string, v any) sdk.Field { return sdk.Field{Name: name, Value: v} }

// cmpMessages compares messages, times by Equal.
var cmpMessages = cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })}

const payments = `{
	"count": 40, "seed": 7, "partitions": 3,
	"start": "2026-03-17T00:00:00Z", "interval": "10ms", "disorder": "25ms",
	"fields": {
		"payment_id": "sprintf(\"p-%06d\", i)",
		"store_id": "sprintf(\"s-%d\", zipf(50, 1.1))",
		"amount": "round(uniform(1, 200), 2)",
		"channel": "choice([\"web\", \"store\", \"app\"])",
		"refunded": "chance(0.1)",
		"qty": "randint(1, 5)",
		"score": "round(normal(0, 1), 3)",
		"p": "partition",
		"event_time": "event_time"
	}
}`

// TestGolden pins the values a seed gives: a change of algorithm that
// changes them shows here.
func TestGolden(t *testing.T) {
	t.Parallel()
	checkGolden(t, "payments", render(readAll(t, open(t, payments))))
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	first := readAll(t, open(t, payments))
	again := readAll(t, open(t, payments))
	if diff := cmp.Diff(first, again, cmpMessages); diff != "" {
		t.Fatalf("same config, different events (-first +again):\n%s", diff)
	}

	var other map[string]any
	if err := json.Unmarshal([]byte(payments), &other); err != nil {
		t.Fatal(err)
	}
	other["seed"] = 8
	cfg, err := json.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	reseeded := readAll(t, open(t, string(cfg)))
	same := 0
	for i := range first {
		if fmt.Sprint(first[i].Fields) == fmt.Sprint(reseeded[i].Fields) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("another seed gave %d identical events of %d", same, len(first))
	}

	// Adding a field leaves the other fields' values alone.
	fields := other["fields"].(map[string]any)
	other["seed"] = 7
	fields["aaa_extra"] = "uniform(0, 1) + randint(100)"
	cfg, err = json.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	extended := readAll(t, open(t, string(cfg)))
	for i := range first {
		want := first[i].Fields
		got := extended[i].Fields[1:]
		if extended[i].Fields[0].Name != "aaa_extra" {
			t.Fatalf("fields %v do not start with aaa_extra", extended[i].Fields)
		}
		if diff := cmp.Diff(want, got, cmpMessages); diff != "" {
			t.Fatalf("event %d changed when a field was added (-before +after):\n%s", i, diff)
		}
	}
}

func TestFieldOrderAndValues(t *testing.T) {
	t.Parallel()
	msgs := readAll(t, open(t, `{"count": 3, "fields": {"z": "i", "a": "\"x\"", "m": 1.5, "b": true, "n": 7}}`))
	var got [][]sdk.Field
	for _, m := range msgs {
		got = append(got, m.Fields)
	}
	want := [][]sdk.Field{
		{field("a", "x"), field("b", true), field("m", 1.5), field("n", int64(7)), field("z", int64(0))},
		{field("a", "x"), field("b", true), field("m", 1.5), field("n", int64(7)), field("z", int64(1))},
		{field("a", "x"), field("b", true), field("m", 1.5), field("n", int64(7)), field("z", int64(2))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestResume resumes from many sets of positions and checks the result
// against an uninterrupted run: each partition continues right after its
// own position.
func TestResume(t *testing.T) {
	t.Parallel()
	all := readAll(t, open(t, payments))
	type resume struct {
		name string
		last []int64 // per partition, -1 for none
	}
	cases := []resume{
		{"fresh", []int64{-1, -1, -1}},
		{"everything", []int64{39, 37, 38}},
		{"beyond the count", []int64{300, 301, 302}},
		{"uneven", []int64{30, 4, 20}},
		{"one partition only", []int64{-1, 22, -1}},
	}
	// Cut after every event, as if everything up to it was delivered.
	for k := range all {
		last := []int64{-1, -1, -1}
		for _, m := range all[:k+1] {
			last[m.Position.Offset%3] = m.Position.Offset
		}
		cases = append(cases, resume{fmt.Sprintf("after %d", k), last})
	}
	for _, tc := range cases {
		var positions []sdk.Position
		for p, l := range tc.last {
			if l >= 0 {
				positions = append(positions, sdk.Position{Partition: fmt.Sprintf("generate-%d", p), Offset: l})
			}
		}
		var want []sdk.Message
		for _, m := range all {
			if m.Position.Offset > tc.last[m.Position.Offset%3] {
				want = append(want, m)
			}
		}
		got := readAll(t, open(t, payments, positions...))
		if diff := cmp.Diff(want, got, cmpMessages, cmp.Transformer("empty", func(m []sdk.Message) []sdk.Message {
			if len(m) == 0 {
				return nil
			}
			return m
		})); diff != "" {
			t.Errorf("%s: resumed at %v (-want +got):\n%s", tc.name, positions, diff)
		}
	}
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func TestResumeIgnoresForeignPositions(t *testing.T) {
	t.Parallel()
	logs := &logLines{}
	src, err := tryOpen(t, `{"count": 6, "partitions": 2, "fields": {"i": "i"}}`, logs,
		sdk.Position{Partition: "generate-2", Offset: 4},
		sdk.Position{Partition: "generate-01", Offset: 3},
		sdk.Position{Partition: "other", Offset: 3},
		sdk.Position{Partition: "generate-1", Offset: 2},
		sdk.Position{Partition: "generate-0", Offset: -1},
		sdk.Position{Partition: "generate-0", Offset: 2},
	)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, m := range readAll(t, src) {
		got = append(got, m.Position.Offset)
	}
	if diff := cmp.Diff([]int64{1, 3, 4, 5}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	want := []string{
		"resume position generate-2@4 ignored: no such partition with 2 partitions",
		"resume position generate-01@3 ignored: no such partition with 2 partitions",
		"resume position other@3 ignored: no such partition with 2 partitions",
		"resume position generate-1@2 ignored: event 2 is not on that partition",
		"resume position generate-0@-1 ignored: event -1 is not on that partition",
	}
	if diff := cmp.Diff(want, logs.lines); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestPartitions(t *testing.T) {
	t.Parallel()
	msgs := readAll(t, open(t, `{"count": 10, "partitions": 4, "fields": {"p": "partition", "i": "i"}}`))
	for i, m := range msgs {
		want := sdk.Position{Partition: fmt.Sprintf("generate-%d", i%4), Offset: int64(i)}
		if m.Position != want {
			t.Errorf("event %d: position %#v, want %#v", i, m.Position, want)
		}
		if p := m.Fields[1].Value; p != int64(i%4) {
			t.Errorf("event %d: partition = %v", i, p)
		}
		if got := m.Position.String(); got != fmt.Sprintf("generate-%d@%d", i%4, i) {
			t.Errorf("event %d: position prints %s", i, got)
		}
	}
}

func TestEventTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []string // times of the first events
	}{
		{"defaults", `{"count": 3, "fields": {"i": "i"}}`,
			[]string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00.002Z"}},
		{"start and interval", `{"count": 3, "start": "2026-03-17T23:58:00+01:00", "interval": "1m30s", "fields": {"i": "i"}}`,
			[]string{"2026-03-17T22:58:00Z", "2026-03-17T22:59:30Z", "2026-03-17T23:01:00Z"}},
		{"interval from the rate", `{"count": 3, "rate": 4000, "fields": {"i": "i"}}`,
			[]string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00.00025Z", "2026-01-01T00:00:00.0005Z"}},
		{"zero interval", `{"count": 2, "interval": "0s", "fields": {"i": "i"}}`,
			[]string{"2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		{"large interval", `{"count": 2, "start": "0001-01-01T00:00:00Z", "interval": "2562047h", "fields": {"i": "i"}}`,
			[]string{"0001-01-01T00:00:00Z", "0293-04-11T23:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, m := range readAll(t, open(t, tt.config)) {
				got = append(got, sdk.FormatTime(m.Time))
				if m.Time.Location() != time.UTC {
					t.Errorf("time %v is not UTC", m.Time)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventTimePastYear9999(t *testing.T) {
	t.Parallel()
	src := open(t, `{"start": "9999-12-31T23:59:58Z", "interval": "1s", "fields": {"i": "i"}}`)
	b, err := src.Read(context.Background())
	if err != nil || len(b.Messages) != 2 {
		t.Fatalf("first Read = %d messages, %v; want the two events before the error", len(b.Messages), err)
	}
	const want = "event 2: event time is past the year 9999"
	for range 2 {
		if _, err := src.Read(context.Background()); err == nil || err.Error() != want {
			t.Errorf("Read = %v, want %s", err, want)
		}
	}
	// An interval of 292 years: the event times get past year 9999
	// without overflowing.
	src = open(t, `{"interval": "2562047h", "fields": {"i": "i"}}`)
	b, err = src.Read(context.Background())
	if err != nil || len(b.Messages) != 28 || b.Messages[27].Time.Year() != 9917 {
		t.Fatalf("Read = %d messages, %v", len(b.Messages), err)
	}
	if _, err := src.Read(context.Background()); err == nil || err.Error() != "event 28: event time is past the year 9999" {
		t.Errorf("Read = %v", err)
	}
}

func TestDisorderBound(t *testing.T) {
	t.Parallel()
	for _, disorder := range []time.Duration{0, time.Nanosecond, 5 * time.Millisecond, 50 * time.Millisecond, time.Hour} {
		cfg := fmt.Sprintf(`{"count": 2000, "interval": "1ms", "disorder": %q, "fields": {"i": "i"}}`, disorder)
		msgs := readAll(t, open(t, cfg))
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		inversions, maxBack := 0, time.Duration(0)
		var latest time.Time
		for i, m := range msgs {
			base := start.Add(time.Duration(i) * time.Millisecond)
			back := base.Sub(m.Time)
			if back < 0 || back >= max(disorder, 1) {
				t.Fatalf("disorder %v: event %d is %v before its base time", disorder, i, back)
			}
			maxBack = max(maxBack, back)
			if m.Time.Before(latest) {
				inversions++
				if late := latest.Sub(m.Time); late >= max(disorder, 1) {
					t.Fatalf("disorder %v: event %d is %v behind an earlier one", disorder, i, late)
				}
			}
			if m.Time.After(latest) {
				latest = m.Time
			}
		}
		if disorder > time.Millisecond && (inversions == 0 || maxBack < disorder/2) {
			t.Errorf("disorder %v: %d inversions, at most %v back: not disordered", disorder, inversions, maxBack)
		}
		if disorder <= time.Nanosecond && inversions > 0 {
			t.Errorf("disorder %v: %d inversions", disorder, inversions)
		}
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()
	src := open(t, `{"count": 2500, "fields": {"i": "i"}}`)
	var sizes []int
	var errs []error
	for range 4 {
		b, err := src.Read(context.Background())
		sizes = append(sizes, len(b.Messages))
		errs = append(errs, err)
	}
	if diff := cmp.Diff([]int{1024, 1024, 452, 0}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]error{nil, nil, sdk.ErrEndOfInput, sdk.ErrEndOfInput}, errs, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	// Unbounded: full batches, never the end.
	src = open(t, `{"fields": {"i": "i"}}`)
	for k := range 5 {
		b, err := src.Read(context.Background())
		if err != nil || len(b.Messages) != 1024 || b.Messages[0].Position.Offset != int64(k*1024) {
			t.Fatalf("Read %d = %d messages, %v", k, len(b.Messages), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr  string
		n     int // events before the failing one
		wantE string
	}{
		{"randint(3 - i)", 3, "fields.x: event 3: randint: n is 0, want at least 1 (column 1)"},
		{"randint(5, i)", 0, "fields.x: event 0: randint: a 5 is greater than b 0 (column 1)"},
		{"normal(0, 2 - i)", 3, "fields.x: event 3: normal: stddev -1 is negative (column 1)"},
		{"choice(i < 2 ? [1] : [])", 2, "fields.x: event 2: choice: the list is empty (column 1)"},
		{"zipf(2 - i, 1)", 2, "fields.x: event 2: zipf: n is 0, want at least 1 (column 1)"},
		{"zipf(5, 1 - i)", 2, "fields.x: event 2: zipf: s is -1, want 0 or more (column 1)"},
		{"[1, 2][i]", 2, "fields.x: event 2: index out of range: 2 (array length is 2) (column 7)"},
		{"i % (4 - i)", 4, "fields.x: event 4: runtime error: integer divide by zero (column 3)"},
		{"sprintf(choice([1]), 2)", 0, "fields.x: event 0: sprintf: the format must be a string, not int (column 1)"},
		{`uniform(choice(["a"]), 1)`, 0, "fields.x: event 0: uniform: want numbers, got string (column 1)"},
		{`randint(choice([1.5]))`, 0, "fields.x: event 0: randint: want integers, got float64 (column 1)"},
		{`round(choice(["a"]))`, 0, "fields.x: event 0: round: x must be a number, not string (column 1)"},
		{`chance(choice([nil]))`, 0, "fields.x: event 0: chance: p must be a number, not nil (column 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			cfg, err := json.Marshal(map[string]any{"count": 10, "fields": map[string]any{"x": tt.expr, "y": "i"}})
			if err != nil {
				t.Fatal(err)
			}
			src := open(t, string(cfg))
			var msgs []sdk.Message
			var rerr error
			for rerr == nil {
				var b sdk.Batch
				b, rerr = src.Read(context.Background())
				msgs = append(msgs, b.Messages...)
			}
			if rerr.Error() != tt.wantE {
				t.Errorf("error = %q, want %q", rerr, tt.wantE)
			}
			if len(msgs) != tt.n {
				t.Errorf("%d events before the error, want %d", len(msgs), tt.n)
			}
			if _, again := src.Read(context.Background()); again == nil || again.Error() != tt.wantE {
				t.Errorf("Read after the error = %v", again)
			}
		})
	}
}

func TestPacing(t *testing.T) {
	t.Parallel()
	const rate, count = 2000, 200
	src := open(t, fmt.Sprintf(`{"rate": %d, "count": %d, "fields": {"i": "i"}}`, rate, count))
	start := time.Now()
	first, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(first.Messages, readAll(t, src)...)
	elapsed := time.Since(start)
	if len(msgs) != count {
		t.Fatalf("%d events, want %d", len(msgs), count)
	}
	// Event k is due k/rate after the first Read: the last at 99.5ms.
	if minimum := time.Duration(float64(count-1) / rate * float64(time.Second)); elapsed < minimum {
		t.Errorf("%d events at %d/s took %v, less than %v", count, rate, elapsed, minimum)
	}
	if len(first.Messages) != 1 {
		t.Errorf("the first Read returned %d events; only event 0 is due at once", len(first.Messages))
	}
	if !first.CaughtUp {
		t.Error("the first Read held everything due but did not say it is caught up")
	}
	for i, m := range msgs {
		if m.Position.Offset != int64(i) {
			t.Fatalf("event %d has offset %d", i, m.Position.Offset)
		}
	}
}

// TestPacingCatchUp checks that events due while nobody read come in one
// batch, not one per wait.
func TestPacingCatchUp(t *testing.T) {
	t.Parallel()
	src := open(t, `{"rate": 1000, "fields": {"i": "i"}}`)
	if b, err := src.Read(context.Background()); err != nil || len(b.Messages) != 1 {
		t.Fatalf("first Read = %d, %v", len(b.Messages), err)
	}
	src.t0 = src.t0.Add(-2 * time.Second) // as if two seconds went by
	b, err := src.Read(context.Background())
	if err != nil || len(b.Messages) != 1024 || b.CaughtUp {
		t.Errorf("Read after two seconds = %d events, caught up %v, %v; want a full batch of the ~2000 due, not caught up", len(b.Messages), b.CaughtUp, err)
	}
}

func TestPacingCancel(t *testing.T) {
	t.Parallel()
	src := open(t, `{"rate": 0.001, "fields": {"i": "i"}}`)
	if b, err := src.Read(context.Background()); err != nil || len(b.Messages) != 1 {
		t.Fatalf("first Read = %d, %v", len(b.Messages), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	b, err := src.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || len(b.Messages) != 0 {
		t.Errorf("Read = %d events, %v; want none and the deadline", len(b.Messages), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read returned after %v, long after its deadline", d)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		want         []sdk.Diagnostic
	}{
		{"ok", `{"fields": {"a": "i"}}`, nil},
		{"everything", `{"rate": 10.5, "count": 5, "seed": -3, "partitions": 65536, "start": "2026-03-17T23:58:00.5+02:00",
			"interval": "90s", "disorder": "5m", "fields": {"a": "uniform(0, i)", "b": 3, "c": false}}`, nil},
		{"negative rate", `{"rate": -1, "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("rate", "must be a number of events per second, 0 or more")}},
		{"negative count", `{"count": -1, "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("count", "must not be negative")}},
		{"no partitions", `{"partitions": 0, "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("partitions", "must be from 1 to 65536")}},
		{"too many partitions", `{"partitions": 65537, "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("partitions", "must be from 1 to 65536")}},
		{"bad start", `{"start": "2026-03-17 23:58", "fields": {"a": "i"}}`,
			[]sdk.Diagnostic{diag("start", `"2026-03-17 23:58" is not an RFC 3339 timestamp such as "2026-01-01T00:00:00Z"`)}},
		{"bad interval", `{"interval": "often", "fields": {"a": "i"}}`,
			[]sdk.Diagnostic{diag("interval", `"often" is not a duration such as "90s" or "5m"`)}},
		{"negative interval", `{"interval": "-1s", "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("interval", "must not be negative")}},
		{"bad disorder", `{"disorder": "5", "fields": {"a": "i"}}`,
			[]sdk.Diagnostic{diag("disorder", `"5" is not a duration such as "90s" or "5m"`)}},
		{"negative disorder", `{"disorder": "-5s", "fields": {"a": "i"}}`, []sdk.Diagnostic{diag("disorder", "must not be negative")}},
		{"no fields", `{}`, []sdk.Diagnostic{diag("fields", "must name at least one field")}},
		{"empty fields", `{"fields": {}}`, []sdk.Diagnostic{diag("fields", "must name at least one field")}},
		{"empty field name", `{"fields": {"": "i"}}`, []sdk.Diagnostic{diag("fields", "a field name must not be empty")}},
		{"list", `{"fields": {"a": [1]}}`, []sdk.Diagnostic{diag("fields.a", "must be an expression (a string), not a list")}},
		{"mapping", `{"fields": {"a": {"b": 1}}}`, []sdk.Diagnostic{diag("fields.a", "must be an expression (a string), not a mapping")}},
		{"null", `{"fields": {"a": null}}`, []sdk.Diagnostic{diag("fields.a", "must be an expression (a string), not null")}},
		{"unknown name", `{"fields": {"a": "i + j"}}`, []sdk.Diagnostic{diag("fields.a", "unknown name j (column 5)")}},
		{"second line", `{"fields": {"a": "i +\n  j"}}`, []sdk.Diagnostic{diag("fields.a", "unknown name j (line 2, column 3)")}},
		{"too few arguments", `{"fields": {"a": "uniform(1)"}}`, []sdk.Diagnostic{diag("fields.a", "not enough arguments to call uniform (column 1)")}},
		{"too many arguments", `{"fields": {"a": "randint(1, 2, 3)"}}`, []sdk.Diagnostic{diag("fields.a", "too many arguments to call randint (column 1)")}},
		{"wrong argument type", `{"fields": {"a": "normal(\"x\", 1)"}}`,
			[]sdk.Diagnostic{diag("fields.a", "cannot use string as argument (type float64) to call normal  (column 8)")}},
		{"syntax", `{"fields": {"a": "uniform(1, "}}`, []sdk.Diagnostic{diag("fields.a", "unexpected token EOF (column 11)")}},
		{"inside arguments", `{"fields": {"a": "sprintf(\"%d\", zipf(5))"}}`,
			[]sdk.Diagnostic{diag("fields.a", "not enough arguments to call zipf (column 15)")}},
		{"a function", `{"fields": {"a": "now"}}`, []sdk.Diagnostic{diag("fields.a", "is a function, not a value: call it")}},
		{"several", `{"rate": -2, "partitions": 0, "fields": {"b": "j", "a": "k"}}`, []sdk.Diagnostic{
			diag("rate", "must be a number of events per second, 0 or more"),
			diag("partitions", "must be from 1 to 65536"),
			diag("fields.a", "unknown name k (column 1)"),
			diag("fields.b", "unknown name j (column 1)"),
		}},
		{"wrong type", `{"rate": "fast", "fields": {"a": "i"}}`,
			[]sdk.Diagnostic{{Msg: "json: cannot unmarshal string into Go struct field Config.rate of type float64"}}},
		{"unknown key", `{"speed": 3, "fields": {"a": "i"}}`, []sdk.Diagnostic{{Msg: `json: unknown field "speed"`}}},
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

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := tryOpen(t, `{"rate": -1, "fields": {"a": "j"}}`, nil)
	const want = "rate: must be a number of events per second, 0 or more\nfields.a: unknown name j (column 1)"
	if err == nil || err.Error() != want {
		t.Errorf("Open = %v, want %s", err, want)
	}
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("Open error %v is not a ConfigError", err)
	}
	src := Plugin().NewSource()
	if _, err := src.Read(context.Background()); err == nil {
		t.Error("Read before Open succeeded")
	}
}

// TestHostConfig feeds the config the way the host does: every default
// filled in from the spec.
func TestHostConfig(t *testing.T) {
	t.Parallel()
	cfg := map[string]any{"fields": map[string]any{"i": "i"}}
	for _, f := range Plugin().Spec.Fields {
		if f.Default != nil {
			cfg[f.Name] = f.Default
		}
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diags := Plugin().Validate(js); diags != nil {
		t.Fatalf("Validate(%s) = %v", js, diags)
	}
	src := open(t, string(js))
	b, err := src.Read(context.Background())
	if err != nil || len(b.Messages) != maxBatch {
		t.Fatalf("Read = %d messages, %v", len(b.Messages), err)
	}
	if got := b.Messages[1]; !got.Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 1e6, time.UTC)) || got.Position.Partition != "generate-0" {
		t.Errorf("event 1 = %v %v", got.Time, got.Position)
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	p := Plugin()
	if err := p.Spec.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "generate" || p.Spec.Kind != sdk.KindSource {
		t.Errorf("spec = %s %s", p.Spec.Name, p.Spec.Kind)
	}
	if p.NewSource == nil || p.NewSink != nil || p.NewTransform != nil || p.Validate == nil {
		t.Error("want exactly NewSource and Validate set")
	}
	c := defaults()
	byName := map[string]any{}
	for _, f := range p.Spec.Fields {
		byName[f.Name] = f.Default
	}
	want := map[string]any{
		"fields": nil, "rate": float64(c.Rate), "count": c.Count, "seed": c.Seed,
		"partitions": c.Partitions, "start": c.Start, "interval": nil, "disorder": c.Disorder,
	}
	if diff := cmp.Diff(want, byName); diff != "" {
		t.Errorf("spec defaults differ from the decoder's (-decoder +spec):\n%s", diff)
	}
}

func TestREADME(t *testing.T) {
	t.Parallel()
	sdktest.CheckREADME(t, "README.md", Plugin().Spec, *update)
}

func BenchmarkRead(b *testing.B) {
	for _, bc := range []struct{ name, fields string }{
		{"counter", `{"i": "i"}`},
		{"payments", `{
			"payment_id": "sprintf(\"p-%06d\", i)",
			"store_id": "zipf(50, 1.1)",
			"amount": "round(uniform(1, 200), 2)",
			"channel": "choice([\"web\", \"store\", \"app\"])",
			"event_time": "event_time"
		}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := open(b, `{"disorder": "1s", "fields": `+bc.fields+`}`)
			ctx := context.Background()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				batch, err := src.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n += len(batch.Messages)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.RunSource(t, sdktest.SourceCase{
		Plugin: Plugin(),
		Config: []byte(`{"count": 10, "partitions": 3, "fields": {"n": "i", "x": "randint(100)"}}`),
		BadConfigs: map[string][]byte{
			"no-fields":     []byte(`{"count": 10, "fields": {}}`),
			"bad-expr":      []byte(`{"count": 10, "fields": {"n": "i +"}}`),
			"negative":      []byte(`{"count": -1, "fields": {"n": "i"}}`),
			"unknown-field": []byte(`{"count": 10, "fields": {"n": "i"}, "cuont": 1}`),
		},
	})
}
