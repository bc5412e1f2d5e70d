package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/plugins/sinks/stdout"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/plan"

	filesink "github.com/flowctl/flowctl/plugins/sinks/file"
	filesource "github.com/flowctl/flowctl/plugins/sources/file"
)

// FuzzValidate runs the whole front end, loader and compiler, on arbitrary
// pipeline text: it must never panic, and every problem in the pipeline
// file must point inside it.
func FuzzValidate(f *testing.F) {
	var seeds int
	for _, pattern := range []string{
		"../../pipelines/*.yaml",
		"../config/testdata/*.yaml",
		"../config/testdata/schema/*/*.yaml",
	} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
			seeds++
		}
	}
	if seeds < 20 {
		f.Fatalf("only %d seed pipelines: the corpus is implausibly small", seeds)
	}
	cat, err := catalog.New(filesource.Plugin(), filesink.Plugin(), stdout.Plugin())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		const file = "fuzz.yaml"
		p, ds := config.Load(file, []byte(src), func(string) (string, bool) { return "v", true })
		if p != nil {
			_, pds := plan.Compile(p, cat, "")
			ds = append(ds, pds...)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := strings.Count(strings.ReplaceAll(src, "\r\n", "\n"), "\r") + strings.Count(src, "\n") + 1
		for _, d := range ds {
			if d.Pos.File != file {
				continue // a schema file the pipeline names
			}
			if d.Pos.Line < 1 || d.Pos.Line > lines+1 {
				t.Errorf("%s: line outside the input (%d lines)", d, lines)
			}
		}
	})
}
