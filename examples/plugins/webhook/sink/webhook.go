// Package sink is the webhook plugin's sink: it POSTs rows to an HTTP
// endpoint as JSON lines, a batch of rows a request, retrying failed
// requests with exponential backoff.
package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"

	"example.com/flowctl-plugin-webhook/internal/endpoint"
)

// Limits of the config values.
const (
	maxBatchSize = 100_000
	maxRetries   = 100
	// maxBackoff caps the wait between two attempts.
	maxBackoff = 30 * time.Second
)

// Plugin returns the webhook sink's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "webhook",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "POSTs rows to an HTTP endpoint as JSON lines, retrying with backoff.",
			Fields: []sdk.FieldSpec{
				{
					Name: "url", Type: sdk.TypeString, Required: true,
					Doc: "The http:// or https:// URL to POST to. User info in it is sent as basic auth; " +
						"errors and logs show it without user info and query.",
				},
				{
					Name: "headers", Type: sdk.TypeObject, Secret: true,
					Doc: "Headers sent with every request, `name: value`, " +
						"e.g. `Authorization: \"Bearer ${TOKEN}\"`.",
				},
				{
					Name: "timeout", Type: sdk.TypeDuration, Default: "10s",
					Doc: "The longest one request may take.",
				},
				{
					Name: "batch_size", Type: sdk.TypeInt, Default: int64(500),
					Doc: "Rows per request: a request is sent once this many rows are buffered, " +
						"and at every flush with what is buffered.",
				},
				{
					Name: "max_retries", Type: sdk.TypeInt, Default: int64(3),
					Doc: "How many times a request that failed with a transport error, " +
						"408, 429 or 5xx is sent again before the sink fails.",
				},
				{
					Name: "backoff", Type: sdk.TypeDuration, Default: "200ms",
					Doc: "The wait before the first retry; it doubles at each retry, up to 30s.",
				},
			},
		},
		NewSink:  func() sdk.Sink { return &Sink{} },
		Validate: validate,
		Delivery: func(sdk.DeliveryRequest) sdk.DeliveryReport {
			return sdk.DeliveryReport{
				Delivery: sdk.AtLeastOnce,
				Reason:   "a request retried after a lost answer, or a restart from a checkpoint, sends rows again",
			}
		},
	}
}

var (
	_ sdk.Sink    = (*Sink)(nil)
	_ sdk.Flusher = (*Sink)(nil)
)

// Sink POSTs rows as JSON lines: each row is one JSON object, its fields
// in column order, written by sdk.AppendJSONObject. Write buffers rows and
// sends a request for every batch_size of them; Flush and Close send what
// is left. A request is answered 2xx, or retried, or its error fails the
// call; the rows of a failed request stay buffered and go with the next
// one.
type Sink struct {
	ep   *endpoint.Endpoint
	set  settings
	logf func(format string, args ...any)

	body []byte // JSON lines not yet sent
	ends []int  // where each buffered row ends in body
}

// Open checks the config and prepares the endpoint; it sends nothing.
func (s *Sink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	set, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	ep, err := endpoint.New(set.endpoint)
	if err != nil {
		return &sdk.ConfigError{Path: "url", Msg: err.Error()}
	}
	s.ep, s.set = ep, set
	s.logf = func(string, ...any) {}
	if req.Settings.Logger != nil {
		s.logf = req.Settings.Logger.Printf
	}
	return nil
}

// Write buffers rows and sends every full batch.
func (s *Sink) Write(ctx context.Context, rows sdk.Rows) error {
	if s.ep == nil {
		return errors.New("webhook sink: Write before Open")
	}
	for i, row := range rows.Rows {
		if len(row) != len(rows.Columns) {
			return fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(rows.Columns))
		}
	}
	for _, row := range rows.Rows {
		s.body = sdk.AppendJSONObject(s.body, rows.Columns, row, nil)
		s.body = append(s.body, '\n')
		s.ends = append(s.ends, len(s.body))
	}
	for len(s.ends) >= s.set.batchSize {
		if err := s.send(ctx, s.set.batchSize); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends every buffered row.
func (s *Sink) Flush(ctx context.Context) error {
	for len(s.ends) > 0 {
		if err := s.send(ctx, min(len(s.ends), s.set.batchSize)); err != nil {
			return err
		}
	}
	return nil
}

// Close sends what is buffered and closes idle connections.
func (s *Sink) Close(ctx context.Context) error {
	if s.ep == nil {
		return nil
	}
	err := s.Flush(ctx)
	s.ep.CloseIdle()
	return err
}

// send POSTs the first n buffered rows and drops them from the buffer.
func (s *Sink) send(ctx context.Context, n int) error {
	size := s.ends[n-1]
	if err := s.post(ctx, s.body[:size]); err != nil {
		return err
	}
	s.body = s.body[:copy(s.body, s.body[size:])]
	s.ends = s.ends[:copy(s.ends, s.ends[n:])]
	for i := range s.ends {
		s.ends[i] -= size
	}
	return nil
}

// post sends one request body, retrying temporary failures up to
// max_retries times with exponential backoff.
func (s *Sink) post(ctx context.Context, body []byte) error {
	wait := s.set.backoff
	for attempt := 1; ; attempt++ {
		err := s.ep.Post(ctx, "application/x-ndjson", body)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil, !endpoint.Temporary(err):
			return err
		case attempt > s.set.maxRetries:
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		s.logf("%v; attempt %d of %d in %v", err, attempt+1, s.set.maxRetries+1, wait)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, maxBackoff)
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
