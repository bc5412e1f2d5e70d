package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"},
		{"https://ann:s3cret@example.com/v1/rows?token=s3cret#s3cret", "https://example.com/v1/rows"},
		{"https://ann@example.com", "https://example.com"},
		{"http://[::1]:9/a%20b", "http://[::1]:9/a%20b"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Redact(u); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidHeaderName(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"Authorization": true, "X-Api-Key": true, "x_b.c~!#$%&'*+^`|": true,
		"": false, "Bad Name": false, "a:b": false, "é": false, "a\tb": false, "a\x7f": false, "(x)": false,
	}
	for name, want := range tests {
		if got := validHeaderName(name); got != want {
			t.Errorf("validHeaderName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestTemporary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 408}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 400}, false},
		{&StatusError{Code: 401}, false},
		{&StatusError{Code: 404}, false},
		{fmt.Errorf("POST x: %w", &StatusError{Code: 502}), true},
		{errors.New("connection refused"), true},
		{fmt.Errorf("POST x: %w", context.Canceled), false},
		{fmt.Errorf("POST x: %w", context.DeadlineExceeded), true},
	}
	for _, tt := range tests {
		if got := Temporary(tt.err); got != tt.want {
			t.Errorf("Temporary(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestErrors checks the errors of requests that fail, for their exact
// text and for credentials.
func TestErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/416" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// 416 answers a GET for bytes past the end: no error. For a POST it is
	// one.
	ep, err := New(Config{URL: srv.URL + "/416", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := ep.Get(t.Context(), 10); err != nil || resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("GET answered 416: %v", err)
	} else {
		resp.Body.Close()
	}
	if err := ep.Post(t.Context(), "text/plain", nil); err == nil || err.Error() != "POST "+srv.URL+"/416: 416 Requested Range Not Satisfiable" {
		t.Errorf("POST answered 416: %v", err)
	}
	tests := []struct {
		name, base string
		get        bool
		want       string // the error's text, up to the cause of a transport error
	}{
		{"post-status", srv.URL, false, "POST " + srv.URL + "/p: 418 I'm a teapot"},
		{"get-status", srv.URL, true, "GET " + srv.URL + "/p: 418 I'm a teapot"},
		{"post-refused", closed.URL, false, "POST " + closed.URL + "/p: dial tcp "},
		{"get-refused", closed.URL, true, "GET " + closed.URL + "/p: dial tcp "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := strings.Replace(tt.base, "http://", "http://ann:s3cret@", 1) + "/p?token=s3cret"
			ep, err := New(Config{URL: u, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer ep.CloseIdle()
			if ep.String() != tt.base+"/p" {
				t.Errorf("String() = %q", ep.String())
			}
			if tt.get {
				var resp *http.Response
				resp, err = ep.Get(t.Context(), 0)
				if resp != nil {
					resp.Body.Close()
				}
			} else {
				err = ep.Post(t.Context(), "text/plain", []byte("x"))
			}
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(tt.name, "status") && err.Error() != tt.want || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "@") {
				t.Errorf("error %q shows credentials", err)
			}
		})
	}
}
