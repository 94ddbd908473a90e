package engine

import (
	"encoding/json"
	"testing"
)

// FuzzCanonical: the fast encoder agrees with encoding/json byte for byte.
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
	})
}
