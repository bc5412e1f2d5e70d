package main

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var readme = flag.String("readme", "../../../README.md", `the README whose "Writing a plugin" section quotes this example`)

// TestREADMEExcerpts checks that the excerpts the README's "Writing a
// plugin" section quotes from this example are still in it, so the two
// cannot drift apart. A Go excerpt may leave code out with a line "//
// ..."; each part between such lines must appear as it is, at any
// indentation, in one of the module's Go files. A YAML excerpt that does
// not start with a comment must appear in one of its YAML files.
func TestREADMEExcerpts(t *testing.T) {
	b, err := os.ReadFile(*readme)
	if err != nil {
		t.Fatal(err)
	}
	section, ok := sectionOf(string(b), "## Writing a plugin")
	if !ok {
		t.Skipf(`%s has no "## Writing a plugin" section`, *readme)
	}
	files := map[string]string{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext == ".go" || ext == ".yaml" {
			data, err := os.ReadFile(path)
			files[ext] += "\n" + string(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := fenced(section)
	checked := 0
	for _, bl := range blocks {
		var parts []string
		switch {
		case bl.lang == "go":
			parts = splitElisions(bl.text)
		case bl.lang == "yaml" && !strings.HasPrefix(bl.text, "#"):
			parts = []string{bl.text}
		default:
			continue
		}
		checked++
		for _, p := range parts {
			if !containsIndented(files["."+bl.lang], p) {
				t.Errorf("the excerpt at line %d of the section is not in the example's %s files:\n%s", bl.line, bl.lang, p)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d excerpts, want 10 or more", checked)
	}
}

// sectionOf returns the part of a Markdown text from heading to the next
// heading of the same level.
func sectionOf(text, heading string) (string, bool) {
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		if !strings.HasPrefix(text, heading+"\n") {
			return "", false
		}
		i = -1
	}
	rest := text[i+1:]
	if j := strings.Index(rest[len(heading):], "\n## "); j >= 0 {
		rest = rest[:len(heading)+j+1]
	}
	return rest, true
}

// block is a fenced code block.
type block struct {
	lang, text string
	line       int // of the opening fence, in the section
}

// fenced returns the fenced code blocks of a Markdown text.
func fenced(text string) []block {
	var out []block
	var cur *block
	var lines []string
	for i, l := range strings.Split(text, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &block{lang: strings.TrimPrefix(l, "```"), line: i + 1}
			lines = nil
		case cur != nil && l == "```":
			cur.text = strings.Join(lines, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			lines = append(lines, l)
		}
	}
	return out
}

// splitElisions splits Go code at lines "// ...", dropping blank lines at
// either end of each part.
func splitElisions(code string) []string {
	var parts []string
	var cur []string
	flush := func() {
		text := strings.Trim(strings.Join(cur, "\n"), "\n")
		if strings.TrimSpace(text) != "" {
			parts = append(parts, text+"\n")
		}
		cur = nil
	}
	for _, l := range strings.Split(code, "\n") {
		if strings.TrimSpace(l) == "// ..." {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return parts
}

// containsIndented reports whether text holds part with every non-blank
// line of part indented by the same number of extra tabs.
func containsIndented(text, part string) bool {
	lines := strings.Split(strings.TrimSuffix(part, "\n"), "\n")
	for extra := 0; extra <= 6; extra++ {
		indented := make([]string, len(lines))
		for i, l := range lines {
			if l != "" {
				l = strings.Repeat("\t", extra) + l
			}
			indented[i] = l
		}
		if strings.Contains(text, "\n"+strings.Join(indented, "\n")+"\n") {
			return true
		}
	}
	return false
}
