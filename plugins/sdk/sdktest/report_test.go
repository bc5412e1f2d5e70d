package sdktest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// reportInput is output of Main as go test -v=test2json frames it, with
// a stray line at the end.
const reportInput = "\x16=== RUN   conformance\n" +
	"\x16=== RUN   conformance/handshake\n" +
	"    executable.go:113: protocol version 1\n" +
	"\x16--- PASS: conformance/handshake (0.01s)\n" +
	"\x16=== NAME  conformance\n" +
	"\x16=== RUN   conformance/source_my_echo\n" +
	"\x16=== RUN   conformance/source_my_echo/in-process\n" +
	"\x16=== RUN   conformance/source_my_echo/in-process/missing\n" +
	"\x16=== RUN   conformance/source_my_echo/in-process/missing/count\n" +
	"\x16--- PASS: conformance/source_my_echo/in-process/missing/count (0.00s)\n" +
	"\x16=== NAME  conformance/source_my_echo/in-process/missing\n" +
	"\x16--- PASS: conformance/source_my_echo/in-process/missing (0.00s)\n" +
	"\x16=== NAME  conformance/source_my_echo/in-process\n" +
	"\x16=== RUN   conformance/source_my_echo/in-process/read\n" +
	"    source.go:94: message 0: Position.Partition is empty\n" +
	"        with a second line\n" +
	"\x16--- FAIL: conformance/source_my_echo/in-process/read (0.00s)\n" +
	"\x16=== NAME  conformance/source_my_echo/in-process\n" +
	"\x16--- FAIL: conformance/source_my_echo/in-process (0.00s)\n" +
	"\x16=== NAME  conformance/source_my_echo\n" +
	"\x16--- FAIL: conformance/source_my_echo (0.00s)\n" +
	"\x16=== NAME  conformance\n" +
	"\x16=== RUN   conformance/sink_out\n" +
	"\x16=== RUN   conformance/sink_out/spec\n" +
	"\x16--- PASS: conformance/sink_out/spec (0.00s)\n" +
	"\x16=== NAME  conformance/sink_out\n" +
	"    executable.go:168: no case for the sink out\n" +
	"\x16--- SKIP: conformance/sink_out (0.00s)\n" +
	"\x16=== NAME  conformance\n" +
	"\x16--- FAIL: conformance (0.02s)\n" +
	"\x16=== NAME  \n" +
	"\x16FAIL\n" +
	"panic: test timed out after 5m0s\n"

func TestReport(t *testing.T) {
	var out strings.Builder
	totals, err := Report(strings.NewReader(reportInput), &out)
	if err != nil {
		t.Fatal(err)
	}
	want := `ok    handshake
ok    source my_echo: missing/count
FAIL  source my_echo: read
        message 0: Position.Partition is empty
        with a second line
ok    sink out: spec
skip  sink out
        no case for the sink out
panic: test timed out after 5m0s
`
	if out.String() != want {
		t.Errorf("Report wrote:\n%s\nwant:\n%s", out.String(), want)
	}
	if totals != (Totals{Passed: 3, Failed: 1, Skipped: 1}) {
		t.Errorf("totals = %+v", totals)
	}
}

// ExampleReport turns the output of a conformance run (Main, as `flowctl
// plugin test` runs it) into a line per check.
func ExampleReport() {
	output := "\x16=== RUN   conformance\n" +
		"\x16=== RUN   conformance/handshake\n" +
		"\x16--- PASS: conformance/handshake (0.01s)\n" +
		"\x16=== RUN   conformance/source_echo/in-process/read\n" +
		"    source.go:94: message 0: Position.Partition is empty\n" +
		"\x16--- FAIL: conformance/source_echo/in-process/read (0.00s)\n"
	totals, _ := Report(strings.NewReader(output), os.Stdout)
	fmt.Printf("%d passed, %d failed\n", totals.Passed, totals.Failed)
	// Output:
	// ok    handshake
	// FAIL  source echo: read
	//         message 0: Position.Partition is empty
	// 1 passed, 1 failed
}
