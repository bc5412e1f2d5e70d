// Command receiver is the HTTP server the example pipelines talk to, for
// trying the plugin out and for CI: it listens on 127.0.0.1, appends the
// bodies POSTed to /hook to a file (the webhook sink's requests), serves
// that file back at GET /hook with Range support (for the webhook
// source), and takes the bodies POSTed to /ack (the source's
// acknowledgements), appending them to another file with -acks.
//
//	receiver -addr-file addr.txt -out rows.jsonl [-acks acks.jsonl] [-token T] [-fail N]
//
// Once it listens it writes its base URL (http://127.0.0.1:PORT) to the
// addr file. With -token every request must carry "Authorization: Bearer
// T"; with -fail the first N POSTs to /hook are answered 503, so that a
// sink's retries are exercised. It stops on SIGINT or SIGTERM.
package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "file to write the base URL to once listening (required)")
	var r receiver
	flag.StringVar(&r.out, "out", "", "file the bodies POSTed to /hook are appended to (required)")
	flag.StringVar(&r.acks, "acks", "", "file the bodies POSTed to /ack are appended to (without it they are dropped)")
	flag.StringVar(&r.token, "token", "", "bearer token every request must carry")
	flag.IntVar(&r.fail, "fail", 0, "answer the first N POSTs to /hook with 503")
	flag.Parse()
	if *addrFile == "" || r.out == "" {
		flag.Usage()
		return errors.New("-addr-file and -out are required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &r, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	if err := writeAtomic(*addrFile, []byte(url+"\n")); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Fprintln(os.Stderr, "receiver: listening on", url)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeAtomic writes data to path through a temporary file, so a reader
// polling for path never sees it half written.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// receiver handles the requests; it serves one at a time.
type receiver struct {
	out, acks, token string

	mu   sync.Mutex
	fail int // POSTs to /hook still to answer 503
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.token != "" {
		want := "Bearer " + r.token
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte(want)) != 1 {
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case req.URL.Path == "/hook" && req.Method == http.MethodPost:
		if r.fail > 0 {
			r.fail--
			http.Error(w, "failing on purpose (-fail)", http.StatusServiceUnavailable)
			return
		}
		r.appendBody(w, req, r.out)
	case req.URL.Path == "/hook" && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		data, err := os.ReadFile(r.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
	case req.URL.Path == "/ack" && req.Method == http.MethodPost && r.acks == "":
		w.WriteHeader(http.StatusNoContent)
	case req.URL.Path == "/ack" && req.Method == http.MethodPost:
		r.appendBody(w, req, r.acks)
	default:
		http.NotFound(w, req)
	}
}

// appendBody appends the request's body to path, ending it with a
// newline.
func (r *receiver) appendBody(w http.ResponseWriter, req *http.Request, path string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		_, err = f.Write(body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
