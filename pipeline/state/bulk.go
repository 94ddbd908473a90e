package state

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Bulk streams rows into a temporary VARCHAR table through the Appender and
// then runs one statement over it (an INSERT OR REPLACE into a state
// table), so writing a million base rows is one statement, not a million.
type Bulk struct {
	cols []string
	rows [][]driver.Value
}

// NewBulk collects rows with the given VARCHAR columns.
func NewBulk(cols ...string) *Bulk { return &Bulk{cols: cols} }

// Add adds one row; values are strings or nil.
func (b *Bulk) Add(vals ...driver.Value) { b.rows = append(b.rows, vals) }

// Len is the number of rows collected.
func (b *Bulk) Len() int { return len(b.rows) }

// ExecBulk loads the rows as temp table "bulk" and runs stmts in one
// transaction, e.g. "INSERT OR REPLACE INTO synk.base SELECT ... FROM bulk".
func (s *Store) ExecBulk(ctx context.Context, b *Bulk, stmts ...string) error {
	if b.Len() == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // see Store: a write, once begun, ends
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defs := make([]string, len(b.cols))
	for i, c := range b.cols {
		defs[i] = Ident(c) + " VARCHAR"
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE bulk ("+strings.Join(defs, ", ")+")"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bulk")
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "bulk")
		if err != nil {
			return err
		}
		for _, r := range b.rows {
			if err := a.AppendRow(r...); err != nil {
				a.Close()
				return err
			}
		}
		return a.Close()
	})
	if err != nil {
		return fmt.Errorf("stage rows: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
