package file

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestKeyLines: repeats are found with their first line, by xxhash and
// when every key's hash collides.
func TestKeyLines(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprint("collide=", collide), func(t *testing.T) {
			if collide {
				keyHash = func(string) uint64 { return 7 }
				t.Cleanup(func() { keyHash = xxhash.Sum64String })
			}
			var k keyLines
			for i, key := range []string{"a", "b", "", "ab"} {
				if _, dup := k.add(key, i+1); dup {
					t.Fatalf("%q: a repeat on first sight", key)
				}
			}
			for _, c := range []struct {
				key   string
				first int
			}{{"b", 2}, {"a", 1}, {"ab", 4}, {"", 3}, {"b", 2}} {
				first, dup := k.add(c.key, 99)
				if !dup || first != c.first {
					t.Errorf("%q: dup %v first %d, want true %d", c.key, dup, first, c.first)
				}
			}
		})
	}
}
