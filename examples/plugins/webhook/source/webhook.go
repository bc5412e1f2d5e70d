// Package source is the webhook plugin's source: it polls an HTTP
// endpoint serving a growing JSON-lines document (a log, an export, what
// the webhook sink POSTed) and delivers each line once, resuming after the
// last acknowledged line.
package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"

	"example.com/flowctl-plugin-webhook/internal/endpoint"
)

const (
	// maxBatch is the most messages one Read returns.
	maxBatch = 1000
	// maxLine is the longest line delivered; a longer one is rejected.
	maxLine = 1 << 20
)

// Plugin returns the webhook source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "webhook",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Polls an HTTP endpoint serving JSON lines and delivers each new line once.",
			Fields: []sdk.FieldSpec{
				{
					Name: "url", Type: sdk.TypeString, Required: true,
					Doc: "The http:// or https:// URL of the document. User info in it is sent as basic auth; " +
						"errors, logs and positions show it without user info and query.",
				},
				{
					Name: "headers", Type: sdk.TypeObject, Secret: true,
					Doc: "Headers sent with every request, `name: value`.",
				},
				{
					Name: "interval", Type: sdk.TypeDuration, Default: "1s",
					Doc: "The wait between two polls once everything was read.",
				},
				{
					Name: "bounded", Type: sdk.TypeBool, Default: false,
					Doc: "Read the document to its end once and stop, instead of polling for new lines.",
				},
				{
					Name: "timeout", Type: sdk.TypeDuration, Default: "10s",
					Doc: "The longest one request may take, reading the answer included.",
				},
				{
					Name: "ack_url", Type: sdk.TypeString,
					Doc: "If set, each position the pipeline has durably processed is POSTed here as " +
						"`{\"partition\":…,\"offset\":…,\"line\":…}`, so the server may drop what comes before it.",
				},
			},
		},
		NewSource: func() sdk.Source { return &Source{maxBatch: maxBatch, maxLine: maxLine} },
		Validate:  validate,
	}
}

var (
	_ sdk.Source = (*Source)(nil)
	_ sdk.Acker  = (*Source)(nil)
)

// Source reads the lines of the document at url. Each line is a message
// whose Payload the host decodes with the source's format (json); blank
// lines are skipped, and a line longer than 1 MiB is handed over as
// rejected, with its first 1 MiB. A message's position is the URL without
// credentials (the partition), the byte offset just after the line and
// the line's number.
//
// Each poll asks for the document from the offset of the last delivered
// line, with a Range header; a server that ignores Range sends it whole
// and the source skips what it delivered before. Polling, a last line
// without a newline is left for a later poll, when it is complete; a
// failed poll is logged and retried after interval, unless the server
// answered 4xx (but 408 and 429), which fails the Read. Bounded, every
// failed poll fails the Read. A poll that fails after some lines came
// delivers them, and the next poll asks for the rest.
type Source struct {
	ep        *endpoint.Endpoint
	ack       *endpoint.Endpoint // nil without ack_url
	partition string
	interval  time.Duration
	bounded   bool
	logf      func(format string, args ...any)

	offset   int64     // bytes delivered
	line     int64     // lines delivered
	lastPoll time.Time // when the last poll that reached the end started
	caughtUp bool      // the last poll reached the end of the document
	ended    bool      // bounded: every line was delivered

	maxBatch, maxLine int // lowered by tests
}

// Open checks the config and sets the offset to resume from; it sends no
// request.
func (s *Source) Open(_ context.Context, req sdk.OpenRequest) error {
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
	if set.ack != nil {
		if s.ack, err = endpoint.New(*set.ack); err != nil {
			return &sdk.ConfigError{Path: "ack_url", Msg: err.Error()}
		}
	}
	s.ep, s.partition, s.interval, s.bounded = ep, ep.String(), set.interval, set.bounded
	s.logf = func(string, ...any) {}
	if req.Settings.Logger != nil {
		s.logf = req.Settings.Logger.Printf
	}
	for _, pos := range req.Resume {
		if pos.Partition != s.partition || pos.Offset < 0 {
			s.logf("resume position %s ignored: not a position of %s", pos, s.partition)
			continue
		}
		s.offset, s.line = pos.Offset, pos.Line
	}
	return nil
}

// Read polls the document and returns the lines after the last one
// delivered, up to 1000. Once a poll has reached the end of the document,
// the next one waits for interval; bounded, the source then ends.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if s.ep == nil {
		return sdk.Batch{}, errors.New("webhook source: Read before Open")
	}
	if s.ended {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	if s.caughtUp {
		if err := sleep(ctx, time.Until(s.lastPoll.Add(s.interval))); err != nil {
			return sdk.Batch{}, err
		}
	}
	start := time.Now()
	p, err := s.poll(ctx)
	switch {
	case ctx.Err() != nil:
		// A cancelled Read consumes nothing.
		return sdk.Batch{}, ctx.Err()
	case err != nil && len(p.msgs) == 0:
		if s.bounded || !endpoint.Temporary(err) {
			return sdk.Batch{}, err
		}
		s.logf("%v; polling again in %v", err, s.interval)
		s.caughtUp, s.lastPoll = true, start
		return sdk.Batch{CaughtUp: true}, nil
	case err != nil:
		// Deliver the complete lines; the next poll asks for the rest.
		s.logf("%v; delivering the %d lines read and polling again", err, len(p.msgs))
	}
	s.offset, s.line = p.offset, p.line
	s.caughtUp = p.atEnd
	if p.atEnd {
		s.lastPoll = start
	}
	if p.atEnd && s.bounded {
		s.ended = true
		return sdk.Batch{Messages: p.msgs}, sdk.ErrEndOfInput
	}
	return sdk.Batch{Messages: p.msgs, CaughtUp: p.atEnd}, nil
}

// pollResult is what one poll read: messages, where they end, and
// whether the poll reached the end of the document.
type pollResult struct {
	msgs         []sdk.Message
	offset, line int64
	atEnd        bool
}

// poll asks for the document from s.offset and reads lines from it. The
// lines read before an error are returned with it.
func (s *Source) poll(ctx context.Context) (pollResult, error) {
	p := pollResult{offset: s.offset, line: s.line}
	resp, err := s.ep.Get(ctx, s.offset)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		// Nothing after the offset yet.
		p.atEnd = true
		return p, nil
	}
	body, err := s.skipDelivered(resp)
	if err != nil {
		return p, err
	}
	br := bufio.NewReaderSize(body, 64<<10)
	for len(p.msgs) < s.maxBatch {
		line, size, complete, err := readLine(br, s.maxLine)
		if err != nil && !errors.Is(err, io.EOF) {
			return p, fmt.Errorf("GET %s: %w", s.ep, err)
		}
		if size == 0 || !complete && !s.bounded {
			// The end, or a line still being written.
			p.atEnd = true
			return p, nil
		}
		p.offset += int64(size)
		p.line++
		if m, ok := s.message(line, p.offset, p.line); ok {
			p.msgs = append(p.msgs, m)
		}
	}
	return p, nil
}

// skipDelivered returns the body of resp from s.offset on. A 206 answer
// must start there; a 200 answer is the whole document, whose first
// s.offset bytes are skipped.
func (s *Source) skipDelivered(resp *http.Response) (io.Reader, error) {
	if resp.StatusCode == http.StatusPartialContent {
		want := "bytes " + strconv.FormatInt(s.offset, 10) + "-"
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, want) {
			return nil, fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q", s.ep, s.offset, cr)
		}
		return resp.Body, nil
	}
	n, err := io.CopyN(io.Discard, resp.Body, s.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("GET %s: %w", s.ep, err)
	}
	if n < s.offset {
		// The document is shorter than what was delivered: it was
		// replaced. Wait until it grows past the position.
		s.logf("%s holds %d bytes, fewer than the %d already delivered", s.ep, n, s.offset)
	}
	return resp.Body, nil
}

// message makes the message of one line, ending at offset. A blank line
// gives none; a line longer than the limit is rejected.
func (s *Source) message(line []byte, offset, n int64) (sdk.Message, bool) {
	pos := sdk.Position{Partition: s.partition, Offset: offset, Line: n}
	switch {
	case len(line) > s.maxLine:
		reason := fmt.Sprintf("line longer than %d bytes", s.maxLine)
		return sdk.Message{Payload: line[:s.maxLine], Reject: reason, Position: pos}, true
	case len(bytes.TrimSpace(line)) == 0:
		return sdk.Message{}, false
	}
	return sdk.Message{Payload: line, Position: pos}, true
}

// readLine reads one line from br. It returns the line without its line
// ending, cut after limit+2 bytes (enough to tell whether it is longer
// than limit), the number of bytes the line spans, ending included, and
// whether it ended with a newline. At the end of the input it returns
// io.EOF, with the unterminated last line if there is one.
func readLine(br *bufio.Reader, limit int) (line []byte, size int, complete bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		size += len(frag)
		if room := limit + 2 - len(line); room > 0 {
			line = append(line, frag[:min(room, len(frag))]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return line, size, false, err
		}
		if size <= limit+2 {
			// The whole line was kept, its newline too.
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		}
		return line, size, true, nil
	}
}

// Ack POSTs the position of the document to ack_url, if set. A temporary
// failure is logged and left to the next Ack, whose position covers this
// one.
func (s *Source) Ack(ctx context.Context, positions []sdk.Position) error {
	if s.ack == nil {
		return nil
	}
	for _, pos := range positions {
		if pos.Partition != s.partition {
			continue
		}
		body, err := json.Marshal(ack{Partition: pos.Partition, Offset: pos.Offset, Line: pos.Line})
		if err != nil {
			return err
		}
		err = s.ack.Post(ctx, "application/json", body)
		if err != nil && endpoint.Temporary(err) && ctx.Err() == nil {
			s.logf("acknowledging %s: %v", pos, err)
			return nil
		}
		return err
	}
	return nil
}

// ack is the body of an acknowledgement.
type ack struct {
	Partition string `json:"partition"`
	Offset    int64  `json:"offset"`
	Line      int64  `json:"line"`
}

// Close closes idle connections.
func (s *Source) Close(context.Context) error {
	if s.ep != nil {
		s.ep.CloseIdle()
	}
	if s.ack != nil {
		s.ack.CloseIdle()
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
