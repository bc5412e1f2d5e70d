package expr

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/record"
)

func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

// TestFunctions evaluates every library function (and the expr builtins
// the package doc lists) on testRecord, where event_time is
// 2026-03-17T23:58:07.123Z, a Tuesday.
func TestFunctions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want any
	}{
		// Timestamps.
		{`parse_time("2026-03-17T23:58:00Z")`, utc(2026, 3, 17, 23, 58, 0, 0)},
		{`parse_time("2026-03-17T23:58:00.25+01:00")`, utc(2026, 3, 17, 22, 58, 0, 25e7)},
		{`parse_time("17/03/2026 10:30", "02/01/2006 15:04")`, utc(2026, 3, 17, 10, 30, 0, 0)},
		{`parse_time(channel)`, nil},
		{`format_time(event_time, "2006-01-02 15:04:05.000")`, "2026-03-17 23:58:07.123"},
		{`format_time(parse_time("2026-03-17T23:58:00+05:00"), "15:04 MST")`, "18:58 UTC"},
		{`from_unix_ms(1773791880000)`, utc(2026, 3, 17, 23, 58, 0, 0)},
		{`from_unix_ms(qty)`, utc(1970, 1, 1, 0, 0, 0, 3e6)},
		{`from_unix_ms(1773791880000.5)`, utc(2026, 3, 17, 23, 58, 0, 5e5)},
		{`from_unix_ms(-1)`, utc(1969, 12, 31, 23, 59, 59, 999e6)},
		{`unix_ms(event_time)`, int64(1773791887123)},
		{`year(event_time)`, int64(2026)},
		{`month(event_time)`, int64(3)},
		{`day(event_time)`, int64(17)},
		{`hour(event_time)`, int64(23)},
		{`minute(event_time)`, int64(58)},
		{`second(event_time)`, int64(7)},
		{`weekday(event_time)`, int64(2)},
		{`weekday(parse_time("2026-03-15T12:00:00Z"))`, int64(0)},
		{`hour(parse_time("2026-03-17T23:58:00-02:00"))`, int64(1)},
		{`year(parse_time(channel))`, nil},
		{`date(event_time)`, "2026-03-17"},
		{`truncate_time(event_time, duration("1h"))`, utc(2026, 3, 17, 23, 0, 0, 0)},
		{`truncate_time(event_time, "15m")`, utc(2026, 3, 17, 23, 45, 0, 0)},
		{`truncate_time(event_time, "24h")`, utc(2026, 3, 17, 0, 0, 0, 0)},
		{`truncate_time(event_time, "168h")`, utc(2026, 3, 12, 0, 0, 0, 0)}, // weeks start on Thursday, like the epoch
		{`truncate_time(from_unix_ms(-1), "1s")`, utc(1969, 12, 31, 23, 59, 59, 0)},
		{`event_time - truncate_time(event_time, "1m")`, 7123 * time.Millisecond},
		// Strings.
		{`starts_with(store_id, "s-")`, true},
		{`starts_with(store_id, "x")`, false},
		{`starts_with(channel, "w")`, false},
		{`ends_with(store_id, "17")`, true},
		{`ends_with(channel, "")`, false},
		{`replace("a-b-c", "-", "+")`, "a+b+c"},
		{`substr("héllo", 1, 3)`, "éll"},
		{`substr(store_id, 2, 10)`, "17"},
		{`substr(store_id, 9, 1)`, ""},
		{`substr(store_id, qty - 3, qty - 1)`, "s-"},
		{`substr(channel, 0, 1)`, nil},
		{`concat(store_id, "/", qty, "/", price, "/", paid, "/", channel, amount)`, "s-17/3/2.5/true/12.5"},
		{`concat(event_time, " ", latency)`, "2026-03-17T23:58:07.123Z 1.5s"},
		{`concat()`, ""},
		{`concat(tags, ["c"], nil)`, []any{"a", "b", "c"}},
		{`len("héllo")`, int64(5)},
		{`len(tags)`, int64(2)},
		{`upper(store_id)`, "S-17"},
		{`lower("ÀB")`, "àb"},
		{`trim("  x ")`, "x"},
		{`split("a,b", ",")`, []any{"a", "b"}},
		{`hasPrefix(store_id, "s")`, true},
		{`join(tags, "+")`, "a+b"},
		{`indexOf(store_id, "1")`, int64(2)},
		{`store_id matches "^s-[0-9]+$"`, true},
		{`store_id contains "-"`, true},
		// Nulls.
		{`coalesce(channel, gone, store_id)`, "s-17"},
		{`coalesce(channel, nil)`, nil},
		{`coalesce(qty, 0)`, int64(3)},
		{`channel ?? "none"`, "none"},
		// Conversions.
		{`to_int("42")`, int64(42)},
		{`to_int(" -7 ")`, int64(-7)},
		{`to_int(3.9)`, int64(3)},
		{`to_int(-3.9)`, int64(-3)},
		{`to_int(amount)`, int64(12)},
		{`to_int(paid)`, int64(1)},
		{`to_int(qty)`, int64(3)},
		{`to_int(channel)`, nil},
		{`to_float("2.5")`, 2.5},
		{`to_float(amount)`, 12.5},
		{`to_float(qty)`, 3.0},
		{`to_float(false)`, 0.0},
		{`to_string(qty)`, "3"},
		{`to_string(price)`, "2.5"},
		{`to_string(1e21)`, "1e+21"},
		{`to_string(0.1 + 0.2)`, "0.30000000000000004"},
		{`to_string(100000000.0)`, "100000000"},
		{`to_string(amount)`, "12.5"},
		{`to_string(event_time)`, "2026-03-17T23:58:07.123Z"},
		{`to_string(latency)`, "1.5s"},
		{`to_string(tags)`, `["a","b"]`},
		{`to_string(device)`, `{"os":"ios","version":17}`},
		{`to_string(channel)`, nil},
		{`to_decimal("1.10")`, decimal.RequireFromString("1.1")},
		{`to_decimal(qty)`, decimal.NewFromInt(3)},
		{`to_decimal(price)`, decimal.RequireFromString("2.5")},
		{`to_decimal(amount)`, decimal.RequireFromString("12.5")},
		{`to_decimal(gone)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := mustCompile(t, tt.text, testEnv()).Eval(testRecord())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFunctionErrors: bad input at run time is an *EvalError naming the
// function, never a panic.
func TestFunctionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		values []any // slots a, b of a dynamic env
		want   string
	}{
		{`parse_time(a)`, []any{"nope"}, `parse_time: cannot parse "nope" as an RFC 3339 timestamp`},
		{`parse_time(a, "2006-01-02")`, []any{"17/03/2026"}, `parse_time: cannot parse "17/03/2026" with layout "2006-01-02"`},
		{`parse_time(a)`, []any{int64(1)}, `parse_time: want a string, got int`},
		{`parse_time("2026-01-02", a)`, []any{int64(1)}, `parse_time: want a string layout, got int`},
		{`format_time(a, "2006")`, []any{"2026"}, `format_time: want a timestamp, got string`},
		{`from_unix_ms(a)`, []any{"1"}, `from_unix_ms: want a number, got string`},
		{`from_unix_ms(a)`, []any{1e300}, `from_unix_ms: 1e+300 is out of range`},
		{`year(a)`, []any{"2026-03-17T00:00:00Z"}, `year: want a timestamp, got string (parse text with parse_time)`},
		{`unix_ms(a)`, []any{int64(5)}, `unix_ms: want a timestamp, got int (parse text with parse_time)`},
		{`truncate_time(parse_time("2026-03-17T00:00:00Z"), a)`, []any{"0s"}, `truncate_time: duration must be positive, got 0s`},
		{`truncate_time(parse_time("2026-03-17T00:00:00Z"), a)`, []any{"soon"}, `truncate_time: invalid duration "soon"`},
		{`truncate_time(parse_time("2026-03-17T00:00:00Z"), a)`, []any{int64(5)}, `truncate_time: want a duration, got int`},
		{`truncate_time(a, "1h")`, []any{utc(3000, 1, 1, 0, 0, 0, 0)}, `truncate_time: timestamp 3000-01-01T00:00:00Z is out of range`},
		{`starts_with(a, "x")`, []any{int64(1)}, `starts_with: want a string, got int`},
		{`substr("abc", a, 1)`, []any{int64(-1)}, `substr: start and length must not be negative, got -1 and 1`},
		{`substr("abc", a, 1)`, []any{1.5}, `substr: want an int start, got float`},
		{`concat(a, "x")`, []any{[]any{1}}, `concat: cannot mix lists and string`},
		{`to_int(a)`, []any{"abc"}, `to_int: cannot convert "abc" to int`},
		{`to_int(a)`, []any{1e300}, `to_int: 1e+300 is out of range for int`},
		{`to_int(a)`, []any{utc(2026, 1, 1, 0, 0, 0, 0)}, `to_int: cannot convert timestamp to int`},
		{`to_int(to_decimal(a))`, []any{"1e30"}, `to_int: 1000000000000000000000000000000 is out of range for int`},
		{`to_float(a)`, []any{"x"}, `to_float: cannot convert "x" to float`},
		{`to_float(a)`, []any{[]any{}}, `to_float: cannot convert list to float`},
		{`to_decimal(a)`, []any{"1.2.3"}, `to_decimal: cannot convert "1.2.3" to decimal`},
		{`to_decimal(a / b)`, []any{int64(0), int64(0)}, `to_decimal: cannot convert NaN to decimal`},
		{`to_decimal(a)`, []any{true}, `to_decimal: cannot convert bool to decimal`},
		{`a + 1`, []any{nil}, `invalid operation: null + int`},
		{`a % b`, []any{int64(1), int64(0)}, `integer divide by zero`},
		{`upper(a)`, []any{nil}, `unexpected null, want string`},
		{`a.b`, []any{int64(1)}, `cannot fetch b from int`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			d := record.NewDynamic()
			d.Intern("a")
			d.Intern("b")
			p := mustCompile(t, tt.text, DynamicEnv(d))
			got, err := p.Eval(&record.Record{Values: tt.values})
			if err == nil {
				t.Fatalf("Eval = %v, want error %q", got, tt.want)
			}
			checkEvalError(t, err, tt.want)
		})
	}
}

// TestLibraryIsTyped: every library function has a static signature.
func TestLibraryIsTyped(t *testing.T) {
	t.Parallel()
	for _, f := range library {
		if len(f.Types) == 0 && f.Validate == nil {
			t.Errorf("%s has neither Types nor Validate", f.Name)
		}
		if f.Func == nil {
			t.Errorf("%s has no Func", f.Name)
		}
	}
}
