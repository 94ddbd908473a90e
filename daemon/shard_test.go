package daemon

import "testing"

func TestShardOfIsStable(t *testing.T) {
	// FNV-1a 32 of the name, mod N, on known hash values: a change of hash
	// would move every shop's state file between pods.
	for _, tc := range []struct {
		name string
		n    int
		want int
	}{{"", 5, int(2166136261 % 5)}, {"a", 7, int(0xe40c292c % 7)}, {"a", 1, 0}} {
		if got := ShardOf(tc.name, tc.n); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.name, tc.n, got, tc.want)
		}
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("--shard %s accepted", bad)
		}
	}
	s, err := ParseShard("5/7")
	if err != nil || !s.Owns("a") || s.Owns("") || s.String() != "5/7" {
		t.Errorf("ParseShard(5/7) = %+v, %v: should own a (shard %d) and not \"\" (shard %d)", s, err, ShardOf("a", 7), ShardOf("", 7))
	}
	if s, err := ParseShard(""); err != nil || !s.Owns("anything") || s.String() != "" {
		t.Errorf("ParseShard(\"\") = %+v, %v: want the shard that serves all", s, err)
	}
}
