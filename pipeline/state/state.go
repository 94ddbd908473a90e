// Package state is synk's DuckDB state file: one schema per connection with
// a typed table per resource (the snapshot), and the synk schema with runs,
// changes, links, base, rejects, journal and cursors. It is also the
// analysts' interface, so its tables are documented in the README.
package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DefaultFile is the state file of a pipeline that names none.
const DefaultFile = "synk.duckdb"

// ErrInUse is returned when another process holds the state file.
var ErrInUse = errors.New("state file in use")

// Store is an open state file.
//
// Writes to it are never interrupted: the store's methods that write (and
// the engine's writes) run under a context that a stop does not cancel.
// DuckDB interrupts a statement whose context ends, and an interrupted
// write was seen to leave its row versions behind, so that a later write
// of the same row failed with "Conflict on update!" (the stock simulation
// stopping runs at random moments). A state write is local and short;
// what a stop must cut short is requests to systems, not these.
type Store struct {
	DB   *sql.DB
	Path string
}

// migrations run in order; schema_version records how many have run. Never
// edit one that has shipped: add a new one.
var migrations = []string{
	`CREATE SCHEMA IF NOT EXISTS synk;
	CREATE TABLE synk.runs (
		run_id VARCHAR PRIMARY KEY, pipeline VARCHAR, mode VARCHAR,
		started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
		planned BIGINT DEFAULT 0, applied BIGINT DEFAULT 0, failed BIGINT DEFAULT 0, rejected BIGINT DEFAULT 0,
		error VARCHAR);
	CREATE TABLE synk.changes (
		run_id VARCHAR, seq BIGINT, entity VARCHAR, flow VARCHAR, action VARCHAR,
		source_key VARCHAR, target_key VARCHAR, fields VARCHAR[], before JSON, after JSON,
		status VARCHAR, error VARCHAR, changed_at TIMESTAMPTZ);
	CREATE TABLE synk.links (
		entity VARCHAR, left_key VARCHAR, right_key VARCHAR, run_id VARCHAR, created_at TIMESTAMPTZ,
		PRIMARY KEY (entity, left_key));
	CREATE TABLE synk.base (
		entity VARCHAR, left_key VARCHAR, right_key VARCHAR, left_hash VARCHAR, right_hash VARCHAR,
		left_values JSON, right_values JSON, fingerprint VARCHAR, updated_at TIMESTAMPTZ,
		PRIMARY KEY (entity, left_key));
	CREATE TABLE synk.rejects (
		run_id VARCHAR, entity VARCHAR, connection VARCHAR, resource VARCHAR, key VARCHAR,
		reason VARCHAR, record JSON, rejected_at TIMESTAMPTZ);
	CREATE TABLE synk.journal (
		id VARCHAR PRIMARY KEY, run_id VARCHAR, entity VARCHAR, flow VARCHAR, connection VARCHAR, resource VARCHAR,
		idempotency_key VARCHAR, source_key VARCHAR, write JSON, status VARCHAR, target_key VARCHAR,
		created_at TIMESTAMPTZ, resolved_at TIMESTAMPTZ);
	CREATE TABLE synk.cursors (
		connection VARCHAR, resource VARCHAR, read_started_at TIMESTAMPTZ, runs_since_full BIGINT,
		PRIMARY KEY (connection, resource));`,
}

// Open opens (creating if needed) the state file at path, 0600, and
// migrates it. A file held by another process gives ErrInUse.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, false)
}

// OpenReadOnly opens an existing state file for queries.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state file: %w", err)
	}
	return open(ctx, path, true)
}

// newFileBlockSize is the block size of state files synk creates. DuckDB's
// default (256 KiB) is made for big tables; a state file holds many small,
// wide ones (a flagship pipeline: twenty tables, about five hundred
// columns, a few hundred rows), and a row inserted into a table costs a
// fresh block per column until the next checkpoint: 45 MiB for one row in a
// 90-column table at 256 KiB, 3 MiB at 16 KiB. Since `synk serve` runs many
// pipelines at once, that was most of its memory. Files made before keep
// their block size (DuckDB fixes it at creation).
const newFileBlockSize = 16 << 10

var pidRe = regexp.MustCompile(`PID (\d+)`)

func open(ctx context.Context, path string, readOnly bool) (*Store, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
	}
	// The file is attached under the alias "state" rather than opened
	// directly: DuckDB names a database after its file, and a file called
	// synk.duckdb would make the schema name synk ambiguous.
	attach := "ATTACH IF NOT EXISTS '" + strings.ReplaceAll(path, "'", "''") + "' AS state"
	if readOnly {
		attach += " (READ_ONLY)"
	} else if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		attach += " (BLOCK_SIZE " + strconv.Itoa(newFileBlockSize) + ")"
	}
	connector, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		if _, err := ex.ExecContext(context.Background(), attach, nil); err != nil {
			return err
		}
		_, err := ex.ExecContext(context.Background(), "USE state", nil)
		return err
	})
	if err != nil {
		return nil, classifyOpenError(path, err)
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, classifyOpenError(path, err)
	}
	if !readOnly {
		// The file holds customer data: owner only.
		if err := os.Chmod(path, 0o600); err != nil {
			db.Close()
			return nil, fmt.Errorf("chmod state file: %w", err)
		}
	}
	s := &Store{DB: db, Path: path}
	if !readOnly {
		if err := s.migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

func classifyOpenError(path string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock") {
		holder := ""
		if m := pidRe.FindStringSubmatch(msg); m != nil {
			holder = " (held by process " + m[1] + ")"
		}
		return fmt.Errorf("%w: %s is open in another synk process%s; wait for it or use another --state", ErrInUse, path, holder)
	}
	return fmt.Errorf("open state file %s: %w", path, err)
}

func (s *Store) migrate(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // see Store: a write, once begun, ends
	if _, err := s.DB.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS synk; CREATE TABLE IF NOT EXISTS synk.schema_version (version INT)`); err != nil {
		return fmt.Errorf("migrate state: %w", err)
	}
	var v int
	if err := s.DB.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM synk.schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("read state schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("state file %s has schema version %d, newer than this synk (%d): upgrade synk", s.Path, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate state to version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO synk.schema_version VALUES (?)`, i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate state to version %d: %w", i+1, err)
		}
	}
	return nil
}

// Version is the schema version the file is at.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.DB.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM synk.schema_version`).Scan(&v)
	return v, err
}

// Close checkpoints and closes the file.
func (s *Store) Close() error {
	_, _ = s.DB.Exec(`CHECKPOINT`)
	return s.DB.Close()
}

// Ident quotes an SQL identifier.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
