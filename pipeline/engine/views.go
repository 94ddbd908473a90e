package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// CreateViews (re)creates the pipeline's `views:` in the state file. A view
// that does not compile is an error naming the view and its place in the
// pipeline file.
func CreateViews(ctx context.Context, store *state.Store, p *spec.Pipeline) error {
	schemas := map[string]bool{}
	for _, v := range p.Views {
		schema, name, _ := strings.Cut(v.Name, ".")
		if !schemas[schema] {
			if _, err := store.DB.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+state.Ident(schema)); err != nil {
				return fmt.Errorf("create schema %s: %w", schema, err)
			}
			schemas[schema] = true
		}
		q := `CREATE OR REPLACE VIEW ` + state.Ident(schema) + `.` + state.Ident(name) + ` AS ` + strings.TrimRight(strings.TrimSpace(v.SQL), ";")
		if _, err := store.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s:%d:%d: view %s: %w", p.File, v.Pos.Line, v.Pos.Col, v.Name, err)
		}
	}
	return nil
}
