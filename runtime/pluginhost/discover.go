package pluginhost

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// find returns the path of the first executable flowctl-plugin-NAME in
// dirs, or "" if there is none.
func find(name string, dirs []string) string {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		path := filepath.Join(d, Prefix+name)
		if isExecutable(path) {
			return path
		}
	}
	return ""
}

// discover returns every plugin executable in dirs, the first of each
// name, sorted by path.
func discover(dirs []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // a folder that does not exist holds no plugin
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), Prefix)
			if !ok || name == "" || seen[name] {
				continue
			}
			path := filepath.Join(d, e.Name())
			if isExecutable(path) {
				seen[name] = true
				out = append(out, path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// isExecutable reports whether path is a regular file (after symbolic
// links) that someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// fileKey identifies a version of a file without reading it.
type fileKey struct {
	path  string
	size  int64
	mtime time.Time
}

func statKey(path string) (fileKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileKey{}, err
	}
	return fileKey{path: path, size: fi.Size(), mtime: fi.ModTime()}, nil
}
