package graph

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/runtime/config"
)

// FuzzBuild checks that Build never panics on whatever config.Load makes
// of its input, and that its diagnostics lie in the file.
func FuzzBuild(f *testing.F) {
	seeds := 0
	for _, dir := range []string{"testdata", "../config/testdata", "../../pipelines"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "fuzz" {
				return fs.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".yaml") {
				src, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				f.Add(src)
				seeds++
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			f.Fatal(err)
		}
	}
	if seeds < 10 {
		f.Fatalf("only %d seed files; the corpus is implausibly small", seeds)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, _ := config.Load("fuzz.yaml", src, func(string) (string, bool) { return "x", true })
		g, ds := Build(p)
		// An upper bound on the lines as YAML counts them.
		lines := 1
		for _, r := range string(src) {
			switch r {
			case '\n', '\r', '\u0085', '\u2028', '\u2029':
				lines++
			}
		}
		for _, d := range ds {
			if d.Pos.File != "fuzz.yaml" || d.Pos.Line < 1 || d.Pos.Line > lines+1 {
				t.Errorf("diagnostic outside the file: %s", d)
			}
		}
		if p != nil && len(g.Nodes) != len(p.Sources)+len(p.Transforms)+len(p.Sinks) {
			t.Errorf("graph has %d nodes for %d stages", len(g.Nodes), len(p.Sources)+len(p.Transforms)+len(p.Sinks))
		}
		_ = g.DOT()
		_ = g.Mermaid()
	})
}
