package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeedDirs hold the YAML files FuzzLoad starts from.
var fuzzSeedDirs = []string{"testdata", "../../pipelines"}

// FuzzLoad checks that Load never panics and that every diagnostic lies in
// the file it was given.
func FuzzLoad(f *testing.F) {
	seeds := 0
	for _, dir := range fuzzSeedDirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "fuzz" {
				return fs.SkipDir // the fuzzer's own corpus is added by go test
			}
			if d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(src)
			seeds++
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			f.Fatal(err)
		}
	}
	if seeds < 10 {
		f.Fatalf("only %d seed files; the corpus is implausibly small", seeds)
	}
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "UNSET") {
			return "", false
		}
		return "v_" + name, true
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		const file = "fuzz.yaml"
		p, ds := Load(file, src, env)
		n := countLines(src)
		for _, e := range exprs(p) {
			for _, pos := range e.Lines {
				if pos.File != file || pos.Line < 1 || pos.Line > n+1 || pos.Col < 1 {
					t.Errorf("expression %q: line position %s outside the file", e.Text, pos)
				}
			}
		}
		for i, d := range ds {
			if d.Pos.File != file {
				t.Errorf("diagnostic %q: file %q, want %q", d, d.Pos.File, file)
			}
			if d.Pos.Line < 1 || d.Pos.Line > n+1 {
				t.Errorf("diagnostic %q: line %d outside 1..%d", d, d.Pos.Line, n+1)
			}
			if i > 0 && before(d.Pos, ds[i-1].Pos) {
				t.Errorf("diagnostics not sorted: %q before %q", ds[i-1], d)
			}
		}
	})
}

// exprs lists the expressions of p.
func exprs(p *Pipeline) []*Expr {
	if p == nil {
		return nil
	}
	var out []*Expr
	for _, s := range p.Sources {
		if s.EventTime != nil {
			out = append(out, s.EventTime)
		}
	}
	for _, t := range p.Transforms {
		if t.Filter != nil {
			out = append(out, t.Filter)
		}
		for i := range t.Map {
			out = append(out, &t.Map[i].Expr)
		}
		for i := range t.Aggregate {
			out = append(out, &t.Aggregate[i].Expr)
		}
	}
	return out
}

// countLines counts lines as YAML does: CRLF, CR, LF, NEL, LS and PS each
// end one.
func countLines(src []byte) int {
	n := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		switch r {
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				size = 2
			}
			n++
		case '\n', '\u0085', '\u2028', '\u2029':
			n++
		}
		i += size
	}
	return n
}
