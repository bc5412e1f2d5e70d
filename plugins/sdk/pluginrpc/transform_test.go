package pluginrpc

import (
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// valueOpts compare values that crossed the transport: decimals by value
// and scale, times as instants in UTC, NaNs equal.
var valueOpts = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == time.UTC && b.Location() == time.UTC }),
	cmpopts.EquateNaNs(),
}

// randomValue returns a random value of the SDK's value types.
func randomValue(rng *rand.Rand, depth int) any {
	n := 13
	if depth > 3 {
		n = 11
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return sdk.Absent
	case 2:
		return rng.IntN(2) == 0
	case 3:
		return []int64{0, -1, 255, 256, math.MaxInt64, math.MinInt64, rng.Int64()}[rng.IntN(7)]
	case 4:
		return []float64{0, math.Copysign(0, -1), -2.25e300, math.Inf(1), math.NaN(), rng.NormFloat64()}[rng.IntN(6)]
	case 5:
		return randomString(rng)
	case 6:
		return []byte(randomString(rng))
	case 7:
		// From before 1678 to after 2262, outside int64 nanoseconds.
		return time.Unix(rng.Int64N(400_000_000_000)-200_000_000_000, rng.Int64N(1e9)).UTC()
	case 8:
		return time.Duration(rng.Int64() - rng.Int64())
	case 9:
		exp := int32(rng.IntN(16) - 12)
		if rng.IntN(4) == 0 {
			coef, _ := new(big.Int).SetString("-98765432109876543210987654321", 10)
			return decimal.NewFromBigInt(coef, exp)
		}
		return decimal.New(rng.Int64N(2_000_000)-1_000_000, exp)
	case 10:
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
	case 11:
		l := make([]any, rng.IntN(4))
		for i := range l {
			l[i] = randomValue(rng, depth+1)
		}
		return l
	default:
		m := make(map[string]any, 3)
		for range rng.IntN(4) {
			m[randomString(rng)] = randomValue(rng, depth+1)
		}
		return m
	}
}

func randomString(rng *rand.Rand) string {
	runes := []rune("aZ09 _-\"\\\n\té€😀")
	var b strings.Builder
	for range rng.IntN(12) {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

// identity is a transform that returns its input, so that rows cross the
// transport both ways.
type identity struct{}

func (identity) Open(_ context.Context, req sdk.TransformOpenRequest) ([]string, error) {
	if string(req.Config) == `{"fail": true}` {
		return nil, &sdk.ConfigError{Path: "fail", Msg: "asked to fail"}
	}
	return append(req.Columns, "extra"), nil
}

func (identity) Process(_ context.Context, in sdk.Rows) (sdk.Rows, error) {
	if len(in.Rows) == 0 {
		return sdk.Rows{}, sdk.ErrBackoff
	}
	return in, nil
}

func (identity) Close(context.Context) error { return nil }

var identityPlugin = sdk.Plugin{
	Spec:         sdk.Spec{Name: "identity", Kind: sdk.KindTransform},
	NewTransform: func() sdk.Transform { return identity{} },
}

// TestValueRoundTrip sends random rows of every value kind through a
// remote transform and back.
func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	c := serve(t, identityPlugin)
	ctx := context.Background()
	tr := c.NewTransform("identity")
	columns := []string{"a", "b", "c", "d"}
	out, err := tr.Open(ctx, sdk.TransformOpenRequest{Columns: columns})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "extra"}, out); diff != "" {
		t.Errorf("output columns (-want +got):\n%s", diff)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 20 {
		in := sdk.Rows{Columns: columns}
		for range rng.IntN(300) + 1 {
			row := make([]any, len(columns))
			for i := range row {
				row[i] = randomValue(rng, 0)
			}
			in.Rows = append(in.Rows, row)
		}
		got, err := tr.Process(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, got, valueOpts); diff != "" {
			t.Fatalf("round %d (-sent +received):\n%s", round, diff)
		}
	}
	if _, err := tr.Process(ctx, sdk.Rows{Columns: columns}); err != sdk.ErrBackoff {
		t.Errorf("Process() error = %v, want sdk.ErrBackoff", err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.NewTransform("identity").Open(ctx, sdk.TransformOpenRequest{Config: []byte(`{"fail": true}`)})
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || *ce != (sdk.ConfigError{Path: "fail", Msg: "asked to fail"}) {
		t.Errorf("Open() error = %v, want the configuration error", err)
	}
}

// batches is a source that returns the batches it is given.
type batches struct{ list []sdk.Batch }

func (s *batches) Open(context.Context, sdk.OpenRequest) error { return nil }
func (s *batches) Close(context.Context) error                 { return nil }

func (s *batches) Read(context.Context) (sdk.Batch, error) {
	if len(s.list) == 0 {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	b := s.list[0]
	s.list = s.list[1:]
	return b, nil
}

// randomBatch returns a batch of messages with every part set in turn:
// payloads (empty ones too), fields of changing layouts, metadata, times
// in and out of the int64 range, positions and rejections.
func randomBatch(rng *rand.Rand) sdk.Batch {
	var b sdk.Batch
	b.CaughtUp = rng.IntN(2) == 0
	layouts := [][]string{{"a"}, {"a", "b", "c"}, {"c", "b"}}
	for range rng.IntN(200) {
		var m sdk.Message
		if rng.IntN(3) == 0 {
			m.Payload = []byte(randomString(rng))
			if rng.IntN(5) == 0 {
				m.Reject = "bad " + randomString(rng)
			}
		} else {
			for _, name := range layouts[rng.IntN(len(layouts))] {
				m.Fields = append(m.Fields, sdk.Field{Name: name, Value: randomValue(rng, 0)})
			}
		}
		for range rng.IntN(3) {
			m.Meta = append(m.Meta, sdk.Field{Name: randomString(rng), Value: randomValue(rng, 0)})
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			m.Time = time.Unix(0, 0).UTC()
		case 2:
			m.Time = time.Date(9999, 1, 2, 3, 4, 5, 6, time.UTC)
		default:
			m.Time = time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
		}
		m.Position = sdk.Position{
			Partition: []string{"", "p0", "topic/3", randomString(rng)}[rng.IntN(4)],
			Offset:    rng.Int64() - rng.Int64(),
			Line:      rng.Int64N(100),
		}
		b.Messages = append(b.Messages, m)
	}
	return b
}

// TestBatchRoundTrip sends random batches from a remote source, and
// checks the hand-written decoder against the generated encoding too.
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 14))
	var want []sdk.Batch
	for range 30 {
		want = append(want, randomBatch(rng))
	}
	source := sdk.Plugin{
		Spec:      sdk.Spec{Name: "batches", Kind: sdk.KindSource},
		NewSource: func() sdk.Source { return &batches{list: want} },
	}
	c := serve(t, source)
	got, err := readAll(t, c.NewSource("batches"), sdk.OpenRequest{})
	if err != sdk.ErrEndOfInput {
		t.Fatalf("last error %v, want end of input", err)
	}
	var nonEmpty []sdk.Batch
	for _, b := range want {
		if len(b.Messages) > 0 || b.CaughtUp {
			nonEmpty = append(nonEmpty, b)
		}
	}
	if diff := cmp.Diff(nonEmpty, got, valueOpts); diff != "" {
		t.Errorf("batches (-sent +received):\n%s", diff)
	}
	for i, b := range want {
		var r readReply
		if err := r.UnmarshalWire(encodeBatchForTest(t, b)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if diff := cmp.Diff(b, r.batch, valueOpts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("batch %d decoded from the generated encoding (-sent +received):\n%s", i, diff)
		}
	}
}

// BenchmarkDecodeBatch decodes one batch of the simple benchmark's
// events.
func BenchmarkDecodeBatch(b *testing.B) {
	ctx := context.Background()
	src := generateSource(b, `{"fields": {"id": "i", "kind": "'click'", "amount": "i % 1000"}}`)
	batch, err := src.Read(ctx)
	if err != nil {
		b.Fatal(err)
	}
	enc := encodeBatchForTest(b, batch)
	b.ReportAllocs()
	cpu := cpuTime(b, nil)
	for b.Loop() {
		var r readReply
		if err := r.UnmarshalWire(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b, nil)-cpu).Nanoseconds())/float64(b.N*len(batch.Messages)), "cpu-ns/event")
}
