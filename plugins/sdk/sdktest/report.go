package sdktest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Totals counts the checks of a conformance run.
type Totals struct {
	Passed, Failed, Skipped int
}

// frame matches a framing line of go test -v's test2json output: a
// marker byte, then "=== RUN   name", "=== NAME  name", "--- PASS: name
// (0.01s)" and so on.
var frame = regexp.MustCompile(`^\x16(?:=== (RUN|NAME|PAUSE|CONT) +(.*)|--- (PASS|FAIL|SKIP): (.*) \([0-9.]+s\))$`)

// logPrefix matches the file and line go test puts before a logged line.
var logPrefix = regexp.MustCompile(`^[\w.-]+\.go:\d+: `)

// result is one test's outcome and what it logged.
type result struct {
	name    string
	outcome string
	lines   []string
}

// Report reads the output of Main and writes a line per check to w: "ok",
// "FAIL" or "skip", the check's name ("source echo: read") and, under a
// failed or skipped check, what it logged. Output not attributed to a
// check (a panic, a timeout) is passed on as it is. It returns the counts
// once r ends.
func Report(r io.Reader, w io.Writer) (Totals, error) {
	var (
		results []*result
		logs    = make(map[string][]string)
		cur     string
		stray   []string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := frame.FindStringSubmatch(line)
		switch {
		case m == nil && strings.HasPrefix(line, "\x16"):
			// The final PASS or FAIL.
		case m == nil && cur == "":
			stray = append(stray, line)
		case m == nil:
			logs[cur] = append(logs[cur], line)
		case m[1] != "":
			cur = m[2]
		default:
			results = append(results, &result{name: m[4], outcome: m[3], lines: logs[m[4]]})
			delete(logs, m[4])
			cur = ""
		}
	}
	var t Totals
	for _, res := range results {
		if !shown(res, results) {
			continue
		}
		word := map[string]string{"PASS": "ok  ", "FAIL": "FAIL", "SKIP": "skip"}[res.outcome]
		fmt.Fprintf(w, "%s  %s\n", word, checkName(res.name))
		switch res.outcome {
		case "PASS":
			t.Passed++
			continue
		case "FAIL":
			t.Failed++
		case "SKIP":
			t.Skipped++
		}
		for _, l := range res.lines {
			// The suite's file and line mean nothing to the reader.
			fmt.Fprintf(w, "        %s\n", logPrefix.ReplaceAllString(strings.TrimSpace(l), ""))
		}
	}
	for _, l := range stray {
		fmt.Fprintln(w, l)
	}
	return t, sc.Err()
}

// shown says whether a result is reported: every check without
// subchecks, and a check with subchecks that failed or was skipped by
// itself, with something logged.
func shown(res *result, all []*result) bool {
	if res.name == "conformance" {
		return res.outcome != "PASS" && len(res.lines) > 0
	}
	for _, o := range all {
		if strings.HasPrefix(o.name, res.name+"/") {
			return res.outcome != "PASS" && len(res.lines) > 0
		}
	}
	return true
}

// checkName turns a test name into a check's: "conformance/source_echo/
// in-process/missing/path" is "source echo: missing/path".
func checkName(name string) string {
	parts := strings.Split(strings.TrimPrefix(name, "conformance/"), "/")
	if len(parts) > 1 && parts[1] == "in-process" {
		parts = append(parts[:1], parts[2:]...)
	}
	for _, kind := range []string{"source_", "sink_", "transform_"} {
		if rest, ok := strings.CutPrefix(parts[0], kind); ok {
			parts[0] = strings.TrimSuffix(kind, "_") + " " + rest
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return parts[0] + ": " + strings.Join(parts[1:], "/")
}
