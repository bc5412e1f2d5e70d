package window

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/agg"
	"github.com/flowctl/flowctl/runtime/schema"
)

// exactRows compares rows exactly: decimals by value and exponent, floats
// by their bits, times by instant and zone.
var exactRows = cmp.Options{
	cmp.AllowUnexported(emitted{}),
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() }),
	cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }),
	cmp.Comparer(func(a, b time.Time) bool {
		an, ao := a.Zone()
		bn, bo := b.Zone()
		return a.Equal(b) && an == bn && ao == bo
	}),
}

// sameRows reports whether the rows are equal as exactRows compares
// them; much faster than cmp, which then explains a difference.
func sameRows(a, b []emitted) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.call != y.call || x.Span != y.Span || x.Final != y.Final || !sameValue(x.Key, y.Key) || !sameValue(x.Values, y.Values) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case decimal.Decimal:
		y, ok := b.(decimal.Decimal)
		return ok && x.Equal(y) && x.Exponent() == y.Exponent()
	case nil, bool, int64, string, time.Duration:
		return a == b
	}
	return cmp.Equal(a, b, exactRows)
}

// snapshotRestore snapshots op and restores it under cfg, through a
// bufio.Reader or a plain reader.
func snapshotRestore(t testing.TB, op *Operator, cfg Config, plain bool) (*Operator, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	data := bytes.Clone(buf.Bytes())
	var r io.Reader = bufio.NewReader(&buf)
	if plain {
		r = struct{ io.Reader }{&buf}
	}
	op2, err := Restore(cfg, r)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return op2, data
}

var everyKind = []schema.Kind{
	schema.Int, schema.Float, schema.Decimal, schema.Duration, schema.String, schema.Bool,
	schema.Timestamp, schema.List, schema.Object, schema.Any,
}

// everyFunc returns every aggregate applied to every kind it takes.
func everyFunc(t testing.TB) []*agg.Func {
	t.Helper()
	c, err := agg.NewNoArg(agg.Count)
	if err != nil {
		t.Fatal(err)
	}
	fs := []*agg.Func{c}
	for _, name := range []string{agg.Count, agg.Sum, agg.Avg, agg.Min, agg.Max, agg.First, agg.Last, agg.CountDistinct, agg.ApproxCountDistinct, agg.ApproxPercentile} {
		for _, k := range everyKind {
			typ := schema.Type{Kind: k}
			if k == schema.Decimal {
				typ.Precision, typ.Scale = 12, 2
			}
			if f, err := agg.New(name, typ, 0.9); err == nil {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

var cest = time.FixedZone("CEST", 2*3600)

// anyValue returns a random value of kind k, edge values included.
func anyValue(rng *rand.Rand, k schema.Kind) any {
	if rng.IntN(12) == 0 {
		return nil
	}
	if k == schema.Any {
		k = everyKind[rng.IntN(len(everyKind)-1)]
	}
	switch k {
	case schema.Int:
		if rng.IntN(20) == 0 {
			return int64(math.MaxInt64 - rng.Int64N(3))
		}
		return rng.Int64N(2000) - 1000
	case schema.Float:
		if rng.IntN(20) == 0 {
			return math.Copysign(0, -1)
		}
		return rng.NormFloat64() * 1e3
	case schema.Decimal:
		if rng.IntN(10) == 0 {
			return decimal.New(rng.Int64N(1e18), int32(rng.IntN(5)+20))
		}
		return decimal.New(rng.Int64N(200000)-100000, -int32(rng.IntN(4)))
	case schema.Duration:
		return time.Duration(rng.Int64N(1e12))
	case schema.String:
		return fmt.Sprintf("s%d", rng.IntN(300))
	case schema.Bool:
		return rng.IntN(2) == 0
	case schema.Timestamp:
		ts := time.Unix(1.7e9+rng.Int64N(1e6), rng.Int64N(1e9))
		if rng.IntN(2) == 0 {
			return ts.In(cest)
		}
		return ts.UTC()
	case schema.List:
		return []any{int64(rng.IntN(5)), "x", []any{nil, true}}
	case schema.Object:
		return map[string]any{"n": int64(rng.IntN(5)), "b": []byte{1, 2}, "d": decimal.RequireFromString("1.50")}
	}
	return nil
}

// snapKeys are group keys of every value kind.
var snapKeys = [][]any{
	{"hot"},
	{"k", int64(-3)},
	{nil, 2.5, true, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), decimal.RequireFromString("1.5"), []byte{0, 1}, time.Minute},
	{[]any{"x", int64(1)}, map[string]any{"a": "b"}},
	{},
}

type snapRec struct {
	key  []any
	t    int64
	args []any
}

// snapRecords makes records for the aggregates fs: times mostly
// increasing, some late; the first key gets enough values to leave the
// exact percentile.
func snapRecords(rng *rand.Rand, fs []*agg.Func, n int) []snapRec {
	recs := make([]snapRec, n)
	for i := range recs {
		k := snapKeys[0]
		if rng.IntN(3) == 0 {
			k = snapKeys[rng.IntN(len(snapKeys))]
		}
		ts := int64(i)/10 - int64(rng.IntN(25))
		args := make([]any, len(fs))
		for j, f := range fs {
			if f.NoArg() {
				continue
			}
			for range 5 {
				if v := anyValue(rng, f.Arg().Kind); f.Check(v) == nil {
					args[j] = v
					break
				}
			}
		}
		recs[i] = snapRec{k, ts, args}
	}
	return recs
}

// feed adds recs to op, advancing the watermark to 15 behind the largest
// time every 10 records and flushing at random; it returns the rows with
// the index of the record after which they came.
func feed(t testing.TB, op *Operator, recs []snapRec, from int, seed uint64) []emitted {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(from)))
	var rows []emitted
	call := 0
	emit := func(r Row) { rows = append(rows, emitted{r, call}) }
	maxT := int64(math.MinInt64)
	for i, r := range recs {
		call = from + i
		if _, err := op.Add(r.key, r.t, r.args); err != nil {
			t.Fatalf("record %d: %v", from+i, err)
		}
		maxT = max(maxT, r.t)
		if i%10 == 9 {
			op.Advance(maxT-15, emit)
		}
		if rng.IntN(7) == 0 {
			op.Flush(emit)
		}
	}
	return rows
}

// TestSnapshotEveryAggregate: for every window kind and every aggregate
// of every argument kind, an operator restored halfway emits the rows of
// the one that went on, and saves the same bytes.
func TestSnapshotEveryAggregate(t *testing.T) {
	specs := []Spec{{Kind: Global}, {Kind: Tumbling, Size: 10}, {Kind: Sliding, Size: 30, Slide: 10}, {Kind: Session, Gap: 3}}
	for _, spec := range specs {
		for i, f := range everyFunc(t) {
			t.Run(spec.Kind.String()+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(uint64(i), uint64(spec.Kind)))
				cfg := Config{Spec: spec, Aggs: []*agg.Func{f}, AllowedLateness: 8, Emit: Emit(i % 2)}
				recs := snapRecords(rng, cfg.Aggs, 1500)
				a := NewOperator(cfg)
				feed(t, a, recs[:1000], 0, 1)
				b, data := snapshotRestore(t, a, cfg, i%3 == 0)
				if f.Name() != agg.ApproxCountDistinct { // a sketch's encoding is not canonical
					_, again := snapshotRestore(t, b, cfg, false)
					if !bytes.Equal(data, again) {
						t.Errorf("the restored operator saves other bytes")
					}
				}
				if a.OpenWindows() != b.OpenWindows() || a.Watermark() != b.Watermark() {
					t.Fatalf("restored %d windows at %d, want %d at %d", b.OpenWindows(), b.Watermark(), a.OpenWindows(), a.Watermark())
				}
				want := feed(t, a, recs[1000:], 1000, 2)
				got := feed(t, b, recs[1000:], 1000, 2)
				a.Advance(math.MaxInt64, func(r Row) { want = append(want, emitted{r, -1}) })
				b.Advance(math.MaxInt64, func(r Row) { got = append(got, emitted{r, -1}) })
				if len(want) == 0 {
					t.Fatal("no rows")
				}
				if !sameRows(want, got) {
					t.Fatalf("rows after restore (-went on +restored):\n%s", cmp.Diff(want, got, exactRows))
				}
			})
		}
	}
}

// step is one call of a stream run.
type step struct {
	op int // stepAdd, stepAdvance or stepFlush
	i  int // record, for stepAdd
	wm int64
}

const (
	stepAdd = iota
	stepAdvance
	stepFlush
)

// scenarioSteps is a stream run of sc (as run in reference_test.go), or
// a batch run.
func scenarioSteps(sc *scenario, stream bool, rng *rand.Rand) []step {
	var steps []step
	maxT := int64(math.MinInt64)
	for i, r := range sc.recs {
		steps = append(steps, step{op: stepAdd, i: i})
		if !stream {
			continue
		}
		maxT = max(maxT, r.t)
		steps = append(steps, step{op: stepAdvance, wm: maxT - sc.delay})
		if rng.IntN(3) == 0 {
			steps = append(steps, step{op: stepFlush})
		}
	}
	return append(steps, step{op: stepAdvance, wm: math.MaxInt64}, step{op: stepFlush})
}

// execute runs steps, snapshotting and restoring the operator before the
// steps in cuts.
func execute(t *testing.T, sc *scenario, steps []step, cuts map[int]bool) (late []bool, rows []emitted) {
	t.Helper()
	cfg := Config{Spec: sc.spec, Aggs: sc.funcs(t), AllowedLateness: sc.lateness, Emit: sc.emit}
	op := NewOperator(cfg)
	late = make([]bool, len(sc.recs))
	for n, st := range steps {
		if cuts[n] {
			op, _ = snapshotRestore(t, op, cfg, n%2 == 0)
		}
		emit := func(r Row) { rows = append(rows, emitted{r, n}) }
		switch st.op {
		case stepAdd:
			r := sc.recs[st.i]
			l, err := op.Add(r.key, r.t, argsFor(r))
			if err != nil {
				t.Fatalf("record %d: %v", st.i, err)
			}
			late[st.i] = l
		case stepAdvance:
			op.Advance(st.wm, emit)
		case stepFlush:
			op.Flush(emit)
		}
	}
	if n := op.OpenWindows(); n != 0 {
		t.Errorf("%d windows left after +inf", n)
	}
	return late, rows
}

// TestSnapshotMatchesUninterrupted: random scenarios of the reference
// tests, stream (bounded and unbounded disorder, with allowed lateness,
// emit final and updates) and batch, run once straight through and once
// snapshotted and restored at random points; the late verdicts and every
// row, in order, must be the same, and must match the reference.
func TestSnapshotMatchesUninterrupted(t *testing.T) {
	for _, kind := range windowKinds {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			seeds := uint64(150)
			if testing.Short() {
				seeds = 30
			}
			for seed := range seeds {
				rng := rand.New(rand.NewPCG(seed, 300+uint64(kind)))
				bounded := rng.IntN(2) == 0
				sc := newScenario(rng, kind, bounded)
				stream := rng.IntN(5) != 0
				steps := scenarioSteps(sc, stream, rng)
				cuts := map[int]bool{}
				for range 1 + rng.IntN(3) {
					cuts[rng.IntN(len(steps))] = true
				}
				wantLate, want := execute(t, sc, steps, nil)
				gotLate, got := execute(t, sc, steps, cuts)
				if diff := cmp.Diff(wantLate, gotLate); diff != "" {
					t.Fatalf("seed %d: %v: late verdicts (-straight +restored):\n%s", seed, sc, diff)
				}
				if !sameRows(want, got) {
					t.Fatalf("seed %d: %v: cut before steps %v: rows (-straight +restored):\n%s", seed, sc, cuts, cmp.Diff(want, got, exactRows))
				}
				if stream {
					_, ref := refStream(sc)
					compare(t, sc, got, ref)
				} else {
					compare(t, sc, got, refBatch(sc, sc.recs))
				}
				if t.Failed() {
					t.Fatalf("seed %d failed", seed)
				}
			}
		})
	}
}

// TestSnapshotEmpty: a new operator and one whose windows all closed
// restore as empty, with their watermark.
func TestSnapshotEmpty(t *testing.T) {
	cfg := Config{Spec: Spec{Kind: Session, Gap: 5}, Aggs: mustFuncs(t, schema.Int, agg.Sum)}
	op := NewOperator(cfg)
	got, _ := snapshotRestore(t, op, cfg, false)
	if got.Watermark() != math.MinInt64 || got.OpenWindows() != 0 {
		t.Errorf("restored new operator: watermark %d, %d windows", got.Watermark(), got.OpenWindows())
	}
	if _, err := op.Add([]any{"a"}, 1, []any{int64(2)}); err != nil {
		t.Fatal(err)
	}
	op.Advance(100, func(Row) {})
	got, _ = snapshotRestore(t, op, cfg, true)
	if got.Watermark() != 100 || got.OpenWindows() != 0 {
		t.Errorf("restored drained operator: watermark %d, %d windows", got.Watermark(), got.OpenWindows())
	}
}

// TestSnapshotKeyChurn: a snapshot after keys came and went holds only the
// live keys, and the key data stays bounded.
func TestSnapshotKeyChurn(t *testing.T) {
	cfg := Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Int, agg.Sum)}
	op := NewOperator(cfg)
	for i := range int64(100000) {
		ts := i / 100
		if _, err := op.Add([]any{fmt.Sprint("key-", i)}, ts, []any{i}); err != nil {
			t.Fatal(err)
		}
		op.Advance(ts-1, func(Row) {})
	}
	if n := len(op.keyData); n > 64<<10 {
		t.Errorf("key data of %d bytes for about 1000 live keys", n)
	}
	got, data := snapshotRestore(t, op, cfg, false)
	if got.OpenWindows() != op.OpenWindows() || got.index.n != op.index.n {
		t.Errorf("restored %d windows and %d keys, want %d and %d", got.OpenWindows(), got.index.n, op.OpenWindows(), op.index.n)
	}
	if len(data) > 64<<10 {
		t.Errorf("snapshot of %d bytes", len(data))
	}
}

// TestRestoreReadsExactly: through an io.ByteReader, Restore leaves what
// follows the snapshot unread.
func TestRestoreReadsExactly(t *testing.T) {
	cfg := Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Int, "count()")}
	var buf bytes.Buffer
	for i := range 3 {
		op := NewOperator(cfg)
		if _, err := op.Add([]any{int64(i)}, 1, []any{nil}); err != nil {
			t.Fatal(err)
		}
		if err := op.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("tail")
	r := bufio.NewReader(&buf)
	for i := range 3 {
		op, err := Restore(cfg, r)
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		var rows []Row
		op.Advance(math.MaxInt64, collect(&rows))
		if len(rows) != 1 || rows[0].Key[0] != int64(i) {
			t.Errorf("snapshot %d: rows %v", i, rows)
		}
	}
	if rest, _ := io.ReadAll(r); string(rest) != "tail" {
		t.Errorf("left %q", rest)
	}
}

func testSnapshot(t *testing.T) (Config, []byte) {
	t.Helper()
	cfg := Config{Spec: Spec{Kind: Session, Gap: 5}, Aggs: mustFuncs(t, schema.Any, "count()", agg.Sum, agg.Max), Emit: Updates, AllowedLateness: 10}
	op := NewOperator(cfg)
	for i := range int64(40) {
		if _, err := op.Add([]any{fmt.Sprint("k", i%4)}, i*3, []any{nil, i, fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	op.Advance(60, func(Row) {})
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return cfg, buf.Bytes()
}

func TestRestoreErrors(t *testing.T) {
	cfg, data := testSnapshot(t)
	withByte := func(i int, b byte) []byte {
		c := bytes.Clone(data)
		c[i] = b
		return c
	}
	other := cfg
	other.Spec.Gap = 6
	other.Aggs = mustFuncs(t, schema.Any, "count()", agg.Sum, agg.Min)
	other.Emit = Final
	tests := []struct {
		name string
		cfg  Config
		data []byte
		want string
	}{
		{"empty", cfg, nil, "corrupt window snapshot: frame 0 at byte 0: truncated at byte 0"},
		{"not a snapshot", cfg, []byte("FLOWWIX\x00\x01\x00"), "corrupt window snapshot: not a window snapshot"},
		{"version", cfg, withByte(8, 2), "window snapshot version 2 is not supported (this build reads version 1)"},
		{"flipped bit", cfg, withByte(40, data[40]^4), "corrupt window snapshot: frame 1 at byte 10: checksum mismatch"},
		{"bad frame length", cfg, append(bytes.Clone(data[:10]), 'H', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "corrupt window snapshot: frame 1 at byte 10: bad frame length"},
		{"huge frame", cfg, append(bytes.Clone(data[:10]), 'H', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3), "corrupt window snapshot: frame 1 at byte 10: truncated at byte 23"},
		{"other config", other, data, "window state was saved with another configuration: " +
			"window changed from session gap 5ns to session gap 6ns; aggregate 3 changed from max(any) to min(any); emit changed from updates to final"},
		{"invalid config", Config{Spec: Spec{Kind: Tumbling}}, data, "restore window state: tumbling window size must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Restore(tt.cfg, bytes.NewReader(tt.data))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Restore = %v,\nwant %s", err, tt.want)
			}
		})
	}
	var mismatch *ConfigMismatchError
	if _, err := Restore(other, bytes.NewReader(data)); !errors.As(err, &mismatch) || mismatch.Saved != cfg.Describe() {
		t.Errorf("config mismatch: %v", err)
	}
	// Every truncation is an ErrCorrupt, through either kind of reader.
	for n := range len(data) {
		_, err := Restore(cfg, bytes.NewReader(data[:n]))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
		_, err = Restore(cfg, struct{ io.Reader }{bytes.NewReader(data[:n])})
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes, plain reader: %v", n, err)
		}
	}
	// Any changed byte after the version is caught.
	for i := 10; i < len(data); i++ {
		_, err := Restore(cfg, bytes.NewReader(withByte(i, data[i]+1)))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	// A read error is reported as such.
	_, err := Restore(cfg, io.MultiReader(bytes.NewReader(data[:30]), errReader{}))
	if err == nil || err.Error() != "read window state: disk on fire" {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestRestoreChecksState: snapshots whose frames are well formed but whose
// state is impossible are refused, saying why.
func TestRestoreChecksState(t *testing.T) {
	cfg := Config{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: mustFuncs(t, schema.Int, agg.Sum)}
	chunk := func(payload ...[]byte) []byte {
		var b bytes.Buffer
		b.WriteString(snapshotMagic + "\x01\x00")
		var wm [binary.MaxVarintLen64]byte
		h := append([]byte{byte(len(cfg.Describe()))}, cfg.Describe()...)
		h = append(h, wm[:binary.PutVarint(wm[:], 100)]...)
		h = append(h, 0, 1, 1, 3)
		writeFrame(&b, frameHeader, h)
		for _, p := range payload {
			writeFrame(&b, frameChunk, p)
		}
		writeFrame(&b, frameEnd, []byte{1, 1})
		return b.Bytes()
	}
	key := []byte{3, 5, 1, 'a'} // len 3, then agg.AppendKey of "a"
	sum := []byte{2, 1, 4}      // state of 2 bytes: has, varint 2
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"valid", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 0}, sum)), ""},
		{"off grid", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf2, 0x01, 0, 0}, sum)), "frame 2 at byte 97: key 0: window 0: start 121 is not a window start"},
		{"expired", chunk(cat([]byte{1, 1}, key, []byte{1, 0x10, 0, 0}, sum)), "frame 2 at byte 97: key 0: window 0: window ending at 18 expired at watermark 100"},
		{"pending open", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 1, 0}, sum)), "frame 2 at byte 97: key 0: window 0: an open window has a row to emit again"},
		{"dirty in final", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 2, 0}, sum)), "frame 2 at byte 97: key 0: window 0: a window is marked changed for emit: updates"},
		{"unknown flag", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 8, 0}, sum)), "frame 2 at byte 97: key 0: window 0: unknown flags 0x8"},
		{"bad key", chunk(cat([]byte{1, 1}, []byte{1, 99}, []byte{1, 0xf0, 0x01, 0, 0}, sum)), "frame 2 at byte 97: key 0: malformed key encoding"},
		{"bad order", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 1}, sum)), "frame 3 at byte 117: window 1 of the 1 ending at 130 is listed twice or out of range"},
		{"bad state", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 0}, []byte{2, 7, 4})), "frame 2 at byte 97: aggregate 1 (sum(int)): bad tag 7"},
		{"state left over", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 0}, []byte{3, 1, 4, 0})), "frame 2 at byte 97: aggregate 1 (sum(int)): 1 bytes left over"},
		{"no windows", chunk(cat([]byte{1, 1}, key, []byte{0}, sum)), "frame 2 at byte 97: key 0: 0 windows"},
		{"duplicate key", chunk(cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 0}, sum), cat([]byte{1, 1}, key, []byte{1, 0xf0, 0x01, 0, 0}, sum)), "frame 3 at byte 117: key 0: the key is listed twice"},
		{"totals", chunk(), "frame 2 at byte 97: read 0 keys and 0 windows; the header says 1 and 1, the end 1 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := Restore(cfg, bytes.NewReader(tt.data))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				var rows []Row
				op.Advance(math.MaxInt64, collect(&rows))
				want := []Row{{Span: Span{120, 130}, Key: []any{"a"}, Values: []any{int64(2)}, Final: true}}
				if diff := cmp.Diff(want, rows); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				return
			}
			want := "corrupt window snapshot: " + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("Restore = %v,\nwant %s", err, want)
			}
		})
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func writeFrame(w *bytes.Buffer, kind byte, payload []byte) {
	start := w.Len()
	w.WriteByte(kind)
	w.Write(binary.AppendUvarint(nil, uint64(len(payload))))
	w.Write(payload)
	crc := crc32.Checksum(w.Bytes()[start:], castagnoli)
	w.Write(binary.LittleEndian.AppendUint32(nil, crc))
}

func TestDescribe(t *testing.T) {
	fs := func(names ...string) []*agg.Func { return mustFuncs(t, schema.Int, names...) }
	p90, err := agg.New(agg.ApproxPercentile, schema.Type{Kind: schema.Float, Optional: true}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	decSum, err := agg.New(agg.Sum, schema.Type{Kind: schema.Decimal, Precision: 12, Scale: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Spec: Spec{Kind: Global}}, "window=global; aggregates=; emit=final; allowed_lateness=0s"},
		{Config{Spec: Spec{Kind: Tumbling, Size: int64(time.Hour)}, Aggs: fs("count()", agg.Sum)},
			"window=tumbling 1h; aggregates=count(), sum(int); emit=final; allowed_lateness=0s"},
		{Config{Spec: Spec{Kind: Sliding, Size: int64(90 * time.Minute), Slide: int64(30 * time.Second)}, Aggs: []*agg.Func{p90, decSum}, Emit: Updates, AllowedLateness: int64(time.Minute)},
			"window=sliding 1h30m every 30s; aggregates=approx_percentile(float,0.9), sum(decimal(12,2)); emit=updates; allowed_lateness=1m"},
		{Config{Spec: Spec{Kind: Session, Gap: int64(1500 * time.Millisecond)}, AllowedLateness: int64(36*time.Hour + time.Second)},
			"window=session gap 1.5s; aggregates=; emit=final; allowed_lateness=36h0m1s"},
	}
	for _, tt := range tests {
		if got := tt.cfg.Describe(); got != tt.want {
			t.Errorf("Describe() = %q, want %q", got, tt.want)
		}
	}
}

func TestConfigMismatchError(t *testing.T) {
	hour := Config{Spec: Spec{Kind: Tumbling, Size: int64(time.Hour)}, Aggs: mustFuncs(t, schema.Int, "count()", agg.Sum)}
	half := hour
	half.Spec.Size = int64(30 * time.Minute)
	more := hour
	more.Aggs = mustFuncs(t, schema.Int, "count()", agg.Sum, agg.Avg)
	late := hour
	late.AllowedLateness = int64(time.Minute)
	tests := []struct {
		saved, current string
		want           string
	}{
		{hour.Describe(), half.Describe(), "window changed from tumbling 1h to tumbling 30m"},
		{hour.Describe(), more.Describe(), "aggregates changed from [count(), sum(int)] to [count(), sum(int), avg(int)]"},
		{hour.Describe(), late.Describe(), "allowed_lateness changed from 0s to 1m"},
		{"window=global; shards=4", "window=global", "shards 4 was removed"},
		{"window=global", "window=global; shards=4", "shards 4 is new"},
		{"garbage", hour.Describe(), `configuration changed from "garbage" to "` + hour.Describe() + `"`},
	}
	for _, tt := range tests {
		err := &ConfigMismatchError{Saved: tt.saved, Current: tt.current}
		if got := err.Error(); got != "window state was saved with another configuration: "+tt.want {
			t.Errorf("%q → %q:\n got %s\nwant %s", tt.saved, tt.current, got, tt.want)
		}
	}
}

// goldenOperator is a fixed state of every window kind's concerns:
// sessions closed and open with lateness, updates, every aggregate with
// a canonical encoding.
func goldenOperator(t *testing.T) (Config, *Operator) {
	t.Helper()
	var fs []*agg.Func
	for _, f := range everyFunc(t) {
		if f.Name() != agg.ApproxCountDistinct {
			fs = append(fs, f)
		}
	}
	cfg := Config{Spec: Spec{Kind: Session, Gap: 4}, Aggs: fs, AllowedLateness: 10, Emit: Updates}
	op := NewOperator(cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, r := range snapRecords(rng, fs, 60) {
		if _, err := op.Add(r.key, r.t, r.args); err != nil {
			t.Fatal(err)
		}
		if i == 40 {
			op.Advance(2, func(Row) {})
		}
	}
	return cfg, op
}

// TestSnapshotGolden pins format version 1: the bytes of a fixed state,
// and that they restore to it.
func TestSnapshotGolden(t *testing.T) {
	cfg, op := goldenOperator(t)
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "snapshot_v1.hex")
	got := hex.Dump(buf.Bytes())
	if *rewrite {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantHex, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(wantHex), got); diff != "" {
		t.Fatalf("%s changed (-want +got); a format change needs a new version:\n%s", path, diff)
	}
	want := undump(t, string(wantHex))
	restored, err := Restore(cfg, bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	var a, b []Row
	op.Advance(math.MaxInt64, collect(&a))
	restored.Advance(math.MaxInt64, collect(&b))
	if diff := cmp.Diff(a, b, exactRows); diff != "" {
		t.Errorf("rows of the golden snapshot (-want +got):\n%s", diff)
	}
}

// undump reads hex.Dump output back.
func undump(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for line := range strings.Lines(s) {
		if len(line) < 60 {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(line[10:58], " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// fixChecksums recomputes the checksum of every frame it can parse, so
// that fuzzed snapshots reach the decoders behind the checksums.
func fixChecksums(b []byte) []byte {
	b = bytes.Clone(b)
	i := len(snapshotMagic) + 2
	for i < len(b) {
		start := i
		n, m := binary.Uvarint(b[i+1:])
		if m <= 0 || n > uint64(len(b)-i-1-m) {
			break
		}
		i += 1 + m + int(n)
		if len(b)-i < 4 {
			break
		}
		binary.LittleEndian.PutUint32(b[i:], crc32.Checksum(b[start:i], castagnoli))
		i += 4
	}
	return b
}

func fuzzConfigs(t testing.TB) []Config {
	aggs := mustFuncs(t, schema.Any, "count()", agg.Sum, agg.Avg, agg.Min, agg.Max, agg.First, agg.Last, agg.CountDistinct, agg.ApproxCountDistinct, agg.ApproxPercentile)
	return []Config{
		{Spec: Spec{Kind: Tumbling, Size: 10}, Aggs: aggs, AllowedLateness: 5},
		{Spec: Spec{Kind: Sliding, Size: 30, Slide: 10}, Aggs: aggs, Emit: Updates},
		{Spec: Spec{Kind: Session, Gap: 4}, Aggs: aggs, AllowedLateness: 10, Emit: Updates},
		{Spec: Spec{Kind: Global}, Aggs: mustFuncs(t, schema.Int, "count()", agg.Sum)},
	}
}

// FuzzRestore: no input makes Restore panic, with or without valid
// checksums; and an operator restored from a fuzzed snapshot works, saves
// a snapshot that restores, and both go on alike.
func FuzzRestore(f *testing.F) {
	configs := fuzzConfigs(f)
	for i, cfg := range configs {
		op := NewOperator(cfg)
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for j, r := range snapRecords(rng, cfg.Aggs, 40) {
			args := r.args
			for k := range args {
				if cfg.Aggs[k].Check(args[k]) != nil {
					args[k] = nil
				}
			}
			if _, err := op.Add(r.key, r.t, args); err != nil {
				f.Fatal(err)
			}
			if j == 30 {
				op.Advance(1, func(Row) {})
			}
		}
		var buf bytes.Buffer
		if err := op.Snapshot(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		cfg := configs[int(which)%len(configs)]
		op, err := Restore(cfg, bytes.NewReader(data))
		if err != nil {
			if op, err = Restore(cfg, bytes.NewReader(fixChecksums(data))); err != nil {
				return
			}
		}
		var buf bytes.Buffer
		if err := op.Snapshot(&buf); err != nil {
			t.Fatalf("Snapshot of a restored operator: %v", err)
		}
		op2, err := Restore(cfg, &buf)
		if err != nil {
			t.Fatalf("Restore of a restored operator's snapshot: %v", err)
		}
		var a, b []Row
		for _, o := range []*Operator{op, op2} {
			rows := &a
			if o == op2 {
				rows = &b
			}
			args := make([]any, len(cfg.Aggs))
			args[1] = int64(1)
			if _, err := o.Add([]any{"new"}, o.Watermark()/2, args); err != nil {
				t.Fatal(err)
			}
			o.Flush(collect(rows))
			o.Advance(math.MaxInt64, collect(rows))
		}
		if diff := cmp.Diff(a, b, exactRows); diff != "" {
			t.Fatalf("restored twice (-once +twice):\n%s", diff)
		}
	})
}

// openWindows returns an operator holding n keys with one open tumbling
// window each, with count and sum.
func openWindows(b *testing.B, n int) (Config, *Operator) {
	b.Helper()
	cfg := Config{Spec: Spec{Kind: Tumbling, Size: int64(time.Minute)}, Aggs: mustFuncs(b, schema.Int, "count()", agg.Sum)}
	op := NewOperator(cfg)
	args := []any{nil, int64(0)}
	key := []any{""}
	for i := range n {
		key[0] = fmt.Sprintf("store-%07d", i)
		args[1] = int64(i % 1000)
		if _, err := op.Add(key, int64(i), args); err != nil {
			b.Fatal(err)
		}
	}
	return cfg, op
}

// BenchmarkSnapshot1M snapshots 1M keys in open tumbling windows with
// count and sum to memory and to a file (not synced).
func BenchmarkSnapshot1M(b *testing.B) {
	const n = 1_000_000
	_, op := openWindows(b, n)
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		b.Fatal(err)
	}
	size := buf.Len()
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := op.Snapshot(&buf); err != nil {
				b.Fatal(err)
			}
		}
		reportSnapshot(b, size, n)
	})
	b.Run("file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "snap")
		for b.Loop() {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := op.Snapshot(f); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
		reportSnapshot(b, size, n)
	})
}

// BenchmarkRestore1M restores the snapshot of BenchmarkSnapshot1M, and
// reports the heap the restored operator holds per key-window.
func BenchmarkRestore1M(b *testing.B) {
	const n = 1_000_000
	cfg, op := openWindows(b, n)
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		b.Fatal(err)
	}
	op = nil
	data := buf.Bytes()
	var perWindow float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := Restore(cfg, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got.OpenWindows() != n {
			b.Fatalf("%d windows", got.OpenWindows())
		}
		perWindow = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(got)
	}
	reportSnapshot(b, len(data), n)
	b.ReportMetric(perWindow, "bytes/key-window")
}

func reportSnapshot(b *testing.B, size, n int) {
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(size)/float64(n), "bytes/window")
	b.ReportMetric(0, "ns/op")
}
