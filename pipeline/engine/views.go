package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
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
			if _, err := store.DB.ExecContext(context.WithoutCancel(ctx), `CREATE SCHEMA IF NOT EXISTS `+state.Ident(schema)); err != nil {
				return fmt.Errorf("create schema %s: %w", schema, err)
			}
			schemas[schema] = true
		}
		body, err := expandVars(v.SQL, p.Vars)
		if err != nil {
			return fmt.Errorf("%s:%d:%d: view %s: %w", p.File, v.Pos.Line, v.Pos.Col, v.Name, err)
		}
		q := `CREATE OR REPLACE VIEW ` + state.Ident(schema) + `.` + state.Ident(name) + ` AS ` + strings.TrimRight(strings.TrimSpace(body), ";")
		if _, err := store.DB.ExecContext(context.WithoutCancel(ctx), q); err != nil {
			return fmt.Errorf("%s:%d:%d: view %s: %w", p.File, v.Pos.Line, v.Pos.Col, v.Name, err)
		}
	}
	return nil
}

var varRef = regexp.MustCompile(`\{\{\s*vars\.([A-Za-z0-9_.]+)\s*\}\}`)

// expandVars replaces {{vars.NAME}} in a view's SQL with the var as an SQL
// literal: a string quoted, a number as is, a list as (a, b, …) for IN, an
// object as a JSON string for json_extract.
func expandVars(sql string, vars map[string]any) (string, error) {
	var firstErr error
	out := varRef.ReplaceAllStringFunc(sql, func(m string) string {
		path := varRef.FindStringSubmatch(m)[1]
		var v any = vars
		for _, part := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = obj[part]
		}
		if v == nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("{{vars.%s}}: no such var", path)
			}
			return m
		}
		return sqlLiteral(v)
	})
	return out, firstErr
}

func sqlLiteral(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = sqlLiteral(e)
		}
		if len(parts) == 0 {
			return "(NULL)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case map[string]any:
		b, _ := json.Marshal(x)
		return "'" + strings.ReplaceAll(string(b), "'", "''") + "'"
	default:
		return fmt.Sprint(x)
	}
}
