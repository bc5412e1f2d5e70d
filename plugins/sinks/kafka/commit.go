package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The commit protocol (sdk.Committer).
//
// A marker record on marker_topic, keyed by the sink's id (its
// transactional id), records the last checkpoint whose rows the sink has
// made visible: {"checkpoint": 17, "pipeline": ..., "sink": ..., "at": ...}.
// The topic is compacted, so it keeps about one marker per sink.
//
// Transactional: the rows go into a Kafka transaction, begun by the first
// Write after a commit. Prepare(id) flushes them: they are in the log,
// invisible to read_committed consumers. Commit(id) adds the marker of id
// to the transaction and commits it, so rows and marker become visible
// together. Rows written between Prepare and Commit are held in memory and
// go into the next transaction. A transaction does not survive its
// producer: opening the sink fences the previous producer with the same
// transactional id, which aborts whatever that one left open. Committed
// then reports the checkpoint of the last committed marker, and the host
// resumes from there; the aborted rows are produced again.
//
// Not transactional: Prepare(id) flushes the rows, which are then visible,
// and writes the marker of id; Commit does nothing. The marker is at least
// the checkpoint the host last made durable, so the sink never holds the
// host back; rows written after that checkpoint are written again after a
// crash (at-least-once, or idempotent under a compacted topic's keys).

// commitState is the state of the commit protocol.
type commitState struct {
	inTxn     bool          // a transaction is open
	prepared  uint64        // the checkpoint staged in the open transaction; 0 if none
	committed uint64        // the checkpoint of the last marker, or the one Recover set
	held      []*kgo.Record // written after Prepare, for the next transaction
	hasTopic  bool          // marker_topic exists
}

// marker is the value of a marker record.
type marker struct {
	Checkpoint uint64    `json:"checkpoint"`
	Pipeline   string    `json:"pipeline,omitempty"`
	Sink       string    `json:"sink,omitempty"`
	At         time.Time `json:"at"`
}

// Committed reports the checkpoint of the sink's last marker, 0 if it has
// none.
func (s *Sink) Committed(ctx context.Context) (uint64, error) {
	if err := s.failed(); err != nil {
		return 0, err
	}
	m, _, err := s.readMarker(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the commit marker of %s from topic %s: %w", s.id, s.cfg.MarkerTopic, err)
	}
	s.commit.committed = m.Checkpoint
	return m.Checkpoint, nil
}

// Recover aborts the open transaction, if any, drops held rows, and takes
// id as the last committed checkpoint. Rows in Kafka cannot be taken
// back: if the sink's marker is past id, the rows of the checkpoints
// after id stay visible and are written again, which is logged.
func (s *Sink) Recover(ctx context.Context, id uint64) error {
	if err := s.failed(); err != nil {
		return err
	}
	if s.commit.inTxn {
		if err := s.abort(ctx); err != nil {
			return err
		}
	}
	s.commit.held, s.commit.prepared = nil, 0
	switch c := s.commit.committed; {
	case id < c:
		s.logf("resuming from checkpoint %d, but the rows of checkpoints up to %d are already in Kafka: those after checkpoint %d will be written again", id, c, id)
	case id > c && s.cfg.Transactional:
		s.logf("resuming from checkpoint %d, but the last checkpoint this sink committed is %d", id, c)
	}
	s.commit.committed = id
	return nil
}

// Prepare makes every row written so far durable: under a transaction,
// staged in it; otherwise visible, and the marker of id written.
func (s *Sink) Prepare(ctx context.Context, id uint64) error {
	if err := s.failed(); err != nil {
		return err
	}
	if !s.cfg.Transactional {
		if err := s.Flush(ctx); err != nil {
			return err
		}
		return s.writeMarker(ctx, id)
	}
	if held := s.commit.held; len(held) > 0 {
		// A second Prepare without a Commit: the held rows join the
		// open transaction, which now stands for id.
		s.commit.held, s.commit.prepared = nil, 0
		for _, r := range held {
			if err := s.send(ctx, r); err != nil {
				return err
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		return s.explain(err)
	}
	s.commit.prepared = id
	return nil
}

// Commit commits the open transaction with the marker of id, then starts
// the next with the rows held since Prepare. Committing an id already
// committed does nothing. Not transactional, it does nothing at all.
func (s *Sink) Commit(ctx context.Context, id uint64) error {
	if err := s.failed(); err != nil {
		return err
	}
	c := &s.commit
	switch {
	case !s.cfg.Transactional:
		return nil
	case c.prepared > id:
		return fmt.Errorf("commit checkpoint %d: the open transaction also holds the rows of checkpoint %d", id, c.prepared)
	case id <= c.committed && c.prepared == 0:
		return nil
	}
	if err := s.commitTxn(ctx, id); err != nil {
		return s.explain(err)
	}
	c.inTxn, c.prepared, c.committed = false, 0, id
	held := c.held
	c.held = nil
	for _, r := range held {
		if err := s.send(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// commitTxn writes the marker of id in the transaction and commits it.
func (s *Sink) commitTxn(ctx context.Context, id uint64) error {
	if err := s.begin(); err != nil {
		return err
	}
	if err := s.writeMarker(ctx, id); err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit the transaction of checkpoint %d: %w", id, err)
	}
	return nil
}

// explain adds to the errors of a producer whose transaction the broker
// ended, or which a newer producer fenced, why that happens.
func (s *Sink) explain(err error) error {
	for _, e := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidTxnState, kerr.InvalidProducerIDMapping} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w (the broker aborts a transaction open longer than transaction_timeout, %s, "+
				"and a newer sink with transactional id %s fences this one)", err, s.cfg.transactionTimeout(), s.id)
		}
	}
	return err
}

// begin begins a transaction unless one is open.
func (s *Sink) begin() error {
	if s.commit.inTxn {
		return nil
	}
	if err := s.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	s.commit.inTxn = true
	return nil
}

// abort aborts the open transaction and what is buffered for it.
func (s *Sink) abort(ctx context.Context) error {
	errBuf := s.cl.AbortBufferedRecords(ctx)
	errEnd := s.cl.EndTransaction(ctx, kgo.TryAbort)
	s.commit.inTxn, s.commit.prepared = false, 0
	if err := errors.Join(errBuf, errEnd); err != nil {
		return fmt.Errorf("abort the transaction: %w", err)
	}
	return nil
}

// fenceTries bounds the tries of an InitProducerID the coordinator answers
// with CONCURRENT_TRANSACTIONS while it completes an earlier transaction.
const fenceTries = 50

// fence makes the sink's transactional id its own: it initializes a
// producer id for it, which fences any earlier producer and makes the
// coordinator finish the transaction that one left (an abort, or a commit
// already under way), and initializes it again with the id and epoch it
// got (KIP-360), which aborts a transaction still open. Kafka does the
// first; the second makes sure of it, on brokers that do not (kfake). The
// producer then initializes its own id when it begins a transaction.
func (s *Sink) fence(ctx context.Context) error {
	id, epoch := int64(-1), int16(-1)
	for range 2 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &s.id
		req.TransactionTimeoutMillis = int32(s.cfg.transactionTimeout().Milliseconds())
		req.ProducerID, req.ProducerEpoch = id, epoch
		resp, err := initProducerID(ctx, s.cl, req)
		if err != nil {
			return fmt.Errorf("fence transactional id %s: %w", s.id, err)
		}
		id, epoch = resp.ProducerID, resp.ProducerEpoch
	}
	return nil
}

// initProducerID sends req, again while the coordinator is busy.
func initProducerID(ctx context.Context, cl *kgo.Client, req *kmsg.InitProducerIDRequest) (*kmsg.InitProducerIDResponse, error) {
	wait := 10 * time.Millisecond
	for try := 1; ; try++ {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, err
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, kerr.ConcurrentTransactions) || try == fenceTries {
			return nil, err
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, time.Second)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
