package file

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

// duckExec runs SQL in a fresh DuckDB, to make Parquet files as other
// tools would.
func duckExec(t *testing.T, query string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query); err != nil {
		t.Fatal(err)
	}
}

func TestParquetTypes(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, map[string]ResourceConfig{"r": {Path: "r.parquet", Key: "id", GenerateKey: true, Fields: allTypes()}})
	ctx := t.Context()
	full := pipeline.Record{
		"id": 3, "name": "Ada", "email": "", "price": 0.1, "active": true,
		"updated": time.Date(2024, 5, 1, 14, 0, 0, 123456789, time.FixedZone("", 2*3600)), "born": "1815-12-10",
		"tags": []any{"a", 1, 2.5}, "meta": map[string]any{"vip": true, "n": nil}, "note": "text",
	}
	got, err := c.Create(ctx, pipeline.Write{Resource: "r", Set: full})
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.Record{
		"id": int64(3), "name": "Ada", "email": "", "price": 0.1, "active": true,
		"updated": "2024-05-01T12:00:00.123456Z", // UTC, to the microsecond
		"born":    "1815-12-10", "tags": []any{"a", int64(1), 2.5}, "meta": map[string]any{"vip": true, "n": nil}, "note": "text",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("create returned (-want +got):\n%s", diff)
	}
	empty, err := c.Create(ctx, pipeline.Write{Resource: "r", Set: pipeline.Record{"note": map[string]any{"any": []any{1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if empty["id"] != int64(4) {
		t.Errorf("generated key %v, want 4", empty["id"])
	}
	col := readAll(t, c, "r")
	if len(col.rejects) > 0 {
		t.Fatalf("rejects: %+v", col.rejects)
	}
	if diff := cmp.Diff([]pipeline.Record{want, empty}, col.records); diff != "" {
		t.Errorf("read back (-sink +file):\n%s", diff)
	}
	var schema []string
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", c.Path("r"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		schema = append(schema, s)
	}
	wantSchema := []string{"id BIGINT", "name VARCHAR", "email VARCHAR", "price DOUBLE", "active BOOLEAN",
		"updated TIMESTAMP WITH TIME ZONE", "born DATE", "tags VARCHAR", "meta VARCHAR", "note VARCHAR"}
	if diff := cmp.Diff(wantSchema, schema); diff != "" {
		t.Errorf("Parquet schema (-want +got):\n%s", diff)
	}
}

// TestParquetFromOtherTools reads a file whose column types are not synk's
// own (native lists and structs, INTEGER, VARCHAR dates): the values go
// through the same rules as CSV text, and a bad one is a reject naming its
// row that makes the file unwritable (a typed file cannot keep it).
func TestParquetFromOtherTools(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.parquet")
	duckExec(t, `COPY (SELECT * FROM (VALUES
		(1::INTEGER, 10::INTEGER, '1.5', 'yes', '2024-01-01', TIMESTAMP '2024-05-01 12:00:00', [1, 2], {'a': 1}, 'x'),
		(2, 20, 'abc', 'true', '2023-02-29', NULL, [], {'a': 2}, 'y'),
		(1, 30, '2', '0', NULL, NULL, NULL, NULL, NULL)
	) t(id, n, f, b, d, ts, l, o, extra)) TO '`+path+`' (FORMAT parquet)`)
	res := map[string]ResourceConfig{"r": {Path: "r.parquet", Key: "id", Fields: fields(
		"id", "int", "n", "int", "f", "float", "b", "bool", "d", "date", "ts", "time", "l", "list", "o", "object", "missing", "string")}}
	c := open(t, dir, nil, res)
	col := readAll(t, c, "r")
	want := []pipeline.Record{{
		"id": int64(1), "n": int64(10), "f": 1.5, "b": true, "d": "2024-01-01", "ts": "2024-05-01T12:00:00Z",
		"l": []any{int64(1), int64(2)}, "o": map[string]any{"a": int64(1)}, "missing": nil,
	}}
	if diff := cmp.Diff(want, col.records); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	wantRejects := []reject{
		{Key: "2", Raw: `{"id":2,"n":20,"f":"abc","b":"true","d":"2023-02-29","ts":null,"l":[],"o":{"a":2},"extra":"y"}`, Reason: `r.parquet row 2: field "f": cannot read "abc" as a float`},
		{Key: "1", Raw: `{"id":1,"n":30,"f":"2","b":"0","d":null,"ts":null,"l":null,"o":null,"extra":null}`, Reason: `r.parquet row 3: duplicate key "1" (first at row 1)`},
	}
	if diff := cmp.Diff(wantRejects, col.rejects); diff != "" {
		t.Errorf("rejects (-want +got):\n%s", diff)
	}
	before, _ := os.ReadFile(path)
	_, err := c.Create(t.Context(), pipeline.Write{Resource: "r", Set: pipeline.Record{"id": 9}})
	if err == nil || !strings.Contains(err.Error(), "row 2") || !strings.Contains(err.Error(), "fix the file by hand") {
		t.Errorf("write to a file with a bad row: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the file changed")
	}
}

func TestParquetMissingFileAndKeyColumn(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, map[string]ResourceConfig{"r": {Path: "sub/r.parquet", Key: "id", Fields: fields("id", "string")}})
	if col := readAll(t, c, "r"); len(col.records)+len(col.rejects) != 0 {
		t.Errorf("a missing file read as %+v", col)
	}
	duckExec(t, `COPY (SELECT 1 AS other) TO '`+filepath.Join(dir, "nokey.parquet")+`' (FORMAT parquet)`)
	c = open(t, dir, nil, map[string]ResourceConfig{"r": {Path: "nokey.parquet", Key: "id", Fields: fields("id", "string")}})
	var col collector
	if err := c.Read(t.Context(), "r", pipeline.ReadQuery{}, &col); err == nil || !strings.Contains(err.Error(), `no key column "id"`) {
		t.Errorf("read without the key column: %v", err)
	}
}
