package main

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// shard is `serve --shard I/N`: this process serves the pipelines whose
// name hashes to I. The zero value serves every pipeline.
type shard struct{ index, count int }

// parseShard reads "I/N" with 0 ≤ I < N.
func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return shard{}, fmt.Errorf("--shard %q: want I/N with 0 ≤ I < N, e.g. 0/3 (a StatefulSet pod's ordinal and the replica count)", s)
	}
	return shard{index: i, count: n}, nil
}

// shardOf is the shard of a pipeline name among n: FNV-1a (32 bits) of
// the name, modulo n. Stable across versions and machines: documented in
// the README, and what `synk shards` prints.
func shardOf(name string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

func (s shard) owns(name string) bool { return s.count <= 1 || shardOf(name, s.count) == s.index }

// of names the shard that serves name, for logs.
func (s shard) of(name string) string {
	return fmt.Sprintf("%d/%d", shardOf(name, s.count), s.count)
}

func (s shard) String() string {
	if s.count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}

// pipelineName reads a pipeline file's name without its secrets.
func pipelineName(path string, src []byte, reg *pipeline.Registry) (string, error) {
	p, err := spec.Parse(path, src, reg, spec.Options{Offline: true})
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// loadOffline loads a pipeline for its name and state file only.
func loadOffline(path string, src []byte, g *globals) (*spec.Pipeline, error) {
	return spec.Parse(path, src, g.reg, spec.Options{Offline: true})
}
