package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/synk-etl/synk/pipeline"
)

// Row is one record on its way into a snapshot table.
type Row struct {
	Key, Hash, Raw string
	Record         pipeline.Record
}

// ChildTable names the table of a list-of-objects field: the field name
// when it already reads as a table name (order_rows), else resource_field.
func ChildTable(res pipeline.Resource, f pipeline.Field) string {
	if strings.Contains(f.Name, "_") {
		return f.Name
	}
	return res.Name + "_" + f.Name
}

func stageType(t pipeline.FieldType) string {
	switch t {
	case pipeline.TypeInt:
		return "BIGINT"
	case pipeline.TypeFloat:
		return "DOUBLE"
	case pipeline.TypeBool:
		return "BOOLEAN"
	}
	return "VARCHAR"
}

func finalExpr(f pipeline.Field) string {
	c := Ident(f.Name)
	switch f.Type {
	case pipeline.TypeDate:
		return "TRY_CAST(" + c + " AS DATE) AS " + c
	case pipeline.TypeTime:
		return "TRY_CAST(" + c + " AS TIMESTAMP) AS " + c
	case pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny:
		return "TRY_CAST(" + c + " AS JSON) AS " + c
	}
	return c
}

func childFields(res pipeline.Resource) []pipeline.Field {
	var out []pipeline.Field
	for _, f := range res.Fields {
		if f.Type == pipeline.TypeList && len(f.Fields) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// Loader streams rows into one resource's snapshot table through DuckDB's
// Appender, then swaps (full read) or merges (incremental read) them in.
type Loader struct {
	conn     *sql.Conn
	schema   string
	res      pipeline.Resource
	full     bool
	main     *duckdb.Appender
	children map[string]*duckdb.Appender
	stage    string
	n        int64
}

// NewLoader starts loading a snapshot of res on connection schema.
func (s *Store) NewLoader(ctx context.Context, schema string, res pipeline.Resource, full bool) (*Loader, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	l := &Loader{conn: conn, schema: schema, res: res, full: full, children: map[string]*duckdb.Appender{},
		stage: "stage_" + schema + "_" + res.Name}
	if err := l.init(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("snapshot %s.%s: %w", schema, res.Name, err)
	}
	return l, nil
}

func (l *Loader) init(ctx context.Context) error {
	cols := []string{"_key VARCHAR", "_hash VARCHAR", "_raw VARCHAR"}
	for _, f := range l.res.Fields {
		cols = append(cols, Ident(f.Name)+" "+stageType(f.Type))
	}
	stmts := []string{
		"CREATE SCHEMA IF NOT EXISTS " + Ident(l.schema),
		"CREATE OR REPLACE TEMP TABLE " + Ident(l.stage) + " (" + strings.Join(cols, ", ") + ")",
	}
	for _, cf := range childFields(l.res) {
		ccols := []string{"_parent_key VARCHAR", "_index INTEGER"}
		for _, f := range cf.Fields {
			ccols = append(ccols, Ident(f.Name)+" "+stageType(f.Type))
		}
		stmts = append(stmts, "CREATE OR REPLACE TEMP TABLE "+Ident(l.stage+"__"+cf.Name)+" ("+strings.Join(ccols, ", ")+")")
	}
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	return l.conn.Raw(func(dc any) error {
		var err error
		l.main, err = duckdb.NewAppender(dc.(driver.Conn), "temp", "main", l.stage)
		if err != nil {
			return err
		}
		for _, cf := range childFields(l.res) {
			a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", l.stage+"__"+cf.Name)
			if err != nil {
				return err
			}
			l.children[cf.Name] = a
		}
		return nil
	})
}

// Add appends one row. Its record must already be coerced (Coerce).
func (l *Loader) Add(r Row) error {
	vals := make([]driver.Value, 0, 3+len(l.res.Fields))
	vals = append(vals, r.Key, r.Hash, r.Raw)
	for _, f := range l.res.Fields {
		vals = append(vals, stageValue(f, r.Record[f.Name]))
	}
	if err := l.main.AppendRow(vals...); err != nil {
		return fmt.Errorf("append %s: %w", r.Key, err)
	}
	for _, cf := range childFields(l.res) {
		items, _ := r.Record[cf.Name].([]any)
		for i, it := range items {
			m, _ := it.(map[string]any)
			cv := make([]driver.Value, 0, 2+len(cf.Fields))
			cv = append(cv, r.Key, int32(i))
			for _, f := range cf.Fields {
				cv = append(cv, stageValue(f, m[f.Name]))
			}
			if err := l.children[cf.Name].AppendRow(cv...); err != nil {
				return fmt.Errorf("append %s %s[%d]: %w", r.Key, cf.Name, i, err)
			}
		}
	}
	l.n++
	return nil
}

func stageValue(f pipeline.Field, v any) driver.Value {
	if v == nil {
		return nil
	}
	switch f.Type {
	case pipeline.TypeInt:
		if i, ok := v.(int64); ok {
			return i
		}
		return nil
	case pipeline.TypeFloat:
		if x, ok := v.(float64); ok {
			return x
		}
		return nil
	case pipeline.TypeBool:
		if b, ok := v.(bool); ok {
			return b
		}
		return nil
	case pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny:
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		return string(b)
	}
	switch x := v.(type) {
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// Commit moves the staged rows into the snapshot tables: a full read
// replaces them, an incremental read replaces the rows it read.
func (l *Loader) Commit(ctx context.Context) (int64, error) {
	defer l.conn.Close()
	if err := l.closeAppenders(); err != nil {
		return 0, err
	}
	target := Ident(l.schema) + "." + Ident(l.res.Name)
	sel := []string{"_key", "_hash", "now() AS _synced_at", "TRY_CAST(_raw AS JSON) AS _raw"}
	for _, f := range l.res.Fields {
		sel = append(sel, finalExpr(f))
	}
	stmts := []string{"BEGIN TRANSACTION"}
	if l.full {
		stmts = append(stmts, "CREATE OR REPLACE TABLE "+target+" AS SELECT "+strings.Join(sel, ", ")+" FROM "+Ident(l.stage))
	} else {
		stmts = append(stmts,
			"CREATE TABLE IF NOT EXISTS "+target+" AS SELECT "+strings.Join(sel, ", ")+" FROM "+Ident(l.stage)+" LIMIT 0",
			"DELETE FROM "+target+" WHERE _key IN (SELECT _key FROM "+Ident(l.stage)+")",
			"INSERT INTO "+target+" SELECT "+strings.Join(sel, ", ")+" FROM "+Ident(l.stage))
	}
	for _, cf := range childFields(l.res) {
		ct := Ident(l.schema) + "." + Ident(ChildTable(l.res, cf))
		stage := Ident(l.stage + "__" + cf.Name)
		csel := []string{"_parent_key", "_index"}
		for _, f := range cf.Fields {
			csel = append(csel, finalExpr(f))
		}
		if l.full {
			stmts = append(stmts, "CREATE OR REPLACE TABLE "+ct+" AS SELECT "+strings.Join(csel, ", ")+" FROM "+stage)
		} else {
			stmts = append(stmts,
				"CREATE TABLE IF NOT EXISTS "+ct+" AS SELECT "+strings.Join(csel, ", ")+" FROM "+stage+" LIMIT 0",
				"DELETE FROM "+ct+" WHERE _parent_key IN (SELECT _key FROM "+Ident(l.stage)+")",
				"INSERT INTO "+ct+" SELECT "+strings.Join(csel, ", ")+" FROM "+stage)
		}
		stmts = append(stmts, "DROP TABLE "+stage)
	}
	stmts = append(stmts, "DROP TABLE "+Ident(l.stage), "COMMIT")
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			l.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
		}
	}
	return l.n, nil
}

// Abort drops what was staged.
func (l *Loader) Abort() {
	l.closeAppenders()
	l.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+Ident(l.stage))
	l.conn.Close()
}

func (l *Loader) closeAppenders() error {
	var first error
	if l.main != nil {
		if err := l.main.Close(); err != nil {
			first = err
		}
		l.main = nil
	}
	for k, a := range l.children {
		if err := a.Close(); err != nil && first == nil {
			first = err
		}
		delete(l.children, k)
	}
	return first
}

// Coerce converts a record's values to its resource's declared types in
// place (connectors may hand over json.Number, ints as float64, numeric
// strings). A value that cannot be converted is an error naming the field.
func Coerce(res pipeline.Resource, rec pipeline.Record) error {
	for _, f := range res.Fields {
		v, ok := rec[f.Name]
		if !ok || v == nil {
			continue
		}
		nv, err := coerce(f, v)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		rec[f.Name] = nv
	}
	return nil
}

func coerce(f pipeline.Field, v any) (any, error) {
	switch f.Type {
	case pipeline.TypeInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		case json.Number:
			return x.Int64()
		case string:
			if x == "" {
				return nil, nil
			}
			return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		}
		return nil, fmt.Errorf("%v (%T) is not a whole number", v, v)
	case pipeline.TypeFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		case json.Number:
			return x.Float64()
		case string:
			if x == "" {
				return nil, nil
			}
			return strconv.ParseFloat(strings.TrimSpace(x), 64)
		}
		return nil, fmt.Errorf("%v (%T) is not a number", v, v)
	case pipeline.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			if x == "" {
				return nil, nil
			}
			return strconv.ParseBool(x)
		}
		return nil, fmt.Errorf("%v (%T) is not a boolean", v, v)
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		switch x := v.(type) {
		case string:
			return x, nil
		case int64, float64, bool, json.Number:
			return fmt.Sprint(x), nil
		}
		return nil, fmt.Errorf("%T is not a string", v)
	case pipeline.TypeList:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%T is not a list", v)
		}
		if len(f.Fields) > 0 {
			for i, it := range l {
				m, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("item %d: %T is not an object", i, it)
				}
				if err := Coerce(pipeline.Resource{Fields: f.Fields}, m); err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
		return l, nil
	case pipeline.TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", v)
		}
		if len(f.Fields) > 0 {
			if err := Coerce(pipeline.Resource{Fields: f.Fields}, m); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return v, nil
}
