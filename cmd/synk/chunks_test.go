package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synk-etl/synk/pipeline/engine"
)

const chunkedPipeline = `version: 1
name: chunked
state: synk.duckdb
connections:
  src:
    type: file
    dir: in
    resources:
      items: {path: items.jsonl, key: id, fields: {id: int, name: string}}
  dst:
    type: file
    dir: out
    resources:
      items: {path: items.jsonl, key: id, fields: {id: int, name: string}}
entities:
  items:
    key: {src: id, dst: id}
    flows:
      - from: src.items
        to: dst.items
        create: true
        map: {id: id, name: upper(name)}
`

// TestChunkedFirstSyncCLI: a first sync of one record more than a chunk,
// with the real binary: `plan` prints every create, `--format json` and
// `--out` write every one, and `apply --plan` of the saved plan makes
// them all, once.
func TestChunkedFirstSyncCLI(t *testing.T) {
	n := engine.DefaultChunkSize + 1
	dir := t.TempDir()
	for _, d := range []string{"in", "out"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(chunkedPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "{\"id\":%d,\"name\":\"item %d\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in", "items.jsonl"), []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, dir, "plan", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s", r.code, r.stderr)
	}
	if got := strings.Count(r.stdout, "\n+ items src.items→dst.items "); got != n {
		t.Errorf("plan printed %d creates, want %d", got, n)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("+%d create", n)) || !strings.Contains(r.stdout, `name = "ITEM 50001"`) {
		t.Errorf("plan's summary or last create missing:\n%.300s", r.stdout)
	}

	r = run(t, dir, "plan", "pipeline.yaml", "--format", "json", "--out", "saved.json")
	if r.code != 0 {
		t.Fatalf("plan --format json --out: exit %d\n%s", r.code, r.stderr)
	}
	var report struct {
		Changes []struct {
			Seq    int
			After  map[string]any
			Action string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("plan --format json: %v", err)
	}
	if len(report.Changes) != n || report.Changes[n-1].Seq != n || report.Changes[0].Action != "create" {
		t.Fatalf("plan --format json: %d changes, want %d numbered 1…%d", len(report.Changes), n, n)
	}

	r = run(t, dir, "apply", "pipeline.yaml", "--plan", "saved.json")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("applied %d, failed 0, rejected 0", n)) {
		t.Fatalf("apply --plan: exit %d\n%s\n%.2000s", r.code, r.stdout, r.stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out", "items.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			ID   json.Number
			Name string
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		if rec.Name != "ITEM "+rec.ID.String() {
			t.Fatalf("output record %s named %q", rec.ID, rec.Name)
		}
		seen[rec.ID.String()]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct records written, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("record %s written %d times", id, c)
		}
	}
	if r := run(t, dir, "plan", "pipeline.yaml"); r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Errorf("plan after apply: exit %d\n%.500s", r.code, r.stdout)
	}
}
