package wire

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flowctl/flowctl/plugins/sdk/internal/pluginpb"
)

// Code returns the gRPC code for an error of the given kinds: the code of
// the first, for readers of the status that do not look at its details.
// The details, not the code, are what the host maps back to errors.
func Code(kinds []pb.ErrorKind) codes.Code {
	if len(kinds) == 0 {
		return codes.Unknown
	}
	switch kinds[0] {
	case pb.ErrorKind_ERROR_KIND_END_OF_INPUT:
		return codes.OutOfRange
	case pb.ErrorKind_ERROR_KIND_BACKOFF:
		return codes.ResourceExhausted
	case pb.ErrorKind_ERROR_KIND_NOT_CONNECTED:
		return codes.Unavailable
	case pb.ErrorKind_ERROR_KIND_CONFIG:
		return codes.InvalidArgument
	case pb.ErrorKind_ERROR_KIND_CANCELED:
		return codes.Canceled
	case pb.ErrorKind_ERROR_KIND_DEADLINE_EXCEEDED:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// StatusError returns the gRPC status error that carries e as its detail.
func StatusError(e *pb.Error) error {
	st := status.New(Code(e.Kinds), e.Message)
	if withDetails, err := st.WithDetails(e); err == nil {
		st = withDetails
	}
	return st.Err()
}

// FromStatus returns the plugin error a gRPC status error carries, and
// the status. The error is nil when err is not a status or carries no
// plugin error: it comes from gRPC itself (a broken connection) or from a
// server that is not a flowctl plugin.
func FromStatus(err error) (*pb.Error, *status.Status) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, nil
	}
	for _, d := range st.Details() {
		if e, ok := d.(*pb.Error); ok {
			return e, st
		}
	}
	return nil, st
}
