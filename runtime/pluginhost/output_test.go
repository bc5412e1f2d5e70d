package pluginhost

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestMarked checks that the drain mark is removed from what passes and
// seen however the writes split it.
func TestMarked(t *testing.T) {
	const mark = "\x1emark\x1e"
	tests := []struct {
		name   string
		writes []string
		want   string
		seen   int
	}{
		{"none", []string{"abc\n", "def\n"}, "abc\ndef\n", 0},
		{"whole", []string{"abc\n" + mark}, "abc\n", 1},
		{"split", []string{"abc\n\x1ema", "rk\x1e", "tail"}, "abc\ntail", 1},
		{"byte by byte", strings.Split("x"+mark+"y", ""), "xy", 1},
		{"two", []string{mark + "a" + mark}, "a", 2},
		{"false start", []string{"\x1ema", "p\n"}, "\x1emap\n", 0},
		{"held at the end", []string{"abc\x1em"}, "abc\x1em", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			seen := 0
			m := &marked{w: &out, mark: []byte(mark), seen: func() { seen++ }}
			for _, w := range tt.writes {
				if n, err := m.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := m.flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want || seen != tt.seen {
				t.Errorf("passed %q and saw %d marks, want %q and %d", out.String(), seen, tt.want, tt.seen)
			}
		})
	}
}

func TestLogLine(t *testing.T) {
	tests := []struct {
		line string
		want string // "" when dropped
	}{
		{`{"@level":"info","@message":"reading","@module":"plugin.source.file","@timestamp":"2026-03-17T10:00:00.000000Z","name":"in","file":"a b.csv","n":3}`,
			`[INFO] reading file="a b.csv" n=3`},
		{`{"@level":"debug","@message":"plugin address","@timestamp":"2026-03-17T10:00:00.000000Z"}`, ""},
		{`{"@level":"error","@message":"broken","error":""}`, `[ERROR] broken error=""`},
		{`panic: boom`, `panic: boom`},
		{`{not json`, `{not json`},
	}
	for _, tt := range tests {
		got, ok := logLine(tt.line, hclog.Info)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("logLine(%s) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestTail checks that the tail keeps the last lines, and the line that
// started a panic when the trace pushed it out.
func TestTail(t *testing.T) {
	var tl tail
	tl.add("starting")
	tl.add("panic: boom")
	for i := range 20 {
		tl.add(fmt.Sprintf("trace %d", i))
	}
	got := tl.last()
	want := []string{"panic: boom", "..."}
	for i := 10; i < 20; i++ {
		want = append(want, fmt.Sprintf("trace %d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("last() = %q, want %q", got, want)
	}
	var short tail
	short.add("panic: boom")
	short.add("goroutine 1")
	if got := short.last(); !slices.Equal(got, []string{"panic: boom", "goroutine 1"}) {
		t.Errorf("last() = %q", got)
	}
}
