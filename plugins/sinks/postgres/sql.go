package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// Every identifier goes into SQL through pgx.Identifier.Sanitize, quoted,
// and every value as a parameter or through COPY.

// The staging table's own columns.
const (
	checkpointCol = "flowctl_checkpoint"
	seqCol        = "flowctl_seq"
)

// markerTable is the table of commit markers, one row per sink.
const markerTable = "flowctl_commits"

// ddlLock is the advisory lock taken around DDL, so that sinks opening at
// once do not race to create the same table.
const ddlLock = "SELECT pg_advisory_xact_lock(hashtext('flowctl ddl'))"

// names are the sink's tables.
type names struct {
	schema string // empty: the search_path's first schema
	target pgx.Identifier
	stage  pgx.Identifier
	marker pgx.Identifier
}

// newNames names the tables of a sink: the staging table's name is derived
// from the pipeline and sink names, so that a restarted sink finds it.
func newNames(schema, table, pipeline, sink string) names {
	sum := sha256.Sum256([]byte(pipeline + "\x00" + sink))
	stage := "flowctl_stage_" + hex.EncodeToString(sum[:8])
	qualify := func(name string) pgx.Identifier {
		if schema == "" {
			return pgx.Identifier{name}
		}
		return pgx.Identifier{schema, name}
	}
	return names{schema: schema, target: qualify(table), stage: qualify(stage), marker: qualify(markerTable)}
}

// quoteAll quotes column names and joins them with commas.
func quoteAll(prefix string, cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(pgx.Identifier{c}.Sanitize())
	}
	return b.String()
}

// markerDDL creates the marker table: per pipeline and sink, the latest
// checkpoint committed into the target and the latest one prepared.
func markerDDL(marker pgx.Identifier) string {
	return "CREATE TABLE IF NOT EXISTS " + marker.Sanitize() + ` (
  pipeline text NOT NULL,
  sink text NOT NULL,
  checkpoint bigint NOT NULL DEFAULT 0,
  prepared bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, sink))`
}

// The marker updates: after Recover both ids are the recovered one;
// Prepare sets the prepared id; Commit raises the committed one.
const (
	markRecovered = "checkpoint = EXCLUDED.checkpoint, prepared = EXCLUDED.prepared"
	markPrepared  = "prepared = EXCLUDED.prepared"
	markCommitted = "checkpoint = greatest(m.checkpoint, EXCLUDED.checkpoint)"
)

// markerSQL upserts the sink's marker row with ($1 pipeline, $2 sink, $3
// checkpoint, $4 prepared), updating it as set says.
func markerSQL(marker pgx.Identifier, set string) string {
	return "INSERT INTO " + marker.Sanitize() + " AS m (pipeline, sink, checkpoint, prepared) VALUES ($1, $2, $3, $4)\n" +
		"ON CONFLICT (pipeline, sink) DO UPDATE SET " + set + ", updated_at = now()"
}

// stageDDL creates the staging table: the checkpoint and order of each
// row, then the target's columns with the target's types but none of its
// constraints, since a key may be staged many times.
func stageDDL(stage pgx.Identifier, cols []string, types map[string]string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + stage.Sanitize() + " (\n  " + checkpointCol + " bigint NOT NULL,\n  " + seqCol + " bigint NOT NULL")
	for _, c := range cols {
		b.WriteString(",\n  " + pgx.Identifier{c}.Sanitize() + " " + types[c])
	}
	b.WriteString(")")
	return b.String()
}

// mergeSQL moves the staged rows of checkpoints up to $1 into the target:
// inserted in the order they were written, or upserted on key, the last
// row written for a key winning.
func mergeSQL(n names, cols, key []string, upsert bool) string {
	list := quoteAll("", cols)
	from := " FROM " + n.stage.Sanitize() + " WHERE " + checkpointCol + " <= $1"
	if !upsert {
		return "INSERT INTO " + n.target.Sanitize() + " (" + list + ")\nSELECT " + list + from +
			"\nORDER BY " + checkpointCol + ", " + seqCol
	}
	keys := quoteAll("", key)
	sql := "INSERT INTO " + n.target.Sanitize() + " (" + list + ")\nSELECT DISTINCT ON (" + keys + ") " + list + from +
		"\nORDER BY " + keys + ", " + checkpointCol + " DESC, " + seqCol + " DESC\nON CONFLICT (" + keys + ") DO "
	var set []string
	for _, c := range cols {
		if !slices.Contains(key, c) {
			q := pgx.Identifier{c}.Sanitize()
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	if len(set) == 0 {
		return sql + "NOTHING"
	}
	return sql + "UPDATE SET " + strings.Join(set, ", ")
}

// tableDDL creates the target from the columns and the SQL types of the
// first non-null values, with the key as primary key.
func tableDDL(target pgx.Identifier, cols, key []string, types map[string]string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + target.Sanitize() + " (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  " + pgx.Identifier{c}.Sanitize() + " " + types[c])
	}
	if len(key) > 0 {
		b.WriteString(",\n  PRIMARY KEY (" + quoteAll("", key) + ")")
	}
	b.WriteString(")")
	return b.String()
}

// sqlType is the column type create_table gives a value.
func sqlType(v any) string {
	switch v.(type) {
	case int64, int, int32, int16, int8, uint32, uint16, uint8:
		return "bigint"
	case uint64, uint, decimal.Decimal:
		return "numeric"
	case float64, float32:
		return "double precision"
	case bool:
		return "boolean"
	case []byte:
		return "bytea"
	case time.Time:
		return "timestamptz"
	case time.Duration:
		return "interval"
	case []any, map[string]any:
		return "jsonb"
	}
	return "text"
}

// param turns an SDK value into one pgx encodes for any compatible
// column: decimals and durations into their pgtype forms, lists and
// objects into JSON text, Absent into null.
func param(v any) any {
	switch v := v.(type) {
	case decimal.Decimal:
		return pgtype.Numeric{Int: v.Coefficient(), Exp: v.Exponent(), Valid: true}
	case time.Duration:
		return pgtype.Interval{Microseconds: v.Microseconds(), Valid: true}
	case []any, map[string]any:
		return string(sdk.AppendJSON(nil, v))
	}
	if v == sdk.Absent {
		return nil
	}
	return v
}
