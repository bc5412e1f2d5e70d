// Package postgres is flowctl's built-in PostgreSQL source. It reads a
// table or a query incrementally, in the order of a cursor column (a
// timestamp or an increasing id): a bounded range for batch runs and
// backfills, or new rows as they commit, polling, for micro-batch and
// stream runs. A lookback re-reads an overlap behind the cursor so that
// rows committed late are not missed.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowctl/flowctl/plugins/internal/pgclient"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// Plugin returns the postgres source's spec and constructor.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name:    "postgres",
			Kind:    sdk.KindSource,
			Version: "0.1.0",
			Summary: "Reads a PostgreSQL table or query incrementally by a cursor column.",
			Fields:  fields,
			// A backfill reads a range of a timestamp cursor, which
			// should then be the pipeline's event time.
			TimeRange: &sdk.TimeRange{From: "from", To: "to"},
		},
		NewSource: func() sdk.Source { return &Source{} },
		Validate:  validate,
	}
}

var fields = []sdk.FieldSpec{
	{Name: "dsn", Type: sdk.TypeString, Required: true, Secret: true,
		Doc: "Connection string: a URL `postgres://user:password@host:5432/db?sslmode=disable` or `key=value` pairs. " +
			"Write the password as `${ENV_NAME}`; it never appears in errors or logs."},
	{Name: "table", Type: sdk.TypeString,
		Doc: "The table or view to read. Set `table` or `query`."},
	{Name: "schema", Type: sdk.TypeString,
		Doc: "The schema of `table`; empty means the connection's search_path."},
	{Name: "query", Type: sdk.TypeString,
		Doc: "A SELECT to read instead of a table, without parameters; the source wraps it as a subquery " +
			"and adds its own WHERE and ORDER BY on `cursor`."},
	{Name: "cursor", Type: sdk.TypeString, Required: true,
		Doc: "The column that orders rows and records progress: a `timestamp`, `timestamptz` or integer " +
			"(an increasing id) column. Index it. The position is its value (Unix microseconds for timestamps)."},
	{Name: "columns", Type: sdk.TypeList, Elem: sdk.TypeString,
		Doc: "The columns to read, in this order; empty means all."},
	{Name: "tiebreaker", Type: sdk.TypeList, Elem: sdk.TypeString,
		Doc: "Columns that order rows sharing a cursor value, such as the primary key; " +
			"empty means the physical row order (`ctid`) for a table, none for a query."},
	{Name: "batch_size", Type: sdk.TypeInt, Default: defaultBatchSize,
		Doc: "Rows per query. A page also holds every other row sharing its last cursor value."},
	{Name: "poll_interval", Type: sdk.TypeDuration, Default: defaultPollInterval,
		Doc: "How long to wait, once caught up, before looking for new rows."},
	{Name: "lookback", Type: sdk.TypeString,
		Doc: "The overlap re-read behind the position at a resume and at every poll, so that rows committed late " +
			"are read: a duration (`10m`) for a timestamp cursor, a count (`1000`) for an integer one. " +
			"Re-read rows come again: give the sink a `key`, or dedupe."},
	{Name: "from", Type: sdk.TypeString,
		Doc: "Read rows with cursor >= this: an RFC 3339 timestamp or date, or an integer."},
	{Name: "to", Type: sdk.TypeString,
		Doc: "Read rows with cursor < this, then end: an RFC 3339 timestamp or date, or an integer."},
	{Name: "bounded", Type: sdk.TypeBool, Default: false,
		Doc: "End after the rows up to the largest cursor value present at start (batch runs)."},
	{Name: "retry_timeout", Type: sdk.TypeDuration, Default: defaultRetryTimeout,
		Doc: "How long a lost connection is retried, with backoff, before the run fails."},
}

var _ sdk.Source = (*Source)(nil)

// Source reads pages of rows in cursor order. Within a run it pages
// forward from the last cursor value read; each page ends at a whole cursor
// value (see relation.pageSQL). Once caught up it polls, each poll a new
// sweep starting lookback behind the highest position handed out.
type Source struct {
	cfg       Config
	pg        *pgx.ConnConfig
	secrets   []string
	logger    sdk.Logger
	conn      *pgx.Conn
	retryFor  time.Duration
	pollEvery time.Duration

	partition string
	kind      kind
	sql       string   // the page query
	names     []string // the field names
	lookback  int64    // in offset units
	hi        int64    // inclusive upper bound of the cursor
	bounded   bool     // end once caught up

	floor    int64 // the cursor values read are above this (from)
	lo       int64 // the next page starts after this cursor value
	high     int64 // highest position handed out, or resumed from
	queue    []sdk.Message
	caughtUp bool // the last page was the last of its sweep
	polled   time.Time
	done     bool
}

// Open connects, checks the table or query and the cursor, and positions
// the source after req.Resume, minus the lookback.
func (s *Source) Open(ctx context.Context, req sdk.OpenRequest) error {
	cfg, diags := parseConfig(req.Config)
	if len(diags) > 0 {
		return configError(diags)
	}
	cfg.Bounded = cfg.Bounded || req.Bounded // a batch run reads what is there
	s.cfg, s.logger = cfg, req.Settings.Logger
	s.retryFor, _ = time.ParseDuration(cfg.RetryTimeout)
	s.pollEvery, _ = time.ParseDuration(cfg.PollInterval)
	pg, err := pgclient.ConnConfig(cfg.DSN, "flowctl "+req.Settings.Pipeline+"/"+req.Settings.Name)
	if err != nil {
		return err
	}
	s.pg, s.secrets = pg, pgclient.Secrets(cfg.DSN, pg)
	if err := s.connect(ctx); err != nil {
		return pgclient.Scrub(err, s.secrets)
	}
	return pgclient.Scrub(s.prepare(ctx, req.Resume), s.secrets)
}

// configError turns diagnostics into one error.
func configError(diags []sdk.Diagnostic) error {
	errs := make([]error, len(diags))
	for i, d := range diags {
		errs[i] = &sdk.ConfigError{Path: d.Path, Msg: d.Msg}
	}
	return errors.Join(errs...)
}

// connect opens a connection unless one is open.
func (s *Source) connect(ctx context.Context) error {
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.pg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	useNumberJSON(conn)
	s.conn = conn
	return nil
}

// prepare describes the relation, builds the page query and sets the
// range and the starting point.
func (s *Source) prepare(ctx context.Context, resume []sdk.Position) error {
	rel := newRelation(&s.cfg)
	s.partition = "query"
	withCtid := false
	if rel.table {
		s.partition = s.cfg.Table
		if s.cfg.Schema != "" {
			s.partition = s.cfg.Schema + "." + s.cfg.Table
		}
		var err error
		if withCtid, err = s.hasCtid(ctx, rel.from); err != nil {
			return err
		}
	}
	rows, err := s.conn.Query(ctx, rel.probeSQL())
	if err != nil {
		return rel.sqlError(err, rel.probeSQL(), s.partition)
	}
	oid := rows.FieldDescriptions()[0].DataTypeOID
	rows.Close()
	if err := rows.Err(); err != nil {
		return rel.sqlError(err, rel.probeSQL(), s.partition)
	}
	if s.kind, err = cursorKind(oid, s.cfg.Cursor); err != nil {
		return err
	}
	s.sql = rel.pageSQL(s.kind, withCtid)
	sd, err := s.conn.Prepare(ctx, "", s.sql)
	if err != nil {
		return rel.sqlError(err, s.sql, s.partition)
	}
	for _, f := range sd.Fields[:len(sd.Fields)-1] {
		s.names = append(s.names, f.Name)
	}
	if err := s.setRange(); err != nil {
		return err
	}
	if s.bounded {
		if err := s.boundAtMax(ctx, rel); err != nil {
			return err
		}
	}
	s.start(resume)
	return nil
}

// what names what the source reads, for errors.
func (s *Source) what() string {
	if s.cfg.Table != "" {
		return "table " + s.partition
	}
	return "query"
}

// hasCtid reports whether the table is one whose rows have a ctid (not a
// view); it fails if there is no such table.
func (s *Source) hasCtid(ctx context.Context, table string) (bool, error) {
	var relkind string
	err := s.conn.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)", table).Scan(&relkind)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, &sdk.ConfigError{Path: "table", Msg: fmt.Sprintf("table %s does not exist", s.partition)}
	}
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", s.partition, err)
	}
	return relkind == "r" || relkind == "p" || relkind == "m", nil
}

// setRange converts lookback, from and to into offsets of the cursor's
// kind.
func (s *Source) setRange() error {
	s.lo, s.hi = minusInf, plusInf
	if s.cfg.Lookback != "" {
		lb, _ := parseLookback(s.cfg.Lookback)
		switch {
		case s.kind == intCursor && !lb.isCount:
			return &sdk.ConfigError{Path: "lookback", Msg: fmt.Sprintf("the cursor %q is an integer column: give a count of ids, not %q", s.cfg.Cursor, s.cfg.Lookback)}
		case s.kind != intCursor && lb.isCount && lb.count != 0:
			return &sdk.ConfigError{Path: "lookback", Msg: fmt.Sprintf("the cursor %q is a timestamp column: give a duration such as \"10m\", not %q", s.cfg.Cursor, s.cfg.Lookback)}
		case lb.isCount:
			s.lookback = lb.count
		default:
			s.lookback = lb.dur.Microseconds()
		}
	}
	for _, b := range []struct {
		path, value string
		set         *int64
	}{{"from", s.cfg.From, &s.lo}, {"to", s.cfg.To, &s.hi}} {
		if b.value == "" {
			continue
		}
		v, _ := parseBound(b.value)
		switch {
		case s.kind == intCursor && !v.isInt:
			return &sdk.ConfigError{Path: b.path, Msg: fmt.Sprintf("the cursor %q is an integer column: give an integer, not %q", s.cfg.Cursor, b.value)}
		case s.kind != intCursor && v.isInt:
			return &sdk.ConfigError{Path: b.path, Msg: fmt.Sprintf("the cursor %q is a timestamp column: give an RFC 3339 timestamp, not %q", s.cfg.Cursor, b.value)}
		case v.isInt:
			*b.set = sub(v.n, 1) // from is inclusive, to exclusive
		default:
			*b.set = sub(v.t.Truncate(time.Microsecond).UnixMicro(), 1)
		}
	}
	s.bounded = s.cfg.Bounded || s.cfg.To != ""
	return nil
}

// boundAtMax lowers the upper bound to the largest cursor value now in
// the relation.
func (s *Source) boundAtMax(ctx context.Context, rel relation) error {
	var v any
	if err := s.conn.QueryRow(ctx, rel.maxSQL(s.kind), s.kind.param(s.hi)).Scan(&v); err != nil {
		return fmt.Errorf("%s: largest %s: %w", s.what(), s.cfg.Cursor, err)
	}
	if v == nil {
		s.hi = minusInf // nothing to read
		return nil
	}
	hi, err := s.kind.offset(v)
	if err != nil {
		return err
	}
	s.hi = min(s.hi, hi)
	return nil
}

// start positions the source after the resume position of its
// partition, minus the lookback, but not before from.
func (s *Source) start(resume []sdk.Position) {
	s.floor, s.high = s.lo, s.lo
	for _, p := range resume {
		if p.Partition != s.partition {
			s.logf("ignoring the resume position %v: this source reads %s", p, s.partition)
			continue
		}
		s.high = max(s.lo, p.Offset)
		s.lo = max(s.lo, sub(p.Offset, s.lookback))
	}
}

// Read returns the next rows, at most batch_size of them. Once a sweep
// has caught up it waits for poll_interval since the last query, then
// starts a new sweep lookback behind the highest position handed out.
func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if len(s.queue) == 0 {
		if s.done {
			return sdk.Batch{}, sdk.ErrEndOfInput
		}
		if s.caughtUp {
			if err := s.waitPoll(ctx); err != nil {
				return sdk.Batch{}, err
			}
			s.lo = max(s.floor, sub(s.high, s.lookback))
		}
		page, err := s.poll(ctx)
		if err != nil {
			return sdk.Batch{}, err
		}
		s.queue = page
		s.caughtUp = len(page) < s.cfg.BatchSize
		s.done = s.caughtUp && s.bounded
	}
	n := min(len(s.queue), s.cfg.BatchSize)
	b := sdk.Batch{Messages: s.queue[:n:n]}
	s.queue = s.queue[n:]
	if len(s.queue) > 0 {
		return b, nil
	}
	s.queue = nil
	if s.done {
		return b, sdk.ErrEndOfInput
	}
	b.CaughtUp = s.caughtUp
	return b, nil
}

// waitPoll waits until poll_interval has passed since the last query.
func (s *Source) waitPoll(ctx context.Context) error {
	wait := time.Until(s.polled.Add(s.pollEvery))
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poll reads the next page, reconnecting and retrying with backoff for
// up to retry_timeout when the connection is lost. A page is handed out
// only once read whole, so a retry neither skips nor repeats rows.
func (s *Source) poll(ctx context.Context) ([]sdk.Message, error) {
	var b pgclient.Backoff
	deadline := time.Now().Add(s.retryFor)
	for {
		err := s.connect(ctx)
		if err == nil {
			var page []sdk.Message
			if page, err = s.page(ctx); err == nil {
				return page, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = pgclient.Scrub(fmt.Errorf("%s: read after %s: %w", s.what(), s.cfg.Cursor, err), s.secrets)
		if !pgclient.Transient(err, s.conn == nil || s.conn.IsClosed()) || time.Now().After(deadline) {
			return nil, err
		}
		s.logf("%v; retrying", err)
		if err := b.Wait(ctx); err != nil {
			return nil, err
		}
	}
}

// page runs the page query from s.lo and turns its rows into messages.
// A row's position is its cursor value, or the value just below it when
// the next row shares the value: resuming after it then reads the rest of
// that cursor value again rather than skipping it. Positions never go
// backwards: a row re-read by a lookback gets the highest position handed
// out so far.
func (s *Source) page(ctx context.Context) ([]sdk.Message, error) {
	s.polled = time.Now()
	rows, err := s.conn.Query(ctx, s.sql, s.kind.param(s.lo), s.kind.param(s.hi), s.cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []sdk.Message
	var offs []int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", len(msgs)+1, err)
		}
		cur := vals[len(vals)-1]
		off, err := s.kind.offset(cur)
		if err != nil {
			return nil, err
		}
		m := sdk.Message{Fields: make([]sdk.Field, len(s.names))}
		for i, name := range s.names {
			m.Fields[i] = sdk.Field{Name: name, Value: value(vals[i])}
		}
		if t, ok := cur.(time.Time); ok {
			m.Time = t.UTC()
		}
		msgs = append(msgs, m)
		offs = append(offs, off)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range msgs {
		off := offs[i]
		if i+1 < len(offs) && offs[i+1] == off {
			off = sub(off, 1)
		}
		msgs[i].Position = sdk.Position{Partition: s.partition, Offset: max(off, s.high)}
	}
	if n := len(offs); n > 0 {
		s.lo = offs[n-1]
		s.high = max(s.high, offs[n-1])
	}
	return msgs, nil
}

// Close closes the connection.
func (s *Source) Close(ctx context.Context) error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(ctx)
	s.conn = nil
	return pgclient.Scrub(err, s.secrets)
}

// logf logs through the host's logger, if any, masking secrets.
func (s *Source) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf("%s", pgclient.Mask(fmt.Sprintf(format, args...), s.secrets))
	}
}
