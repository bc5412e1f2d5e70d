package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestRunServesMetrics runs a paced stream pipeline with --metrics and
// scrapes it while it runs: the read counter is live.
func TestRunServesMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	writeFile(t, file, `version: 1
name: live
mode: stream
sources:
  - name: g
    plugin: generate
    config: {rate: 1000, count: 3000, fields: {n: i}}
sinks:
  - {name: o, from: g, plugin: file, config: {path: `+filepath.Join(dir, "out.jsonl")+`}}
`)
	done := make(chan int, 1)
	go func() { done <- run([]string{"run", file, "--metrics", addr}) }()
	re := regexp.MustCompile(`flowctl_records_read_total\{pipeline="live"\} (\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no live read counter within 10s")
		}
		if n := scrapeRead(addr, re); n > 0 && n < 3000 {
			break // seen while the run goes on
		}
		select {
		case code := <-done:
			t.Fatalf("the run ended (exit %d) before a scrape saw it in progress", code)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err != nil {
		t.Fatal(err)
	}
}

func scrapeRead(addr string, re *regexp.Regexp) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := re.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
