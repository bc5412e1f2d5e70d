// Package sdktest helps plugin authors test their plugins.
package sdktest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// ConfigTable renders a plugin's config fields as the Markdown table a
// plugin README holds between `<!-- config -->` and `<!-- /config -->`.
func ConfigTable(spec sdk.Spec) string {
	var b strings.Builder
	b.WriteString("| field | type | default | required | description |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range spec.Fields {
		def := ""
		if f.Default != nil {
			def = fmt.Sprintf("`%v`", f.Default)
		}
		req := ""
		if f.Required {
			req = "yes"
		}
		doc := f.Doc
		if len(f.Enum) > 0 {
			doc += " One of `" + strings.Join(f.Enum, "`, `") + "`."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Type, def, req, doc)
	}
	return b.String()
}

// CheckREADME fails t when the README at path does not hold ConfigTable of
// spec in its config section; with update set, it rewrites the section
// instead, so that the table is generated, never edited by hand.
func CheckREADME(t testing.TB, path string, spec sdk.Spec, update bool) {
	t.Helper()
	const begin, end = "<!-- config -->\n", "<!-- /config -->"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, begin, end)
	}
	want := ConfigTable(spec)
	if got := text[i+len(begin) : j]; got != want {
		if update {
			if err := os.WriteFile(path, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s config table is stale (run go test -update); want:\n%s\ngot:\n%s", path, want, got)
	}
}
