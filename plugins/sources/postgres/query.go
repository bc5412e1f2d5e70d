package postgres

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Offsets are cursor values as int64: the value of an integer cursor, or
// Unix microseconds (PostgreSQL's resolution) of a timestamp cursor. These
// two stand for the open ends of the range.
const (
	minusInf = math.MinInt64
	plusInf  = math.MaxInt64
)

// kind is the type of the cursor column.
type kind int

const (
	intCursor         kind = iota // smallint, integer, bigint
	timestampCursor               // timestamp without time zone, taken as UTC
	timestamptzCursor             // timestamptz
)

// cursorKind maps the cursor column's type to a kind.
func cursorKind(oid uint32, column string) (kind, error) {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return intCursor, nil
	case pgtype.TimestampOID:
		return timestampCursor, nil
	case pgtype.TimestamptzOID:
		return timestamptzCursor, nil
	}
	name := fmt.Sprintf("OID %d", oid)
	if t, ok := pgtype.NewMap().TypeForOID(oid); ok {
		name = t.Name
	}
	return 0, fmt.Errorf("cursor: column %q is of type %s; it must be a timestamp, timestamptz or integer column", column, name)
}

// cast is the SQL type of the query parameters holding offsets.
func (k kind) cast() string {
	switch k {
	case timestampCursor:
		return "timestamp"
	case timestamptzCursor:
		return "timestamptz"
	}
	return "bigint"
}

// param turns an offset into a query parameter of the cursor's type.
func (k kind) param(off int64) any {
	if k == intCursor {
		return off
	}
	inf, t := pgtype.Finite, time.Time{}
	switch off {
	case minusInf:
		inf = pgtype.NegativeInfinity
	case plusInf:
		inf = pgtype.Infinity
	default:
		t = time.UnixMicro(off).UTC()
	}
	if k == timestampCursor {
		return pgtype.Timestamp{Time: t, InfinityModifier: inf, Valid: true}
	}
	return pgtype.Timestamptz{Time: t, InfinityModifier: inf, Valid: true}
}

// offset turns a cursor value, as rows.Values decodes it, into an offset.
func (k kind) offset(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case time.Time:
		return v.UnixMicro(), nil
	case pgtype.InfinityModifier:
		if v == pgtype.Infinity {
			return plusInf, nil
		}
		return minusInf, nil
	}
	return 0, fmt.Errorf("cursor value %v (%T) is not an integer or a timestamp", v, v)
}

// sub returns off - d, saturating at the open ends.
func sub(off, d int64) int64 {
	if off == minusInf || off == plusInf {
		return off
	}
	if d > 0 && off < minusInf+d+1 {
		return minusInf
	}
	return off - d
}

// relation is what the source reads: a table or a query, with the
// columns it selects.
type relation struct {
	from       string // a quoted table name or a parenthesised query
	table      bool
	query      string   // the query, when not a table
	columns    []string // quoted; empty means all
	cursor     string   // quoted
	tiebreaker []string // quoted; nil for none
}

// quoteAll quotes identifiers.
func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// newRelation describes what cfg reads. A table's rows are ordered by
// their physical position (ctid) within a cursor value unless a
// tiebreaker is given.
func newRelation(cfg *Config) relation {
	r := relation{columns: quoteAll(cfg.Columns), cursor: pgx.Identifier{cfg.Cursor}.Sanitize(), tiebreaker: quoteAll(cfg.Tiebreaker)}
	if cfg.Table != "" {
		r.table = true
		r.from = tableName(cfg)
	} else {
		q := strings.TrimSpace(cfg.Query)
		for strings.HasSuffix(q, ";") {
			q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
		}
		r.query, r.from = q, "("+q+"\n)"
	}
	return r
}

// tableName is the quoted, possibly schema-qualified table name.
func tableName(cfg *Config) string {
	if cfg.Schema != "" {
		return pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	}
	return pgx.Identifier{cfg.Table}.Sanitize()
}

// sqlError wraps an error of a statement built on r, naming the table or
// the query. An error at a position inside the query says where it is
// in the query.
func (r relation) sqlError(err error, sql, table string) error {
	if r.table {
		return fmt.Errorf("table %s: %w", table, err)
	}
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	start := strings.Index(sql, r.query)
	if !ok || pgErr.Position == 0 || start < 0 {
		return fmt.Errorf("query: %w", err)
	}
	at := int(pgErr.Position) - utf8.RuneCountInString(sql[:start])
	if at < 1 || at > utf8.RuneCountInString(r.query) {
		return fmt.Errorf("query: %w", err)
	}
	return fmt.Errorf("query: %w, at character %d of the query", err, at)
}

// probeSQL selects no row but describes the cursor column.
func (r relation) probeSQL() string {
	return "SELECT src." + r.cursor + " FROM " + r.from + " AS src LIMIT 0"
}

// maxSQL finds the largest cursor value (bounded reading).
func (r relation) maxSQL(k kind) string {
	return "SELECT max(src." + r.cursor + ") FROM " + r.from + " AS src WHERE src." + r.cursor + " <= $1::" + k.cast()
}

// pageSQL reads one page: the rows whose cursor is above $1, up to the
// cursor value of the $3-th such row, $2 at most, in cursor order. A page
// thus holds whole cursor values: every row sharing the last cursor value
// of the page is in it, even beyond $3 rows, so the next page can start
// strictly after that value and no row with an equal value is skipped,
// whatever the tiebreaker. The cursor value is the last column.
func (r relation) pageSQL(k kind, withCtid bool) string {
	sel := "src.*"
	if len(r.columns) > 0 {
		sel = "src." + strings.Join(r.columns, ", src.")
	}
	c, t := r.cursor, k.cast()
	order := "src." + c
	switch {
	case len(r.tiebreaker) > 0:
		order += ", src." + strings.Join(r.tiebreaker, ", src.")
	case withCtid:
		order += ", src.ctid"
	}
	return "SELECT " + sel + ", src." + c + "\n" +
		"FROM " + r.from + " AS src\n" +
		"WHERE src." + c + " > $1::" + t + " AND src." + c + " <= (\n" +
		"  SELECT max(page.c) FROM (\n" +
		"    SELECT s." + c + " AS c FROM " + r.from + " AS s\n" +
		"    WHERE s." + c + " > $1::" + t + " AND s." + c + " <= $2::" + t + "\n" +
		"    ORDER BY s." + c + " LIMIT $3) AS page)\n" +
		"ORDER BY " + order
}
