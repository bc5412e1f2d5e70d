package sdk

import "context"

// TransformOpenRequest is what the host hands a transform when it opens it.
type TransformOpenRequest struct {
	Config   []byte
	Columns  []string // the columns of the input rows
	Settings Settings
}

// Transform maps batches of rows to batches of rows. The host calls its
// methods from one goroutine.
type Transform interface {
	// Open prepares the transform and returns the columns of its output.
	Open(ctx context.Context, req TransformOpenRequest) (columns []string, err error)
	// Process turns one input batch into zero or more output rows.
	Process(ctx context.Context, in Rows) (Rows, error)
	Close(ctx context.Context) error
}
