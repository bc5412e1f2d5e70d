package wire

import (
	"bytes"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// absentT stands in for sdk.Absent, which this package cannot import.
type absentT struct{}

var absent any = absentT{}

// valueOpts compare decoded values: decimals by value and scale, times as
// instants in UTC, NaNs equal.
var valueOpts = cmp.Options{
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) && a.Exponent() == b.Exponent() }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == time.UTC && b.Location() == time.UTC }),
	cmpopts.EquateNaNs(),
	cmp.Comparer(func(a, b absentT) bool { return true }),
}

func TestFieldNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg   proto.Message
		field protoreflect.Name
		num   protowire.Number
	}{
		{&pb.SourceReadResponse{}, "batch", ReadResponseBatch},
		{&pb.SourceReadResponse{}, "error", ReadResponseError},
		{&pb.SourceReadResponse{}, "more", ReadResponseMore},
		{&pb.SourceReadResult{}, "batch", ReadResponseBatch},
		{&pb.SourceReadResult{}, "error", ReadResponseError},
		{&pb.Batch{}, "messages", BatchMessages},
		{&pb.Batch{}, "caught_up", BatchCaughtUp},
		{&pb.Batch{}, "layouts", BatchLayouts},
		{&pb.Batch{}, "partitions", BatchPartitions},
		{&pb.Batch{}, "known", BatchKnown},
		{&pb.Layout{}, "names", LayoutNames},
		{&pb.Message{}, "payload", MessagePayload},
		{&pb.Message{}, "layout", MessageLayout},
		{&pb.Message{}, "values", MessageValues},
		{&pb.Message{}, "meta", MessageMeta},
		{&pb.Message{}, "time", MessageTime},
		{&pb.Message{}, "wide_time", MessageWideTime},
		{&pb.Message{}, "partition", MessagePartition},
		{&pb.Message{}, "offset", MessageOffset},
		{&pb.Message{}, "line", MessageLine},
		{&pb.Message{}, "reject", MessageReject},
		{&pb.Field{}, "name", FieldName},
		{&pb.Field{}, "value", FieldValue},
		{&pb.SinkWriteRequest{}, "instance", WriteRequestInstance},
		{&pb.SinkWriteRequest{}, "rows", WriteRequestRows},
		{&pb.TransformProcessRequest{}, "instance", ProcessRequestInstance},
		{&pb.TransformProcessRequest{}, "rows", ProcessRequestRows},
		{&pb.TransformProcessResponse{}, "rows", ProcessResponseRows},
		{&pb.Value{}, "null_value", valueNull},
		{&pb.Value{}, "absent_value", valueAbsent},
		{&pb.Value{}, "bool_value", valueBool},
		{&pb.Value{}, "int_value", valueInt},
		{&pb.Value{}, "double_value", valueDouble},
		{&pb.Value{}, "string_value", valueString},
		{&pb.Value{}, "bytes_value", valueBytes},
		{&pb.Value{}, "timestamp_value", valueTimestamp},
		{&pb.Value{}, "wide_timestamp_value", valueWideTime},
		{&pb.Value{}, "duration_value", valueDuration},
		{&pb.Value{}, "decimal_value", valueDecimal},
		{&pb.Value{}, "list_value", valueList},
		{&pb.Value{}, "map_value", valueMap},
		{&pb.WideTime{}, "seconds", wideSeconds},
		{&pb.WideTime{}, "nanos", wideNanos},
		{&pb.List{}, "values", listValues},
		{&pb.Map{}, "keys", mapKeys},
		{&pb.Map{}, "values", mapValues},
		{&pb.Rows{}, "columns", rowsColumns},
		{&pb.Rows{}, "rows", rowsRows},
		{&pb.Row{}, "values", rowValues},
	}
	for _, tt := range tests {
		md := tt.msg.ProtoReflect().Descriptor()
		f := md.Fields().ByName(tt.field)
		if f == nil {
			t.Errorf("%s has no field %s", md.FullName(), tt.field)
			continue
		}
		if f.Number() != tt.num {
			t.Errorf("%s.%s is field %d, the constant says %d", md.FullName(), tt.field, f.Number(), tt.num)
		}
	}
}

// randomValue returns a random value of the SDK's value types.
func randomValue(rng *rand.Rand, depth int) any {
	n := 13
	if depth > 3 {
		n = 11 // no more nesting
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return absent
	case 2:
		return rng.IntN(2) == 0
	case 3:
		return []int64{0, 1, -1, 255, 256, math.MaxInt64, math.MinInt64, rng.Int64(), -rng.Int64()}[rng.IntN(9)]
	case 4:
		return []float64{0, math.Copysign(0, -1), 1.5, -2.25e300, math.Inf(1), math.Inf(-1), math.NaN(), rng.NormFloat64()}[rng.IntN(8)]
	case 5:
		return randomString(rng)
	case 6:
		return []byte(randomString(rng))
	case 7:
		// From before 1678 to after 2262, outside int64 nanoseconds.
		sec := rng.Int64N(400_000_000_000) - 200_000_000_000
		return time.Unix(sec, rng.Int64N(1e9)).UTC()
	case 8:
		return time.Duration(rng.Int64() - rng.Int64())
	case 9:
		return randomDecimal(rng)
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
	const chars = "aZ09 _-\"\\\n\té€😀"
	runes := []rune(chars)
	var b strings.Builder
	for range rng.IntN(12) {
		b.WriteRune(runes[rng.IntN(len(runes))])
	}
	return b.String()
}

// randomDecimal returns a decimal with a random scale, sometimes with more
// digits than an int64 holds.
func randomDecimal(rng *rand.Rand) decimal.Decimal {
	exp := int32(rng.IntN(16) - 12)
	if rng.IntN(4) == 0 {
		coef, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
		return decimal.NewFromBigInt(coef, exp)
	}
	return decimal.New(rng.Int64N(2_000_000)-1_000_000, exp)
}

func decodeValue(t *testing.T, b []byte) any {
	t.Helper()
	r := NewReader(b, absent)
	num, typ, err := r.Next()
	if err != nil || num != 1 {
		t.Fatalf("Next() = %d, %v", num, err)
	}
	v, err := r.Value(typ)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Done() {
		t.Fatal("bytes left after the value")
	}
	return v
}

// TestValueRoundTrip encodes random values, decodes them with the Reader
// and with the generated code, and checks both give the value back.
func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randomValue(rng, 0)
		b, err := AppendValue(nil, 1, v, absent)
		if err != nil {
			t.Fatalf("value %d %#v: %v", i, v, err)
		}
		if diff := cmp.Diff(v, decodeValue(t, b), valueOpts); diff != "" {
			t.Fatalf("value %d round trip (-want +got):\n%s", i, diff)
		}
		// The generated code reads the same bytes, and what it
		// writes reads back to the value too.
		var row pb.Row
		if err := proto.Unmarshal(b, &row); err != nil {
			t.Fatalf("value %d: generated code: %v", i, err)
		}
		got, err := FromPB(row.Values[0], absent)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, got, valueOpts); diff != "" {
			t.Fatalf("value %d through the generated code (-want +got):\n%s", i, diff)
		}
	}
}

func TestValueConversions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int", int(-7), int64(-7)},
		{"int8", int8(-8), int64(-8)},
		{"int16", int16(300), int64(300)},
		{"int32", int32(1 << 30), int64(1 << 30)},
		{"uint8", uint8(200), int64(200)},
		{"uint16", uint16(60000), int64(60000)},
		{"uint32", uint32(1 << 31), int64(1 << 31)},
		{"uint", uint(5), int64(5)},
		{"uint64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"float32", float32(1.5), float64(1.5)},
		{"local time", time.Date(2026, 3, 17, 23, 58, 0, 0, time.FixedZone("CET", 3600)), time.Date(2026, 3, 17, 22, 58, 0, 0, time.UTC)},
		{"zero time", time.Time{}, time.Time{}},
		{"empty list", []any{}, []any{}},
		{"empty map", map[string]any{}, map[string]any{}},
		{"empty bytes", []byte{}, []byte{}},
		{"decimal scale kept", decimal.RequireFromString("12.50"), decimal.New(1250, -2)},
		{"decimal positive exponent", decimal.New(12, 3), decimal.New(12, 3)},
		{"decimal small", decimal.New(-5, -4), decimal.RequireFromString("-0.0005")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := AppendValue(nil, 1, tt.in, absent)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, decodeValue(t, b), valueOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecimalText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   decimal.Decimal
		want string
	}{
		{decimal.New(1250, -2), "12.50"},
		{decimal.New(-5, -4), "-0.0005"},
		{decimal.New(12, 3), "12e3"},
		{decimal.New(0, -2), "0.00"},
		{decimal.New(7, 0), "7"},
	}
	for _, tt := range tests {
		if got := string(appendDecimal(nil, tt.in)); got != tt.want {
			t.Errorf("appendDecimal(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"unknown type", struct{}{}, "unsupported value type struct {}"},
		{"in a list", []any{int64(1), complex(1, 2)}, "[1]: unsupported value type complex128"},
		{"in a map", map[string]any{"a": map[string]any{"b": []string{"x"}}}, "a: b: unsupported value type []string"},
		{"huge uint64", uint64(math.MaxUint64), "unsigned integer 18446744073709551615 does not fit an int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := AppendValue(nil, 1, tt.in, absent)
			if err == nil || err.Error() != tt.want {
				t.Errorf("AppendValue() error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestLongFields checks the lengths End writes for bodies of one, two and
// three varint bytes.
func TestLongFields(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 127, 128, 16383, 16384, 70000} {
		s := strings.Repeat("x", n)
		v := []any{s, map[string]any{"k": s}}
		b, err := AppendValue(nil, 1, v, absent)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, decodeValue(t, b)); diff != "" {
			t.Errorf("length %d (-want +got):\n%s", n, diff)
		}
	}
}

func TestRowsRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	columns := []string{"a", "b", "c"}
	var rows [][]any
	for range 600 {
		rows = append(rows, []any{randomValue(rng, 0), randomValue(rng, 0), randomValue(rng, 0)})
	}
	b, err := AppendRows(nil, 2, columns, rows, absent)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(b, absent)
	_, typ, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	gotColumns, gotRows, err := r.Rows(typ)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(columns, gotColumns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rows, gotRows, valueOpts); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// The decoded rows must not share capacity: appending to one row
	// must not change the next.
	next := gotRows[1][0]
	_ = append(gotRows[0], "appended")
	if diff := cmp.Diff(next, gotRows[1][0], valueOpts); diff != "" {
		t.Errorf("appending to row 0 changed row 1:\n%s", diff)
	}
}

func TestRowsErrors(t *testing.T) {
	t.Parallel()
	_, err := AppendRows(nil, 2, []string{"a", "b"}, [][]any{{int64(1), "x"}, {int64(2), struct{}{}}}, absent)
	if want := "row 1: b: unsupported value type struct {}"; err == nil || err.Error() != want {
		t.Errorf("AppendRows() error = %v, want %q", err, want)
	}
}

// TestDecodedBytesAreCopies checks that decoded bytes do not alias the
// message, whose buffer gRPC reuses, and do not share capacity.
func TestDecodedBytesAreCopies(t *testing.T) {
	t.Parallel()
	v := []any{[]byte("first"), []byte("second")}
	b, err := AppendValue(nil, 1, v, absent)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeValue(t, b).([]any)
	for i := range b {
		b[i] = 0
	}
	_ = append(got[0].([]byte), "!!!!!!"...)
	if diff := cmp.Diff(v, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestMalformed checks that truncated and corrupted messages fail with an
// error rather than a panic.
func TestMalformed(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		b, err := AppendValue(nil, 1, randomValue(rng, 0), absent)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			b = b[:rng.IntN(len(b))]
		case 1:
			b = bytes.Clone(b)
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		case 2:
			b = append(b, byte(rng.IntN(256)))
		}
		r := NewReader(b, absent)
		for !r.Done() {
			num, typ, err := r.Next()
			if err != nil {
				break
			}
			if num == 1 && typ == protowire.BytesType {
				if _, err := r.Value(typ); err != nil {
					break
				}
				continue
			}
			if err := r.Skip(num, typ); err != nil {
				break
			}
		}
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	var v any = int64(1)
	for range maxDepth + 1 {
		v = []any{v}
	}
	b, err := AppendValue(nil, 1, v, absent)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(b, absent)
	_, typ, _ := r.Next()
	if _, err := r.Value(typ); !errors.Is(err, errDepth) {
		t.Errorf("Value() error = %v, want %v", err, errDepth)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kinds []pb.ErrorKind
		code  codes.Code
	}{
		{nil, codes.Unknown},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_END_OF_INPUT}, codes.OutOfRange},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_BACKOFF}, codes.ResourceExhausted},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_NOT_CONNECTED, pb.ErrorKind_ERROR_KIND_CONFIG}, codes.Unavailable},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_CONFIG}, codes.InvalidArgument},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_CANCELED}, codes.Canceled},
		{[]pb.ErrorKind{pb.ErrorKind_ERROR_KIND_DEADLINE_EXCEEDED}, codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		e := &pb.Error{Message: "boom", Kinds: tt.kinds, ConfigErrors: []*pb.ConfigError{{Path: "a", Msg: "b"}}}
		err := StatusError(e)
		if got := status.Code(err); got != tt.code {
			t.Errorf("kinds %v: code %s, want %s", tt.kinds, got, tt.code)
		}
		got, st := FromStatus(err)
		if st == nil || st.Message() != "boom" {
			t.Errorf("kinds %v: status %v", tt.kinds, st)
		}
		if diff := cmp.Diff(e, got, cmpopts.IgnoreUnexported(pb.Error{}, pb.ConfigError{})); diff != "" {
			t.Errorf("kinds %v: detail (-want +got):\n%s", tt.kinds, diff)
		}
	}
	if e, st := FromStatus(status.Error(codes.Unavailable, "connection refused")); e != nil || st == nil {
		t.Errorf("FromStatus(plain status) = %v, %v; want no detail and a status", e, st)
	}
	if e, st := FromStatus(errors.New("not a status")); e != nil || st != nil {
		t.Errorf("FromStatus(plain error) = %v, %v; want nothing", e, st)
	}
}

func FuzzValue(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		b, err := AppendValue(nil, 1, randomValue(rng, 0), absent)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b, absent)
		for !r.Done() {
			num, typ, err := r.Next()
			if err != nil {
				return
			}
			if typ == protowire.BytesType {
				v, err := r.Value(typ)
				if err != nil {
					return
				}
				// What decodes encodes again, and reads back the same.
				enc, err := AppendValue(nil, 1, v, absent)
				if err != nil {
					t.Fatalf("re-encode %#v: %v", v, err)
				}
				if diff := cmp.Diff(v, decodeValue(t, enc), valueOpts); diff != "" {
					t.Fatalf("re-encoded value differs (-first +second):\n%s", diff)
				}
				continue
			}
			if err := r.Skip(num, typ); err != nil {
				return
			}
		}
	})
}
