// Package postgres is flowctl's built-in PostgreSQL sink. It inserts rows
// into a table, or upserts them on the pipeline's key, exactly once: rows
// are staged in a table of their own at each checkpoint and moved into the
// target together with the checkpoint's commit marker, in one transaction.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowctl/flowctl/plugins/internal/pgclient"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// Plugin returns the postgres sink's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "postgres",
			Kind:    sdk.KindSink,
			Version: "0.1.0",
			Summary: "Inserts or upserts rows into a PostgreSQL table, exactly once.",
			Fields:  fields,
		},
		NewSink:  func() sdk.Sink { return &Sink{} },
		Validate: validate,
		Delivery: delivery,
	}
}

var fields = []sdk.FieldSpec{
	{Name: "dsn", Type: sdk.TypeString, Required: true, Secret: true,
		Doc: "Connection string: a URL `postgres://user:password@host:5432/db?sslmode=disable` or `key=value` pairs. " +
			"Write the password as `${ENV_NAME}`; it never appears in errors or logs."},
	{Name: "table", Type: sdk.TypeString, Required: true,
		Doc: "The table to write. Its columns are named like the sink's columns."},
	{Name: "schema", Type: sdk.TypeString,
		Doc: "The schema of `table` (and of the sink's staging and marker tables); empty means the connection's search_path."},
	{Name: "mode", Type: sdk.TypeString, Enum: []string{modeInsert, modeUpsert},
		Doc: "`insert` appends rows; `upsert` inserts or updates them on the sink's `key` " +
			"(`INSERT … ON CONFLICT (key) DO UPDATE`), which needs a unique index on the key columns. " +
			"Unset: `upsert` when the sink has a `key`, `insert` otherwise."},
	{Name: "create_table", Type: sdk.TypeBool, Default: false,
		Doc: "Create the table if it does not exist, with a column per sink column typed after the first rows' values, " +
			"and the `key` as primary key."},
	{Name: "retry_timeout", Type: sdk.TypeDuration, Default: defaultRetryTimeout,
		Doc: "How long a lost connection is retried, with backoff, before the run fails."},
}

// delivery reports the sink's guarantee: exactly-once in both modes.
func delivery(req sdk.DeliveryRequest) sdk.DeliveryReport {
	cfg, _ := parseConfig(req.Config)
	how := "inserted"
	if cfg.upsert(req.Key) {
		how = "upserted on (" + strings.Join(req.Key, ", ") + ")"
	}
	return sdk.DeliveryReport{
		Delivery: sdk.ExactlyOnce,
		Reason: "rows are staged at each checkpoint and " + how + " into the table in one transaction " +
			"with the checkpoint's marker in " + markerTable,
	}
}

var (
	_ sdk.Sink      = (*Sink)(nil)
	_ sdk.Committer = (*Sink)(nil)
)

// Sink writes rows through a staging table (see Committer). It holds the
// rows written since the last Prepare in memory.
type Sink struct {
	cfg      Config
	pg       *pgx.ConnConfig
	secrets  []string
	logger   sdk.Logger
	conn     *pgx.Conn
	retryFor time.Duration

	pipeline, name string
	names          names
	key            []string
	upsert         bool
	columns        []string // announced at Open; nil when rows bring their own

	pending []sdk.Rows // written since the last Prepare

	// What is known of the tables, reloaded after a failed transaction.
	types     map[string]string // target column → SQL type; nil: not loaded
	stageCols []string          // the staging table's columns; nil: not loaded or missing
	stageOK   bool              // stageCols is loaded
}

// Open connects, creates the marker table if missing and checks the
// target table against the columns and the key.
func (s *Sink) Open(ctx context.Context, req sdk.SinkOpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		errs := make([]error, len(diags))
		for i, d := range diags {
			errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
		}
		return errors.Join(errs...)
	}
	s.cfg, s.logger = cfg, req.Settings.Logger
	s.retryFor, _ = time.ParseDuration(cfg.RetryTimeout)
	s.pipeline, s.name = req.Settings.Pipeline, req.Settings.Name
	s.names = newNames(cfg.Schema, cfg.Table, s.pipeline, s.name)
	s.key, s.upsert, s.columns = req.Key, cfg.upsert(req.Key), req.Columns
	if err := s.checkKey(); err != nil {
		return err
	}
	pg, err := pgclient.ConnConfig(cfg.DSN, "flowctl "+s.pipeline+"/"+s.name)
	if err != nil {
		return err
	}
	s.pg, s.secrets = pg, pgclient.Secrets(cfg.DSN, pg)
	if err := s.connect(ctx); err != nil {
		return pgclient.Scrub(err, s.secrets)
	}
	return s.retry(ctx, "open", s.check)
}

// checkKey checks the key against the mode and the columns.
func (s *Sink) checkKey() error {
	if s.upsert && len(s.key) == 0 {
		return &sdk.ConfigError{Path: "mode", Msg: "upsert needs a key: set `key:` on the sink in the pipeline"}
	}
	for _, k := range s.key {
		if s.columns != nil && !slices.Contains(s.columns, k) {
			return fmt.Errorf("key column %q is not among the sink's columns %v", k, s.columns)
		}
	}
	return nil
}

// connect opens a connection unless one is open.
func (s *Sink) connect(ctx context.Context) error {
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.pg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	s.conn = conn
	return nil
}

// check creates the marker table if missing and checks the target: it
// exists (or create_table is set), has the sink's columns, and has a
// unique index on the key for upserts.
func (s *Sink) check(ctx context.Context, tx pgx.Tx) error {
	if err := s.createMissing(ctx, tx, s.names.marker, markerDDL(s.names.marker)); err != nil {
		return err
	}
	if err := s.loadTypes(ctx, tx); err != nil {
		return err
	}
	if s.types == nil {
		if s.cfg.CreateTable {
			return nil // created from the first rows
		}
		return &sdk.ConfigError{Path: "table", Msg: fmt.Sprintf("table %s does not exist; create it, or set create_table: true", s.names.target.Sanitize())}
	}
	if s.columns != nil {
		if err := s.checkColumns(s.columns); err != nil {
			return err
		}
	}
	if s.upsert {
		return s.checkUnique(ctx, tx)
	}
	return nil
}

// createMissing runs ddl, which creates table, if table does not exist.
func (s *Sink) createMissing(ctx context.Context, tx pgx.Tx, table pgx.Identifier, ddl string) error {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table.Sanitize()).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := tx.Exec(ctx, ddlLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create %s: %w", table.Sanitize(), err)
	}
	return nil
}

// columnsSQL lists a table's columns and their types.
const columnsSQL = `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

// loadTypes loads the target's column types; s.types stays nil if the
// target does not exist.
func (s *Sink) loadTypes(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, columnsSQL, s.names.target.Sanitize())
	if err != nil {
		return err
	}
	types := map[string]string{}
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		types[name] = typ
		return nil
	})
	if err != nil {
		return err
	}
	s.types = nil
	if len(types) > 0 {
		s.types = types
	}
	return nil
}

// checkColumns checks that the target has every column.
func (s *Sink) checkColumns(cols []string) error {
	for _, c := range cols {
		if _, ok := s.types[c]; !ok {
			return fmt.Errorf("table %s has no column %q", s.names.target.Sanitize(), c)
		}
	}
	return nil
}

// checkUnique checks that the target has a unique index on exactly the
// key columns, which ON CONFLICT needs.
func (s *Sink) checkUnique(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT array(
  SELECT a.attname::text FROM unnest(i.indkey) AS k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
FROM pg_index i
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL`, s.names.target.Sanitize())
	if err != nil {
		return err
	}
	indexes, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return err
	}
	want := slices.Sorted(slices.Values(s.key))
	for _, cols := range indexes {
		if slices.Equal(slices.Sorted(slices.Values(cols)), want) {
			return nil
		}
	}
	return fmt.Errorf("table %s has no unique index on the key (%s), which upsert needs; add a primary key or a unique index on it",
		s.names.target.Sanitize(), quoteAll("", s.key))
}

// Write keeps the rows until the next Prepare.
func (s *Sink) Write(_ context.Context, rows sdk.Rows) error {
	if len(rows.Rows) == 0 {
		return nil
	}
	for i, r := range rows.Rows {
		if len(r) != len(rows.Columns) {
			return fmt.Errorf("row %d has %d values for %d columns", i+1, len(r), len(rows.Columns))
		}
	}
	for _, k := range s.key {
		if !slices.Contains(rows.Columns, k) {
			return fmt.Errorf("key column %q is not among the row columns %v", k, rows.Columns)
		}
	}
	if s.types != nil {
		if err := s.checkColumns(rows.Columns); err != nil {
			return err
		}
	}
	s.pending = append(s.pending, rows)
	return nil
}

// Committed reports the latest checkpoint whose rows are in the target or
// durably staged: the larger of the marker's committed and prepared ids.
func (s *Sink) Committed(ctx context.Context) (uint64, error) {
	var id int64
	err := s.retry(ctx, "read the commit marker", func(ctx context.Context, tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT greatest(checkpoint, prepared) FROM "+s.names.marker.Sanitize()+
			" WHERE pipeline = $1 AND sink = $2", s.pipeline, s.name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			id = 0
			return nil
		}
		return err
	})
	return uint64(id), err
}

// Recover makes the target hold exactly the rows of checkpoints up to id:
// it moves the rows staged under ids up to id into it, drops the staging
// table with the rows staged under later ids, and sets both marker ids to
// id. Recover(0) thus discards whatever an earlier run staged; it never
// deletes rows from the target.
func (s *Sink) Recover(ctx context.Context, id uint64) error {
	s.pending = nil
	return s.retry(ctx, fmt.Sprintf("recover to checkpoint %d", id), func(ctx context.Context, tx pgx.Tx) error {
		if err := s.merge(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+s.names.stage.Sanitize()); err != nil {
			return err
		}
		s.stageCols, s.stageOK = nil, true
		return s.mark(ctx, tx, markRecovered, id, id)
	})
}

// Prepare stages the rows written since the last Prepare under id, in one
// transaction that also records id as prepared in the marker. A retried
// Prepare first deletes what an earlier attempt may have staged under id,
// so rows are staged once.
func (s *Sink) Prepare(ctx context.Context, id uint64) error {
	err := s.retry(ctx, fmt.Sprintf("prepare checkpoint %d", id), func(ctx context.Context, tx pgx.Tx) error {
		if len(s.pending) > 0 {
			if err := s.stage(ctx, tx, id); err != nil {
				return err
			}
		}
		return s.mark(ctx, tx, markPrepared, 0, id)
	})
	if err == nil {
		s.pending = nil
	}
	return err
}

// Commit moves the rows staged under ids up to id into the target and
// raises the marker's committed id, in one transaction. Once that
// transaction commits the staged rows are gone, so a retried or repeated
// Commit moves nothing twice.
func (s *Sink) Commit(ctx context.Context, id uint64) error {
	return s.retry(ctx, fmt.Sprintf("commit checkpoint %d", id), func(ctx context.Context, tx pgx.Tx) error {
		if err := s.merge(ctx, tx, id); err != nil {
			return err
		}
		if err := s.clearStage(ctx, tx, id); err != nil {
			return err
		}
		return s.mark(ctx, tx, markCommitted, id, 0)
	})
}

// Close drops the connection. Rows written since the last Prepare belong
// to no checkpoint and are discarded: the run that restarts from the last
// checkpoint produces them again.
func (s *Sink) Close(ctx context.Context) error {
	if n := s.pendingRows(); n > 0 {
		s.logf("closing with %d rows not covered by a checkpoint; they are not written", n)
	}
	s.pending = nil
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(ctx)
	s.conn = nil
	return pgclient.Scrub(err, s.secrets)
}

func (s *Sink) pendingRows() int {
	n := 0
	for _, r := range s.pending {
		n += len(r.Rows)
	}
	return n
}

// mark upserts the sink's marker row.
func (s *Sink) mark(ctx context.Context, tx pgx.Tx, set string, checkpoint, prepared uint64) error {
	_, err := tx.Exec(ctx, markerSQL(s.names.marker, set), s.pipeline, s.name, int64(checkpoint), int64(prepared))
	return err
}

// retry runs f in a transaction, reconnecting and retrying with backoff
// for up to retry_timeout when the connection is lost or the transaction
// conflicts. Every f here is idempotent as a transaction: run again after
// an attempt whose outcome is unknown (the connection dropped during
// COMMIT), it does the same or nothing, never the work twice.
func (s *Sink) retry(ctx context.Context, what string, f func(context.Context, pgx.Tx) error) error {
	var b pgclient.Backoff
	deadline := time.Now().Add(s.retryFor)
	for {
		err := s.connect(ctx)
		if err == nil {
			err = pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error { return f(ctx, tx) })
		}
		if err == nil {
			return nil
		}
		s.types, s.stageCols, s.stageOK = nil, nil, false // the transaction may have created them
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := errors.AsType[*sdk.ConfigError](err); ok {
			return err
		}
		err = pgclient.Scrub(fmt.Errorf("%s: %w", what, err), s.secrets)
		if !pgclient.Transient(err, s.conn == nil || s.conn.IsClosed()) || time.Now().After(deadline) {
			return err
		}
		s.logf("%v; retrying", err)
		if err := b.Wait(ctx); err != nil {
			return err
		}
	}
}

// logf logs through the host's logger, if any, masking secrets.
func (s *Sink) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf("%s", pgclient.Mask(fmt.Sprintf(format, args...), s.secrets))
	}
}
