package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiver sends a sequence of requests and checks each answer, then
// the files written.
func TestReceiver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &receiver{out: filepath.Join(dir, "rows.jsonl"), acks: filepath.Join(dir, "acks.jsonl"), token: "t0ken", fail: 1}
	steps := []struct {
		method, path, auth, rng, body string
		status                        int
		answer                        string
	}{
		{"GET", "/hook", "Bearer t0ken", "", "", 200, ""},
		{"POST", "/hook", "", "", "{}\n", 401, "missing or wrong bearer token\n"},
		{"POST", "/hook", "Bearer nope", "", "{}\n", 401, "missing or wrong bearer token\n"},
		{"POST", "/hook", "Bearer t0ken", "", "{\"n\":0}\n", 503, "failing on purpose (-fail)\n"},
		{"POST", "/hook", "Bearer t0ken", "", "{\"n\":0}\n{\"n\":1}\n", 204, ""},
		{"POST", "/hook", "Bearer t0ken", "", "{\"n\":2}", 204, ""},
		{"GET", "/hook", "Bearer t0ken", "", "", 200, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n"},
		{"GET", "/hook", "Bearer t0ken", "bytes=8-", "", 206, "{\"n\":1}\n{\"n\":2}\n"},
		{"GET", "/hook", "Bearer t0ken", "bytes=24-", "", 416, ""},
		{"POST", "/ack", "Bearer t0ken", "", `{"offset":24}`, 204, ""},
		{"POST", "/other", "Bearer t0ken", "", "", 404, "404 page not found\n"},
	}
	for i, st := range steps {
		req := httptest.NewRequest(st.method, st.path, strings.NewReader(st.body))
		if st.auth != "" {
			req.Header.Set("Authorization", st.auth)
		}
		if st.rng != "" {
			req.Header.Set("Range", st.rng)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != st.status {
			t.Errorf("step %d: %s %s: status %d, want %d", i, st.method, st.path, w.Code, st.status)
		}
		if st.status != http.StatusRequestedRangeNotSatisfiable && w.Body.String() != st.answer {
			t.Errorf("step %d: %s %s: body %q, want %q", i, st.method, st.path, w.Body.String(), st.answer)
		}
	}
	// Without -acks, acknowledgements are taken and dropped.
	w := httptest.NewRecorder()
	(&receiver{out: r.out}).ServeHTTP(w, httptest.NewRequest("POST", "/ack", strings.NewReader("{}")))
	if w.Code != http.StatusNoContent {
		t.Errorf("POST /ack without -acks: status %d", w.Code)
	}
	acks, err := os.ReadFile(r.acks)
	if err != nil {
		t.Fatal(err)
	}
	if string(acks) != "{\"offset\":24}\n" {
		t.Errorf("acks file %q", acks)
	}
}
