package daemon

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is `serve --shard I/N`: this process serves the pipelines whose
// name hashes to I. The zero value serves every pipeline.
type Shard struct{ index, count int }

// ParseShard reads "I/N" with 0 ≤ I < N; "" is the zero Shard.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 ≤ I < N, e.g. 0/3 (a StatefulSet pod's ordinal and the replica count)", s)
	}
	return Shard{index: i, count: n}, nil
}

// ShardOf is the shard of a pipeline name among n: FNV-1a (32 bits) of
// the name, modulo n. Stable across versions and machines: documented in
// the README, and what `synk shards` prints.
func ShardOf(name string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

// Owns says whether this process serves the pipeline called name.
func (s Shard) Owns(name string) bool { return s.count <= 1 || ShardOf(name, s.count) == s.index }

// of names the shard that serves name, for logs.
func (s Shard) of(name string) string {
	return fmt.Sprintf("%d/%d", ShardOf(name, s.count), s.count)
}

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}
