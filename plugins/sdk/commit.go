package sdk

import "context"

// Delivery is the guarantee a sink gives for the rows it is handed, as
// `flowctl validate` reports it per sink.
type Delivery string

// The delivery guarantees, weakest first.
const (
	// AtLeastOnce: after a crash, rows written since the last checkpoint
	// are written again.
	AtLeastOnce Delivery = "at-least-once"
	// Idempotent: rows are written again after a crash, but as upserts by
	// the pipeline's `key`, so each key ends up with one row.
	Idempotent Delivery = "idempotent"
	// ExactlyOnce: the sink implements [Committer]; rows become visible
	// only when the checkpoint that covers them is durable.
	ExactlyOnce Delivery = "exactly-once"
)

// DeliveryRequest is what a sink's [Plugin].Delivery hook is asked about:
// the sink's config block (JSON, defaults filled in) and the pipeline's key.
type DeliveryRequest struct {
	Config []byte
	Key    []string
}

// DeliveryReport is the guarantee a sink gives under one configuration, and
// why, in a sentence a user reads in `flowctl validate`'s report:
// "rows and the checkpoint marker commit in one transaction".
type DeliveryReport struct {
	Delivery Delivery
	Reason   string
}

// Committer is implemented by sinks that deliver exactly once by taking part
// in the host's checkpoints, a two-phase commit tied to the checkpoint id:
//
//  1. Rows arrive through Write as usual.
//  2. Prepare(id) makes every row written since the previous Prepare
//     durable but not yet visible (a staged file, a staging table, an open
//     transaction), labelled with checkpoint id.
//  3. The host writes checkpoint id (source positions, operator state and
//     every sink's marker) durably.
//  4. Commit(id) makes the rows staged under id, and under any earlier id
//     not yet committed, visible. It is idempotent.
//
// After a restart the host opens the sink and, before any Write, asks
// Committed and then calls Recover with the checkpoint it restores.
// Checkpoint ids increase by one from 1; 0 means "no checkpoint".
//
// The host calls these methods from the sink's one goroutine, never
// concurrently with Write or Flush. A sink that implements Committer need
// not implement [Flusher]: Prepare takes its place.
type Committer interface {
	// Committed reports the latest checkpoint id whose rows this sink has
	// made visible or holds durably staged and can still make visible. A
	// sink whose staged rows do not survive a crash (a Kafka transaction
	// the broker aborts when the producer restarts) reports the last id it
	// committed. The host restores the latest checkpoint not after the
	// smallest id its sinks report, so that no sink shows rows the restored
	// checkpoint does not account for.
	Committed(ctx context.Context) (uint64, error)
	// Recover makes the sink's visible output exactly that of checkpoints
	// up to id: it commits rows staged under ids up to id that are not yet
	// visible and discards rows staged under later ids. Recover(0) starts
	// from nothing: a fresh run discards whatever an earlier run left.
	Recover(ctx context.Context, id uint64) error
	// Prepare stages, durably and invisibly, every row written since the
	// previous Prepare under checkpoint id.
	Prepare(ctx context.Context, id uint64) error
	// Commit makes the rows staged under id (and earlier ids) visible.
	Commit(ctx context.Context, id uint64) error
}
