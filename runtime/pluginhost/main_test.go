package pluginhost

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/builtin"
)

// The test binary is its own plugin server: started with ServeEnv=1 it
// serves the built-in plugins and the crash source (ServeIfAsked); the
// tests' hosts start it so (testServer), and as a third-party executable
// through a link named flowctl-plugin-crash. Started with hostEnv set it
// is a host that a test kills (hostMain).

// hostEnv makes the test binary run hostMain.
const hostEnv = "PLUGINHOST_TEST_HOST"

func TestMain(m *testing.M) {
	ServeIfAsked(append(builtin.Plugins(), crashPlugin())...)
	if _, set := os.LookupEnv("GORACE"); !set {
		// Child processes built with -race would otherwise sleep a
		// second as they exit.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	if mode := os.Getenv(hostEnv); mode != "" {
		os.Exit(hostMain(mode))
	}
	os.Exit(m.Run())
}

// testServer is the Server of the tests' hosts.
func testServer(t testing.TB) func() *exec.Cmd {
	t.Helper()
	server, err := Reexec(os.Args[0], nil, ServeEnv+"=1")
	if err != nil {
		t.Fatal(err)
	}
	return server
}

// crashConfig configures the crash source: it reads messages {"n": i}
// and, after After reads, does Action:
//
//	""      nothing: the input ends
//	"exit"  logs Message and exits with status Code
//	"panic" panics with Message
//	"stop"  stops its own process (SIGSTOP): it hangs
//	"block" blocks in Read until cancelled, forever
//
// At Open it logs Message through its Logger and prints it on os.Stderr
// and os.Stdout, when Print is set.
type crashConfig struct {
	After   int    `json:"after"`
	Action  string `json:"action"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Print   bool   `json:"print"`
}

func crashPlugin() sdk.Plugin {
	str := func(name string) sdk.FieldSpec { return sdk.FieldSpec{Name: name, Type: sdk.TypeString} }
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "crash", Kind: sdk.KindSource, Version: "1.2.3", Summary: "A source that fails on demand.",
			Fields: []sdk.FieldSpec{
				{Name: "after", Type: sdk.TypeInt}, str("action"), {Name: "code", Type: sdk.TypeInt},
				str("message"), {Name: "print", Type: sdk.TypeBool},
			},
		},
		NewSource: func() sdk.Source { return &crashSource{} },
	}
}

type crashSource struct {
	cfg crashConfig
	n   int
}

func (s *crashSource) Open(_ context.Context, req sdk.OpenRequest) error {
	if err := sdk.DecodeConfig(req.Config, &s.cfg); err != nil {
		return err
	}
	if s.cfg.Print {
		req.Settings.Logger.Printf("logged %s", s.cfg.Message)
		fmt.Fprintf(os.Stderr, "printed %s\n", s.cfg.Message)
	}
	return nil
}

func (s *crashSource) Read(ctx context.Context) (sdk.Batch, error) {
	if s.n == s.cfg.After {
		switch s.cfg.Action {
		case "":
			return sdk.Batch{}, sdk.ErrEndOfInput
		case "exit":
			fmt.Fprintln(os.Stderr, s.cfg.Message) // through go-plugin's stream
			time.Sleep(50 * time.Millisecond)      // let it reach the host
			os.Exit(s.cfg.Code)
		case "panic":
			panic(s.cfg.Message)
		case "stop":
			_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		case "block":
			<-ctx.Done()
			select {} // ignores cancellation: only a kill ends it
		}
	}
	s.n++
	return sdk.Batch{Messages: []sdk.Message{{
		Payload:  fmt.Appendf(nil, `{"n":%d}`, s.n),
		Position: sdk.Position{Partition: "p", Offset: int64(s.n)},
	}}}, nil
}

func (s *crashSource) Close(context.Context) error { return nil }

// hostMain is a host that starts a plugin (an unbounded generate source),
// prints the plugin's pid and waits to be killed. Mode "watch" starts
// the plugin without Pdeathsig, so that only sdk.Serve's watch of its
// parent can end it.
func hostMain(mode string) int {
	server, err := Reexec(os.Args[0], nil, ServeEnv+"=1")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h := New(Options{Builtins: builtin.Plugins(), Server: server, Stderr: io.Discard})
	h.noPdeathsig = mode == "watch"
	st := &stage{h: h, kind: sdk.KindSource, name: "g", plugin: "generate"}
	src := st.newSource()
	ctx := context.Background()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(`{"rate": 10, "fields": {"n": "i"}}`)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(src.(*source).p.pid)
	time.Sleep(time.Minute)
	return 0
}
