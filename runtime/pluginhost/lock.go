package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowctl/flowctl/runtime/config"
)

// LockFile is the name of the lock file next to a pipeline file. It pins
// the third-party plugin executables the pipelines of its folder may run
// by the SHA-256 of their contents, which does not depend on where they
// are installed.
const LockFile = "flowctl.lock"

// Lock is the content of a lock file.
type Lock struct {
	// Plugins pins executables by plugin name.
	Plugins map[string]Pin
}

// Pin is one locked plugin executable.
type Pin struct {
	Version string `yaml:"version"` // as its spec says, for people
	SHA256  string `yaml:"sha256"`  // hex
}

// lockFile is a lock file's YAML.
type lockFile struct {
	Version int            `yaml:"version"`
	Plugins map[string]Pin `yaml:"plugins"`
}

const lockHeader = `# The plugin executables the pipelines in this folder may run, pinned by
# the SHA-256 of their contents. Written by flowctl plugins lock: run it
# again after installing a new build of a plugin you trust.
`

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ReadLock reads a lock file. A file that does not exist gives nil and
// no error.
func ReadLock(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f lockFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: version %d, want 1", path, f.Version)
	}
	for name, pin := range f.Plugins {
		if !sha256RE.MatchString(pin.SHA256) {
			return nil, fmt.Errorf("%s: plugin %s: sha256 %q is not 64 lowercase hex digits", path, name, pin.SHA256)
		}
	}
	if f.Plugins == nil {
		f.Plugins = make(map[string]Pin)
	}
	return &Lock{Plugins: f.Plugins}, nil
}

// Write writes the lock file, plugins sorted by name.
func (l *Lock) Write(path string) error {
	b, err := yaml.Marshal(lockFile{Version: 1, Plugins: l.Plugins})
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(lockHeader), b...), 0o644)
}

// sum returns the SHA-256 of the file at path, computed once per version
// of the file.
func (h *Host) sum(path string) ([]byte, error) {
	k, err := statKey(path)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	s, ok := h.sums[k]
	h.mu.Unlock()
	if ok {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s = hash.Sum(nil)
	h.mu.Lock()
	h.sums[k] = s
	h.mu.Unlock()
	return s, nil
}

// pinned returns the target that runs the executable at path for plugin
// name: with the checksum lock pins, or an error if the executable does
// not have it. Without a lock file any executable runs. pipeline is the
// pipeline file, for the command that locks it again.
func (h *Host) pinned(lock *Lock, name, path, pipeline string) (target, error) {
	if lock == nil {
		return target{path: path}, nil
	}
	got, err := h.sum(path)
	if err != nil {
		return target{}, err
	}
	lockPath := filepath.Join(filepath.Dir(pipeline), LockFile)
	pin, ok := lock.Plugins[name]
	if !ok || pin.SHA256 != hex.EncodeToString(got) {
		return target{}, &ChecksumError{
			Plugin: name, Path: path, Lock: lockPath,
			Want: pin.SHA256, Got: hex.EncodeToString(got),
			Relock: "flowctl plugins lock " + pipeline,
		}
	}
	return target{path: path, sum: got}, nil
}

// Locked is one plugin a lock file pins.
type Locked struct {
	Name string
	Path string
	Pin  Pin
}

// Lock pins, in the lock file next to pipeline p, the third-party
// plugins p uses as they are installed now, keeping the other entries of
// the file. It returns the lock file's path and the plugins it pinned. A
// plugin that is not built in and not found is an error.
func (h *Host) Lock(ctx context.Context, p *config.Pipeline) (string, []Locked, error) {
	path := filepath.Join(p.Dir, LockFile)
	lock, err := ReadLock(path)
	if err != nil {
		return "", nil, err
	}
	if lock == nil {
		lock = &Lock{Plugins: make(map[string]Pin)}
	}
	builtin := make(map[string]bool)
	for _, b := range h.opts.Builtins {
		builtin[string(b.Spec.Kind)+" "+b.Spec.Name] = true
	}
	dirs := h.dirs(p)
	var locked []Locked
	var errs []error
	for _, r := range refs(p) {
		name := r.ref.Plugin.Value
		if builtin[string(r.kind)+" "+name] || slices.ContainsFunc(locked, func(l Locked) bool { return l.Name == name }) {
			continue
		}
		exe := find(name, dirs)
		if exe == "" {
			errs = append(errs, fmt.Errorf("%s: %s: no built-in %s plugin %s and no %s%s in plugin_dirs, $%s or $PATH",
				r.ref.Plugin.Pos, r.path, r.kind, name, Prefix, name, PluginPathEnv))
			continue
		}
		sum, err := h.sum(exe)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := h.control(ctx, target{path: exe, sum: sum})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pin := Pin{Version: c.plugins[0].Spec.Version, SHA256: hex.EncodeToString(sum)}
		lock.Plugins[name] = pin
		locked = append(locked, Locked{Name: name, Path: exe, Pin: pin})
	}
	if err := errors.Join(errs...); err != nil {
		return path, nil, err
	}
	if len(locked) == 0 {
		return path, nil, fmt.Errorf("%s uses no third-party plugin: there is nothing to lock", p.File)
	}
	if err := lock.Write(path); err != nil {
		return path, nil, err
	}
	return path, locked, nil
}

// String renders a pin for messages: name, version, checksum and path.
func (l Locked) String() string {
	return strings.Join([]string{l.Name, l.Pin.Version, "sha256:" + l.Pin.SHA256, l.Path}, " ")
}
