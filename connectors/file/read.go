package file

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/synk-etl/synk/pipeline"
)

// The reads go through a private in-memory DuckDB, which splits, parses
// and converts a file on all cores. DuckDB's JSON parser is laxer than
// Go's in a few places (trailing commas, duplicate keys, which it reads as
// the first) and its casts differ from the rules the README documents, so
// the SQL only converts what it can convert exactly as those rules do and
// flags the rest; flagged rows and values go through the Go rules in
// codec.go. The result is the same records and rejects, with DuckDB doing
// the work for the ordinary rows.

// tableSeq names the scratch tables of concurrent reads apart.
var tableSeq atomic.Int64

func scratchTable(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, tableSeq.Add(1))
}

// quoteString is a SQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// scanner holds one result row's destinations and turns them into the
// declared fields' values. Values the SQL could not convert for sure come
// as text and go through convert.
type scanner struct {
	line int64
	raw  sql.NullString
	// dst are the scan destinations: line, raw, then one per field.
	dst []any
	// vals is values' result, reused row after row.
	vals []any
}

// newScanner makes the destinations of s's fields: typed for int, float
// and bool, text for the rest and for the fields asText marks (nil: none).
func newScanner(s *spec, asText []bool) *scanner {
	sc := &scanner{}
	sc.dst = append(sc.dst, &sc.line, &sc.raw)
	for i, f := range s.fields {
		if asText != nil && asText[i] {
			sc.dst = append(sc.dst, new(sql.NullString))
			continue
		}
		switch f.Type {
		case pipeline.TypeInt:
			sc.dst = append(sc.dst, new(sql.NullInt64))
		case pipeline.TypeFloat:
			sc.dst = append(sc.dst, new(sql.NullFloat64))
		case pipeline.TypeBool:
			sc.dst = append(sc.dst, new(sql.NullBool))
		default:
			sc.dst = append(sc.dst, new(sql.NullString))
		}
	}
	return sc
}

// value is field i's value as scanned (nil for NULL), and whether it is
// final: text of a time, list, object or any field still needs convert.
func (sc *scanner) value(i int) (any, bool) {
	switch d := sc.dst[2+i].(type) {
	case *sql.NullInt64:
		if d.Valid {
			return d.Int64, true
		}
	case *sql.NullFloat64:
		if d.Valid {
			return d.Float64, true
		}
	case *sql.NullBool:
		if d.Valid {
			return d.Bool, true
		}
	case *sql.NullString:
		if d.Valid {
			return d.String, false
		}
	}
	return nil, true
}

// duckJSONL reads a JSONL file through DuckDB. ok reports false, with no
// row handed to fn, when DuckDB cannot read the file as text (it is not
// UTF-8); the caller then reads it in Go.
func duckJSONL(ctx context.Context, db *sql.DB, path string, s *spec, check func(string, int) error, emit func(row) error) (ok bool, err error) {
	tbl := scratchTable("lines")
	// read_text gives the file as one value; splitting it in SQL keeps
	// every line's number, which DuckDB's own JSON and CSV readers lose.
	_, err = db.ExecContext(ctx, `CREATE TABLE `+tbl+` AS
		SELECT generate_subscripts(l, 1) AS line, unnest(l) AS raw
		FROM (SELECT string_split(content, chr(10)) AS l FROM read_text(`+quoteString(path)+`))`)
	if err != nil {
		if strings.Contains(err.Error(), "UTF-8") || strings.Contains(err.Error(), "UTF8") {
			return false, nil
		}
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	defer db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+tbl)
	rows, err := db.QueryContext(ctx, jsonlSQL(s, tbl))
	if err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	defer rows.Close()
	sc := newScanner(s, nil)
	// slow reads a line again and gives it to the Go rules.
	slow := func(line int) (row, error) {
		raw := sc.raw.String
		if !sc.raw.Valid {
			if err := db.QueryRowContext(ctx, "SELECT raw FROM "+tbl+" WHERE line = ?", line).Scan(&raw); err != nil {
				return row{}, fmt.Errorf("line %d: %w", line, err)
			}
		}
		return jsonlRow(s, []byte(strings.TrimSpace(raw)), line, check), nil
	}
	for rows.Next() {
		if err := rows.Scan(sc.dst...); err != nil {
			return true, fmt.Errorf("%s: %w", s.path, err)
		}
		line := int(sc.line)
		if sc.raw.Valid {
			if strings.TrimSpace(sc.raw.String) == "" {
				continue // blank by Go's rules, which know more spaces than SQL's trim
			}
			rw, err := slow(line)
			if err != nil {
				return true, err
			}
			if err := emit(rw); err != nil {
				return true, err
			}
			continue
		}
		vals, key, err := sc.values(s, formatJSONL)
		good := err == nil
		if good {
			if err := check(key, line); err != nil {
				good = false
			}
		}
		rw := row{line: line, key: key, vals: vals}
		if !good {
			if rw, err = slow(line); err != nil {
				return true, err
			}
		}
		if err := emit(rw); err != nil {
			return true, err
		}
	}
	if err := rows.Err(); err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	return true, nil
}

// values converts a scanned row to the declared fields' values, in order,
// in a slice reused for the next row. An error names the first field that
// did not convert; key is set all the same if the key did.
func (sc *scanner) values(s *spec, format string) (vals []any, key string, err error) {
	if sc.vals == nil {
		sc.vals = make([]any, len(s.fields))
	}
	for i, f := range s.fields {
		v, final := sc.value(i)
		if !final {
			var cerr error
			if v, cerr = textValue(f.Type, v.(string), format); cerr != nil {
				if err == nil {
					err = fmt.Errorf("field %q: %w", f.Name, cerr)
				}
				v = nil
			}
		}
		sc.vals[i] = v
		if i == s.keyIdx && v != nil {
			key = keyString(v)
		}
	}
	if err != nil {
		return nil, key, err
	}
	return sc.vals, key, nil
}

// textValue converts the text the SQL left to Go: in JSONL and Parquet
// the JSON text of a list, object or any value, else the value's text.
func textValue(t pipeline.FieldType, text string, format string) (any, error) {
	if format != formatCSV {
		switch t {
		case pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny:
			v, err := decodeJSON(text)
			if err != nil {
				return nil, err
			}
			return convert(t, v, format)
		}
	}
	return convert(t, text, format)
}

// decodeJSON parses one JSON value, numbers kept as json.Number as a
// whole line's decode keeps them.
func decodeJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}

// jsonlSQL selects, per non-blank line of tbl, its number, the line itself
// when the Go rules must read it (raw is NULL otherwise), and each declared
// field: typed when the SQL converted it, else as text for textValue.
//
// Each line is parsed once (json_transform into a struct of JSON values);
// a field's value is then judged by its JSON text, which DuckDB writes
// minified (a string starts with a quote, a number is digits) and which
// casts back exactly. Parsing each value again (json_type, ->>) and
// trim's Unicode handling made this query four times as slow (4.5 CPU-s
// for a million lines of six fields, against 1.1 now).
func jsonlSQL(s *spec, tbl string) string {
	var shape, xs, vals, oks, dups []string
	// A line is the SQL's to convert when Go's decoder would read it the
	// same: one valid object (json_valid, then a '{'), no trailing comma
	// (DuckDB accepts one), no \u escapes (lone surrogates and NUL differ),
	// and no declared key written twice (DuckDB reads the first, Go the
	// last); a string that looks like a key only sends its line to Go.
	oks = append(oks, `NOT contains(raw, '\u')`, `NOT regexp_matches(raw, ',[ \t\r\n]*[\]}]')`)
	escapedName := false
	for i, f := range s.fields {
		name, _ := json.Marshal(f.Name) // a string always marshals
		shape = append(shape, string(name)+`: "JSON"`)
		q := regexp.QuoteMeta(string(name))
		dups = append(dups, q+`[\s\S]*`+q)
		if strings.Contains(string(name), `\`) || strings.Contains(f.Name, "/") {
			escapedName = true // such a key can also be written escaped
		}
		x := fmt.Sprintf("x%d", i)
		xs = append(xs, fmt.Sprintf("CAST(struct_extract(v, %s) AS VARCHAR) AS %s", quoteString(f.Name), x))
		// str is a JSON string's value: its text between the quotes when
		// it has no escapes, else DuckDB's unescaping.
		isStr := fmt.Sprintf("starts_with(%s, '\"')", x)
		str := fmt.Sprintf(`CASE WHEN contains(%[1]s, '\') THEN json_extract_string(%[1]s, '$') ELSE substr(%[1]s, 2, length(%[1]s) - 2) END`, x)
		var val, ok string
		switch f.Type {
		case pipeline.TypeString:
			val = fmt.Sprintf("CASE WHEN %s THEN %s END", isStr, str)
			ok = isStr
		case pipeline.TypeInt:
			// Only an integer as DuckDB writes it back: 12.0, 1e3 and
			// numbers past int64 go to Go.
			val = fmt.Sprintf("TRY_CAST(%s AS BIGINT)", x)
			ok = fmt.Sprintf("CAST(TRY_CAST(%[1]s AS BIGINT) AS VARCHAR) = %[1]s", x)
		case pipeline.TypeFloat:
			val = fmt.Sprintf("TRY_CAST(%s AS DOUBLE)", x)
			ok = fmt.Sprintf("NOT %s AND isfinite(TRY_CAST(%s AS DOUBLE))", isStr, x)
		case pipeline.TypeBool:
			val = fmt.Sprintf("%s = 'true'", x)
			ok = fmt.Sprintf("%s IN ('true', 'false')", x)
		case pipeline.TypeDate:
			val = fmt.Sprintf("CASE WHEN %s THEN nullif(%s, '') END", isStr, str)
			ok = fmt.Sprintf(`%[1]s AND (%[2]s = '' OR (regexp_full_match(%[2]s, '\d{4}-\d{2}-\d{2}') AND TRY_CAST(%[2]s AS DATE) IS NOT NULL))`, isStr, str)
		case pipeline.TypeTime:
			val = fmt.Sprintf("CASE WHEN %s THEN nullif(%s, '') END", isStr, str)
			ok = isStr
		default: // list, object, any: Go decodes the JSON text
			val = fmt.Sprintf("CASE WHEN %[1]s <> 'null' THEN %[1]s END", x)
			ok = "true"
		}
		vals = append(vals, fmt.Sprintf("CASE WHEN %[1]s IS NULL OR %[1]s = 'null' THEN NULL ELSE %[2]s END", x, val))
		oks = append(oks, fmt.Sprintf("(%[1]s IS NULL OR %[1]s = 'null' OR (%[2]s))", x, ok))
	}
	oks = append(oks, "NOT regexp_matches(raw, "+quoteString(strings.Join(dups, "|"))+")")
	if escapedName {
		oks = append(oks, `NOT contains(raw, '\')`)
	}
	return fmt.Sprintf(`SELECT line, CASE WHEN v IS NULL OR NOT coalesce(%s, false) THEN raw END, %s
FROM (SELECT line, raw, v, %s
	FROM (SELECT line, raw, CASE WHEN json_valid(raw) AND starts_with(ltrim(raw, ' ' || chr(9) || chr(13)), '{') THEN json_transform(raw, %s) END AS v
		FROM %s WHERE starts_with(raw, '{') OR trim(raw, ' ' || chr(9) || chr(11) || chr(12) || chr(13)) <> ''))`,
		strings.Join(oks, " AND "), strings.Join(vals, ", "), strings.Join(xs, ", "),
		quoteString("{"+strings.Join(shape, ", ")+"}"), tbl)
}

// duckCSV reads a CSV file through DuckDB. DuckDB's CSV reader keeps no
// line numbers and differs from Go's on malformed rows, so it reads only
// files where the two cannot differ: the header (read in Go) on one line,
// DuckDB reading every row strictly, one line per row (no blank lines, no
// newlines inside cells), and no quote characters inside cells (Go refuses
// bare quotes that DuckDB takes). ok reports false, with no row handed to
// fn, for any other file; the caller then reads it in Go.
func duckCSV(ctx context.Context, db *sql.DB, path string, s *spec, check func(string, int) error, emit func(row) error) (ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return true, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("%s: header: %w", s.path, err)
	}
	col, err := csvColumns(s, header)
	if err != nil {
		return true, err
	}
	for _, h := range header {
		if strings.ContainsAny(h, "\r\n") {
			return false, nil
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	lines, err := countLines(f)
	if err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	tbl := scratchTable("cells")
	cols := make([]string, len(header))
	for j := range header {
		cols[j] = fmt.Sprintf("'c%d': 'VARCHAR'", j)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_csv(%s, header = true, columns = {%s},
		auto_detect = false, delim = ',', quote = '"', escape = '"', strict_mode = true, null_padding = false, parallel = true)`,
		tbl, quoteString(path), strings.Join(cols, ", ")))
	if err != nil {
		return false, nil // a file DuckDB refuses is what the Go rules are for
	}
	defer db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+tbl)
	var rows int64
	var odd bool
	anyOdd := make([]string, len(header))
	for j := range header {
		anyOdd[j] = fmt.Sprintf(`regexp_matches(c%d, '["\r\n]')`, j)
	}
	err = db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*), coalesce(bool_or(%s), false) FROM %s", strings.Join(anyOdd, " OR "), tbl)).Scan(&rows, &odd)
	if err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	if odd || rows+1 != lines {
		return false, nil
	}
	cells := make([]sql.NullString, len(header))
	fetch := func(rowid int64) ([]string, error) {
		dst := make([]any, len(cells))
		for j := range cells {
			dst[j] = &cells[j]
		}
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE rowid = ?", tbl), rowid).Scan(dst...); err != nil {
			return nil, err
		}
		return cellStrings(cells), nil
	}
	res, err := db.QueryContext(ctx, csvSQL(s, col, len(header), tbl))
	if err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	defer res.Close()
	sc := newScanner(s, nil)
	dst := sc.dst
	for j := range cells {
		dst = append(dst, &cells[j])
	}
	for res.Next() {
		if err := res.Scan(dst...); err != nil {
			return true, fmt.Errorf("%s: %w", s.path, err)
		}
		line := int(sc.line) + 2 // one row per line, after the header
		var rw row
		good := !sc.raw.Valid
		if good {
			var err error
			rw.vals, rw.key, err = sc.values(s, formatCSV)
			rw.line, good = line, err == nil
		}
		if good && check(rw.key, line) != nil {
			good = false
		}
		if !good {
			row := cellStrings(cells)
			if !sc.raw.Valid {
				if row, err = fetch(sc.line); err != nil {
					return true, fmt.Errorf("%s line %d: %w", s.path, line, err)
				}
			}
			rw = csvRow(s, col, len(header), row, line, check)
		}
		if err := emit(rw); err != nil {
			return true, err
		}
	}
	if err := res.Err(); err != nil {
		return true, fmt.Errorf("%s: %w", s.path, err)
	}
	return true, nil
}

func cellStrings(cells []sql.NullString) []string {
	out := make([]string, len(cells))
	for j, c := range cells {
		out[j] = c.String
	}
	return out
}

// countLines counts the lines of r, a last line without a newline
// included.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// csvSQL selects, per row of tbl, its rowid, a flag (non-NULL) when the Go
// rules must read the row, each declared field (typed when the SQL could
// convert it exactly, else as text for convert), and, for flagged rows,
// every cell.
func csvSQL(s *spec, col []int, width int, tbl string) string {
	var vals, unsure, cells []string
	for i, f := range s.fields {
		x := "NULL::VARCHAR"
		if col[i] >= 0 {
			x = fmt.Sprintf("c%d", col[i])
		}
		switch f.Type {
		case pipeline.TypeInt:
			// Only the canonical form: " 42 ", "+42" and "12.0" go to Go.
			vals = append(vals, fmt.Sprintf("TRY_CAST(%s AS BIGINT)", x))
			unsure = append(unsure, fmt.Sprintf("(%[1]s IS NOT NULL AND TRY_CAST(TRY_CAST(%[1]s AS BIGINT) AS VARCHAR) IS DISTINCT FROM %[1]s)", x))
		case pipeline.TypeFloat:
			vals = append(vals, fmt.Sprintf("TRY_CAST(%s AS DOUBLE)", x))
			unsure = append(unsure, fmt.Sprintf(`(%[1]s IS NOT NULL AND NOT (regexp_full_match(%[1]s, '-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?') AND isfinite(TRY_CAST(%[1]s AS DOUBLE))))`, x))
		case pipeline.TypeBool:
			vals = append(vals, fmt.Sprintf("CASE lower(%s) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'yes' THEN true WHEN 'false' THEN false WHEN '0' THEN false WHEN 'no' THEN false END", x))
			unsure = append(unsure, fmt.Sprintf("(%[1]s IS NOT NULL AND lower(%[1]s) NOT IN ('true', '1', 'yes', 'false', '0', 'no'))", x))
		default: // text: convert reads it in Go
			vals = append(vals, x)
		}
	}
	flag := "NULL::VARCHAR"
	if len(unsure) > 0 {
		flag = fmt.Sprintf("CASE WHEN %s THEN '' END", strings.Join(unsure, " OR "))
	}
	for j := range width {
		cells = append(cells, fmt.Sprintf("CASE WHEN flag IS NOT NULL THEN c%d END", j))
	}
	return fmt.Sprintf("SELECT rowid, flag, %s, %s FROM (SELECT rowid, *, %s AS flag FROM %s)",
		strings.Join(vals, ", "), strings.Join(cells, ", "), flag, tbl)
}
