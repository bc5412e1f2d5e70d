// Command flowctl runs data pipelines declared in YAML.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the pipeline is invalid or failed
	exitUsage = 2 // the command line is wrong
)

// exitError carries an exit code through cobra.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := newRoot()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	var ce *codeError
	if errors.As(err, &ce) {
		if ce.err != errReported {
			fmt.Fprintln(cmd.ErrOrStderr(), "flowctl:", ce.err)
		}
		return ce.code
	}
	// cobra's own errors: unknown command or flag, wrong argument count.
	fmt.Fprintln(cmd.ErrOrStderr(), "flowctl:", err)
	return exitUsage
}

// errReported means the error was already printed.
var errReported = errors.New("reported")

func failed(err error) error { return &codeError{code: exitError, err: err} }
