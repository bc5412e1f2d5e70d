package pluginrpc

import (
	"context"
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
	"github.com/flowctl/flowctl/plugins/sdk/internal/wire"
)

// callError turns the error of a call into the error the plugin returned,
// the error of ctx if the call was cancelled, or an ErrTransport error.
func callError(ctx context.Context, err error) error {
	e, st := wire.FromStatus(err)
	if e != nil {
		return errorFromPB(e)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if st != nil {
		return fmt.Errorf("%w: %s: %s", ErrTransport, st.Code(), st.Message())
	}
	return fmt.Errorf("%w: %v", ErrTransport, err)
}

// sentinel returns the error a kind stands for.
func sentinel(k pb.ErrorKind) error {
	switch k {
	case pb.ErrorKind_ERROR_KIND_END_OF_INPUT:
		return sdk.ErrEndOfInput
	case pb.ErrorKind_ERROR_KIND_BACKOFF:
		return sdk.ErrBackoff
	case pb.ErrorKind_ERROR_KIND_NOT_CONNECTED:
		return sdk.ErrNotConnected
	case pb.ErrorKind_ERROR_KIND_CANCELED:
		return context.Canceled
	case pb.ErrorKind_ERROR_KIND_DEADLINE_EXCEEDED:
		return context.DeadlineExceeded
	}
	return nil
}

// errorFromPB rebuilds a plugin's error: the sentinel itself when that is
// all the error was, else an error with the plugin's text that wraps every
// sentinel and configuration error it held.
func errorFromPB(e *pb.Error) error {
	var wrapped []error
	for _, k := range e.Kinds {
		if s := sentinel(k); s != nil {
			wrapped = append(wrapped, s)
		}
	}
	for _, c := range e.ConfigErrors {
		wrapped = append(wrapped, &sdk.ConfigError{Path: c.Path, Msg: c.Msg})
	}
	if len(wrapped) == 1 && wrapped[0].Error() == e.Message {
		return wrapped[0]
	}
	return &remoteError{msg: e.Message, wrapped: wrapped}
}

// remoteError is an error returned by a plugin, with the plugin's text.
type remoteError struct {
	msg     string
	wrapped []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.wrapped }
