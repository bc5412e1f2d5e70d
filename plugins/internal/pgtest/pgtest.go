// Package pgtest points the postgres plugins' tests at a real PostgreSQL
// server. It starts nothing: the server is the one scripts/ci-postgres.sh
// starts, found through FLOWCTL_TEST_POSTGRES. Each test gets a schema of
// its own, dropped when it ends, so tests can run in parallel.
//
// It lives under plugins/ because plugin tests may import only packages
// under plugins/ (internal/lint); nothing but tests imports it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable holding the test server's URL.
const EnvDSN = "FLOWCTL_TEST_POSTGRES"

// Missing is the message of a test that finds no server.
const Missing = EnvDSN + " is not set; start a throwaway PostgreSQL server with " +
	`eval "$(scripts/ci-postgres.sh)" from the repository root and run the tests again`

// DSN returns the test server's URL. Without one the test is skipped, or,
// under CI=true, fails: CI must run these tests.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(Missing)
		}
		t.Skip(Missing)
	}
	return dsn
}

// Schema creates an empty schema for t, dropped with everything in it when
// t ends, and returns a URL of the test server whose connections have that
// schema as their search_path, and the schema's name.
func Schema(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := DSN(t)
	schema = schemaName(t.Name())
	conn := Conn(t, base)
	Exec(t, conn, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

var notWord = regexp.MustCompile(`[^a-z0-9]+`)

// schemaName makes a schema name from a test name and a random suffix.
func schemaName(test string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Trim(notWord.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "t_" + name + "_" + hex.EncodeToString(b[:])
}

// Conn connects to dsn; the connection is closed when t ends.
func Conn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// Exec runs each statement on conn, failing t on the first error.
func Exec(t testing.TB, conn *pgx.Conn, statements ...string) {
	t.Helper()
	for _, sql := range statements {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// Password returns the password in dsn, to check that it appears in no
// error or log line.
func Password(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDSN, err)
	}
	return cfg.Password
}

// WithPassword returns dsn with its password replaced.
func WithPassword(t testing.TB, dsn, password string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		t.Fatalf("%s is not a URL with a user", EnvDSN)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}
