package main

import (
	"flag"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flowctl": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestScript runs the CLI script tests in testdata/script: each drives
// flowctl from pipeline YAML and checks its output files, stderr and exit
// code.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
	})
}
