package engine

import (
	"math"
	"testing"

	"github.com/synk-etl/synk/pipeline"
)

// valuesResource has a field of every type, declared out of name order.
var valuesResource = pipeline.Resource{Name: "r", Key: "id", Fields: []pipeline.Field{
	{Name: "id", Type: pipeline.TypeInt}, {Name: "Zeta", Type: pipeline.TypeString}, {Name: "b", Type: pipeline.TypeBool},
	{Name: "f", Type: pipeline.TypeFloat}, {Name: "a", Type: pipeline.TypeAny}, {Name: "l", Type: pipeline.TypeList},
	{Name: "o", Type: pipeline.TypeObject}, {Name: "d", Type: pipeline.TypeDate}, {Name: "t", Type: pipeline.TypeTime},
	{Name: "é<&>", Type: pipeline.TypeString}, {Name: "_x", Type: pipeline.TypeString},
}}

// TestValuesEncoderIsCanonical: a record handed over as values hashes
// exactly as its map does, so snapshots, bases and createdHashes agree.
func TestValuesEncoderIsCanonical(t *testing.T) {
	recs := [][]any{
		{int64(1), "x", true, 1.5, nil, []any{}, map[string]any{}, "2024-01-01", "2024-01-01T00:00:00Z", "", ""},
		{int64(-9), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(math.MaxInt64), "<\"\\\u2028æ\x01>", false, 1e21, map[string]any{"k": []any{int64(1), 2.5, "s"}}, []any{nil, true},
			map[string]any{"b": 1.0, "a": nil}, "", "", "tab\t", "ok"},
		{int64(0), "", false, 1e-7, int64(3), []any{map[string]any{"x": 1e300}}, map[string]any{"": ""}, "d", "t", "\xff", "z"},
		{int64(2), "s", true, -0.0, "any", []any{"a"}, map[string]any{"n": int64(-1)}, "2024-02-29", "x", "y", "w"},
		{int64(3), "s", true, 123456.789, 4.25, []any{}, map[string]any{}, "", "", "", ""},
	}
	enc := newValuesEncoder(valuesResource)
	if enc == nil {
		t.Fatal("no encoder")
	}
	for _, vals := range recs {
		rec := pipeline.Record{}
		for i, f := range valuesResource.Fields {
			rec[f.Name] = vals[i]
		}
		var ce canonicalEncoder
		want, wantSum, werr := ce.canonical(nil, rec)
		got, gotSum, gerr := enc.canonical(nil, vals)
		if (werr != nil) != (gerr != nil) || string(got) != string(want) || gotSum != wantSum {
			t.Errorf("values %v:\n got %s %x %v\nwant %s %x %v", vals, got, gotSum, gerr, want, wantSum, werr)
		}
	}
	bad := []any{int64(1), "x", true, math.Inf(1), nil, nil, nil, nil, nil, nil, nil}
	if _, _, err := enc.canonical(nil, bad); err == nil || err.Error() != "field f: +Inf is not a JSON number" {
		t.Errorf("an infinite float: %v", err)
	}
	if newValuesEncoder(pipeline.Resource{Key: "id", Fields: []pipeline.Field{{Name: "id"}, {Name: "id"}}}) != nil {
		t.Error("an encoder for two fields of one name")
	}
}

// FuzzValuesEncoder holds the values encoder to the canonical encoder on
// strings and numbers of any kind.
func FuzzValuesEncoder(f *testing.F) {
	f.Add("x", int64(1), 1.5, true, "y")
	f.Add("<\u2028>", int64(-1), 1e-9, false, "\xff\xfe")
	f.Add("", int64(math.MinInt64), 1e22, true, `"\`)
	f.Fuzz(func(t *testing.T, s string, i int64, x float64, b bool, s2 string) {
		res := pipeline.Resource{Key: s2, Fields: []pipeline.Field{{Name: s2}, {Name: "n"}, {Name: "x"}, {Name: "b"}, {Name: s + "!"}}}
		enc := newValuesEncoder(res)
		if enc == nil {
			return // two fields of one name
		}
		vals := []any{s, i, x, b, []any{s2, x, map[string]any{s: i}}}
		rec := pipeline.Record{}
		for j, f := range res.Fields {
			rec[f.Name] = vals[j]
		}
		var ce canonicalEncoder
		want, wantSum, werr := ce.canonical(nil, rec)
		got, gotSum, gerr := enc.canonical(nil, vals)
		if (werr != nil) != (gerr != nil) || string(got) != string(want) || gotSum != wantSum {
			t.Fatalf("got %s %v, want %s %v", got, gerr, want, werr)
		}
	})
}
