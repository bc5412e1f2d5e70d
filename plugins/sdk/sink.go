package sdk

import "context"

// SinkOpenRequest is what the host hands a sink when it opens it.
type SinkOpenRequest struct {
	Config   []byte   // the sink's config block as JSON, see OpenRequest.Config
	Columns  []string // the columns of every row the sink will receive
	Key      []string // the upsert key from the pipeline, if any
	Settings Settings
}

// Sink writes rows. The host calls its methods from one goroutine.
type Sink interface {
	// Open prepares the sink for rows with the given columns.
	Open(ctx context.Context, req SinkOpenRequest) error
	// Write takes a batch of rows. It may buffer them; the rows slice is not
	// reused by the host after Write returns, but Write must not keep it
	// past the call if it modifies it.
	Write(ctx context.Context, rows Rows) error
	// Close flushes what is buffered and releases resources. It is called
	// once, even after errors.
	Close(ctx context.Context) error
}

// Flusher is implemented by sinks that buffer: Flush returns once every row
// written so far is durable.
type Flusher interface {
	Flush(ctx context.Context) error
}
