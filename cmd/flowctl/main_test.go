package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(withPlugins{m}, map[string]func(){
		"flowctl": func() { os.Exit(run(os.Args[1:])) },
	})
}

// pluginDir holds the third-party plugin executable that withPlugins
// builds from testdata/plugin: flowctl-plugin-echo.
var pluginDir string

// withPlugins runs the tests (but not the flowctl command that
// testscript.Main runs in their child processes) after building the test
// plugin.
type withPlugins struct{ m *testing.M }

func (w withPlugins) Run() int {
	if _, set := os.LookupEnv("GORACE"); !set {
		// flowctl and its plugin processes, built with -race, would
		// otherwise sleep a second as each exits.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	dir, err := os.MkdirTemp("", "flowctl-plugins")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "flowctl-plugin-echo"), "./testdata/plugin")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test plugin: %v\n%s", err, out)
		return 1
	}
	pluginDir = dir
	return w.m.Run()
}

// TestScript runs the CLI script tests in testdata/script: each drives
// flowctl from pipeline YAML and checks its output files, stderr and exit
// code. $PLUGINS is a folder with the test plugin flowctl-plugin-echo.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PLUGINS", pluginDir)
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"gzip":       gzipCmd,
			"appendbyte": appendByteCmd,
		},
	})
}

// appendByteCmd appends a byte to a file, as `appendbyte FILE`: an
// executable so changed still runs, with another checksum.
func appendByteCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: appendbyte FILE")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.Write([]byte{0})
	ts.Check(err)
	ts.Check(f.Close())
}

// gzipCmd compresses a file in place, as `gzip FILE` does.
func gzipCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gzip FILE")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err = zw.Write(data)
	ts.Check(err)
	ts.Check(zw.Close())
	ts.Check(os.WriteFile(path+".gz", buf.Bytes(), 0o644))
	ts.Check(os.Remove(path))
}
