package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synk-etl/synk/daemon"
)

func writeShardPipelines(t *testing.T, dir string, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("shop-%02d", i)
		names = append(names, name)
		src := fmt.Sprintf(`version: 1
name: %s
schedule: "@every 1h"
state: %s.duckdb
connections:
  a:
    type: file
    resources: {people: {path: a-%s.csv, key: id, fields: {id: int, name: string}}}
  b:
    type: file
    resources: {people: {path: b-%s.csv, key: id, fields: {id: int, name: string}}}
entities:
  people:
    key: {a: id, b: id}
    flows:
      - {from: a.people, to: b.people, create: true, map: {id: id, name: name}}
`, name, name, name, name)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// TestServeShardsServeEachPipelineOnce starts three `serve --shard I/3`
// over one directory: every pipeline is served by exactly one of them, the
// one `synk shards` names.
func TestServeShardsServeEachPipelineOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := writeShardPipelines(t, dir, 12)
	served := map[string]string{}
	for i := range 3 {
		p := startServe(t, dir, nil, "--shard", fmt.Sprintf("%d/3", i), ".")
		st := p.status()
		if st.Shard != fmt.Sprintf("%d/3", i) {
			t.Errorf("shard %d: /status says shard %q", i, st.Shard)
		}
		for _, ps := range st.Pipelines {
			if other, dup := served[ps.Name]; dup {
				t.Errorf("%s served by shard %s and shard %d", ps.Name, other, i)
			}
			served[ps.Name] = fmt.Sprint(i)
		}
	}
	r := run(t, dir, "shards", "3", ".")
	if r.code != 0 {
		t.Fatalf("synk shards: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range names {
		shard, ok := served[name]
		if !ok {
			t.Errorf("%s is served by no shard", name)
			continue
		}
		if !strings.Contains(r.stdout, name+"  "+shard+"/3") && !containsFields(r.stdout, name, shard+"/3") {
			t.Errorf("synk shards does not put %s on shard %s/3:\n%s", name, shard, r.stdout)
		}
	}
	perShard := map[string]int{}
	for _, s := range served {
		perShard[s]++
	}
	if len(perShard) != 3 {
		t.Errorf("12 pipelines spread over %d of 3 shards: %v", len(perShard), perShard)
	}

	// Going from 3 to 4 shards: the pipelines listed are exactly those
	// whose shard changes, with their state files.
	r = run(t, dir, "shards", "4", "--from", "3", ".")
	for _, name := range names {
		moves := daemon.ShardOf(name, 3) != daemon.ShardOf(name, 4)
		if got := strings.Contains(r.stdout, name); got != moves {
			t.Errorf("%s listed as moving = %v, want %v:\n%s", name, got, moves, r.stdout)
		}
		if moves && !strings.Contains(r.stdout, filepath.Join(dir, name+".duckdb")) {
			t.Errorf("%s moves but its state file is not named:\n%s", name, r.stdout)
		}
	}
}

func containsFields(out, name, shard string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name && f[1] == shard {
			return true
		}
	}
	return false
}
