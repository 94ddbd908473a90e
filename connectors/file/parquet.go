package file

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// parquetType is the Parquet (DuckDB) column type of a field type. Lists,
// objects and any values are JSON text: a Parquet column has one type, and
// a list of mixed values or an object of any members has none.
func parquetType(t pipeline.FieldType) string {
	switch t {
	case pipeline.TypeInt:
		return "BIGINT"
	case pipeline.TypeFloat:
		return "DOUBLE"
	case pipeline.TypeBool:
		return "BOOLEAN"
	case pipeline.TypeDate:
		return "DATE"
	case pipeline.TypeTime:
		return "TIMESTAMPTZ"
	}
	return "VARCHAR"
}

// duckParquet reads a Parquet file. Columns of the field's own type come
// typed; any other column comes as text and goes through the Go rules, so
// a file written by another tool (an INTEGER price, a VARCHAR date) reads
// as the same file in CSV would. A Parquet file has rows, not lines: a
// reject names its row (from 1) and carries the row as JSON.
func duckParquet(ctx context.Context, db *sql.DB, path string, s *spec, check func(string, int) error, emit func(row) error) error {
	src := "read_parquet(" + quoteString(path) + ")"
	types := map[string]string{}
	res, err := db.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+src+")")
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	for res.Next() {
		var name, typ string
		if err := res.Scan(&name, &typ); err != nil {
			res.Close()
			return fmt.Errorf("%s: %w", s.path, err)
		}
		types[name] = typ
	}
	res.Close()
	if err := res.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if _, ok := types[s.key]; !ok {
		return fmt.Errorf("%s: no key column %q", s.path, s.key)
	}
	exprs := make([]string, len(s.fields))
	asText := make([]bool, len(s.fields))
	for i, f := range s.fields {
		exprs[i], asText[i] = parquetColumn(f, types)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT file_row_number, NULL::VARCHAR, %s FROM read_parquet(%s, file_row_number = true)",
		strings.Join(exprs, ", "), quoteString(path)))
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	defer rows.Close()
	sc := newScanner(s, asText)
	for rows.Next() {
		if err := rows.Scan(sc.dst...); err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		n := int(sc.line) + 1
		vals, key, err := sc.values(s, formatParquet)
		if err != nil {
			err = fmt.Errorf("%s row %d: %w", s.path, n, err)
		} else {
			err = check(key, n)
		}
		rw := row{line: n, key: key, vals: vals}
		if err != nil {
			rw = row{line: n, key: key, err: err, lost: true}
			var raw string
			if qerr := db.QueryRowContext(ctx, fmt.Sprintf("SELECT to_json(t)::VARCHAR FROM (SELECT * FROM %s LIMIT 1 OFFSET %d) t", src, sc.line)).Scan(&raw); qerr != nil {
				return fmt.Errorf("%s row %d: %w", s.path, n, qerr)
			}
			rw.raw = []byte(raw)
		}
		if err := emit(rw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return nil
}

// parquetColumn is the SQL reading field f from a file with column types,
// and whether it reads the value as text (for the Go rules).
func parquetColumn(f pipeline.Field, types map[string]string) (expr string, text bool) {
	typ, ok := types[f.Name]
	if !ok {
		return "NULL", false
	}
	col := `"` + strings.ReplaceAll(f.Name, `"`, `""`) + `"`
	switch {
	case f.Type == pipeline.TypeTime && typ == "TIMESTAMP WITH TIME ZONE":
		return fmt.Sprintf(`strftime(%s AT TIME ZONE 'UTC', '%%Y-%%m-%%dT%%H:%%M:%%S.%%fZ')`, col), true
	case f.Type == pipeline.TypeTime && strings.HasPrefix(typ, "TIMESTAMP"):
		// A timestamp without a zone is taken as UTC, as Parquet's
		// writers mostly mean it.
		return fmt.Sprintf(`strftime(CAST(%s AS TIMESTAMP), '%%Y-%%m-%%dT%%H:%%M:%%S.%%fZ')`, col), true
	case f.Type == pipeline.TypeDate && typ == "DATE":
		return fmt.Sprintf(`strftime(%s, '%%Y-%%m-%%d')`, col), true
	case f.Type == pipeline.TypeInt && typ == "BIGINT", f.Type == pipeline.TypeBool && typ == "BOOLEAN":
		return col, false
	case f.Type == pipeline.TypeInt && isIntType(typ):
		return fmt.Sprintf("TRY_CAST(%s AS BIGINT)", col), true
	case f.Type == pipeline.TypeFloat && (isIntType(typ) || typ == "FLOAT" || typ == "DOUBLE" || strings.HasPrefix(typ, "DECIMAL")):
		return fmt.Sprintf("CAST(%s AS DOUBLE)", col), false
	case typ == "VARCHAR":
		return col, true
	case f.Type == pipeline.TypeList || f.Type == pipeline.TypeObject || f.Type == pipeline.TypeAny:
		return fmt.Sprintf("to_json(%s)::VARCHAR", col), true
	}
	return fmt.Sprintf("CAST(%s AS VARCHAR)", col), true
}

func isIntType(typ string) bool {
	switch typ {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT":
		return true
	}
	return false
}

// writeParquet writes rows to path as Parquet, the declared fields as
// columns in declared order. The rows go to DuckDB as JSONL, the one form
// that carries every field type as is, then COPY writes the Parquet file.
func (c *Conn) writeParquet(ctx context.Context, path string, s *spec, rows []*entry) error {
	for _, e := range rows {
		if e.rec == nil {
			// load refuses such files; this keeps a bug from losing a row.
			return fmt.Errorf("line %d cannot be written to Parquet", e.line)
		}
	}
	tmp, err := os.CreateTemp("", "synk-parquet-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	err = encodeJSONL(bw, s, rows)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	cols := make([]string, len(s.fields))
	sel := make([]string, len(s.fields))
	for i, f := range s.fields {
		name := quoteString(f.Name)
		id := `"` + strings.ReplaceAll(f.Name, `"`, `""`) + `"`
		switch typ := parquetType(f.Type); f.Type {
		case pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny:
			cols[i] = name + ": 'JSON'"
			sel[i] = fmt.Sprintf("CAST(%s AS VARCHAR) AS %s", id, id)
		case pipeline.TypeDate, pipeline.TypeTime:
			cols[i] = name + ": 'VARCHAR'"
			sel[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", id, typ, id)
		default:
			cols[i] = name + ": " + quoteString(typ)
			sel[i] = id
		}
	}
	_, err = c.db.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM read_json(%s, format = 'newline_delimited', columns = {%s})) TO %s (FORMAT parquet)",
		strings.Join(sel, ", "), quoteString(tmp.Name()), strings.Join(cols, ", "), quoteString(path)))
	return err
}
