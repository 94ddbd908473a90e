package file

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/synk-etl/synk/pipeline"
)

// row is one decoded line of a file. A row that could not be converted
// keeps what is needed to report it (raw, err) and to write it back
// unchanged on a rewrite (cells or raw), so writing through synk never
// destroys data synk could not read.
type row struct {
	line int
	key  string // "" when the key itself is missing or unreadable
	rec  pipeline.Record
	// vals is a good row read by DuckDB: the declared fields' values in
	// order, instead of rec. It is reused for the next row: a consumer
	// that keeps the record takes record().
	vals []any
	// raw is the original JSONL line, or the CSV record re-encoded.
	raw []byte
	// cells are a bad CSV row's cells in declared-field order.
	cells []string
	err   error
	// lost marks bad rows a rewrite cannot give back: a CSV syntax error
	// (nothing of the row is known) or any bad Parquet row (a typed file
	// has no place for a value of the wrong type).
	lost bool
}

// record is the row's record: rec, or a new map of vals.
func (rw row) record(s *spec) pipeline.Record {
	if rw.rec != nil || rw.vals == nil {
		return rw.rec
	}
	rec := make(pipeline.Record, len(s.fields))
	for i, f := range s.fields {
		rec[f.Name] = rw.vals[i]
	}
	return rec
}

// keyHash is xxhash; tests make keys collide.
var keyHash = xxhash.Sum64String

// keyLines remembers the line of each key's first row. A file of a
// million rows has a million keys: they are indexed by xxhash in a map
// without pointers (never scanned by the garbage collector, and no string
// hashed again as it grows), the keys kept in an arena to tell a repeat
// from a hash collision; colliding keys go to a plain map.
type keyLines struct {
	idx   map[uint64]int32
	keys  []byte
	end   []int
	lines []int
	extra map[string]int
}

// add records key's row at line unless the key was seen; then it reports
// the first row's line.
func (k *keyLines) add(key string, line int) (first int, dup bool) {
	if k.idx == nil {
		k.idx = map[uint64]int32{}
	}
	h := keyHash(key)
	i, ok := k.idx[h]
	if !ok && len(k.end) < math.MaxInt32 {
		k.idx[h] = int32(len(k.end))
		k.keys = append(k.keys, key...)
		k.end = append(k.end, len(k.keys))
		k.lines = append(k.lines, line)
		return 0, false
	}
	if ok {
		start := 0
		if i > 0 {
			start = k.end[i-1]
		}
		if string(k.keys[start:k.end[i]]) == key {
			return k.lines[i], true
		}
	}
	if first, ok := k.extra[key]; ok {
		return first, true
	}
	if k.extra == nil {
		k.extra = map[string]int{}
	}
	k.extra[key] = line
	return 0, false
}

// checkEvery is how many rows pass between context checks while decoding.
const checkEvery = 1024

// rowChecks returns the checks every read makes: check runs on rows whose
// every field converted (the key must be there and not repeat an earlier
// row's), and emit hands a row to fn, noticing a cancelled context.
func rowChecks(ctx context.Context, s *spec, fn func(row) error) (check func(key string, line int) error, emit func(row) error) {
	var seen keyLines
	n := 0
	unit := "line"
	if s.format == formatParquet {
		unit = "row" // a Parquet file has rows, not lines
	}
	check = func(key string, line int) error {
		if key == "" {
			return fmt.Errorf("%s %s %d: missing key %q", s.path, unit, line, s.key)
		}
		if first, dup := seen.add(key, line); dup {
			return fmt.Errorf("%s %s %d: duplicate key %q (first at %s %d)", s.path, unit, line, key, unit, first)
		}
		return nil
	}
	emit = func(rw row) error {
		n++
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return fn(rw)
	}
	return check, emit
}

// decode reads the file at path and hands its rows to fn in file order.
// Conversion problems and duplicate keys come as rows with err set; a
// returned error (I/O, a header without the key column, fn's error) ends
// the read. A missing file has no rows.
func decode(ctx context.Context, db *sql.DB, path string, s *spec, fn func(row) error) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	check, emit := rowChecks(ctx, s, fn)
	// DuckDB reads a path with these characters as a pattern of files.
	glob := strings.ContainsAny(path, "*?[{")
	duck := duckCSV
	switch s.format {
	case formatJSONL:
		duck = duckJSONL
	case formatParquet:
		if glob {
			return fmt.Errorf("%s: a Parquet file's path cannot hold any of * ? [ {", s.path)
		}
		return duckParquet(ctx, db, path, s, check, emit)
	}
	if !glob {
		if done, err := duck(ctx, db, path, s, check, emit); done || err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if s.format == formatJSONL {
		return decodeJSONL(f, s, check, emit)
	}
	return decodeCSV(f, s, check, emit)
}

// csvColumns matches a CSV header to the declared fields: col[i] is the
// header position of field i, or -1.
func csvColumns(s *spec, header []string) ([]int, error) {
	// col[i] is the header position of declared field i, or -1.
	col := make([]int, len(s.fields))
	for i := range col {
		col[i] = -1
	}
	seenCol := map[string]bool{}
	for j, h := range header {
		if j == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // spreadsheet exports start with a BOM
		}
		h = strings.TrimSpace(h)
		if seenCol[h] {
			return nil, fmt.Errorf("%s: header names column %q twice", s.path, h)
		}
		seenCol[h] = true
		if i := s.fieldIndex(h); i >= 0 {
			col[i] = j
		}
	}
	if col[s.keyIdx] < 0 {
		return nil, fmt.Errorf("%s: header has no key column %q", s.path, s.key)
	}
	return col, nil
}

// decodeCSV reads a CSV file by the Go rules: the files DuckDB's reader
// cannot be trusted with (see duckCSV) and those whose path DuckDB would
// take for a pattern.
func decodeCSV(r io.Reader, s *spec, check func(string, int) error, emit func(row) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: header: %w", s.path, err)
	}
	col, err := csvColumns(s, header)
	if err != nil {
		return err
	}
	width := len(header)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("%s: %w", s.path, err)
			}
			if err := emit(row{line: pe.StartLine, lost: true, err: fmt.Errorf("%s line %d: %w", s.path, pe.StartLine, pe.Err)}); err != nil {
				return err
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if err := emit(csvRow(s, col, width, rec, line, check)); err != nil {
			return err
		}
	}
}

func csvRow(s *spec, col []int, width int, cells []string, line int, check func(string, int) error) row {
	rw := row{line: line}
	if len(cells) != width {
		rw.err = fmt.Errorf("%s line %d: %d fields, the header has %d", s.path, line, len(cells), width)
	}
	rec := make(pipeline.Record, len(s.fields))
	for i, f := range s.fields {
		var cell string
		if j := col[i]; j >= 0 && j < len(cells) {
			cell = cells[j]
		}
		v, err := convert(f.Type, cell, formatCSV)
		if err != nil {
			if rw.err == nil {
				rw.err = fmt.Errorf("%s line %d: field %q: %w", s.path, line, f.Name, err)
			}
			if i == s.keyIdx {
				rw.key = cell
			}
			continue
		}
		rec[f.Name] = v
		if i == s.keyIdx && v != nil {
			rw.key = keyString(v)
		}
	}
	if rw.err == nil {
		rw.err = check(rw.key, line)
	}
	if rw.err == nil {
		rw.rec = rec
		return rw
	}
	rw.cells = make([]string, len(s.fields))
	for i := range s.fields {
		if j := col[i]; j >= 0 && j < len(cells) {
			rw.cells[i] = cells[j]
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(cells) // writes to a bytes.Buffer cannot fail
	w.Flush()
	rw.raw = bytes.TrimRight(b.Bytes(), "\n")
	return rw
}

// decodeJSONL reads a JSONL file by the Go rules: a file DuckDB cannot
// read as text (not UTF-8; Go's decoder reads its strings all the same) or
// whose path DuckDB would take for a pattern.
func decodeJSONL(r io.Reader, s *spec, check func(string, int) error, emit func(row) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s line %d: %w", s.path, line, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if err := emit(jsonlRow(s, t, line, check)); err != nil {
				return err
			}
		}
		if err != nil {
			return nil
		}
	}
}

func jsonlRow(s *spec, b []byte, line int, check func(string, int) error) row {
	rw := row{line: line, raw: append([]byte(nil), b...)}
	obj, err := decodeObject(b)
	if err != nil {
		rw.err = fmt.Errorf("%s line %d: %w", s.path, line, err)
		return rw
	}
	rec := make(pipeline.Record, len(s.fields))
	for i, f := range s.fields {
		v, err := convert(f.Type, obj[f.Name], formatJSONL)
		if err != nil {
			if rw.err == nil {
				rw.err = fmt.Errorf("%s line %d: field %q: %w", s.path, line, f.Name, err)
			}
			if i == s.keyIdx {
				rw.key = rawKey(obj[f.Name])
			}
			continue
		}
		rec[f.Name] = v
		if i == s.keyIdx && v != nil {
			rw.key = keyString(v)
		}
	}
	if rw.err == nil {
		rw.err = check(rw.key, line)
	}
	if rw.err == nil {
		rw.rec, rw.raw = rec, nil
	}
	return rw
}

// decodeObject parses one JSONL line: exactly one JSON object, numbers kept
// as json.Number so int fields do not lose precision through float64.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: more than one value on the line")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(v))
	}
	return obj, nil
}

func rawKey(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return fmt.Sprint(v)
}

// keyString is the Write.Key form of a converted key value.
func keyString(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64, int64, int:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// convert turns a value read from a file (a CSV cell, a JSON value with
// json.Number numbers) or given by the engine (int, int64, float64, bool,
// string, time.Time, []any, map[string]any) into the declared type's record
// form. The result is what a read of the written file gives back, so a sink
// returns exactly what the next read will see: an empty CSV cell is nil
// whatever the type, since CSV cannot tell "" from missing.
func convert(t pipeline.FieldType, v any, format string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && s == "" && (format == formatCSV || t != pipeline.TypeString) {
		return nil, nil
	}
	switch t {
	case pipeline.TypeString:
		switch v := v.(type) {
		case string:
			return v, nil
		case json.Number:
			return v.String(), nil
		}
		if n, ok := number(v); ok {
			return formatFloat(n), nil
		}
		if i, ok := integer(v); ok {
			return strconv.FormatInt(i, 10), nil
		}
	case pipeline.TypeInt:
		if i, ok := integer(v); ok {
			return i, nil
		}
		var text string
		switch v := v.(type) {
		case string:
			text = strings.TrimSpace(v)
		case json.Number:
			text = v.String()
		default:
			if f, ok := number(v); ok {
				if i, ok := integral(f); ok {
					return i, nil
				}
				return nil, fmt.Errorf("%v is not a whole number", f)
			}
			return nil, fmt.Errorf("want an int, got %s", jsonKind(v))
		}
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			if i, ok := integral(f); ok {
				return i, nil
			}
		}
		return nil, fmt.Errorf("cannot read %q as an int", text)
	case pipeline.TypeFloat:
		var f float64
		switch v := v.(type) {
		case string:
			p, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("cannot read %q as a float", v)
			}
			f = p
		case json.Number:
			p, err := strconv.ParseFloat(v.String(), 64)
			if err != nil {
				return nil, fmt.Errorf("cannot read %q as a float", v.String())
			}
			f = p
		default:
			n, ok := number(v)
			if !ok {
				i, ok := integer(v)
				if !ok {
					return nil, fmt.Errorf("want a float, got %s", jsonKind(v))
				}
				n = float64(i)
			}
			f = n
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a finite number", f)
		}
		return f, nil
	case pipeline.TypeBool:
		switch v := v.(type) {
		case bool:
			return v, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true", "1", "yes":
				return true, nil
			case "false", "0", "no":
				return false, nil
			}
			return nil, fmt.Errorf("cannot read %q as a bool (true/false, 1/0, yes/no)", v)
		case json.Number:
			switch v.String() {
			case "1":
				return true, nil
			case "0":
				return false, nil
			}
			return nil, fmt.Errorf("cannot read %s as a bool (true/false, 1/0, yes/no)", v)
		}
	case pipeline.TypeDate:
		switch v := v.(type) {
		case time.Time:
			return v.Format(time.DateOnly), nil
		case string:
			d, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("cannot read %q as a date (want YYYY-MM-DD)", v)
			}
			return d.Format(time.DateOnly), nil
		}
	case pipeline.TypeTime:
		tm, ok := v.(time.Time)
		if s, isString := v.(string); isString {
			var err error
			if tm, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err != nil {
				return nil, fmt.Errorf("cannot read %q as a time (want RFC 3339, e.g. 2024-05-01T12:00:00Z)", s)
			}
			ok = true
		}
		if ok {
			if format == formatParquet {
				// A Parquet timestamp is UTC, to the microsecond.
				tm = tm.UTC().Truncate(time.Microsecond)
			}
			return tm.Format(time.RFC3339Nano), nil
		}
	case pipeline.TypeList:
		j, err := jsonValue(v)
		if err != nil {
			return nil, err
		}
		if _, ok := j.([]any); !ok && j != nil {
			return nil, fmt.Errorf("want a list, got %s", jsonKind(j))
		}
		return j, nil
	case pipeline.TypeObject:
		j, err := jsonValue(v)
		if err != nil {
			return nil, err
		}
		if _, ok := j.(map[string]any); !ok && j != nil {
			return nil, fmt.Errorf("want an object, got %s", jsonKind(j))
		}
		return j, nil
	case pipeline.TypeAny:
		if format == formatCSV {
			if s, ok := v.(string); ok {
				return s, nil
			}
			b, err := marshal(v)
			if err != nil {
				return nil, err
			}
			return string(b), nil
		}
		return normalize(v)
	default:
		return nil, fmt.Errorf("unsupported type %s", t)
	}
	return nil, fmt.Errorf("want a %s, got %s", t, jsonKind(v))
}

// jsonValue reads a list or object: a JSON text (a CSV cell) or a value.
func jsonValue(v any) (any, error) {
	if s, ok := v.(string); ok {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var j any
		if err := dec.Decode(&j); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, errors.New("invalid JSON: more than one value")
		}
		return numbers(j)
	}
	return normalize(v)
}

// normalize passes a value through JSON so nested numbers come out as the
// engine's int64/float64, exactly as a later read decodes them.
func normalize(v any) (any, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var j any
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return numbers(j)
}

// numbers replaces json.Number with int64 when whole and in range, else
// float64: the same choice for "1", "1.0" and "1e0", since all three are
// written back as 1 and must read back as they were stored. A number past
// float64's range (1e400) is an error: as ±Inf it could be neither hashed
// nor written back.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s is not a finite number", v)
		}
		if i, ok := integral(f); ok && math.Abs(f) < 1e21 {
			return i, nil
		}
		return f, nil
	case []any:
		for i := range v {
			n, err := numbers(v[i])
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	case map[string]any:
		for k := range v {
			n, err := numbers(v[k])
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	}
	return v, nil
}

// marshal is json.Marshal without HTML escaping, so "<" stays readable.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func integer(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v), true
		}
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	return 0, false
}

// integral returns f as an int64 when it is a whole number in range.
func integral(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// formatFloat writes a float the way JSON does: plain digits for ordinary
// magnitudes, an exponent for very large or small ones; always read back
// exactly by strconv.ParseFloat.
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// cellText is a stored value as a CSV cell.
func cellText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return formatFloat(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	b, err := marshal(v)
	return string(b), err
}

// encodeCSV writes rows with a header of the declared fields, in declared
// order. Bad rows go back as they were read.
func encodeCSV(w io.Writer, s *spec, rows []*entry) error {
	cw := csv.NewWriter(w)
	cells := make([]string, len(s.fields))
	for i, f := range s.fields {
		cells[i] = f.Name
	}
	if err := writeCSVRecord(cw, w, cells); err != nil {
		return err
	}
	for _, e := range rows {
		if e.rec == nil {
			if err := writeCSVRecord(cw, w, e.cells); err != nil {
				return err
			}
			continue
		}
		for i, f := range s.fields {
			c, err := cellText(e.rec[f.Name])
			if err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
			cells[i] = c
		}
		if err := writeCSVRecord(cw, w, cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeCSVRecord writes one record; a record of one empty cell would come
// out as an empty line, which readers skip, so it is written quoted.
func writeCSVRecord(cw *csv.Writer, w io.Writer, cells []string) error {
	if len(cells) == 1 && cells[0] == "" {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\"\"\n")
		return err
	}
	return cw.Write(cells)
}

// appendJSON appends v as marshal writes it, without marshal's cost for
// the values most records are made of: a million-row rewrite spends most
// of its time here.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.AppendFloat(b, v, 'f', -1, 64), nil
		}
	case string:
		if plainJSONString(v) {
			b = append(b, '"')
			b = append(b, v...)
			return append(b, '"'), nil
		}
	}
	j, err := marshal(v)
	return append(b, j...), err
}

// plainJSONString reports whether s is printable ASCII that JSON writes
// as is, between quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// encodeJSONL writes one object per line with the declared fields in
// declared order; bad lines go back verbatim.
func encodeJSONL(w io.Writer, s *spec, rows []*entry) error {
	names := make([][]byte, len(s.fields))
	for i, f := range s.fields {
		b, err := marshal(f.Name)
		if err != nil {
			return err
		}
		names[i] = b
	}
	var line []byte
	for _, e := range rows {
		line = line[:0]
		if e.rec == nil {
			line = append(line, e.raw...)
		} else {
			line = append(line, '{')
			for i, f := range s.fields {
				if i > 0 {
					line = append(line, ',')
				}
				line = append(line, names[i]...)
				line = append(line, ':')
				var err error
				if line, err = appendJSON(line, e.rec[f.Name]); err != nil {
					return fmt.Errorf("field %q: %w", f.Name, err)
				}
			}
			line = append(line, '}')
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}
