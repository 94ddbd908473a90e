package state

import (
	"strconv"
	"testing"
)

// FuzzParseHash: parseHash accepts exactly what strconv.FormatUint(v, 16)
// writes, and gives v back, so a kept row's _hash is the string the
// engine would have written for it.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{"0", "1", "130a05a0d3781db2", "ffffffffffffffff", "10000000000000000", "0a", "A", "", "-1", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseHash([]byte(s))
		if ok && strconv.FormatUint(v, 16) != s {
			t.Fatalf("parseHash(%q) = %x, which formats as %q", s, v, strconv.FormatUint(v, 16))
		}
		if want, err := strconv.ParseUint(s, 16, 64); err == nil && strconv.FormatUint(want, 16) == s && (!ok || v != want) {
			t.Fatalf("parseHash(%q) = %x, %v; want %x", s, v, ok, want)
		}
	})
}
