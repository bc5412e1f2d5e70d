// Package lint holds the house rules that no linter checks for us.
package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/flowctl/flowctl/"

// TestForbiddenImports enforces the layout: plugins (the SDK and every
// built-in plugin) are written against plugins/sdk and never reach into
// the runtime (their tests may use other plugins as fixtures); built-in
// plugins may also share code through plugins/internal, which Go keeps
// away from third parties, but the SDK may not; and nothing uses yaml.v2.
func TestForbiddenImports(t *testing.T) {
	root := "../.."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "gopkg.in/yaml.v2" {
				t.Errorf("%s imports gopkg.in/yaml.v2; use yaml.v3", rel)
			}
			if !strings.HasPrefix(rel, "plugins/") || !strings.HasPrefix(p, module) {
				continue
			}
			switch {
			case !strings.HasPrefix(p, module+"plugins/"):
				t.Errorf("%s imports %s: plugins never import the runtime", rel, p)
			case strings.HasSuffix(rel, "_test.go"):
				// Tests may use other plugins as fixtures.
			case strings.HasPrefix(p, module+"plugins/sdk"):
			case strings.HasPrefix(p, module+"plugins/internal/") && !strings.HasPrefix(rel, "plugins/sdk/"):
				// Code shared by built-in plugins.
			default:
				t.Errorf("%s imports %s: plugin code may import only plugins/sdk (and, for built-in plugins, plugins/internal)", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d Go files", checked)
	}
}
