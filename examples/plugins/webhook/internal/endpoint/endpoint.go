// Package endpoint is what the webhook sink and source share: an HTTP URL
// with headers and a timeout, checked as config, and requests to it whose
// errors never show its credentials.
package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Endpoint is an HTTP URL to send requests to. Its String is the URL
// without credentials, safe for errors, logs and positions.
type Endpoint struct {
	url    string // the URL as configured, credentials included
	safe   string // scheme://host/path
	header http.Header
	client *http.Client
}

// Config is the part of a config block that makes an Endpoint.
type Config struct {
	URL     string
	Headers map[string]any
	Timeout time.Duration
}

// Check reports the problems of an endpoint's URL and headers; path is
// the config field of the URL ("url", "ack_url"), headers are under
// "headers". No message holds the URL or a header value, which may be
// secret.
func Check(path string, c Config) []sdk.Diagnostic {
	var diags []sdk.Diagnostic
	if msg := checkURL(c.URL); msg != "" {
		diags = append(diags, sdk.Diagnostic{Path: path, Msg: msg})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		switch v, ok := c.Headers[name].(string); {
		case !validHeaderName(name):
			diags = append(diags, sdk.Diagnostic{Path: "headers", Msg: fmt.Sprintf("%q is not a valid header name", name)})
		case !ok:
			diags = append(diags, sdk.Diagnostic{Path: "headers." + name, Msg: "must be a string"})
		case strings.ContainsAny(v, "\r\n"):
			diags = append(diags, sdk.Diagnostic{Path: "headers." + name, Msg: "must not hold a line break"})
		}
	}
	return diags
}

// checkURL returns what is wrong with raw, or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "must not be empty"
	case err != nil:
		// url.Error repeats the URL, which may hold a password.
		return "is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an http:// or https:// URL"
	case u.Host == "":
		return "must name a host"
	}
	return ""
}

// New returns the endpoint of a config that Check accepted.
func New(c Config) (*Endpoint, error) {
	u, err := url.Parse(c.URL)
	if err != nil || checkURL(c.URL) != "" {
		return nil, errors.New("invalid URL")
	}
	header := make(http.Header, len(c.Headers))
	for name, v := range c.Headers {
		s, _ := v.(string)
		header.Set(name, s)
	}
	// A transport of its own: CloseIdle must not close the connections
	// of the other instances the plugin process serves.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &Endpoint{
		url:    c.URL,
		safe:   Redact(u),
		header: header,
		client: &http.Client{Timeout: c.Timeout, Transport: transport},
	}, nil
}

// Redact returns u without its user info, query and fragment, which may
// hold credentials: "https://hooks.example.com/v1/rows".
func Redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// String returns the URL without credentials.
func (e *Endpoint) String() string { return e.safe }

// Post sends body with the endpoint's headers and the given content type.
// An answer other than 2xx is a *StatusError.
func (e *Endpoint) Post(ctx context.Context, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", e.safe, cause(err))
	}
	req.Header = e.header.Clone()
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.do(req)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// Get asks for the document from byte offset on: with a Range header when
// offset is not 0. A 2xx answer, or 416 (Range Not Satisfiable), is
// returned for the caller to read and close; anything else is a
// *StatusError.
func (e *Endpoint) Get(ctx context.Context, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", e.safe, cause(err))
	}
	req.Header = e.header.Clone()
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	return e.do(req)
}

// do sends req. Transport errors name the method and the safe URL; a
// status outside 2xx (and 416 for a GET) is a *StatusError, its body
// discarded.
func (e *Endpoint) do(req *http.Request) (*http.Response, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, e.safe, cause(err))
	}
	ok := resp.StatusCode/100 == 2 ||
		req.Method == http.MethodGet && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable
	if !ok {
		discard(resp)
		return nil, &StatusError{Method: req.Method, URL: e.safe, Code: resp.StatusCode, Status: resp.Status}
	}
	return resp, nil
}

// cause returns err without the *url.Error around it, whose message
// holds the URL with its query.
func cause(err error) error {
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		return uerr.Err
	}
	return err
}

// CloseIdle closes the connections kept open for later requests.
func (e *Endpoint) CloseIdle() { e.client.CloseIdleConnections() }

// StatusError is an HTTP answer other than 2xx. Its message names the
// method, the URL without credentials and the status; the body is left
// out, since a server may echo the request's headers in it.
type StatusError struct {
	Method string
	URL    string // without credentials
	Code   int
	Status string // "503 Service Unavailable"
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status)
}

// Temporary reports whether a request that failed with err may succeed
// if sent again: a transport error (connection refused, a timeout) or a
// status of 408, 429 or 5xx. A cancelled context is not temporary.
func Temporary(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return true
}

// discard reads what is left of a response body, so the connection can
// be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// validHeaderName reports whether name is an HTTP header name (an RFC
// 9110 token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c >= 0x80 || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 || c == 0x7f {
			return false
		}
	}
	return true
}
