// Package benthos is flowctl's bridge to Benthos inputs: a source whose
// config holds a Benthos `input:` block, run through Benthos's public Go
// API with the components of Benthos's core module. Each Benthos message
// becomes a message whose payload the source's `format` decodes and
// whose Benthos metadata is its meta.
//
// Messages are numbered in the order the input yields them; the number
// is the position's offset and the input's label (or its type) the
// partition. How acknowledgements reach Benthos depends on `resume`:
// replayable inputs (files, generators) are acknowledged as they are read
// and, after a restart, replayed with the messages the checkpoint covers
// skipped; inputs that can deliver nothing again (stdin, sockets) are
// acknowledged as they are read; the others are acknowledged only when a
// checkpoint covering them is durable, and messages not acknowledged by
// then are rejected (nacked) at Close, so the input's upstream delivers
// them again.
package benthos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/flowctl/flowctl/plugins/internal/benthosblock"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// Limits of the source.
const (
	// maxBatchMessages bounds the messages of one Read.
	maxBatchMessages = 4096
	// linger is how long a Read that has a message waits for more.
	linger = 2 * time.Millisecond
	// idleWait is how long a Read waits for a first message before it
	// says the source is caught up.
	idleWait = 100 * time.Millisecond
	// pumpDepth is how many Benthos batches are read ahead of the host.
	pumpDepth = 256
	// closeTimeout bounds how long Close waits for Benthos to shut down.
	closeTimeout = 10 * time.Second
)

// errNotAcknowledged is the reason given to Benthos for the messages
// rejected at Close.
var errNotAcknowledged = errors.New("flowctl closed the source before a checkpoint covered the message")

// Plugin returns the benthos source's spec and constructor.
func Plugin() sdk.Plugin {
	env := newEnvironment()
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "benthos",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Reads from a Benthos input (file, generate, http_server, socket, …) configured as in Benthos.",
			Fields: []sdk.FieldSpec{{
				Name:     "input",
				Type:     sdk.TypeObject,
				Required: true,
				Doc: "The Benthos input block, written as under `input:` in a Benthos config: one input " +
					"with its fields, and optionally `label` and `processors`. Benthos's linter checks it. " +
					"The input's label, or else its type, is the partition of its messages. " +
					"Inputs: " + benthosblock.CodeList(benthosblock.ComponentNames(env, "input", nil)) + ".",
			}, {
				Name:    "resume",
				Type:    sdk.TypeString,
				Default: resumeAuto,
				Enum:    []string{resumeAuto, resumeReplay, resumeUpstream, resumeNone},
				Doc: "How delivery is guaranteed. `replay`: the input reads the same messages in the same order " +
					"on every run; they are acknowledged to Benthos as they are read, and after a restart the " +
					"messages the checkpoint covers are read again and skipped. `upstream`: the input's upstream " +
					"keeps what is not acknowledged (a broker, the clients of `http_server`); messages are " +
					"acknowledged only when a checkpoint covering them is durable, rejected if the source closes " +
					"before, and nothing is skipped. A bounded input then ends only after its messages are " +
					"acknowledged: use it in stream or micro-batch mode. `none`: the input can deliver nothing " +
					"again; messages are acknowledged as they are read and nothing is skipped. " +
					"`auto`: `replay` for " + benthosblock.CodeList(replayable) + ", `none` for " + benthosblock.CodeList(ackless) +
					" (alone, `batched` or in a `sequence`), `upstream` for the rest.",
			}},
		},
		NewSource: func() sdk.Source { return &Source{env: env} },
		Validate: func(config []byte) []sdk.Diagnostic {
			_, diags := parseConfig(env, config)
			return diags
		},
	}
}

// newEnvironment returns the Benthos environment of the source: the
// inputs of Benthos's core module, but the excluded ones.
func newEnvironment() *service.Environment {
	env := service.NewEnvironment()
	return env.WithInputs(benthosblock.ComponentNames(env, "input", excluded)...)
}

var (
	_ sdk.Source = (*Source)(nil)
	_ sdk.Acker  = (*Source)(nil)
)

// Source reads a Benthos input. A goroutine (the pump) reads Benthos
// batches into a channel ahead of the host; Read takes what is there.
type Source struct {
	env *service.Environment
	log sdk.Logger

	partition string
	ackOnRead bool // acknowledge to Benthos on read, not at the host's Ack
	in        *service.ResourceInput
	closeRes  func(context.Context) error

	stop     context.CancelFunc // stops the pump
	batches  chan pumped        // what the pump read
	pumpDone chan struct{}      // closed when the pump returns

	// Read's state.
	seq  int64 // the offset of the last message read
	skip int64 // messages up to this offset were delivered before the restart
	end  error // the error that ended the input, once Read met it

	mu      sync.Mutex
	unacked []unacked // upstream: batches read and not yet acknowledged, in offset order
}

// pumped is one Benthos batch read by the pump, or the error that ended
// the input.
type pumped struct {
	batch service.MessageBatch
	ack   service.AckFunc // nil when already acknowledged
	err   error
}

// unacked is a Benthos batch waiting for the host's Ack.
type unacked struct {
	last int64 // the offset of its last message
	ack  service.AckFunc
}

// Open builds the Benthos input and starts reading it.
func (s *Source) Open(ctx context.Context, req sdk.OpenRequest) error {
	p, diags := parseConfig(s.env, req.Config)
	if err := benthosblock.DiagnosticsError(diags); err != nil {
		return err
	}
	s.log, s.ackOnRead = req.Settings.Logger, p.ackOnRead
	s.partition = p.block.Label
	text := p.block.Text
	if s.partition == "" {
		s.partition = p.block.Name
		text = p.block.WithLabel(s.partition)
	}
	for _, pos := range req.Resume {
		if pos.Partition != s.partition {
			continue
		}
		if p.skip {
			s.skip = pos.Offset
		} else {
			s.seq = pos.Offset
		}
	}
	rb := s.env.NewResourceBuilder()
	rb.SetLogger(benthosblock.NewLogger(req.Settings.Logger))
	// Benthos checks the block again and builds the input; the errors of
	// these steps are about the block (a field of the wrong type, an
	// address in use).
	if err := rb.AddInputYAML(text); err != nil {
		return &sdk.ConfigError{Path: "input", Msg: benthosblock.Redact(err.Error())}
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return &sdk.ConfigError{Path: "input", Msg: benthosblock.Redact(err.Error())}
	}
	s.closeRes = closeRes
	if err := res.AccessInput(ctx, s.partition, func(in *service.ResourceInput) { s.in = in }); err != nil {
		return &sdk.ConfigError{Path: "input", Msg: benthosblock.Redact(err.Error())}
	}
	pumpCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.batches, s.pumpDone = stop, make(chan pumped, pumpDepth), make(chan struct{})
	go s.pump(pumpCtx)
	return nil
}

// pump reads Benthos batches until the input ends or ctx is cancelled.
// With ackOnRead it acknowledges each batch as it reads it.
func (s *Source) pump(ctx context.Context) {
	defer close(s.pumpDone)
	for {
		batch, ack, err := s.in.ReadBatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, service.ErrEndOfInput) {
				err = sdk.ErrEndOfInput
			}
			select {
			case s.batches <- pumped{err: err}:
			case <-ctx.Done():
			}
			return
		}
		if s.ackOnRead {
			s.acknowledge(ctx, ack, nil)
			ack = nil
		}
		select {
		case s.batches <- pumped{batch: batch, ack: ack}:
		case <-ctx.Done():
			if ack != nil {
				s.acknowledge(ctx, ack, errNotAcknowledged)
			}
			return
		}
	}
}

// Read returns the messages the pump has read, waiting for the first and
// then for up to linger for more, so that a Read carries many messages.
// When no message comes within idleWait, Read returns an empty batch that
// is caught up: a micro-batch trigger can end, and the host can
// acknowledge what it read, which an input waiting for acknowledgements
// needs before it sends more or ends.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	if s.end != nil {
		return sdk.Batch{}, s.end
	}
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	timer := time.NewTimer(idleWait)
	defer timer.Stop()
	var msgs []sdk.Message
	select {
	case p := <-s.batches:
		msgs = s.take(msgs, p)
	case <-timer.C:
		return sdk.Batch{CaughtUp: true}, nil
	case <-ctx.Done():
		return sdk.Batch{}, ctx.Err()
	}
	timer.Reset(linger)
	for s.end == nil && len(msgs) < maxBatchMessages {
		select { // what is ready first, even once linger is over
		case p := <-s.batches:
			msgs = s.take(msgs, p)
			continue
		default:
		}
		select {
		case p := <-s.batches:
			msgs = s.take(msgs, p)
		case <-timer.C:
			return sdk.Batch{Messages: msgs}, nil
		case <-ctx.Done():
			return sdk.Batch{Messages: msgs}, nil
		}
	}
	return sdk.Batch{Messages: msgs}, s.end
}

// take appends the messages of a pumped batch to msgs, numbering them,
// and keeps its ack for the host's Ack.
func (s *Source) take(msgs []sdk.Message, p pumped) []sdk.Message {
	if p.err != nil {
		s.end = p.err
		return msgs
	}
	for _, m := range p.batch {
		s.seq++
		if s.seq <= s.skip {
			continue
		}
		msgs = append(msgs, message(m, sdk.Position{Partition: s.partition, Offset: s.seq}))
	}
	if p.ack != nil {
		s.mu.Lock()
		s.unacked = append(s.unacked, unacked{last: s.seq, ack: p.ack})
		s.mu.Unlock()
	}
	return msgs
}

// message converts a Benthos message: its bytes are the payload, its
// metadata, sorted by key, the meta.
func message(m *service.Message, pos sdk.Position) sdk.Message {
	out := sdk.Message{Position: pos}
	b, err := m.AsBytes()
	if err != nil {
		out.Reject = "benthos message: " + err.Error()
	}
	out.Payload = b
	_ = m.MetaWalkMut(func(k string, v any) error {
		out.Meta = append(out.Meta, sdk.Field{Name: k, Value: metaValue(v)})
		return nil
	})
	slices.SortFunc(out.Meta, func(a, b sdk.Field) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// metaValue converts a Benthos metadata value to an SDK value.
func metaValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time, time.Duration:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
		return float64(x)
	case float32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = metaValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = metaValue(e)
		}
		return out
	}
	return fmt.Sprint(v)
}

// Ack acknowledges to Benthos the batches whose messages the positions
// cover. A batch is acknowledged once all its messages are covered.
func (s *Source) Ack(ctx context.Context, positions []sdk.Position) error {
	upto := int64(-1)
	for _, p := range positions {
		if p.Partition == s.partition {
			upto = max(upto, p.Offset)
		}
	}
	s.mu.Lock()
	n := 0
	for n < len(s.unacked) && s.unacked[n].last <= upto {
		n++
	}
	done := slices.Clone(s.unacked[:n])
	s.unacked = slices.Delete(s.unacked, 0, n)
	s.mu.Unlock()
	for _, u := range done {
		s.acknowledge(ctx, u.ack, nil)
	}
	return nil
}

// acknowledge calls a Benthos ack function with res, nil for success.
// It does so without ctx's cancellation: an acknowledgement made with a
// cancelled context may not reach Benthos, which then waits for it
// forever. Benthos reports a failure to pass an acknowledgement upstream
// (a client of http_server gone) as an error; it is logged, since the
// messages themselves are safe.
func (s *Source) acknowledge(ctx context.Context, ack service.AckFunc, res error) {
	if err := ack(context.WithoutCancel(ctx), res); err != nil && s.log != nil {
		s.log.Printf("%v", benthosblock.Wrap("benthos input "+s.partition+": acknowledge", err))
	}
}

// Close stops the pump, rejects every message read but not acknowledged,
// so that the input's upstream delivers it again, and shuts Benthos down.
func (s *Source) Close(ctx context.Context) error {
	if s.closeRes == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	if s.stop != nil {
		s.stop()
		<-s.pumpDone
		// Benthos starts an input at its first read and shuts down only
		// an input it started: make sure it did, as the pump may not have
		// come to read, and reject what this read gets.
		started, cancel := context.WithCancel(ctx)
		cancel()
		if _, ack, err := s.in.ReadBatch(started); err == nil {
			s.acknowledge(ctx, ack, errNotAcknowledged)
		}
		for len(s.batches) > 0 {
			if p := <-s.batches; p.ack != nil {
				s.acknowledge(ctx, p.ack, errNotAcknowledged)
			}
		}
	}
	s.mu.Lock()
	pending := s.unacked
	s.unacked = nil
	s.mu.Unlock()
	for _, u := range pending {
		s.acknowledge(ctx, u.ack, errNotAcknowledged)
	}
	if err := s.closeRes(ctx); err != nil {
		return benthosblock.Wrap("benthos input "+s.partition+": close", err)
	}
	return nil
}
