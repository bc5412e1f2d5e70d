package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reading markers back. The sink's last marker is near the end of the
// marker topic, after at most a few markers of other sinks per checkpoint
// interval, so the topic is read backwards in growing windows, each up to
// where the previous began, until a window holds a marker of the sink.
const (
	firstWindow = 64
	growWindow  = 8
	// idleScan ends the read of a window whose last offsets hold no
	// record any more (the log cleaner removed them) once nothing more
	// arrives for this long and everything below the window's end is
	// known to be stable.
	idleScan = time.Second
)

// writeMarker writes the marker of checkpoint id and waits for it to be
// acknowledged; under a transaction, it is part of it.
func (s *Sink) writeMarker(ctx context.Context, id uint64) error {
	if err := s.ensureMarkerTopic(ctx); err != nil {
		return err
	}
	value, err := json.Marshal(marker{Checkpoint: id, Pipeline: s.pipeline, Sink: s.name, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	rec := &kgo.Record{Topic: s.cfg.MarkerTopic, Key: []byte(s.id), Value: value}
	if err := s.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("write the commit marker of checkpoint %d to topic %s: %w", id, s.cfg.MarkerTopic, err)
	}
	return nil
}

// ensureMarkerTopic creates the marker topic, one compacted partition,
// unless it exists.
func (s *Sink) ensureMarkerTopic(ctx context.Context) error {
	if s.commit.hasTopic {
		return nil
	}
	compact := "compact"
	resp, err := s.adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, s.cfg.MarkerTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create the marker topic %s (or create it yourself: 1 partition, cleanup.policy=compact): %w", s.cfg.MarkerTopic, err)
	}
	s.commit.hasTopic = true
	return nil
}

// readMarker returns the sink's last committed marker, and false if there
// is none (or no marker topic).
func (s *Sink) readMarker(ctx context.Context) (marker, bool, error) {
	topic := s.cfg.MarkerTopic
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return marker{}, false, err
	}
	if o, ok := starts.Lookup(topic, -1); ok && errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
		return marker{}, false, nil
	}
	if err := starts.Error(); err != nil {
		return marker{}, false, err
	}
	s.commit.hasTopic = true
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return marker{}, false, err
	}
	var best marker
	var found bool
	for p, start := range starts[topic] {
		end, _ := ends.Lookup(topic, p)
		m, ok, err := s.lastMarker(ctx, p, start.Offset, end.Offset)
		if err != nil {
			return marker{}, false, err
		}
		if ok && (!found || m.At.After(best.At)) {
			best, found = m, true
		}
	}
	return best, found, nil
}

// lastMarker returns the sink's last committed marker in partition p,
// between offsets start and end.
func (s *Sink) lastMarker(ctx context.Context, p int32, start, end int64) (marker, bool, error) {
	for window := int64(firstWindow); end > start; window *= growWindow {
		from := max(start, end-window)
		rec, err := s.scanWindow(ctx, p, from, end)
		if err != nil {
			return marker{}, false, err
		}
		if rec != nil {
			var m marker
			if err := json.Unmarshal(rec.Value, &m); err != nil {
				return marker{}, false, fmt.Errorf("the marker at %s/%d@%d: %w", rec.Topic, p, rec.Offset, err)
			}
			return m, true, nil
		}
		end = from
	}
	return marker{}, false, nil
}

// scanWindow reads the committed records of partition p between offsets
// from and to and returns the last one keyed by the sink's id, or nil.
// It waits for transactions open below to, of other sinks, to end.
func (s *Sink) scanWindow(ctx context.Context, p int32, from, to int64) (*kgo.Record, error) {
	topic := s.cfg.MarkerTopic
	opts, err := s.cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	stable, err := s.stableBy(ctx, p, to)
	if err != nil {
		return nil, err
	}
	var last *kgo.Record
	key := []byte(s.id)
	for {
		pctx, cancel := context.WithTimeout(ctx, idleScan)
		fs := cl.PollFetches(pctx)
		idle := pctx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if idle && stable {
			return last, nil // nothing more below to
		}
		done := false
		for _, ft := range fs {
			for _, t := range ft.Topics {
				for _, fp := range t.Partitions {
					if fp.Err != nil && !errors.Is(fp.Err, context.DeadlineExceeded) && !kerr.IsRetriable(fp.Err) {
						return nil, fp.Err
					}
					stable = stable || fp.LastStableOffset >= to
					for _, r := range fp.Records {
						if r.Offset < to && !r.Attrs.IsControl() && bytes.Equal(r.Key, key) {
							last = r
						}
						done = done || r.Offset >= to-1
					}
				}
			}
		}
		if done {
			return last, nil
		}
	}
}

// stableBy reports whether partition p's last stable offset is at least to.
func (s *Sink) stableBy(ctx context.Context, p int32, to int64) (bool, error) {
	lso, err := s.adm.ListCommittedOffsets(ctx, s.cfg.MarkerTopic)
	if err != nil {
		return false, err
	}
	o, ok := lso.Lookup(s.cfg.MarkerTopic, p)
	return ok && o.Err == nil && o.Offset >= to, nil
}

// compacted reports whether topic's cleanup.policy includes compact.
func compacted(ctx context.Context, adm *kadm.Client, topic string) (bool, string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return false, "", err
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return false, "", err
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			v := c.MaybeValue()
			return bytes.Contains([]byte(v), []byte("compact")), v, nil
		}
	}
	return false, "delete", nil
}
