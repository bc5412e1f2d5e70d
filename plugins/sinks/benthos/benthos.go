// Package benthos is flowctl's bridge to Benthos outputs: a sink whose
// config holds a Benthos `output:` block, run through Benthos's public Go
// API with the components of Benthos's core module. Each row becomes a
// Benthos message, a JSON object or one column's raw value.
//
// Each Write hands its rows to Benthos as one batch and returns; Flush
// waits until Benthos has acknowledged every batch written so far and
// returns the error of any failed delivery, so the host does not
// checkpoint, and its sources are not acknowledged, past rows that did
// not arrive.
package benthos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/flowctl/flowctl/plugins/internal/benthosblock"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// closeTimeout bounds how long Close waits for Benthos to shut down.
const closeTimeout = 10 * time.Second

// label is the label the sink gives an output block that has none.
const label = "flowctl_sink"

// Plugin returns the benthos sink's spec and constructor.
func Plugin() sdk.Plugin {
	env := newEnvironment()
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "benthos",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Writes rows to a Benthos output (file, http_client, socket, stdout, …) configured as in Benthos.",
			Fields: []sdk.FieldSpec{{
				Name:     "output",
				Type:     sdk.TypeObject,
				Required: true,
				Doc: "The Benthos output block, written as under `output:` in a Benthos config: one output " +
					"with its fields, and optionally `label` and `processors`. Benthos's linter checks it. " +
					"Outputs: " + benthosblock.CodeList(benthosblock.ComponentNames(env, "output", nil)) + ".",
			}, {
				Name:    "format",
				Type:    sdk.TypeString,
				Default: formatJSON,
				Enum:    []string{formatJSON, formatRaw},
				Doc: "`json`: each row is a JSON object, fields in column order. " +
					"`raw`: each row is the value of one column, bytes and strings as they are, other values as text.",
			}, {
				Name: "column",
				Type: sdk.TypeString,
				Doc:  "For `raw`, the column to send; may be left out when rows have one column.",
			}, {
				Name:    "max_in_flight",
				Type:    sdk.TypeInt,
				Default: int64(defaultMaxInFlight),
				Doc: "How many batches may be in delivery at once. 1 keeps them in order; more lets an output " +
					"that handles messages concurrently (`http_client`) go faster, in any order.",
			}},
		},
		NewSink: func() sdk.Sink { return &Sink{env: env} },
		Validate: func(config []byte) []sdk.Diagnostic {
			_, diags := parseConfig(env, config)
			return diags
		},
		Delivery: func(sdk.DeliveryRequest) sdk.DeliveryReport {
			return sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: "a checkpoint waits until Benthos acknowledged every row before it; rows after it are sent again after a crash"}
		},
	}
}

// newEnvironment returns the Benthos environment of the sink: the
// outputs of Benthos's core module, but the excluded ones.
func newEnvironment() *service.Environment {
	env := service.NewEnvironment()
	return env.WithOutputs(benthosblock.ComponentNames(env, "output", excluded)...)
}

var (
	_ sdk.Sink    = (*Sink)(nil)
	_ sdk.Flusher = (*Sink)(nil)
)

// Sink writes rows to a Benthos output. Each Write sends its batch from
// a goroutine of its own, at most MaxInFlight at once.
type Sink struct {
	env *service.Environment

	raw      bool
	column   int // raw: the index of the column sent
	out      *service.ResourceOutput
	closeRes func(context.Context) error

	ctx      context.Context // cancelled by Close, ends deliveries
	cancel   context.CancelFunc
	slots    chan struct{} // one token per batch in delivery
	inFlight sync.WaitGroup

	mu     sync.Mutex
	failed error // the first failed delivery, reported by every Flush and Write after it
}

// Open builds the Benthos output.
func (s *Sink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	p, diags := parseConfig(s.env, req.Config)
	if err := benthosblock.DiagnosticsError(diags); err != nil {
		return err
	}
	if s.raw = p.Format == formatRaw; s.raw {
		var err error
		if s.column, err = p.columnIndex(req.Columns); err != nil {
			return err
		}
	}
	name, text := p.block.Label, p.block.Text
	if name == "" {
		name, text = label, p.block.WithLabel(label)
	}
	rb := s.env.NewResourceBuilder()
	rb.SetLogger(benthosblock.NewLogger(req.Settings.Logger))
	// Benthos checks the block again and builds the output; the errors of
	// these steps are about the block.
	if err := rb.AddOutputYAML(text); err != nil {
		return &sdk.ConfigError{Path: "output", Msg: benthosblock.Redact(err.Error())}
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return &sdk.ConfigError{Path: "output", Msg: benthosblock.Redact(err.Error())}
	}
	s.closeRes = closeRes
	if err := res.AccessOutput(ctx, name, func(out *service.ResourceOutput) { s.out = out }); err != nil {
		return &sdk.ConfigError{Path: "output", Msg: benthosblock.Redact(err.Error())}
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.slots = make(chan struct{}, p.MaxInFlight)
	return nil
}

// Write hands rows to Benthos as one batch and returns once the batch is
// in delivery, waiting for a free slot if MaxInFlight batches are.
func (s *Sink) Write(ctx context.Context, rows sdk.Rows) error {
	if err := s.failure(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rows.Rows) == 0 {
		return nil
	}
	batch, err := s.messages(rows)
	if err != nil {
		return err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.inFlight.Add(1)
	go func() {
		defer s.inFlight.Done()
		err := s.out.WriteBatch(s.ctx, batch)
		<-s.slots
		if err != nil {
			s.fail(benthosblock.Wrap(fmt.Sprintf("benthos output: delivery of %d rows failed", len(batch)), err))
		}
	}()
	return nil
}

// messages encodes rows as Benthos messages.
func (s *Sink) messages(rows sdk.Rows) (service.MessageBatch, error) {
	batch := make(service.MessageBatch, len(rows.Rows))
	var buf []byte // the JSON of the batch's rows, one after the other
	for i, row := range rows.Rows {
		if len(row) != len(rows.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(rows.Columns))
		}
		if s.raw {
			batch[i] = service.NewMessage(rawBytes(row[s.column]))
			continue
		}
		start := len(buf)
		buf = sdk.AppendJSONObject(buf, rows.Columns, row, nil)
		batch[i] = service.NewMessage(buf[start:len(buf):len(buf)])
	}
	return batch, nil
}

// rawBytes returns a value as the bytes of a raw message.
func rawBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return []byte(sdk.FormatText(v))
}

func (s *Sink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
}

func (s *Sink) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Flush waits until Benthos has acknowledged every batch written so far.
// It returns the error of the first failed delivery, if any: those rows
// may not have arrived.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.failure()
}

// wait waits until no batch is in delivery, or ctx is done.
func (s *Sink) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close waits for the batches in delivery and shuts Benthos down. It
// returns the error of a failed delivery too, as a Flush would.
func (s *Sink) Close(ctx context.Context) error {
	if s.closeRes == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	var errs []error
	if s.cancel != nil {
		errs = append(errs, s.wait(ctx))
		s.cancel()
		s.inFlight.Wait()
		errs = append(errs, s.failure())
	}
	if err := s.closeRes(ctx); err != nil {
		errs = append(errs, benthosblock.Wrap("benthos output: close", err))
	}
	return errors.Join(errs...)
}
