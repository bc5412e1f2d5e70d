package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillAndResume is the fault test of the delivery contract: a stream
// (and a micro-batch) run is killed with SIGKILL at random moments and
// restarted until it finishes, or its plugin processes are killed and it
// restarts them from its last checkpoint; the exactly-once file sink must then hold
// exactly the rows of an uninterrupted batch run over the same input —
// nothing lost, nothing doubled.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts real processes")
	}
	flowctl, err := exec.LookPath("flowctl") // the test binary, as set up by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := filepath.Abs("testdata/kill/stream.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		// plugins: kill one of flowctl's plugin processes instead of
		// flowctl itself, which restarts from its last checkpoint.
		plugins bool
	}{
		{"stream", nil, false},
		{"micro-batch", []string{"--mode", "micro-batch", "--set", "trigger.every=100ms"}, false},
		{"stream, plugin processes", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.yaml"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(args ...string) *exec.Cmd {
				cmd := exec.Command(flowctl, append([]string{"run", "p.yaml"}, args...)...)
				cmd.Dir = dir
				cmd.Stderr = &bytes.Buffer{}
				return cmd
			}
			ref := run("--mode", "batch", "--set", "sinks.out.config.path=ref.jsonl", "--set", "sources.payments.config.rate=0")
			if err := ref.Run(); err != nil {
				t.Fatalf("reference run: %v\n%s", err, ref.Stderr)
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			kills, finished := 0, false
			for attempt := 0; attempt < 40 && !finished; attempt++ {
				cmd := run(tt.args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				wait := time.Duration(200+rng.IntN(900)) * time.Millisecond
				if kills >= 6 {
					wait = time.Minute // enough kills: let it finish
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("run %d: %v\n%s", attempt, err, cmd.Stderr)
					}
					finished = true
				case <-time.After(wait):
					if tt.plugins {
						kills += killChildren(cmd.Process.Pid, rng)
						// flowctl restarts its plugins and goes on.
						if err := <-done; err != nil {
							t.Fatalf("run %d after a plugin was killed: %v\n%s", attempt, err, cmd.Stderr)
						}
						if kills > 0 && !strings.Contains(fmt.Sprint(cmd.Stderr), "restarting from the last checkpoint") {
							t.Errorf("no restart reported:\n%s", cmd.Stderr)
						}
						finished = true
						continue
					}
					_ = cmd.Process.Signal(syscall.SIGKILL)
					<-done
					kills++
				}
			}
			if !finished {
				t.Fatal("the run never finished")
			}
			if kills == 0 {
				t.Fatal("the run finished before it could be killed; slow the source down")
			}
			want := sortedLines(t, filepath.Join(dir, "ref.jsonl"))
			got := sortedLines(t, filepath.Join(dir, "out.jsonl"))
			if len(want) == 0 {
				t.Fatal("the reference run wrote nothing")
			}
			if !slices.Equal(got, want) {
				t.Errorf("after %d kills the output has %d rows, the reference %d;\n%s", kills, len(got), len(want), lineDiff(want, got))
			}
			t.Logf("%d kills, %d rows", kills, len(got))
		})
	}
}

// killChildren SIGKILLs a plugin process of pid at random moments, a few
// times, while it runs; it returns how many it killed.
func killChildren(pid int, rng *rand.Rand) int {
	killed := 0
	for range 4 {
		children := childPIDs(pid)
		if len(children) == 0 {
			return killed
		}
		if syscall.Kill(children[rng.IntN(len(children))], syscall.SIGKILL) == nil {
			killed++
		}
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
	}
	return killed
}

// childPIDs lists the children of pid (Linux).
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(field); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func sortedLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

// lineDiff shows the first few rows missing from got and those extra in it.
func lineDiff(want, got []string) string {
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	var b strings.Builder
	shown := 0
	for _, l := range want {
		if count[l] > 0 && shown < 5 {
			b.WriteString("missing: " + l + "\n")
			shown++
		}
	}
	shown = 0
	for _, l := range got {
		if count[l] < 0 && shown < 5 {
			b.WriteString("extra:   " + l + "\n")
			shown++
		}
	}
	return b.String()
}
