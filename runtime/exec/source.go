package exec

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/record"
	"github.com/flowctl/flowctl/runtime/schema"
)

const (
	minWatermark int64 = math.MinInt64
	maxWatermark int64 = math.MaxInt64
)

// sourceRT runs one source: a goroutine reads and decodes batches; the
// engine goroutine tracks the per-partition watermark.
type sourceRT struct {
	stage *stageRT
	src   sdk.Source
	dec   *schema.Decoder
	done  bool

	parts map[string]*partition
	last  *partition // the partition of the previous record, to skip the map lookup
}

type partition struct {
	name   string
	maxT   int64
	active bool
}

func newSourceRT(s *stageRT) *sourceRT {
	return &sourceRT{stage: s, parts: map[string]*partition{}}
}

func (s *sourceRT) open(ctx context.Context) error {
	st := s.stage.st
	// A schemaless decoder grows the layout the plan compiled expressions
	// and sinks against.
	dec, err := schema.NewDecoderLayout(st.Schema, st.Format, st.Out.Dyn)
	if err != nil {
		return fmt.Errorf("source %s: %w", st.Name, err)
	}
	s.dec = dec
	s.src = st.Plugin.NewSource()
	err = s.src.Open(ctx, sdk.OpenRequest{
		Config: st.Config.JSON, Format: st.Format,
		Settings: sdk.Settings{Name: st.Name},
	})
	if err != nil {
		return fmt.Errorf("source %s: open: %w", st.Name, err)
	}
	return nil
}

func (s *sourceRT) close(ctx context.Context) {
	if s.src != nil {
		_ = s.src.Close(ctx)
	}
}

// read runs in its own goroutine: it reads batches, decodes them and hands
// them to the engine, until the source ends or ctx is cancelled.
func (s *sourceRT) read(ctx context.Context, out chan<- *chunk, cancel context.CancelCauseFunc) {
	st := s.stage.st
	var width int
	for {
		b, err := s.src.Read(ctx)
		end := errors.Is(err, sdk.ErrEndOfInput)
		if err != nil && !end {
			if ctx.Err() == nil {
				cancel(fmt.Errorf("source %s: read: %w", st.Name, err))
			}
			return
		}
		c := &chunk{src: s, last: end}
		if n := len(b.Messages); n > 0 {
			if st.Out.Dyn == nil {
				width = len(st.Out.Names)
			} else {
				width = max(width, len(s.dec.Layout().Names))
			}
			slab := make([]any, n*width)
			c.recs = make([]record.Record, 0, n)
			for i := range b.Messages {
				m := &b.Messages[i]
				if m.Reject != "" {
					c.bad = append(c.bad, rejected{raw: string(m.Payload), reason: m.Reject, pos: m.Position})
					continue
				}
				vals, err := s.dec.Decode(m, slab[i*width:i*width:(i+1)*width])
				if err != nil {
					c.bad = append(c.bad, rejected{raw: rawOf(m), reason: err.Error(), pos: m.Position})
					continue
				}
				r := record.Record{Values: vals, Time: record.NoTime, Source: int32(st.SourceIndex), Pos: m.Position}
				if st.EventTime != nil {
					t, err := st.EventTime.EvalTime(&r)
					r.Time = t
					if err != nil {
						c.bad = append(c.bad, rejected{raw: rawOf(m), reason: "event_time: " + err.Error(), pos: m.Position})
						continue
					}
				} else if !m.Time.IsZero() {
					r.Time = m.Time.UnixNano()
				}
				c.recs = append(c.recs, r)
			}
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return
		}
		if end {
			return
		}
	}
}

// observe notes a record's event time on its partition and returns the
// source watermark and whether it moved.
func (s *sourceRT) observe(r *record.Record) (int64, bool) {
	p := s.last
	if p == nil || p.name != r.Pos.Partition {
		p = s.parts[r.Pos.Partition]
		if p == nil {
			p = &partition{name: r.Pos.Partition, maxT: math.MinInt64, active: true}
			s.parts[p.name] = p
		}
		s.last = p
	}
	if r.Time <= p.maxT {
		return s.stage.wm, false
	}
	p.maxT = r.Time
	wm := s.watermark(false)
	return wm, wm > s.stage.wm
}

// watermark is the minimum over active partitions of max event time minus
// lateness. Once the source has ended, its partitions stop holding it back.
func (s *sourceRT) watermark(ended bool) int64 {
	if ended {
		return maxWatermark
	}
	wm := int64(math.MaxInt64)
	for _, p := range s.parts {
		if p.active {
			wm = min(wm, p.maxT)
		}
	}
	if wm == math.MaxInt64 {
		return minWatermark
	}
	lat := s.stage.st.Lateness
	if wm < math.MinInt64+lat {
		return minWatermark
	}
	return wm - lat
}
