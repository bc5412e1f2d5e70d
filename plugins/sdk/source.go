package sdk

import "context"

// OpenRequest is what the host hands a source when it opens it.
type OpenRequest struct {
	// Config is the plugin's config block as JSON, checked against the
	// plugin's Spec and with defaults filled in. Decode it with DecodeConfig.
	Config []byte
	// Format is the pipeline's `format` for this source (json, csv, raw).
	// Sources that split bytes into records (files) use it to know how.
	Format string
	// Resume holds, per partition, the position of the last message the
	// host acknowledged; reading continues after it. Empty on a fresh start.
	Resume []Position
	// Bounded says the run is a batch run: a source that could go on
	// forever (a topic, a polled table) delivers what is there when it
	// opens and then returns ErrEndOfInput, as with its own bounded
	// setting. Sources that always end may ignore it.
	Bounded bool
	// Settings carries what the host provides besides the user's config.
	Settings Settings
}

// Settings is what the host gives a plugin besides its config.
type Settings struct {
	Name     string // the source or sink name in the pipeline
	Pipeline string // the pipeline's name: with Name, a stable identity across runs (a Kafka transactional id, a marker row)
	// Instance, for sources and sinks, names one of several concurrent
	// runs of the same pipeline (a backfill slice, a scaled-out process);
	// empty for a pipeline's only run. It is stable across reruns of the
	// same part of the work, so a sink that declares Spec.Instances makes
	// it part of its identity: the backfill slice
	// "2026-03-01T00:00:00Z/2026-03-02T00:00:00Z" replaces what the same
	// slice wrote before, and nothing else.
	Instance string
	Logger   Logger
	_        struct{}
}

// Logger receives a plugin's log lines; the host prefixes them with the
// plugin's name.
type Logger interface {
	Printf(format string, args ...any)
}

// Source reads messages. The host calls its methods from one goroutine
// (Acker.Ack excepted):
// Open once, Read repeatedly, Close once.
type Source interface {
	// Open prepares the source. It returns an error if the source cannot
	// start (unreachable server, missing file); the run then fails.
	Open(ctx context.Context, req OpenRequest) error
	// Read returns the next batch. It blocks until messages are available or
	// ctx is cancelled, and then returns ctx.Err(). A bounded source returns
	// ErrEndOfInput once everything was delivered (possibly along with the
	// final batch). An empty batch with a nil error is allowed.
	Read(ctx context.Context) (Batch, error)
	// Close releases resources. It is called once, even after errors.
	Close(ctx context.Context) error
}

// Acker is implemented by sources that must be told when messages are
// durably processed: Ack is called with the latest position per partition
// once every sink has committed all output derived from messages up to it.
// Ack may be called while a Read is in progress (the host acknowledges at
// checkpoints, from another goroutine than the one reading), so it must be
// safe to call concurrently with Read; it is never called concurrently
// with itself, Open or Close.
type Acker interface {
	Ack(ctx context.Context, positions []Position) error
}
