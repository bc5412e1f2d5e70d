package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowctl/flowctl/runtime/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testEnv is the environment the test pipelines are loaded with.
var testEnv = map[string]string{
	"PIPELINE_NAME": "env_pipeline",
	"BROKER":        "127.0.0.1:9092",
	"TOPIC":         "payments.v1",
	"LATENESS":      "5m",
	"PORT":          "5432",
	"SECRET":        "hunter2-secret",
	"EMPTY":         "",
}

func lookupTestEnv(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func render(ds diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestGolden loads each testdata/<case>.bad.yaml and compares the rendered
// diagnostics with testdata/<case>.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found %d bad cases under testdata, want at least 15", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".bad.yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, ds := Load(filepath.Base(path), src, lookupTestEnv)
			if !ds.HasErrors() {
				t.Errorf("no errors for a bad file")
			}
			got := render(ds)
			golden := strings.TrimSuffix(path, ".bad.yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
			if strings.Contains(got, testEnv["SECRET"]) {
				t.Errorf("diagnostics print a secret:\n%s", got)
			}
		})
	}
}

// TestGoodFilesLoad checks that every testdata/*.good.yaml loads without a
// diagnostic; their ASTs are checked in TestLoadGood.
func TestGoodFilesLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d good cases under testdata, want at least 4", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, ds := Load(path, src, lookupTestEnv)
			if p == nil || len(ds) > 0 {
				t.Errorf("got pipeline %v, diagnostics:\n%s", p != nil, render(ds))
			}
		})
	}
}
