package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
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

// finalExpr selects a staged field as its snapshot column (finalType).
func finalExpr(f pipeline.Field) string {
	c := Ident(f.Name)
	if t := finalType(f.Type); t != stageType(f.Type) {
		return "TRY_CAST(" + c + " AS " + t + ") AS " + c
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
//
// A full read over a table that already has the current layout is a diff:
// the loader holds the stored keys and hashes, rows whose hash is unchanged
// are kept as they are (Keep) and never staged, and Commit deletes the rows
// that were not kept and inserts the staged ones. A no-op read, of a
// million records or of a shop's few hundred, then writes nothing: a row's
// _synced_at is when synk read the version it holds.
type Loader struct {
	conn     *sql.Conn
	schema   string
	res      pipeline.Resource
	full     bool
	main     *duckdb.Appender
	children map[string]*duckdb.Appender
	stage    string
	n        int64
	vals     []driver.Value

	// diff is set for a full read over a table of the current layout.
	diff bool
	// stageMade: the temporary stage tables exist (a diff makes them only
	// when a record needs staging).
	stageMade bool
	// The stored rows in table order: keys in one arena (row i's key is
	// oldKeys[oldEnd[i-1]:oldEnd[i]]), hashes and flags. Sources mostly
	// give records in the order they were stored, so Seen first tries the
	// row after the last one found (next) and builds the index old, by
	// xxhash of the key, only when that fails. A map without pointers is
	// never scanned by the garbage collector.
	next       int
	old        map[uint64]int32
	oldKeyHash []uint64
	oldKeys    []byte
	oldEnd     []uint32
	oldSums    []uint64
	oldFlags   []uint8
	kept       int64
	// fresh holds the offered keys that are not stored rows (a first read
	// offers a million): by xxhash in a map without pointers, which the
	// garbage collector never scans, the keys themselves in an arena.
	fresh keySet
}

// keyHash is xxhash; tests make keys collide.
var keyHash = xxhash.Sum64String

// keySet is a set of strings kept as an index by xxhash into an arena of
// the keys: no pointer per key, and no string hashed again as the map
// grows. Keys whose hash another key already has go to a plain map.
type keySet struct {
	idx   map[uint64]int32
	keys  []byte
	end   []uint32
	extra map[string]struct{}
}

// add adds key and reports whether it was there already.
func (k *keySet) add(key string) bool {
	if k.idx == nil {
		k.idx = map[uint64]int32{}
	}
	h := keyHash(key)
	i, ok := k.idx[h]
	if !ok && len(k.keys)+len(key) <= math.MaxUint32 && len(k.end) < math.MaxInt32 {
		k.idx[h] = int32(len(k.end))
		k.keys = append(k.keys, key...)
		k.end = append(k.end, uint32(len(k.keys)))
		return false
	}
	if ok {
		start := uint32(0)
		if i > 0 {
			start = k.end[i-1]
		}
		if string(k.keys[start:k.end[i]]) == key {
			return true
		}
	}
	if _, ok := k.extra[key]; ok {
		return true
	}
	if k.extra == nil {
		k.extra = map[string]struct{}{}
	}
	k.extra[key] = struct{}{}
	return false
}

// Stored identifies the stored row of a key offered to a load (see Seen);
// the zero value means the key has no stored row that can be kept.
type Stored struct{ i int32 }

const (
	oldSeen   uint8 = 1 << iota // offered in this load
	oldKept                     // kept as stored
	oldNoHash                   // stored hash unreadable: never kept
)

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
	if _, err := l.conn.ExecContext(context.WithoutCancel(ctx), "CREATE SCHEMA IF NOT EXISTS "+Ident(l.schema)); err != nil {
		return err
	}
	same, err := l.sameLayout(ctx)
	if err != nil {
		return err
	}
	if same {
		limit := math.MaxInt32
		if !l.full {
			limit = maxIncrementalKeep
		}
		ok, err := l.loadOld(ctx, limit)
		if err != nil {
			return err
		}
		if !ok {
			l.forgetOld()
		}
		l.diff = ok && l.full
	}
	// The stage is made at the first record that needs it: most runs
	// keep every row of a full read and read nothing incrementally, and
	// then run no DDL at all.
	return nil
}

// stageColumns are the stage table's column definitions; childStageColumns
// those of a child field's stage table.
func (l *Loader) stageColumns() []string {
	cols := []string{"_key VARCHAR", "_hash VARCHAR", "_raw VARCHAR"}
	for _, f := range l.res.Fields {
		cols = append(cols, Ident(f.Name)+" "+stageType(f.Type))
	}
	return cols
}

func childStageColumns(cf pipeline.Field) []string {
	cols := []string{"_parent_key VARCHAR", "_index INTEGER"}
	for _, f := range cf.Fields {
		cols = append(cols, Ident(f.Name)+" "+stageType(f.Type))
	}
	return cols
}

// makeStage creates the temporary stage tables and their appenders, once.
func (l *Loader) makeStage(ctx context.Context) error {
	if l.stageMade {
		return nil
	}
	stmts := []string{"CREATE OR REPLACE TEMP TABLE " + Ident(l.stage) + " (" + strings.Join(l.stageColumns(), ", ") + ")"}
	for _, cf := range childFields(l.res) {
		stmts = append(stmts, "CREATE OR REPLACE TEMP TABLE "+Ident(l.stage+"__"+cf.Name)+" ("+strings.Join(childStageColumns(cf), ", ")+")")
	}
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	l.stageMade = true
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

// typedNulls is a one-row subquery with the stage's columns and types, so
// a layout can be described without creating the stage.
func typedNulls(cols []string) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		sel[i] = "CAST(NULL AS " + typ + ") AS " + name
	}
	return "(SELECT " + strings.Join(sel, ", ") + ")"
}

// sameLayout reports whether the snapshot table and its child tables
// exist with exactly the columns and types a rebuild would give them, so
// their rows can be kept. One catalog query answers it for all of them.
func (l *Loader) sameLayout(ctx context.Context) (bool, error) {
	want := map[string][]string{l.res.Name: l.tableColumns()}
	names := []any{l.schema, l.res.Name}
	in := "?"
	for _, cf := range childFields(l.res) {
		want[ChildTable(l.res, cf)] = childTableColumns(cf)
		names = append(names, ChildTable(l.res, cf))
		in += ", ?"
	}
	rows, err := l.conn.QueryContext(ctx, `SELECT table_name, column_name || ' ' || data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = ? AND table_name IN (`+in+`)
		ORDER BY table_name, column_index`, names...)
	if err != nil {
		return false, fmt.Errorf("look up %s.%s: %w", l.schema, l.res.Name, err)
	}
	defer rows.Close()
	have := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			return false, err
		}
		have[table] = append(have[table], col)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	for table, cols := range want {
		if !slices.Equal(have[table], cols) {
			return false, nil
		}
	}
	return true, nil
}

// tableColumns are "name TYPE" of the snapshot table's columns as DuckDB's
// catalog names them, in order: what selectList creates.
func (l *Loader) tableColumns() []string {
	cols := []string{"_key VARCHAR", "_hash VARCHAR", "_synced_at TIMESTAMP WITH TIME ZONE", "_raw JSON"}
	for _, f := range l.res.Fields {
		cols = append(cols, f.Name+" "+finalType(f.Type))
	}
	return cols
}

func childTableColumns(cf pipeline.Field) []string {
	cols := []string{"_parent_key VARCHAR", "_index INTEGER"}
	for _, f := range cf.Fields {
		cols = append(cols, f.Name+" "+finalType(f.Type))
	}
	return cols
}

// finalType is the DuckDB type finalExpr gives a field's column.
func finalType(t pipeline.FieldType) string {
	switch t {
	case pipeline.TypeDate:
		return "DATE"
	case pipeline.TypeTime:
		return "TIMESTAMP"
	case pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny:
		return "JSON"
	}
	return stageType(t)
}

// maxIncrementalKeep is the largest table whose stored hashes an
// incremental read loads to keep the unchanged records it is given (as a
// full read does): Fiken's date-only cursor gives back everything changed
// today on every run, and rewriting those rows was most of a no-op
// flagship run's writes. Past it, loading every hash costs more than the
// few rows an incremental read rewrites.
var maxIncrementalKeep = 200_000

// loadOld reads the stored keys and hashes. It reports false, and the
// read stores every record it is given, when the table has more than limit
// rows, when two stored keys share a 64-bit hash (the same key twice,
// which only a hand-edited file can hold, or a collision) or there are too
// many to index.
func (l *Loader) loadOld(ctx context.Context, limit int) (bool, error) {
	target := Ident(l.schema) + "." + Ident(l.res.Name)
	var n int
	var size int64
	if err := l.conn.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(strlen(_key)), 0) FROM "+target).Scan(&n, &size); err != nil {
		return false, err
	}
	if n > limit || n >= math.MaxInt32 || size >= math.MaxUint32 {
		return false, nil
	}
	l.oldKeys = make([]byte, 0, size)
	l.oldEnd = make([]uint32, 0, n)
	l.oldSums = make([]uint64, 0, n)
	l.oldFlags = make([]uint8, 0, n)
	l.oldKeyHash = make([]uint64, 0, n)
	rows, err := l.conn.QueryContext(ctx, "SELECT _key, _hash FROM "+target)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var key, hash sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&key, &hash); err != nil {
			return false, err
		}
		if len(l.oldEnd) == n || len(l.oldKeys)+len(key) > int(size) {
			// More than counted: the table changed under us; rebuild.
			return false, nil
		}
		var flags uint8
		sum, ok := parseHash(hash)
		if !ok {
			flags = oldNoHash
		}
		l.oldKeys = append(l.oldKeys, key...)
		l.oldEnd = append(l.oldEnd, uint32(len(l.oldKeys)))
		l.oldSums = append(l.oldSums, sum)
		l.oldFlags = append(l.oldFlags, flags)
		l.oldKeyHash = append(l.oldKeyHash, xxhash.Sum64(key))
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	// Unique key hashes, checked by sorting a copy (far cheaper than a set
	// or SQL's count(DISTINCT)), make the index below exact.
	sorted := slices.Clone(l.oldKeyHash)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return false, nil
		}
	}
	return true, nil
}

// forgetOld drops stored keys that could not all be loaded, so no record
// is kept against a partial index.
func (l *Loader) forgetOld() {
	l.old, l.oldKeyHash, l.oldKeys, l.oldEnd, l.oldSums, l.oldFlags = nil, nil, nil, nil, nil, nil
}

// parseHash reads a stored _hash: lower-case hex without leading zeros,
// as the engine writes it. Anything else is not a hash this synk wrote,
// and its row is never kept.
func parseHash(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 || b[0] == '0' && len(b) > 1 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// find returns the index of key's stored row, or -1.
func (l *Loader) find(key string) int {
	if l.next < len(l.oldEnd) && string(l.oldKey(l.next)) == key {
		l.next++
		return l.next - 1
	}
	if len(l.oldEnd) == 0 {
		return -1
	}
	if l.old == nil {
		l.old = make(map[uint64]int32, len(l.oldKeyHash))
		for i, h := range l.oldKeyHash {
			l.old[h] = int32(i)
		}
	}
	i, ok := l.old[xxhash.Sum64String(key)]
	if !ok || string(l.oldKey(int(i))) != key {
		return -1
	}
	l.next = int(i) + 1
	return int(i)
}

// oldKey is the key of stored row i (0-based).
func (l *Loader) oldKey(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = l.oldEnd[i-1]
	}
	return l.oldKeys[start:l.oldEnd[i]]
}

// Seen marks key offered to this load and reports whether it was offered
// already (a read that gives one key twice is a reject). It also returns
// the key's stored row, for Keep.
func (l *Loader) Seen(key string) (Stored, bool) {
	if i := l.find(key); i >= 0 {
		if l.oldFlags[i]&oldSeen != 0 {
			return Stored{}, true
		}
		l.oldFlags[i] |= oldSeen
		return Stored{int32(i) + 1}, false
	}
	return Stored{}, l.fresh.add(key)
}

// Keep reports whether the stored row already holds the record whose hash
// is sum; the row then stays as it is and the record is not to be added.
// Only a full read over a table of the current layout keeps rows.
func (l *Loader) Keep(s Stored, sum uint64) bool {
	i := s.i - 1
	if i < 0 || l.oldFlags[i]&(oldKept|oldNoHash) != 0 || l.oldSums[i] != sum {
		return false
	}
	l.oldFlags[i] |= oldKept
	l.kept++
	return true
}

// Add appends one row. Its record must already be coerced (Coerce).
func (l *Loader) Add(r Row) error {
	if !l.stageMade {
		// Add has no context: sources hand rows through an Emitter. The
		// DDL is local to this connection and quick.
		if err := l.makeStage(context.Background()); err != nil {
			return fmt.Errorf("stage %s.%s: %w", l.schema, l.res.Name, err)
		}
	}
	vals := append(l.vals[:0], r.Key, r.Hash, r.Raw)
	for _, f := range l.res.Fields {
		vals = append(vals, stageValue(f, r.Record[f.Name]))
	}
	l.vals = vals
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

// AddValues appends one row given as its record's field values, in the
// order of the resource's fields, each already of its field's type (Fits),
// as Add does for the record's map. A resource with child tables needs
// the map: AddValues builds it and calls Add.
func (l *Loader) AddValues(key, hash, raw string, vals []any) error {
	if len(childFields(l.res)) > 0 || len(vals) != len(l.res.Fields) {
		rec := make(pipeline.Record, len(vals))
		for i, f := range l.res.Fields {
			if i < len(vals) {
				rec[f.Name] = vals[i]
			}
		}
		return l.Add(Row{Key: key, Hash: hash, Raw: raw, Record: rec})
	}
	if !l.stageMade {
		if err := l.makeStage(context.Background()); err != nil {
			return fmt.Errorf("stage %s.%s: %w", l.schema, l.res.Name, err)
		}
	}
	row := append(l.vals[:0], key, hash, raw)
	for i, f := range l.res.Fields {
		row = append(row, stageValue(f, vals[i]))
	}
	l.vals = row
	if err := l.main.AppendRow(row...); err != nil {
		return fmt.Errorf("append %s: %w", key, err)
	}
	l.n++
	return nil
}

func (l *Loader) selectList() []string {
	sel := []string{"_key", "_hash", "now() AS _synced_at", "TRY_CAST(_raw AS JSON) AS _raw"}
	for _, f := range l.res.Fields {
		sel = append(sel, finalExpr(f))
	}
	return sel
}

func childSelectList(cf pipeline.Field) []string {
	csel := []string{"_parent_key", "_index"}
	for _, f := range cf.Fields {
		csel = append(csel, finalExpr(f))
	}
	return csel
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
// replaces them (a diff deletes the rows it did not keep and inserts the
// staged ones), an incremental read replaces the rows it read. It returns
// how many rows the table got from this load, kept ones included.
func (l *Loader) Commit(ctx context.Context) (int64, error) {
	ctx = context.WithoutCancel(ctx) // see Store: a write, once begun, ends
	defer l.conn.Close()
	if err := l.closeAppenders(); err != nil {
		return 0, err
	}
	gone := false
	if l.diff {
		for _, f := range l.oldFlags {
			if f&oldKept == 0 {
				gone = true
				break
			}
		}
		if !gone && l.n == 0 {
			return l.kept, nil // every stored row kept: nothing to write
		}
	}
	if !l.full && l.n == 0 {
		// An incremental read of nothing new: the tables need only exist.
		if err := l.createEmpty(ctx); err != nil {
			return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
		}
		return l.kept, nil
	}
	if err := l.makeStage(ctx); err != nil {
		// A full read of no records still replaces the table, from the
		// empty stage.
		return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
	}
	if !l.full {
		changed, err := l.pruneUnchanged(ctx)
		if err != nil {
			return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
		}
		if !changed {
			return l.n + l.kept, l.dropStage(ctx)
		}
	}
	if gone {
		if err := l.stageGone(ctx); err != nil {
			return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
		}
	}
	stmts := append([]string{"BEGIN TRANSACTION"}, l.commitStatements(gone)...)
	stmts = append(stmts, "COMMIT")
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			l.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return 0, fmt.Errorf("snapshot %s.%s: %w", l.schema, l.res.Name, err)
		}
	}
	return l.n + l.kept, nil
}

// pruneUnchanged drops from the stage the rows an incremental read gave
// exactly as stored (Fiken's date-only cursor hands back everything
// changed today, run after run) and reports whether any are left to write.
// The stage is temporary, so this writes nothing to the state file.
func (l *Loader) pruneUnchanged(ctx context.Context) (bool, error) {
	target := Ident(l.schema) + "." + Ident(l.res.Name)
	stage := Ident(l.stage)
	if err := l.createEmpty(ctx); err != nil {
		return false, err
	}
	same := "SELECT s._key FROM " + stage + " s JOIN " + target + " t ON t._key = s._key AND t._hash = s._hash"
	var stmts []string
	for _, cf := range childFields(l.res) {
		stmts = append(stmts, "DELETE FROM "+Ident(l.stage+"__"+cf.Name)+" WHERE _parent_key IN ("+same+")")
	}
	stmts = append(stmts, "DELETE FROM "+stage+" WHERE _key IN ("+same+")")
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			return false, err
		}
	}
	var left int64
	if err := l.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+stage).Scan(&left); err != nil {
		return false, err
	}
	return left > 0, nil
}

// dropStage drops the temporary stage tables.
func (l *Loader) dropStage(ctx context.Context) error {
	for _, cf := range childFields(l.res) {
		if _, err := l.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+Ident(l.stage+"__"+cf.Name)); err != nil {
			return err
		}
	}
	_, err := l.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+Ident(l.stage))
	return err
}

// createEmpty creates the snapshot tables, empty, unless they exist.
func (l *Loader) createEmpty(ctx context.Context) error {
	stmts := []string{"CREATE TABLE IF NOT EXISTS " + Ident(l.schema) + "." + Ident(l.res.Name) + " AS SELECT " +
		strings.Join(l.selectList(), ", ") + " FROM " + typedNulls(l.stageColumns()) + " LIMIT 0"}
	for _, cf := range childFields(l.res) {
		stmts = append(stmts, "CREATE TABLE IF NOT EXISTS "+Ident(l.schema)+"."+Ident(ChildTable(l.res, cf))+" AS SELECT "+
			strings.Join(childSelectList(cf), ", ")+" FROM "+typedNulls(childStageColumns(cf))+" LIMIT 0")
	}
	for _, st := range stmts {
		if _, err := l.conn.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// commitStatements move the load into the snapshot tables and drop the
// temporary ones; gone says the diff staged the keys of rows to delete.
func (l *Loader) commitStatements(gone bool) []string {
	target := Ident(l.schema) + "." + Ident(l.res.Name)
	sel := strings.Join(l.selectList(), ", ")
	stage := Ident(l.stage)
	goneT := Ident(l.stage + "__gone")
	// With nothing staged the deletes by stage and the inserts are
	// skipped: an INSERT, even of no rows, makes DuckDB allocate
	// transaction-local storage for every column of the table, tens of
	// kilobytes each, which a no-op run of a wide pipeline paid for
	// hundreds of columns and held until the state file closed.
	staged := l.n > 0
	var stmts []string
	switch {
	case l.diff:
		if gone {
			stmts = append(stmts, "DELETE FROM "+target+" WHERE _key IN (SELECT _key FROM "+goneT+")")
		}
		if staged {
			stmts = append(stmts, "INSERT INTO "+target+" SELECT "+sel+" FROM "+stage)
		}
	case l.full:
		stmts = append(stmts, "CREATE OR REPLACE TABLE "+target+" AS SELECT "+sel+" FROM "+stage)
	default:
		stmts = append(stmts, "CREATE TABLE IF NOT EXISTS "+target+" AS SELECT "+sel+" FROM "+stage+" LIMIT 0")
		if staged {
			stmts = append(stmts,
				"DELETE FROM "+target+" WHERE _key IN (SELECT _key FROM "+stage+")",
				"INSERT INTO "+target+" SELECT "+sel+" FROM "+stage)
		}
	}
	for _, cf := range childFields(l.res) {
		ct := Ident(l.schema) + "." + Ident(ChildTable(l.res, cf))
		cstage := Ident(l.stage + "__" + cf.Name)
		csel := strings.Join(childSelectList(cf), ", ")
		// Child rows are staged only with their parent's.
		switch {
		case l.diff:
			if gone {
				stmts = append(stmts, "DELETE FROM "+ct+" WHERE _parent_key IN (SELECT _key FROM "+goneT+")")
			}
			if staged {
				stmts = append(stmts, "INSERT INTO "+ct+" SELECT "+csel+" FROM "+cstage)
			}
		case l.full:
			stmts = append(stmts, "CREATE OR REPLACE TABLE "+ct+" AS SELECT "+csel+" FROM "+cstage)
		default:
			stmts = append(stmts, "CREATE TABLE IF NOT EXISTS "+ct+" AS SELECT "+csel+" FROM "+cstage+" LIMIT 0")
			if staged {
				stmts = append(stmts,
					"DELETE FROM "+ct+" WHERE _parent_key IN (SELECT _key FROM "+stage+")",
					"INSERT INTO "+ct+" SELECT "+csel+" FROM "+cstage)
			}
		}
		if l.stageMade {
			stmts = append(stmts, "DROP TABLE "+cstage)
		}
	}
	if l.stageMade {
		stmts = append(stmts, "DROP TABLE "+stage)
	}
	if gone {
		stmts = append(stmts, "DROP TABLE "+goneT)
	}
	return stmts
}

// stageGone stages the keys of the stored rows this diff did not keep:
// records gone from the source, changed, or rejected by this read.
func (l *Loader) stageGone(ctx context.Context) error {
	if _, err := l.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+Ident(l.stage+"__gone")+" (_key VARCHAR)"); err != nil {
		return err
	}
	return l.conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", l.stage+"__gone")
		if err != nil {
			return err
		}
		for i, f := range l.oldFlags {
			if f&oldKept == 0 {
				if err := a.AppendRow(string(l.oldKey(i))); err != nil {
					a.Close()
					return err
				}
			}
		}
		return a.Close()
	})
}

// Abort drops what was staged.
func (l *Loader) Abort() {
	l.closeAppenders()
	for _, cf := range childFields(l.res) {
		l.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+Ident(l.stage+"__"+cf.Name))
	}
	l.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+Ident(l.stage))
	l.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+Ident(l.stage+"__gone"))
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
		if !ok || v == nil || fits(f.Type, v) {
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

// Fits reports whether Coerce leaves v, a value of field f, as it is
// (and cannot fail on it): a record of such values is hashed and stored
// without its map being built (pipeline.ValuesEmitter).
func Fits(f pipeline.Field, v any) bool {
	if v == nil {
		return true
	}
	switch f.Type {
	case pipeline.TypeList:
		_, ok := v.([]any)
		return ok && len(f.Fields) == 0
	case pipeline.TypeObject:
		_, ok := v.(map[string]any)
		return ok && len(f.Fields) == 0
	case pipeline.TypeAny:
		return true
	}
	return fits(f.Type, v)
}

// fits reports whether v already has t's record type, so Coerce can leave
// it (and the record map) alone; most connectors hand over such values.
func fits(t pipeline.FieldType, v any) bool {
	switch t {
	case pipeline.TypeInt:
		_, ok := v.(int64)
		return ok
	case pipeline.TypeFloat:
		_, ok := v.(float64)
		return ok
	case pipeline.TypeBool:
		_, ok := v.(bool)
		return ok
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		_, ok := v.(string)
		return ok
	}
	return false
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
