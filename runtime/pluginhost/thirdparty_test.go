package pluginhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/config"
)

// installTestPlugin makes this test binary a third-party plugin
// executable flowctl-plugin-NAME in dir (a link to it), which serves when
// started, since the environment says so.
func installTestPlugin(t *testing.T, dir, name string) string {
	t.Helper()
	t.Setenv(ServeEnv, "1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, Prefix+name)
	if err := os.Symlink(exe, path); err != nil {
		t.Fatal(err)
	}
	return path
}

const crashPipeline = `version: 1
name: tp
plugin_dirs: [bin]
sources:
  - {name: s, plugin: crash, config: {after: 3}}
sinks:
  - {name: out, from: s, plugin: file, config: {path: out.jsonl}}
`

// loadPipeline writes a pipeline file into dir and loads it.
func loadPipeline(t *testing.T, dir, text string) *config.Pipeline {
	t.Helper()
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, ds := config.LoadFile(file)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return p
}

// TestResolve checks where third-party plugins are found: in the
// pipeline's plugin_dirs (relative to its file) and on the search path,
// and that one whose name a built-in has is not used.
func TestResolve(t *testing.T) {
	tests := []struct {
		name      string
		pluginDir string // relative to the pipeline's folder
		search    bool   // on the host's search path rather than in plugin_dirs
	}{
		{name: "plugin_dirs", pluginDir: "bin"},
		{name: "search path", pluginDir: "elsewhere", search: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := installTestPlugin(t, filepath.Join(dir, tt.pluginDir), "crash")
			var opts Options
			if tt.search {
				opts.SearchPath = []string{filepath.Join(dir, tt.pluginDir)}
			}
			h, _, _ := testHost(t, opts)
			p := loadPipeline(t, dir, crashPipeline)
			set, ds := h.Resolve(t.Context(), p)
			if len(ds) > 0 {
				t.Fatal(ds)
			}
			pl, ok := set.Catalog.Lookup(sdk.KindSource, "crash")
			if !ok || pl.Spec.Version != "1.2.3" {
				t.Fatalf("the catalog has no crash source 1.2.3: %+v", pl.Spec)
			}
			if got := set.external[key{sdk.KindSource, "crash"}].target.path; got != path {
				t.Errorf("crash runs %q, want %q", got, path)
			}
			// The executable also serves the built-ins; they stay built in.
			if _, ext := set.external[key{sdk.KindSource, "generate"}]; ext {
				t.Error("the third-party executable's generate replaced the built-in")
			}
		})
	}
}

// TestThirdPartyInProcess checks that a third-party plugin may not ask
// to run in process.
func TestThirdPartyInProcess(t *testing.T) {
	dir := t.TempDir()
	installTestPlugin(t, filepath.Join(dir, "bin"), "crash")
	h, _, _ := testHost(t, Options{})
	p := loadPipeline(t, dir, strings.Replace(crashPipeline, "config: {after: 3}}", "config: {after: 3}, isolation: in-process}", 1))
	set, ds := h.Resolve(t.Context(), p)
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	want := filepath.Join(dir, "p.yaml") + ":5:61: sources[0].isolation: only built-in plugins run in process; crash is " + filepath.Join(dir, "bin", Prefix+"crash")
	if _, ds := set.Compile(p, ""); len(ds) != 1 || ds[0].String() != want {
		t.Errorf("Compile: %v\nwant: %s", ds, want)
	}
}

// TestLock checks that Lock pins the executables a pipeline uses, that a
// pinned executable starts, and that one with another checksum, or not
// pinned, does not, with a message that says what to do.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	exe := installTestPlugin(t, filepath.Join(dir, "bin"), "crash")
	h, _, _ := testHost(t, Options{})
	p := loadPipeline(t, dir, crashPipeline)
	lockPath, locked, err := h.Lock(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if lockPath != filepath.Join(dir, LockFile) || len(locked) != 1 || locked[0].Name != "crash" || locked[0].Pin.Version != "1.2.3" {
		t.Fatalf("Lock: %s %v", lockPath, locked)
	}
	sum := locked[0].Pin.SHA256
	if _, ds := h.Resolve(t.Context(), p); len(ds) > 0 {
		t.Fatalf("Resolve with the executable pinned: %v", ds)
	}
	pinned, err := ReadLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(dir, "p.yaml")
	other := strings.Repeat("0", 64)
	tests := []struct {
		name string
		pins map[string]Pin
		want string
	}{
		{"changed", map[string]Pin{"crash": {Version: "1.2.3", SHA256: other}},
			pinFile + ":5:23: sources[0].plugin: plugin crash: " + exe + " has sha256 " + sum + ", but " + lockPath + " pins " + other +
				": the executable changed since it was locked; it will not be started. If you trust the new build, run: flowctl plugins lock " + pinFile},
		{"not pinned", map[string]Pin{},
			pinFile + ":5:23: sources[0].plugin: plugin crash: " + exe + " is not pinned in " + lockPath + "; to trust it, run: flowctl plugins lock " + pinFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (&Lock{Plugins: tt.pins}).Write(lockPath); err != nil {
				t.Fatal(err)
			}
			_, ds := h.Resolve(t.Context(), p)
			if len(ds) != 1 || ds[0].String() != tt.want {
				t.Errorf("Resolve: %v\nwant: %s", ds, tt.want)
			}
		})
	}
	// go-plugin checks the checksum again as it starts the executable.
	bad := &ChecksumError{}
	_, err = h.launch(t.Context(), target{path: exe, sum: make([]byte, 32)}, "test")
	if !errors.As(err, &bad) {
		t.Errorf("launch with another checksum: %v, want a ChecksumError", err)
	}
	if err := pinned.Write(lockPath); err != nil {
		t.Fatal(err)
	}
	if _, ds := h.Resolve(t.Context(), p); len(ds) > 0 {
		t.Errorf("Resolve with the pin restored: %v", ds)
	}
}

// TestList checks that List shows built-in and third-party plugins with
// where they come from, and a third-party one a built-in shadows.
func TestList(t *testing.T) {
	dir := t.TempDir()
	crash := installTestPlugin(t, dir, "crash")
	gen := installTestPlugin(t, dir, "generate")
	h, _, _ := testHost(t, Options{SearchPath: []string{dir, filepath.Join(dir, "missing")}})
	entries, err := h.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, string(e.Spec.Kind)+" "+e.Spec.Name+" "+e.Path+" "+map[bool]string{true: "shadowed"}[e.Shadowed])
	}
	for _, want := range []string{
		"source crash " + crash + " ",
		"source generate  ",
		"source generate " + gen + " shadowed",
		"sink file  ",
	} {
		if !strings.Contains(strings.Join(got, "\n")+"\n", want+"\n") {
			t.Errorf("List:\n%s\nwant an entry %q", strings.Join(got, "\n"), want)
		}
	}
	inspected, err := h.Inspect(t.Context(), nil, "crash")
	if err != nil || len(inspected) != 1 || inspected[0].Path != crash {
		t.Errorf("Inspect(crash) = %v, %v", inspected, err)
	}
}
