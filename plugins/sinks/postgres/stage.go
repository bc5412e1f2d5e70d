package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// The staging protocol (sdk.Committer), per pipeline and sink:
//
//   - Write keeps rows in memory.
//   - Prepare(id) copies them (COPY) into the staging table tagged with id,
//     and sets the marker's prepared id, in one transaction.
//   - Commit(id) moves the rows staged under ids up to id into the target
//     (INSERT … SELECT, or an upsert keeping the last row of each key),
//     deletes them from the staging table and raises the marker's
//     committed id, in one transaction.
//   - Recover(id) does what Commit(id) does and drops the staging table
//     with whatever later ids staged.
//
// Each transaction either happens whole or not at all, and each is
// idempotent, so a transaction retried after the connection dropped,
// even during its COMMIT, never loses or doubles rows.

// stage copies the pending rows into the staging table under id, creating
// the target (create_table) and the staging table as needed.
func (s *Sink) stage(ctx context.Context, tx pgx.Tx, id uint64) error {
	cols := s.pendingColumns()
	if err := s.ensureTarget(ctx, tx, cols); err != nil {
		return err
	}
	if err := s.ensureStage(ctx, tx, cols); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+s.names.stage.Sanitize()+" WHERE "+checkpointCol+" = $1", int64(id)); err != nil {
		return err
	}
	seq := int64(0)
	for _, rows := range s.pending {
		copyCols := append([]string{checkpointCol, seqCol}, rows.Columns...)
		oids, err := s.columnOIDs(ctx, tx, copyCols)
		if err != nil {
			return err
		}
		src := &copySource{rows: rows.Rows, id: int64(id), seq: seq, i: -1, values: make([]any, len(copyCols))}
		if _, err := tx.CopyFrom(ctx, s.names.stage, copyCols, src); err != nil {
			if bad := badValue(tx.Conn().TypeMap(), oids[2:], rows); bad != nil {
				return bad
			}
			return fmt.Errorf("copy rows into %s: %w", s.names.stage.Sanitize(), err)
		}
		seq = src.seq
	}
	return nil
}

// pendingColumns returns the columns of the pending rows, in the order
// they first appear.
func (s *Sink) pendingColumns() []string {
	var cols []string
	for _, rows := range s.pending {
		for _, c := range rows.Columns {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	return cols
}

// ensureTarget loads the target's column types, creating the table from
// the pending rows first if it is missing and create_table is set, and
// checks that it has cols.
func (s *Sink) ensureTarget(ctx context.Context, tx pgx.Tx, cols []string) error {
	if s.types == nil {
		if err := s.loadTypes(ctx, tx); err != nil {
			return err
		}
	}
	if s.types == nil {
		if !s.cfg.CreateTable {
			return &sdk.ConfigError{Path: "table", Msg: fmt.Sprintf("table %s does not exist; create it, or set create_table: true", s.names.target.Sanitize())}
		}
		ddl := tableDDL(s.names.target, cols, s.key, s.inferTypes(cols))
		if err := s.createMissing(ctx, tx, s.names.target, ddl); err != nil {
			return err
		}
		if err := s.loadTypes(ctx, tx); err != nil {
			return err
		}
	}
	return s.checkColumns(cols)
}

// inferTypes gives each column the SQL type of its first non-null value
// among the pending rows; text if it has none.
func (s *Sink) inferTypes(cols []string) map[string]string {
	types := make(map[string]string, len(cols))
	for _, rows := range s.pending {
		for i, c := range rows.Columns {
			if _, done := types[c]; done {
				continue
			}
			for _, r := range rows.Rows {
				if v := r[i]; v != nil && v != sdk.Absent {
					types[c] = sqlType(v)
					break
				}
			}
		}
	}
	for _, c := range cols {
		if _, ok := types[c]; !ok {
			types[c] = "text"
		}
	}
	return types
}

// ensureStage creates the staging table, or adds the columns it lacks.
func (s *Sink) ensureStage(ctx context.Context, tx pgx.Tx, cols []string) error {
	if err := s.loadStage(ctx, tx); err != nil {
		return err
	}
	if s.stageCols == nil {
		if err := s.createMissing(ctx, tx, s.names.stage, stageDDL(s.names.stage, cols, s.types)); err != nil {
			return err
		}
		comment := fmt.Sprintf("flowctl: rows of pipeline %q, sink %q staged for checkpoints not yet committed into %s",
			s.pipeline, s.name, s.names.target.Sanitize())
		// COMMENT takes no parameters: the server quotes the text (%L).
		var stmt string
		if err := tx.QueryRow(ctx, "SELECT format('COMMENT ON TABLE %s IS %L', $1::text, $2::text)", s.names.stage.Sanitize(), comment).Scan(&stmt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
		s.stageCols = slices.Clone(cols)
		return nil
	}
	for _, c := range cols {
		if slices.Contains(s.stageCols, c) {
			continue
		}
		if _, err := tx.Exec(ctx, "ALTER TABLE "+s.names.stage.Sanitize()+" ADD COLUMN "+pgx.Identifier{c}.Sanitize()+" "+s.types[c]); err != nil {
			return err
		}
		s.stageCols = append(s.stageCols, c)
	}
	return nil
}

// loadStage loads the staging table's data columns, unless known.
func (s *Sink) loadStage(ctx context.Context, tx pgx.Tx) error {
	if s.stageOK {
		return nil
	}
	rows, err := tx.Query(ctx, columnsSQL, s.names.stage.Sanitize())
	if err != nil {
		return err
	}
	var cols []string
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		if name != checkpointCol && name != seqCol {
			cols = append(cols, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.stageCols, s.stageOK = cols, true
	return nil
}

// columnOIDs returns the type OIDs of the staging table's columns cols.
func (s *Sink) columnOIDs(ctx context.Context, tx pgx.Tx, cols []string) ([]uint32, error) {
	sd, err := tx.Prepare(ctx, "", "SELECT "+quoteAll("", cols)+" FROM "+s.names.stage.Sanitize())
	if err != nil {
		return nil, err
	}
	oids := make([]uint32, len(sd.Fields))
	for i, f := range sd.Fields {
		oids[i] = f.DataTypeOID
	}
	return oids, nil
}

// merge moves the rows staged under ids up to id into the target.
func (s *Sink) merge(ctx context.Context, tx pgx.Tx, id uint64) error {
	if err := s.loadStage(ctx, tx); err != nil {
		return err
	}
	if s.stageCols == nil {
		return nil // nothing staged
	}
	for _, k := range s.key {
		if s.upsert && !slices.Contains(s.stageCols, k) {
			return fmt.Errorf("the staging table %s has no key column %q", s.names.stage.Sanitize(), k)
		}
	}
	if _, err := tx.Exec(ctx, mergeSQL(s.names, s.stageCols, s.key, s.upsert), int64(id)); err != nil {
		return fmt.Errorf("move staged rows into %s: %w", s.names.target.Sanitize(), err)
	}
	return nil
}

// clearStage deletes the staged rows of ids up to id, emptying the table
// with TRUNCATE, which leaves no dead rows, when nothing later is staged.
func (s *Sink) clearStage(ctx context.Context, tx pgx.Tx, id uint64) error {
	if s.stageCols == nil {
		return nil
	}
	stage := s.names.stage.Sanitize()
	var later bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+stage+" WHERE "+checkpointCol+" > $1)", int64(id)).Scan(&later); err != nil {
		return err
	}
	var err error
	if later {
		_, err = tx.Exec(ctx, "DELETE FROM "+stage+" WHERE "+checkpointCol+" <= $1", int64(id))
	} else {
		_, err = tx.Exec(ctx, "TRUNCATE "+stage)
	}
	return err
}

// copySource feeds rows to COPY, each led by its checkpoint id and its
// sequence number. It reuses one values slice: pgx encodes each row
// before asking for the next.
type copySource struct {
	rows   [][]any
	i      int
	id     int64
	seq    int64
	values []any
}

func (c *copySource) Next() bool {
	c.i++
	return c.i < len(c.rows)
}

func (c *copySource) Values() ([]any, error) {
	c.values[0], c.values[1] = c.id, c.seq
	c.seq++
	for j, v := range c.rows[c.i] {
		c.values[j+2] = param(v)
	}
	return c.values, nil
}

func (c *copySource) Err() error { return nil }

// badValue finds the first value of rows that COPY cannot encode for its
// column (of type oids[j]) and says which, or returns nil. It encodes as
// pgx's COPY does: in binary, or else by parsing its text form.
func badValue(m *pgtype.Map, oids []uint32, rows sdk.Rows) error {
	for i, r := range rows.Rows {
		for j, v := range r {
			p := param(v)
			if _, err := m.Encode(oids[j], pgtype.BinaryFormatCode, p, nil); err == nil {
				continue
			}
			text, ok := p.(string)
			if !ok {
				b, err := m.Encode(oids[j], pgtype.TextFormatCode, p, nil)
				if err == nil {
					text, ok = string(b), true
				}
			}
			var parsed any
			if ok && m.Scan(oids[j], pgtype.TextFormatCode, []byte(text), &parsed) == nil {
				continue
			}
			typ := fmt.Sprintf("OID %d", oids[j])
			if t, found := m.TypeForOID(oids[j]); found {
				typ = t.Name
			}
			text = sdk.FormatText(v)
			if len(text) > 40 {
				text = text[:40] + "…"
			}
			return fmt.Errorf("row %d, column %q: cannot store %q (%T) in a %s column", i+1, rows.Columns[j], text, v, typ)
		}
	}
	return nil
}
