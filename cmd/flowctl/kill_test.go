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
	tests := []struct {
		name string
		file string
		args []string
		// plugins: kill one of flowctl's plugin processes instead of
		// flowctl itself, which restarts from its last checkpoint.
		plugins bool
	}{
		{"stream", "stream.yaml", nil, false},
		{"micro-batch", "stream.yaml", []string{"--mode", "micro-batch", "--set", "trigger.every=100ms"}, false},
		{"stream, plugin processes", "stream.yaml", nil, true},
		{"micro-batch, file source", "file.yaml", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range []string{"stream.yaml", "file.yaml", "payment.yaml"} {
				copyFile(t, filepath.Join("testdata/kill", f), filepath.Join(dir, f))
			}
			run := func(args ...string) *exec.Cmd {
				cmd := exec.Command(flowctl, append([]string{"run", tt.file}, args...)...)
				cmd.Dir = dir
				cmd.Stderr = &bytes.Buffer{}
				return cmd
			}
			// The file variant's input: the stream pipeline's events.
			gen := exec.Command(flowctl, "run", "stream.yaml", "--mode", "batch", "--set", "sources.payments.config.rate=0",
				"--set", "transforms=[]", "--set", "sinks.out.from=payments", "--set", "sinks.out.config.path=events.jsonl")
			gen.Dir = dir
			if out, err := gen.CombinedOutput(); err != nil {
				t.Fatalf("writing the input: %v\n%s", err, out)
			}
			ref := run("--mode", "batch", "--set", "sinks.out.config.path=ref.jsonl")
			if tt.file == "stream.yaml" {
				ref = run("--mode", "batch", "--set", "sinks.out.config.path=ref.jsonl", "--set", "sources.payments.config.rate=0")
			}
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

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
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

// TestStopAndResume: SIGTERM stops a stream run gracefully (it drains,
// takes a final checkpoint that keeps its open windows, and exits 0), and
// the next run continues where it stopped, with the output of one
// uninterrupted run.
func TestStopAndResume(t *testing.T) {
	flowctl, err := exec.LookPath("flowctl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile(t, "testdata/kill/stream.yaml", filepath.Join(dir, "stream.yaml"))
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(flowctl, append([]string{"run", "stream.yaml"}, args...)...)
		cmd.Dir = dir
		cmd.Stderr = &bytes.Buffer{}
		return cmd
	}
	ref := run("--mode", "batch", "--set", "sinks.out.config.path=ref.jsonl", "--set", "sources.payments.config.rate=0")
	if err := ref.Run(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, ref.Stderr)
	}
	cmd := run()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stopped run: %v\n%s", err, cmd.Stderr)
	}
	if !strings.Contains(fmt.Sprint(cmd.Stderr), "stream run stopped") {
		t.Fatalf("the run was not stopped by SIGTERM:\n%s", cmd.Stderr)
	}
	rest := run()
	if err := rest.Run(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, rest.Stderr)
	}
	if !strings.Contains(fmt.Sprint(rest.Stderr), "restored checkpoint") {
		t.Errorf("the second run did not resume:\n%s", rest.Stderr)
	}
	want, got := sortedLines(t, filepath.Join(dir, "ref.jsonl")), sortedLines(t, filepath.Join(dir, "out.jsonl"))
	if !slices.Equal(got, want) {
		t.Errorf("stopped and resumed output has %d rows, the reference %d;\n%s", len(got), len(want), lineDiff(want, got))
	}
}
