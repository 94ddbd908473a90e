package engine

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// FuzzCanonical: the fast encoder agrees with encoding/json byte for byte,
// also when one encoder (which remembers the last record's field names)
// meets records with other fields of the same count.
func FuzzCanonical(f *testing.F) {
	f.Add("name", "Kari \"K\" <Nordmann> æøå\u2028", int64(42), 12.5, true)
	f.Add("", "", int64(-1), 1e21, false)
	f.Fuzz(func(t *testing.T, k, s string, i int64, x float64, b bool) {
		rec := map[string]any{k + "s": s, k + "i": i, k + "x": x, k + "b": b, k + "n": nil, k + "l": []any{s, i}}
		want, werr := json.Marshal(rec)
		got, gerr := appendCanonical(nil, rec)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors differ: %v vs %v", werr, gerr)
		}
		if werr == nil && string(want) != string(got) {
			t.Fatalf("canonical JSON differs:\n%s\n%s", want, got)
		}
		other := map[string]any{k + "s": s, k + "i": i, k + "x": x, k + "b": b, k + "n": nil, s + "z": b}
		var e canonicalEncoder
		for _, r := range []map[string]any{rec, other, rec, rec} {
			want, werr := json.Marshal(r)
			got, sum, gerr := e.canonical(nil, r)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("errors differ: %v vs %v", werr, gerr)
			}
			if werr == nil && (string(want) != string(got) || sum != xxhash.Sum64(want)) {
				t.Fatalf("canonical JSON differs after %v:\n%s\n%s", e.keys, want, got)
			}
		}
	})
}

// TestRecordHashIsStable pins the hash of a record: it is stored in every
// state file (_hash, synk.base), so a change here makes every existing
// record look changed. Change it only together with a state migration.
func TestRecordHashIsStable(t *testing.T) {
	rec := pipeline.Record{"id": "P7", "name": "Produkt 7", "price": 7.5, "qty": int64(7), "active": true,
		"updated": "2026-11-01T10:00:00Z", "tags": []any{"a", int64(1)}, "none": nil}
	var e canonicalEncoder
	raw, sum, err := e.canonical(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	const wantRaw = `{"active":true,"id":"P7","name":"Produkt 7","none":null,"price":7.5,"qty":7,"tags":["a",1],"updated":"2026-11-01T10:00:00Z"}`
	if string(raw) != wantRaw {
		t.Errorf("canonical JSON:\n got %s\nwant %s", raw, wantRaw)
	}
	// xxhash64 of wantRaw, as synk has stored it since the first state file.
	if got := hashString(sum); got != "130a05a0d3781db2" {
		t.Errorf("hash = %s, want 130a05a0d3781db2", got)
	}
}

// TestSnapshotFingerprint: the fingerprint a saved plan carries changes
// with a side's rows and with every write of a base row (apply stamps
// updated_at even when the values are the same), and only then.
func TestSnapshotFingerprint(t *testing.T) {
	ctx := t.Context()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "s.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	side := func(conn string) spec.Side {
		return spec.Side{Conn: &spec.Connection{Name: conn}, Resource: pipeline.Resource{Name: "items", Key: "id"}}
	}
	r := &Runner{p: &spec.Pipeline{Entities: []*spec.Entity{{Name: "items", Left: side("a"), Right: side("b")}}}, store: st}
	for _, q := range []string{
		`CREATE SCHEMA a; CREATE SCHEMA b`,
		`CREATE TABLE a.items AS SELECT * FROM (VALUES ('1', 'h1'), ('2', 'h2')) t(_key, _hash)`,
		`CREATE TABLE b.items AS SELECT * FROM (VALUES ('x1', 'g1')) t(_key, _hash)`,
		`INSERT INTO synk.base VALUES ('items', '1', 'x1', 'h1', 'g1', '{"n":1}', '{"n":1}', 'f', now())`,
	} {
		if _, err := st.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	fp := func() string {
		t.Helper()
		s, err := r.snapshotFingerprint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	seen := map[string]string{}
	check := func(what, change string) {
		t.Helper()
		if change != "" {
			if _, err := st.DB.ExecContext(ctx, change); err != nil {
				t.Fatal(err)
			}
		}
		got := fp()
		if got != fp() {
			t.Fatalf("%s: fingerprint not deterministic", what)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: fingerprint %s is the same as after %s", what, got, prev)
		}
		seen[got] = what
	}
	check("start", "")
	check("a row's hash changed", `UPDATE a.items SET _hash = 'h2b' WHERE _key = '2'`)
	check("a row added on b", `INSERT INTO b.items VALUES ('x2', 'g2')`)
	check("base rewritten with the same values", `INSERT OR REPLACE INTO synk.base VALUES ('items', '1', 'x1', 'h1', 'g1', '{"n":1}', '{"n":1}', 'f', now())`)
	check("base entity fingerprint changed", `UPDATE synk.base SET fingerprint = 'g'`)
	check("base row deleted", `DELETE FROM synk.base`)
	// Reading the same rows again (a no-op snapshot) leaves it alone.
	before := fp()
	if _, err := st.DB.ExecContext(ctx, `CREATE OR REPLACE TABLE a.items AS SELECT * FROM a.items ORDER BY _key DESC`); err != nil {
		t.Fatal(err)
	}
	if got := fp(); got != before {
		t.Errorf("fingerprint changed from %s to %s with the same rows in another order", before, got)
	}
}

// TestAppendJSONStringEveryByte: each single byte, alone and between
// others, is quoted as encoding/json quotes it.
func TestAppendJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string(rune(c)), string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "b"} {
			want, _ := json.Marshal(s)
			if got := appendJSONString(nil, s); string(got) != string(want) {
				t.Errorf("byte %#x: %s, want %s", c, got, want)
			}
		}
	}
}
