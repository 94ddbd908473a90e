package engine

import (
	"encoding/json"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/synk-etl/synk/pipeline"
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
