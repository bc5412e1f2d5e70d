// Package pluginhost runs flowctl's plugins in processes of their own:
// the go-plugin client side of the plugin protocol (package
// plugins/sdk/pluginrpc is the transport).
//
// # Built-in and third-party plugins
//
// Built-in plugins are compiled into flowctl and served by flowctl itself:
// the host starts the running executable again with a hidden command that
// calls sdk.Serve on them (Options.Server, made by Reexec). A test binary,
// which cannot take that command, serves them when an environment
// variable says so: its TestMain calls ServeIfAsked first, and the host's
// Server is Reexec(os.Args[0], nil, ServeEnv+"=1").
//
// Third-party plugins are executables named flowctl-plugin-NAME, looked
// for in the pipeline's plugin_dirs (relative to the pipeline file), then
// in $FLOWCTL_PLUGIN_PATH (colon-separated), then in $PATH; the first
// found wins. Such an executable provides the plugins named NAME that it
// serves, of any kind. The host learns their specs by starting it, once
// per executable version (path, size and modification time) in a host's
// life. A built-in plugin wins over a third-party one of the same kind and
// name, so that an executable on $PATH cannot replace it unnoticed;
// `flowctl plugins list` shows such an executable as shadowed.
//
// # Isolation
//
// A stage's plugin runs out of process unless the pipeline says
// `isolation: in-process`, which only built-in plugins may. Each instance
// the engine opens gets a process of its own, stopped when it closes, so
// a crash stays within its stage. A process that crashes, exits or hangs
// (it stops answering the health check) makes the call that finds it
// fail with a *ProcessError that names the stage and plugin, says how
// the process ended and shows the last lines of its stderr; it matches
// pluginrpc.ErrTransport. When the engine then opens the stage again, the
// host starts a new process after a backoff (Backoff). Plugin log lines
// reach the host's stderr with the stage and plugin before them; what
// plugins print on stdout (the stdout sink) reaches the host's stdout, to
// the last byte before the sink's Close returns.
//
// A plugin process never outlives its host: on Linux the kernel kills it
// when the host dies (Pdeathsig), and sdk.Serve exits by itself when its
// parent process changes.
//
// # Security
//
// Every connection uses go-plugin's AutoMTLS. When a pipeline's folder
// holds a lock file (LockFile, written by Host.Lock), every third-party
// executable the pipeline runs must have the SHA-256 the lock file pins;
// the host checks it before starting the executable and go-plugin checks
// it again at the start (SecureConfig). go-plugin cannot check a
// checksum when it attaches to a running process, so the host never
// attaches.
package pluginhost

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/catalog"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
	"github.com/flowctl/flowctl/runtime/plan"
)

// Options configure a Host.
type Options struct {
	// Builtins are the plugins compiled into the binary.
	Builtins []sdk.Plugin
	// Server returns the command that serves Builtins with sdk.Serve in a
	// new process (see Reexec). Nil runs every built-in in process.
	Server func() *exec.Cmd
	// Stdout receives what plugins print on their standard output;
	// Stderr their log lines and what they print on their standard error.
	// They default to os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// LogLevel is the lowest level of plugin log lines passed on to
	// Stderr; zero means hclog.Info.
	LogLevel hclog.Level
	// SearchPath is where third-party plugins are looked for after a
	// pipeline's plugin_dirs. Nil means $FLOWCTL_PLUGIN_PATH, then $PATH.
	SearchPath []string
	// Backoff spaces the restarts of a stage whose plugin failed; zero
	// means DefaultBackoff.
	Backoff Backoff
	// StartTimeout bounds a plugin process's start; zero means 30s.
	StartTimeout time.Duration
	// A plugin process is asked every HealthEvery whether it is alive,
	// and is taken as hung if it does not answer within HealthTimeout.
	// Zero means 5s and 30s.
	HealthEvery, HealthTimeout time.Duration
}

// PluginPathEnv is the environment variable with extra folders in which
// to look for plugin executables, separated as in $PATH.
const PluginPathEnv = "FLOWCTL_PLUGIN_PATH"

// Prefix starts the name of every plugin executable: flowctl-plugin-NAME.
const Prefix = "flowctl-plugin-"

// Host starts and watches plugin processes. It is safe for concurrent
// use.
type Host struct {
	opts   Options
	stdout io.Writer
	stderr io.Writer
	// plainTransport turns AutoMTLS off, to measure what it costs;
	// noPdeathsig leaves plugin processes to notice a dead host by
	// themselves. Tests set them.
	plainTransport bool
	noPdeathsig    bool
	closeTimeout   time.Duration

	mu       sync.Mutex
	controls map[string]*control // by executable path
	sums     map[fileKey][]byte
	// starting is held while a control process starts, so that one
	// executable gets one.
	starting sync.Mutex
}

// control is a process a host started to learn an executable's specs; it
// also answers the Validate and Delivery hooks of its plugins.
type control struct {
	key     fileKey
	p       *process
	plugins []sdk.Plugin // those named for the executable
	others  []string     // the names of the plugins it serves besides
}

// New returns a host.
func New(opts Options) *Host {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.LogLevel == hclog.NoLevel {
		opts.LogLevel = hclog.Info
	}
	if opts.SearchPath == nil {
		opts.SearchPath = append(filepath.SplitList(os.Getenv(PluginPathEnv)), filepath.SplitList(os.Getenv("PATH"))...)
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = 5 * time.Second
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = 30 * time.Second
	}
	return &Host{
		opts:         opts,
		closeTimeout: defaultCloseTimeout,
		stdout:       &lockedWriter{w: opts.Stdout},
		stderr:       &lockedWriter{w: opts.Stderr},
		controls:     make(map[string]*control),
		sums:         make(map[fileKey][]byte),
	}
}

// Close stops the processes the host started to learn specs and check
// configs. The stages of plans already bound keep working: each of their
// instances starts and stops a process of its own.
func (h *Host) Close() {
	h.mu.Lock()
	controls := h.controls
	h.controls = make(map[string]*control)
	h.mu.Unlock()
	for _, c := range controls {
		c.p.stop(false)
	}
}

// command returns the command that runs t.
func (h *Host) command(t target) (*exec.Cmd, error) {
	if t.path != "" {
		return exec.Command(t.path), nil
	}
	if h.opts.Server == nil {
		return nil, errors.New("this host has no command that serves its built-in plugins")
	}
	return h.opts.Server(), nil
}

// key is a plugin's kind and name.
type key struct {
	kind sdk.Kind
	name string
}

// Set is the plugins one pipeline may use: the built-ins and the
// third-party plugins found for it.
type Set struct {
	// Catalog holds them all, for plan.Compile.
	Catalog *catalog.Catalog

	h        *Host
	builtin  map[key]bool
	external map[key]external
	// failed holds the positions of the plugin names that Resolve
	// reported, for Compile.
	failed map[diag.Pos]bool
}

// external is a third-party plugin: where it runs and whether its sinks
// commit.
type external struct {
	target  target
	commits bool
}

// Resolve finds the plugins pipeline p uses that are not built in, checks
// them against the lock file next to p, if there is one, and starts each
// once to learn its specs. Problems are diagnostics at the plugin's name
// in the file. A plugin found nowhere is left for plan.Compile to report.
func (h *Host) Resolve(ctx context.Context, p *config.Pipeline) (*Set, diag.Diagnostics) {
	s := &Set{h: h, builtin: make(map[key]bool), external: make(map[key]external), failed: make(map[diag.Pos]bool)}
	plugins := slices.Clone(h.opts.Builtins)
	for _, b := range plugins {
		s.builtin[key{b.Spec.Kind, b.Spec.Name}] = true
	}
	var ds diag.Diagnostics
	lock, err := ReadLock(filepath.Join(p.Dir, LockFile))
	if err != nil {
		ds.Add(diag.Pos{File: p.File, Line: 1, Col: 1}, "", "%v", err)
	}
	dirs := h.dirs(p)
	done := make(map[string]error)
	for _, r := range refs(p) {
		name := r.ref.Plugin.Value
		if s.builtin[key{r.kind, name}] {
			continue
		}
		err, seen := done[name]
		if !seen {
			err = s.resolve(ctx, lock, name, dirs, p.File, &plugins)
			done[name] = err
			if err != nil {
				ds.Add(r.ref.Plugin.Pos, r.path+".plugin", "%v", err)
			}
		}
		if err != nil {
			s.failed[r.ref.Plugin.Pos] = true
		}
	}
	cat, err := catalog.New(plugins...)
	if err != nil {
		ds.Add(diag.Pos{File: p.File, Line: 1, Col: 1}, "", "%v", err)
		cat, _ = catalog.New()
	}
	s.Catalog = cat
	return s, ds
}

// resolve finds the executable of plugin name and adds its plugins. A
// plugin found nowhere is no error here.
func (s *Set) resolve(ctx context.Context, lock *Lock, name string, dirs []string, pipeline string, plugins *[]sdk.Plugin) error {
	path := find(name, dirs)
	if path == "" {
		return nil
	}
	t, err := s.h.pinned(lock, name, path, pipeline)
	if err != nil {
		return err
	}
	c, err := s.h.control(ctx, t)
	if err != nil {
		return err
	}
	*plugins = s.add(*plugins, c, t)
	return nil
}

// Compile compiles p, which Resolve resolved, against s.Catalog and binds
// the plan (Bind). It leaves out the unknown-plugin diagnostics of the
// plugins Resolve already reported.
func (s *Set) Compile(p *config.Pipeline, mode config.Mode) (*plan.Plan, diag.Diagnostics) {
	pl, pds := plan.Compile(p, s.Catalog, mode)
	var ds diag.Diagnostics
	for _, d := range pds {
		if !(s.failed[d.Pos] && strings.HasSuffix(d.Path, ".plugin")) {
			ds = append(ds, d)
		}
	}
	return pl, append(ds, s.Bind(pl)...)
}

// add adds the plugins of c that no built-in shadows.
func (s *Set) add(plugins []sdk.Plugin, c *control, t target) []sdk.Plugin {
	for _, pl := range c.plugins {
		k := key{pl.Spec.Kind, pl.Spec.Name}
		if s.builtin[k] {
			continue
		}
		_, commits := newInstance(pl).(sdk.Committer)
		s.external[k] = external{target: t, commits: commits}
		plugins = append(plugins, pl)
	}
	return plugins
}

// newInstance makes an instance of p, of its kind, without opening it.
func newInstance(p sdk.Plugin) any {
	switch {
	case p.NewSource != nil:
		return p.NewSource()
	case p.NewSink != nil:
		return p.NewSink()
	case p.NewTransform != nil:
		return p.NewTransform()
	}
	return nil
}

// Bind makes the source and sink stages of pl, which was compiled against
// s.Catalog, run their plugins out of process, each instance in a
// process of its own; built-in plugins with `isolation: in-process` stay
// in process. It reports a third-party plugin asked to run in process.
// The Delivery report of a third-party sink stage is asked for here, so
// that the plan needs no control process afterwards.
func (s *Set) Bind(pl *plan.Plan) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, st := range append(slices.Clone(pl.Stages), pl.DeadLetter) {
		if st == nil || (st.Kind != plan.SourceStage && st.Kind != plan.SinkStage) {
			continue
		}
		ref, path := stageRef(pl, st)
		if ref == nil || st.Plugin.Spec.Name == "" {
			continue
		}
		k := key{st.Plugin.Spec.Kind, st.Plugin.Spec.Name}
		ext, isExternal := s.external[k]
		inProcess := ref.Isolation.Value == "in-process"
		switch {
		case isExternal && inProcess:
			ds.Add(ref.Isolation.Pos, path+".isolation", "only built-in plugins run in process; %s is %s", k.name, ext.target.path)
			continue
		case inProcess, !isExternal && s.h.opts.Server == nil:
			continue
		}
		stg := &stage{h: s.h, kind: k.kind, name: st.Name, plugin: k.name, target: ext.target, commits: ext.commits}
		switch k.kind {
		case sdk.KindSource:
			st.Plugin.NewSource = stg.newSource
		case sdk.KindSink:
			if !isExternal {
				_, stg.commits = st.Plugin.NewSink().(sdk.Committer)
			}
			st.Plugin.NewSink = stg.newSink
			if isExternal && st.Plugin.Delivery != nil {
				st.Plugin.Delivery = deliveryOnce(st)
			}
		}
	}
	return ds
}

// deliveryOnce asks the Delivery hook of a third-party sink stage, which
// runs in the host's control process, for the stage's report now, and
// returns a hook that gives that report: the host stops its control
// processes once the plan is bound.
func deliveryOnce(st *plan.Stage) func(sdk.DeliveryRequest) sdk.DeliveryReport {
	var cfg []byte
	if st.Config != nil {
		cfg = st.Config.JSON
	}
	rep := st.Plugin.Delivery(sdk.DeliveryRequest{Config: cfg, Key: st.Key})
	return func(sdk.DeliveryRequest) sdk.DeliveryReport { return rep }
}

// stageRef returns the plugin reference of a source or sink stage and its
// path in the pipeline.
func stageRef(pl *plan.Plan, st *plan.Stage) (*config.PluginRef, string) {
	switch {
	case st == pl.DeadLetter:
		return pl.Pipeline.DeadLetter, "dead_letter"
	case st.Node == nil:
		return nil, ""
	case st.Node.Source != nil:
		return &st.Node.Source.PluginRef, fmt.Sprintf("sources[%d]", st.SourceIndex)
	case st.Node.Sink != nil:
		return &st.Node.Sink.PluginRef, fmt.Sprintf("sinks[%d]", slices.Index(pl.Pipeline.Sinks, st.Node.Sink))
	}
	return nil, ""
}

// ref is a plugin reference in a pipeline.
type ref struct {
	kind sdk.Kind
	ref  *config.PluginRef
	path string
}

// refs lists the plugin references of p.
func refs(p *config.Pipeline) []ref {
	var out []ref
	for i, s := range p.Sources {
		out = append(out, ref{sdk.KindSource, &s.PluginRef, fmt.Sprintf("sources[%d]", i)})
	}
	for i, t := range p.Transforms {
		if t.Plugin != nil {
			out = append(out, ref{sdk.KindTransform, t.Plugin, fmt.Sprintf("transforms[%d]", i)})
		}
	}
	for i, s := range p.Sinks {
		out = append(out, ref{sdk.KindSink, &s.PluginRef, fmt.Sprintf("sinks[%d]", i)})
	}
	if p.DeadLetter != nil {
		out = append(out, ref{sdk.KindSink, p.DeadLetter, "dead_letter"})
	}
	return out
}

// dirs returns where the plugins of p are looked for: its plugin_dirs,
// relative to its folder, then the host's search path.
func (h *Host) dirs(p *config.Pipeline) []string {
	var dirs []string
	if p != nil {
		for _, d := range p.PluginDirs {
			dir := d.Value
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(p.Dir, dir)
			}
			dirs = append(dirs, dir)
		}
	}
	return append(dirs, h.opts.SearchPath...)
}

// control returns the control process of t's executable, starting it if
// it is not running or the executable changed since.
func (h *Host) control(ctx context.Context, t target) (*control, error) {
	k, err := statKey(t.path)
	if err != nil {
		return nil, err
	}
	h.starting.Lock()
	defer h.starting.Unlock()
	h.mu.Lock()
	c := h.controls[t.path]
	h.mu.Unlock()
	if c != nil && c.key == k && !c.p.client.Exited() {
		return c, nil
	}
	name := strings.TrimPrefix(filepath.Base(t.path), Prefix)
	p, err := h.launch(ctx, t, "plugin "+name)
	if err != nil {
		return nil, err
	}
	all, err := p.rpc.Plugins(ctx)
	if err != nil {
		p.stop(false)
		return nil, fmt.Errorf("%s: specs: %w", t.path, err)
	}
	c = &control{key: k, p: p}
	for _, pl := range all {
		if pl.Spec.Name == name {
			c.plugins = append(c.plugins, pl)
		} else if !slices.Contains(c.others, pl.Spec.Name) {
			c.others = append(c.others, pl.Spec.Name)
		}
	}
	if len(c.plugins) == 0 {
		p.stop(false)
		return nil, fmt.Errorf("%s serves no plugin named %s (it serves %s)", t.path, name, strings.Join(c.others, ", "))
	}
	h.mu.Lock()
	old := h.controls[t.path]
	h.controls[t.path] = c
	h.mu.Unlock()
	if old != nil {
		old.p.stop(false)
	}
	return c, nil
}

// Entry is a plugin as `flowctl plugins list` shows it.
type Entry struct {
	Spec sdk.Spec
	// Path is the executable that serves it, empty for a built-in.
	Path string
	// Shadowed says a built-in plugin of the same kind and name is used
	// instead.
	Shadowed bool
}

// List returns the built-in plugins and those of every plugin executable
// in the pipeline's plugin_dirs (p may be nil) and the host's search
// path, sorted by name, kind and then built-ins first. Executables that
// fail to start or to give their specs are reported in the error, the
// rest still listed.
func (h *Host) List(ctx context.Context, p *config.Pipeline) ([]Entry, error) {
	var out []Entry
	builtin := make(map[key]bool)
	for _, b := range h.opts.Builtins {
		builtin[key{b.Spec.Kind, b.Spec.Name}] = true
		out = append(out, Entry{Spec: b.Spec})
	}
	var errs []error
	for _, path := range discover(h.dirs(p)) {
		c, err := h.control(ctx, target{path: path})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pl := range c.plugins {
			out = append(out, Entry{Spec: pl.Spec, Path: path, Shadowed: builtin[key{pl.Spec.Kind, pl.Spec.Name}]})
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Spec.Name, b.Spec.Name), cmp.Compare(a.Spec.Kind, b.Spec.Kind), cmp.Compare(a.Path, b.Path))
	})
	return out, errors.Join(errs...)
}

// Inspect returns the plugins named name: the built-ins and those of the
// first executable flowctl-plugin-NAME in the pipeline's plugin_dirs (p
// may be nil) and the host's search path.
func (h *Host) Inspect(ctx context.Context, p *config.Pipeline, name string) ([]Entry, error) {
	var out []Entry
	builtin := make(map[key]bool)
	for _, b := range h.opts.Builtins {
		if b.Spec.Name == name {
			builtin[key{b.Spec.Kind, b.Spec.Name}] = true
			out = append(out, Entry{Spec: b.Spec})
		}
	}
	path := find(name, h.dirs(p))
	if path == "" {
		return out, nil
	}
	c, err := h.control(ctx, target{path: path})
	if err != nil {
		return out, err
	}
	for _, pl := range c.plugins {
		out = append(out, Entry{Spec: pl.Spec, Path: path, Shadowed: builtin[key{pl.Spec.Kind, pl.Spec.Name}]})
	}
	return out, nil
}
