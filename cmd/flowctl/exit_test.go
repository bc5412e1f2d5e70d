package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExitCodes checks the documented exit codes: 0 success, 1 pipeline or
// data error, 2 usage error.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, filepath.Join(dir, "in.jsonl"), `{"a":1}`+"\n")
	writeFile(t, good, `version: 1
name: ok
sources:
  - {name: s, plugin: file, config: {path: `+filepath.Join(dir, "in.jsonl")+`}}
sinks:
  - {name: o, from: s, plugin: file, config: {path: `+filepath.Join(dir, "out.jsonl")+`}}
`)
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "version: 2\n")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"run ok", []string{"run", good}, exitOK},
		{"validate ok", []string{"validate", good}, exitOK},
		{"validate bad", []string{"validate", bad}, exitError},
		{"run bad", []string{"run", bad}, exitError},
		{"missing file", []string{"run", filepath.Join(dir, "nope.yaml")}, exitError},
		{"no args", []string{"run"}, exitUsage},
		{"bad flag", []string{"run", "--bogus", good}, exitUsage},
		{"bad mode", []string{"run", "--mode", "sideways", good}, exitUsage},
		{"unknown command", []string{"frobnicate"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("flowctl %v: exit %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
