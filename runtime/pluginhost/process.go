package pluginhost

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/flowctl/flowctl/plugins/sdk/pluginrpc"
)

// Time limits of a process's life.
const (
	// exitWait bounds how long a failed call waits for its process to
	// exit, to report how it ended.
	exitWait = 2 * time.Second
	// drainWait bounds how long closing a sink waits for what it printed
	// to arrive.
	drainWait = 2 * time.Second
	// defaultCloseTimeout bounds a Close whose context has no deadline:
	// a plugin that does not return by then is killed.
	defaultCloseTimeout = time.Minute
)

// target is what a process runs: flowctl's built-in plugins (path empty)
// or a plugin executable.
type target struct {
	path string
	// sum, when set, is the SHA-256 the executable must have.
	sum []byte
}

// process is one running plugin process and the host's connection to it.
type process struct {
	label  string // who it serves, for messages: "source in (file)"
	path   string // the executable, for messages
	cmd    *exec.Cmd
	client *plugin.Client
	cp     plugin.ClientProtocol
	rpc    *pluginrpc.Client
	pid    int
	start  time.Time
	tail   tail

	stderr  *lines  // the process's stderr: log lines
	syncOut *marked // its os.Stdout
	syncErr *marked // its os.Stderr
	drained chan struct{}

	hung     atomic.Bool // the health check found it unresponsive and killed it
	stopOnce sync.Once
	done     chan struct{} // closed by stop: ends the health check
}

// launch starts a process running t, connects to it and starts checking
// its health. label names what it serves in messages and log lines.
func (h *Host) launch(ctx context.Context, t target, label string) (*process, error) {
	cmd, err := h.command(t)
	if err != nil {
		return nil, err
	}
	p := &process{label: label, path: cmd.Path, cmd: cmd, drained: make(chan struct{}, 2), done: make(chan struct{})}
	mark, err := drainMark()
	if err != nil {
		return nil, err
	}
	// go-plugin adds the host's environment after this.
	cmd.Env = append(cmd.Env, pluginrpc.DrainEnv+"="+mark)
	if !h.noPdeathsig {
		killWithHost(cmd)
	}

	cfg := pluginrpc.ClientConfig(cmd)
	cfg.AutoMTLS = !h.plainTransport
	if t.sum != nil {
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: t.sum, Hash: sha256.New()}
	}
	cfg.StartTimeout = h.opts.StartTimeout
	// go-plugin's own logging is off: the host reads the process's stderr
	// itself (Stderr) and reports what go-plugin would log in errors.
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off})
	p.stderr = &lines{line: p.logLine(h)}
	cfg.Stderr = p.stderr
	p.syncOut = &marked{w: h.stdout, mark: []byte(mark), seen: p.markSeen}
	p.syncErr = &marked{w: &lines{line: p.printLine(h)}, mark: []byte(mark), seen: p.markSeen}
	cfg.SyncStdout = p.syncOut
	cfg.SyncStderr = p.syncErr
	p.client = plugin.NewClient(cfg)

	p.start = time.Now()
	if err := p.connect(ctx); err != nil {
		return nil, p.startError(t, err)
	}
	go p.watch(h.opts.HealthEvery, h.opts.HealthTimeout)
	return p, nil
}

// drainMark returns a new random drain mark (see pluginrpc.DrainEnv).
func drainMark() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("drain mark: %w", err)
	}
	return "\x1eflowctl-drained-" + hex.EncodeToString(b[:]) + "\x1e", nil
}

// connect starts the process and dispenses its client. Cancelling ctx
// kills the process.
func (p *process) connect(ctx context.Context) error {
	type result struct {
		cp  plugin.ClientProtocol
		err error
	}
	ch := make(chan result, 1)
	go func() {
		cp, err := p.client.Client()
		ch <- result{cp, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		// go-plugin cannot cancel a start: stop the process once it
		// is over.
		go func() {
			<-ch
			p.client.Kill()
		}()
		return ctx.Err()
	}
	if res.err != nil {
		p.client.Kill()
		return res.err
	}
	if p.cmd.Process != nil {
		p.pid = p.cmd.Process.Pid
	}
	p.cp = res.cp
	rpc, err := pluginrpc.Dispense(res.cp)
	if err != nil {
		p.client.Kill()
		return err
	}
	p.rpc = rpc
	return nil
}

// startError describes a process that did not start.
func (p *process) startError(t target, err error) error {
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		// The executable changed after the host checked it.
		return &ChecksumError{Path: t.path, Want: hex.EncodeToString(t.sum), Got: "a different one"}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if p.cmd.Process != nil {
		p.pid = p.cmd.Process.Pid
	}
	status := p.status()
	if p.pid != 0 && strings.HasPrefix(status, "signal: ") {
		// It started and was killed during the handshake: a crash like
		// any other, which the engine answers by starting it again.
		err = fmt.Errorf("%w: %w", pluginrpc.ErrTransport, err)
	}
	return &ProcessError{Label: p.label, Path: p.path, Pid: p.pid, Status: status, Stderr: p.tail.last(), Err: fmt.Errorf("start: %w", err)}
}

// logLine returns what the process's stderr lines go to: the host's log
// and the tail, if they are hclog entries at or above the host's level or
// any other line, with the label before each in the log.
func (p *process) logLine(h *Host) func(string) {
	return func(line string) {
		if text, ok := logLine(line, h.opts.LogLevel); ok {
			p.tail.add(line)
			fmt.Fprintf(h.stderr, "%s: %s\n", p.label, text)
		}
	}
}

// printLine returns what the lines the plugin writes to os.Stderr go to:
// the host's stderr with the label before each, and the tail.
func (p *process) printLine(h *Host) func(string) {
	return func(line string) {
		p.tail.add(line)
		fmt.Fprintf(h.stderr, "%s: %s\n", p.label, line)
	}
}

func (p *process) markSeen() {
	select {
	case p.drained <- struct{}{}:
	default:
	}
}

// watch checks the process's health every so often until stop. A
// process that does not answer within timeout is hung: watch kills it,
// so that the calls waiting on it fail and report it.
func (p *process) watch(every, timeout time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		answer := make(chan error, 1)
		go func() { answer <- p.cp.Ping() }()
		select {
		case <-p.done:
			return
		case err := <-answer:
			if err != nil {
				return // gone: the next call reports it
			}
		case <-time.After(timeout):
			p.hung.Store(true)
			p.kill()
			return
		}
	}
}

// kill kills the process at once.
func (p *process) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

// exited waits up to d for the process to exit and reports whether it
// did.
func (p *process) exited(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// status says how the process ended ("exit status 2", "signal:
// killed"), or that it still runs.
func (p *process) status() string {
	if p.cmd.Process == nil {
		return "did not start"
	}
	if !p.exited(exitWait) {
		return "still running"
	}
	// The exit was observed under go-plugin's lock, after cmd.Wait set
	// ProcessState.
	return p.cmd.ProcessState.String()
}

// failure describes the process after a call to it failed in the
// transport (err): how it ended and the last lines of its stderr. A
// process that still runs is killed.
func (p *process) failure(err error) *ProcessError {
	status := p.status()
	if status == "still running" {
		p.kill()
		status = "broke the protocol; killed"
		if p.exited(exitWait) {
			status += " (" + p.cmd.ProcessState.String() + ")"
		}
	}
	if p.hung.Load() {
		status = fmt.Sprintf("hung (no answer to a health check); killed (%s)", status)
	}
	return &ProcessError{Label: p.label, Path: p.path, Pid: p.pid, Status: status, Stderr: p.tail.last(), Err: err}
}

// stop ends the process: after waiting for a sink's last output when
// drain is set, it asks the process to exit and kills it if it does not
// within two seconds. Its output is passed on to the last byte.
func (p *process) stop(drain bool) {
	p.stopOnce.Do(func() {
		close(p.done)
		if drain && !p.client.Exited() {
			timeout := time.NewTimer(drainWait)
			defer timeout.Stop()
		wait:
			for range 2 { // stdout and stderr
				select {
				case <-p.drained:
				case <-timeout.C:
					break wait
				}
			}
		}
		p.client.Kill()
		p.stderr.flush()
		_ = p.syncOut.flush()
		_ = p.syncErr.flush()
	})
}
