package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// ReadVersion is what a full read of a resource left in its snapshot, kept
// so the next run can skip reading a source that says it would give the
// same (pipeline.ReadVersioner).
type ReadVersion struct {
	// Version is the source's version, taken before the read.
	Version string
	// Fingerprint identifies the snapshot table as that read left it
	// (Fingerprint below): if anything wrote to the table since, the
	// snapshot is no longer what a read of Version gives, and no read is
	// skipped against it.
	Fingerprint string
	// Records is how many records the read handed over and stored.
	Records int64
	// Rejects are the read's rejects, given again by a skipped read.
	Rejects []pipeline.Reject
}

// readVersionsDDL makes the table on first use (an older state file has
// none). One row per resource: the last full read's version.
const readVersionsDDL = `CREATE TABLE IF NOT EXISTS synk.read_versions (
	connection VARCHAR, resource VARCHAR, version VARCHAR, layout VARCHAR, fingerprint VARCHAR,
	records BIGINT, rejects JSON, read_at TIMESTAMPTZ, PRIMARY KEY (connection, resource))`

// layoutOf describes res's snapshot table, so a stored version is used
// only by a resource of the same fields and types.
func layoutOf(schema string, res pipeline.Resource) string {
	l := &Loader{schema: schema, res: res}
	cols := l.tableColumns()
	for _, cf := range childFields(res) {
		cols = append(cols, ChildTable(res, cf)+"("+strings.Join(childTableColumns(cf), ", ")+")")
	}
	return res.Key + "|" + strings.Join(cols, ", ")
}

// LastRead returns the version stored by the last full read of res on
// connection schema, if the snapshot table still holds exactly what that
// read left: the same layout and the same fingerprint. ok is false
// otherwise, and the resource must be read.
func (s *Store) LastRead(ctx context.Context, schema string, res pipeline.Resource) (v ReadVersion, ok bool, err error) {
	if len(childFields(res)) > 0 {
		// The fingerprint covers the main table only.
		return ReadVersion{}, false, nil
	}
	var exists bool
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database()
		AND schema_name = 'synk' AND table_name = 'read_versions'`).Scan(&exists); err != nil {
		return ReadVersion{}, false, fmt.Errorf("last read of %s.%s: %w", schema, res.Name, err)
	}
	if !exists {
		return ReadVersion{}, false, nil
	}
	var layout, rejects string
	err = s.DB.QueryRowContext(ctx, `SELECT version, layout, fingerprint, records, CAST(rejects AS VARCHAR)
		FROM synk.read_versions WHERE connection = ? AND resource = ?`, schema, res.Name).
		Scan(&v.Version, &layout, &v.Fingerprint, &v.Records, &rejects)
	if errors.Is(err, sql.ErrNoRows) {
		return ReadVersion{}, false, nil
	}
	if err != nil {
		return ReadVersion{}, false, fmt.Errorf("last read of %s.%s: %w", schema, res.Name, err)
	}
	if layout != layoutOf(schema, res) {
		return ReadVersion{}, false, nil
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return ReadVersion{}, false, err
	}
	defer conn.Close()
	same, err := (&Loader{conn: conn, schema: schema, res: res}).sameLayout(ctx)
	if err != nil || !same {
		return ReadVersion{}, false, err
	}
	fp, err := fingerprint(ctx, conn, schema, res)
	if err != nil {
		return ReadVersion{}, false, err
	}
	if fp != v.Fingerprint {
		return ReadVersion{}, false, nil
	}
	if err := json.Unmarshal([]byte(rejects), &v.Rejects); err != nil {
		return ReadVersion{}, false, fmt.Errorf("last read of %s.%s: rejects: %w", schema, res.Name, err)
	}
	return v, true, nil
}

// SaveRead stores v as the last full read of res, with the fingerprint of
// the snapshot table as it is now (right after the read's Commit, under
// the run's state lock). An empty Version forgets the last read instead.
func (s *Store) SaveRead(ctx context.Context, schema string, res pipeline.Resource, v ReadVersion) error {
	ctx = context.WithoutCancel(ctx) // see Store: a write, once begun, ends
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, readVersionsDDL); err != nil {
		return fmt.Errorf("save read of %s.%s: %w", schema, res.Name, err)
	}
	if v.Version == "" || len(childFields(res)) > 0 {
		_, err := conn.ExecContext(ctx, `DELETE FROM synk.read_versions WHERE connection = ? AND resource = ?`, schema, res.Name)
		if err != nil {
			return fmt.Errorf("save read of %s.%s: %w", schema, res.Name, err)
		}
		return nil
	}
	fp, err := fingerprint(ctx, conn, schema, res)
	if err != nil {
		return err
	}
	rejects := v.Rejects
	if rejects == nil {
		rejects = []pipeline.Reject{}
	}
	rj, err := json.Marshal(rejects)
	if err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `INSERT OR REPLACE INTO synk.read_versions VALUES (?, ?, ?, ?, ?, ?, ?, now())`,
		schema, res.Name, v.Version, layoutOf(schema, res), fp, v.Records, string(rj))
	if err != nil {
		return fmt.Errorf("save read of %s.%s: %w", schema, res.Name, err)
	}
	return nil
}

// fingerprint identifies the rows of res's snapshot table by their keys
// and hashes: their count, and the XOR and the sum of a hash per row (the
// XOR alone cannot tell a row from three copies of it). Every writer of a
// snapshot row (a Loader) writes its key and hash, so any write to the
// table since a read changes it, short of a 64-bit hash collision; the
// other columns are the same record's values, which only a person editing
// the state file by hand could change alone.
func fingerprint(ctx context.Context, conn *sql.Conn, schema string, res pipeline.Resource) (string, error) {
	var fp string
	err := conn.QueryRowContext(ctx, `SELECT CAST(count(*) AS VARCHAR) || ':' || CAST(coalesce(bit_xor(h), 0) AS VARCHAR) || ':' ||
		CAST(coalesce(sum(CAST(h AS HUGEINT)), 0) AS VARCHAR)
		FROM (SELECT hash(_key, _hash) AS h FROM `+Ident(schema)+"."+Ident(res.Name)+")").Scan(&fp)
	if err != nil {
		return "", fmt.Errorf("fingerprint %s.%s: %w", schema, res.Name, err)
	}
	return fp, nil
}
