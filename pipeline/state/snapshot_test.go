package state_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/state"
)

var orders = pipeline.Resource{Name: "orders", Key: "id", Fields: []pipeline.Field{
	{Name: "id", Type: pipeline.TypeInt},
	{Name: "customer", Type: pipeline.TypeString},
	{Name: "total", Type: pipeline.TypeFloat},
	{Name: "paid", Type: pipeline.TypeBool},
	{Name: "day", Type: pipeline.TypeDate},
	{Name: "rows", Type: pipeline.TypeList, Fields: []pipeline.Field{
		{Name: "sku", Type: pipeline.TypeString}, {Name: "qty", Type: pipeline.TypeInt},
	}},
}}

// order is a test record; rows is the number of order rows.
func order(id int64, customer string, rows int) pipeline.Record {
	var items []any
	for i := range rows {
		items = append(items, map[string]any{"sku": fmt.Sprintf("S%d-%d", id, i), "qty": int64(i + 1)})
	}
	return pipeline.Record{"id": id, "customer": customer, "total": float64(id) + 0.5, "paid": id%2 == 0,
		"day": "2026-11-0" + strconv.FormatInt(id%9+1, 10), "rows": items}
}

// loadResult is what one load did, as the engine's emitter sees it.
type loadResult struct {
	Kept, Added int
	Dups        []string
}

// load runs one snapshot load of recs the way the engine does: duplicate
// check, Coerce, hash of the JSON, Keep or Add. Keys in reject are offered
// but then dropped, as a record failing Coerce is.
func load(t *testing.T, st *state.Store, res pipeline.Resource, full bool, recs []pipeline.Record, reject ...string) loadResult {
	t.Helper()
	l, err := st.NewLoader(t.Context(), "shop", res, full)
	if err != nil {
		t.Fatal(err)
	}
	var out loadResult
	for _, rec := range recs {
		key := fmt.Sprint(rec[res.Key])
		stored, dup := l.Seen(key)
		if dup {
			out.Dups = append(out.Dups, key)
			continue
		}
		if contains(reject, key) {
			continue
		}
		if err := state.Coerce(res, rec); err != nil {
			l.Abort()
			t.Fatal(err)
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		sum := xxhash.Sum64(raw)
		if l.Keep(stored, sum) {
			out.Kept++
			continue
		}
		out.Added++
		if err := l.Add(state.Row{Key: key, Hash: strconv.FormatUint(sum, 16), Raw: string(raw), Record: rec}); err != nil {
			l.Abort()
			t.Fatal(err)
		}
	}
	n, err := l.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(out.Kept + out.Added); n != want {
		t.Errorf("Commit = %d rows, want %d", n, want)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func query(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotRows renders both tables, typed columns included, for comparison.
func snapshotRows(t *testing.T, st *state.Store) (main, children []string) {
	main = query(t, st.DB, `SELECT concat_ws('|', _key, id, customer, total, paid, CAST(day AS VARCHAR), typeof(day),
		json_extract_string(_raw, '$.customer'), CAST(json_array_length(rows) AS VARCHAR)) FROM shop.orders ORDER BY id`)
	children = query(t, st.DB, `SELECT concat_ws('|', _parent_key, _index, sku, qty) FROM shop.orders_rows ORDER BY _parent_key, _index`)
	return main, children
}

func openStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(t.Context(), filepath.Join(t.TempDir(), "s.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestFullReadKeepsUnchangedRows: a second full read keeps the rows whose
// hash is unchanged and ends with exactly the tables a rebuild from
// scratch gives (changed rows replaced, gone and rejected rows deleted
// with their child rows, new rows added).
func TestFullReadKeepsUnchangedRows(t *testing.T) {
	first := []pipeline.Record{order(1, "Kari", 2), order(2, "Ola", 1), order(3, "Per", 3), order(4, "Liv", 0), order(5, "Siv", 1)}
	second := []pipeline.Record{order(1, "Kari", 2), order(2, "Ola Nordmann", 2), order(4, "Liv", 0), order(5, "Siv", 1), order(6, "Ny", 1)}
	// Connectors hand over loosely typed values; Coerce makes them equal.
	second[0]["id"] = float64(1)
	second[0]["total"] = "1.5"

	st := openStore(t)
	if got := load(t, st, orders, true, first); got.Added != 5 || got.Kept != 0 {
		t.Fatalf("first full read = %+v, want 5 added", got)
	}
	var before string
	if err := st.DB.QueryRowContext(t.Context(), `SELECT CAST(_synced_at AS VARCHAR) FROM shop.orders WHERE _key = '1'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// 5 is offered but rejected (as a record failing Coerce is): its row goes.
	got := load(t, st, orders, true, second, "5")
	if diff := cmp.Diff(loadResult{Kept: 2, Added: 2}, got); diff != "" {
		t.Errorf("second full read (-want +got):\n%s", diff)
	}
	gotMain, gotChildren := snapshotRows(t, st)

	fresh := openStore(t)
	load(t, fresh, orders, true, []pipeline.Record{order(1, "Kari", 2), order(2, "Ola Nordmann", 2), order(4, "Liv", 0), order(6, "Ny", 1)})
	wantMain, wantChildren := snapshotRows(t, fresh)
	if diff := cmp.Diff(wantMain, gotMain); diff != "" {
		t.Errorf("snapshot table (-rebuild +diff load):\n%s", diff)
	}
	if diff := cmp.Diff(wantChildren, gotChildren); diff != "" {
		t.Errorf("child table (-rebuild +diff load):\n%s", diff)
	}
	// _synced_at is when the version a row holds was read: kept rows keep
	// theirs, replaced and new rows have this read's.
	if diff := cmp.Diff([]string{"1", "4"}, query(t, st.DB, `SELECT _key FROM shop.orders WHERE _synced_at <= '`+before+`' ORDER BY _key`)); diff != "" {
		t.Errorf("rows with the first read's _synced_at (-want +got):\n%s", diff)
	}
}

// TestUnchangedReadsWriteNothing runs once as is and once with tables
// too large for incremental reads to load their hashes (they then stage
// what they read and drop the unchanged rows in SQL).
func TestUnchangedReadsWriteNothing(t *testing.T) {
	t.Run("hashes loaded", testUnchangedReadsWriteNothing)
	t.Run("pruned in SQL", func(t *testing.T) {
		defer state.SetMaxIncrementalKeep(0)()
		testUnchangedReadsWriteNothing(t)
	})
}

// testUnchangedReadsWriteNothing: a full read that keeps every row leaves
// the state file as it was: no write reaches the write-ahead log, and no
// stage table is left.
func testUnchangedReadsWriteNothing(t *testing.T) {
	st := openStore(t)
	rows := []pipeline.Record{order(1, "Kari", 2), order(2, "Ola", 1)}
	load(t, st, orders, true, rows)
	before := query(t, st.DB, `SELECT CAST(count(*) AS VARCHAR) || ':' || CAST(max(_synced_at) AS VARCHAR) FROM shop.orders`)
	walSize := func() int64 {
		fi, err := os.Stat(st.Path + ".wal")
		if errors.Is(err, fs.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	wal := walSize()
	if got := load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 2), order(2, "Ola", 1)}); got.Kept != 2 || got.Added != 0 {
		t.Fatalf("no-op full read = %+v, want 2 kept", got)
	}
	if diff := cmp.Diff(before, query(t, st.DB, `SELECT CAST(count(*) AS VARCHAR) || ':' || CAST(max(_synced_at) AS VARCHAR) FROM shop.orders`)); diff != "" {
		t.Errorf("snapshot after a no-op read (-before +after):\n%s", diff)
	}
	if got := walSize(); got != wal {
		t.Errorf("the write-ahead log grew from %d to %d bytes in a no-op read", wal, got)
	}
	// An incremental read that finds nothing new writes nothing either,
	// and one of a resource never read before creates its empty tables.
	load(t, st, orders, false, nil)
	if got := walSize(); got != wal {
		t.Errorf("the write-ahead log grew from %d to %d bytes in an empty incremental read", wal, got)
	}
	// Fiken's date-only cursor gives back today's records on every read:
	// unchanged ones are not rewritten; a changed one is.
	load(t, st, orders, false, []pipeline.Record{order(1, "Kari", 2)})
	if got := walSize(); got != wal {
		t.Errorf("the write-ahead log grew from %d to %d bytes in an incremental read of an unchanged record", wal, got)
	}
	load(t, st, orders, false, []pipeline.Record{order(1, "Kari", 2), order(2, "Ola Nordmann", 3)})
	if diff := cmp.Diff([]string{"Kari|2", "Ola Nordmann|3"}, query(t, st.DB, `SELECT customer || '|' || CAST(json_array_length(rows) AS VARCHAR) FROM shop.orders ORDER BY id`)); diff != "" {
		t.Errorf("after an incremental read with one change (-want +got):\n%s", diff)
	}
	if got := query(t, st.DB, `SELECT CAST(count(*) AS VARCHAR) FROM shop.orders_rows`); got[0] != "5" {
		t.Errorf("%s child rows, want 5", got[0])
	}
	fresh := openStore(t)
	load(t, fresh, orders, false, nil)
	if got := query(t, fresh.DB, `SELECT CAST(count(*) AS VARCHAR) FROM shop.orders, shop.orders_rows`); got[0] != "0" {
		t.Errorf("a first empty incremental read: %s rows, want empty tables", got[0])
	}
	if got := query(t, st.DB, `SELECT CAST(count(*) AS VARCHAR) FROM duckdb_tables() WHERE temporary`); got[0] != "0" {
		t.Errorf("%s temporary tables left after a no-op read", got[0])
	}
}

// TestLoaderDuplicates: Seen reports a key offered twice in one load,
// whether or not it is stored already, and the stored row stays once.
func TestLoaderDuplicates(t *testing.T) {
	st := openStore(t)
	load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 1), order(2, "Ola", 1)})
	got := load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 1), order(1, "Kari", 1), order(3, "Per", 0), order(3, "Other", 0)})
	if diff := cmp.Diff(loadResult{Kept: 1, Added: 1, Dups: []string{"1", "3"}}, got); diff != "" {
		t.Errorf("load (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "3"}, query(t, st.DB, `SELECT _key FROM shop.orders ORDER BY _key`)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// TestFullReadRebuildsOnNewLayout: when the resource gains a field, the
// stored rows cannot be kept; the table is rebuilt with the new column.
func TestFullReadRebuildsOnNewLayout(t *testing.T) {
	st := openStore(t)
	recs := func() []pipeline.Record { return []pipeline.Record{order(1, "Kari", 1), order(2, "Ola", 0)} }
	load(t, st, orders, true, recs())
	wider := orders
	wider.Fields = append(append([]pipeline.Field{}, orders.Fields...), pipeline.Field{Name: "note", Type: pipeline.TypeString})
	if got := load(t, st, wider, true, recs()); got.Kept != 0 || got.Added != 2 {
		t.Errorf("full read with a new field = %+v, want everything added again", got)
	}
	if got := query(t, st.DB, `SELECT column_name FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'orders' AND column_name = 'note'`); len(got) != 1 {
		t.Errorf("orders has no column note after the rebuild")
	}
	// The same layout again: kept.
	if got := load(t, st, wider, true, recs()); got.Kept != 2 || got.Added != 0 {
		t.Errorf("full read with the same layout = %+v, want both kept", got)
	}
}

// TestIncrementalReadReplacesReadRows: an incremental read never keeps
// (it has no stored hashes) and touches only the rows it read.
func TestIncrementalReadReplacesReadRows(t *testing.T) {
	st := openStore(t)
	load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 1), order(2, "Ola", 2)})
	got := load(t, st, orders, false, []pipeline.Record{order(2, "Ola Nordmann", 1), order(3, "Per", 1)})
	if diff := cmp.Diff(loadResult{Added: 2}, got); diff != "" {
		t.Errorf("incremental read (-want +got):\n%s", diff)
	}
	main, children := snapshotRows(t, st)
	want := []string{"1|1|Kari|1.5|false|2026-11-02|DATE|Kari|1", "2|2|Ola Nordmann|2.5|true|2026-11-03|DATE|Ola Nordmann|1",
		"3|3|Per|3.5|false|2026-11-04|DATE|Per|1"}
	if diff := cmp.Diff(want, main); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1|0|S1-0|1", "2|0|S2-0|1", "3|0|S3-0|1"}, children); diff != "" {
		t.Errorf("child rows (-want +got):\n%s", diff)
	}
}

// TestLoaderAbortLeavesTableAlone: an aborted full read changes nothing.
func TestLoaderAbortLeavesTableAlone(t *testing.T) {
	st := openStore(t)
	load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 1)})
	before, _ := snapshotRows(t, st)
	l, err := st.NewLoader(context.Background(), "shop", orders, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Seen("2")
	rec := order(2, "Ola", 0)
	if err := l.Add(state.Row{Key: "2", Hash: "1", Raw: "{}", Record: rec}); err != nil {
		t.Fatal(err)
	}
	l.Abort()
	after, _ := snapshotRows(t, st)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("aborted load changed the table (-before +after):\n%s", diff)
	}
	// The stage is gone: a new load works.
	load(t, st, orders, true, []pipeline.Record{order(1, "Kari", 1)})
}

// TestFullReadInAnyOrder: a source may give its records in another order
// than they were stored; unchanged ones are still all kept, and a key
// given twice is still a duplicate.
func TestFullReadInAnyOrder(t *testing.T) {
	var recs []pipeline.Record
	for i := range 50 {
		recs = append(recs, order(int64(i), "C"+strconv.Itoa(i), i%3))
	}
	st := openStore(t)
	load(t, st, orders, true, recs)
	var again []pipeline.Record
	for i := range 50 {
		// 0, 49, 1, 48, ... then 7 once more.
		j := i / 2
		if i%2 == 1 {
			j = 49 - i/2
		}
		again = append(again, order(int64(j), "C"+strconv.Itoa(j), j%3))
	}
	again = append(again, order(7, "C7", 1))
	if diff := cmp.Diff(loadResult{Kept: 50, Dups: []string{"7"}}, load(t, st, orders, true, again)); diff != "" {
		t.Errorf("reordered full read (-want +got):\n%s", diff)
	}
	if got := query(t, st.DB, `SELECT CAST(count(*) AS VARCHAR) FROM shop.orders_rows`); got[0] != "49" {
		t.Errorf("%s child rows, want 49", got[0])
	}
}
