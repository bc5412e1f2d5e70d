// Package pgclient is what the postgres source and sink share: parsing a
// DSN, keeping its secrets out of errors and logs, and telling the errors
// worth retrying, with their backoff.
package pgclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConnConfig parses a DSN. Its error never quotes the DSN, which may hold
// a password that the parser fails to recognise.
func ConnConfig(dsn, app string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("dsn: not a valid PostgreSQL connection string " +
			"(a URL such as postgres://user:password@host:5432/db, or key=value pairs); " +
			"it is not shown because it may hold a password")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	params := cfg.RuntimeParams
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = app
	}
	if _, ok := params["timezone"]; !ok {
		params["timezone"] = "UTC"
	}
	return cfg, nil
}

// Secrets returns the strings of dsn that must not appear in an error or
// a log line: the password, as written and escaped, and the DSN itself.
func Secrets(dsn string, cfg *pgx.ConnConfig) []string {
	out := []string{dsn}
	if pw := cfg.Password; pw != "" {
		out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw), url.UserPassword("", pw).String()[1:])
	}
	return out
}

// redacted is an error whose text has the secrets masked. It unwraps to
// the original error, so sentinels and contexts keep their identity.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Scrub masks every secret in err's text.
func Scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if masked := Mask(msg, secrets); masked != msg {
		return &redacted{msg: masked, err: err}
	}
	return err
}

// Mask replaces every secret in s with xxxxx.
func Mask(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}

// Transient reports whether err is a lost or refused connection, or a
// conflict that a retry resolves, as opposed to a problem with the query,
// the data or the credentials. closed says the connection the error came
// from is closed now.
func Transient(err error, closed bool) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if closed {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, terminated
			pgErr.Code == "53300",                        // too many connections
			pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	_, ok := errors.AsType[*pgconn.ConnectError](err)
	return ok // dial failures; authentication failures are PgErrors
}

// Backoff is the retry schedule: doubling waits from 100ms up to 5s.
type Backoff struct{ next time.Duration }

// Wait sleeps for the next interval, or until ctx is done.
func (b *Backoff) Wait(ctx context.Context) error {
	if b.next == 0 {
		b.next = 100 * time.Millisecond
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, 5*time.Second)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
