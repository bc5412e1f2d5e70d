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
	// Partitions, when set, limits the source to these partitions, named
	// as its messages' Position.Partition names them: the host runs one
	// share of a scaled-out pipeline (`scale_out: true`), and another
	// process reads the others. Resume then holds positions of these
	// partitions only. Only sources whose Spec sets ScaleOut get it.
	Partitions []string
	// Coordinate opens the source as its process's member of the group
	// that shares the source's partitions among the processes running the
	// pipeline (a Kafka consumer group). The host then calls Rebalance
	// (see Rebalancer) and Ack on the instance, never Read; the instances
	// that read are opened with Partitions. Only sources whose Spec sets
	// ScaleOut get it.
	Coordinate bool
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

// Rebalancer is implemented by sources that share their partitions among
// several processes running one pipeline (Spec.ScaleOut), through a group
// their system coordinates: Kafka's consumer groups. The host opens one
// instance with OpenRequest.Coordinate, which joins the group, and calls
// Rebalance on it in a loop; for each partition assigned it restores the
// partition's state from the shared checkpoint storage and opens a reading
// instance with OpenRequest.Partitions.
//
// A revoked partition must not be read by another process before this one
// has checkpointed it, or its state would be restored without the records
// read since: the source holds the group's rebalance back until the host
// reports the partition released, in the next call. Partitions that are
// lost instead (the process was too slow to answer and the group has moved
// on) are stopped without a checkpoint; the new owner resumes from the
// last one.
//
// Rebalance is called from one goroutine, one call at a time, but
// concurrently with Ack; Close may be called while a Rebalance waits, after
// the context of that call was cancelled. The coordinating instance's Ack
// gets the positions the partitions' runs were acknowledged up to, maybe
// of a partition released moments before: a source ignores what it no
// longer holds (Kafka refuses commits from an old generation).
type Rebalancer interface {
	// Rebalance reports the partitions that earlier answers revoked and
	// the host has since stopped and checkpointed, and then waits for the
	// next change of the process's assignment (the first call: the first
	// assignment, maybe empty), or ctx. Lost partitions in released are
	// ignored.
	Rebalance(ctx context.Context, released []string) (Assignment, error)
}

// Assignment is a change of the partitions assigned to a process.
type Assignment struct {
	// Assigned partitions are this process's from now on.
	Assigned []string
	// Revoked partitions are to be stopped: the host checkpoints each and
	// reports it released in its next Rebalance call.
	Revoked []string
	// Lost says the Revoked partitions already belong to another process:
	// the host stops them without a checkpoint.
	Lost bool
}
