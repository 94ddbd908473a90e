package state

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestKeySet: a key is new once, by xxhash and when every key's hash
// collides.
func TestKeySet(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprint("collide=", collide), func(t *testing.T) {
			if collide {
				keyHash = func(string) uint64 { return 7 }
				t.Cleanup(func() { keyHash = xxhash.Sum64String })
			}
			var k keySet
			keys := []string{"a", "b", "", "ab", "ba"}
			for _, key := range keys {
				if k.add(key) {
					t.Fatalf("%q: seen on first sight", key)
				}
			}
			for _, key := range append(keys, "a") {
				if !k.add(key) {
					t.Errorf("%q: not seen the second time", key)
				}
			}
		})
	}
}
