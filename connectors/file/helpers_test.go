package file

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// collector is an Emitter that keeps everything it is given.
type collector struct {
	mu      sync.Mutex
	records []pipeline.Record
	rejects []reject
}

type reject struct {
	Key    string `json:"key"`
	Raw    string `json:"raw"`
	Reason string `json:"reason"`
}

func (c *collector) Emit(rec pipeline.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rec)
	return nil
}

func (c *collector) Reject(key string, raw []byte, reason error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejects = append(c.rejects, reject{Key: key, Raw: string(raw), Reason: reason.Error()})
	return nil
}

// dump renders what was read, with Go types spelled out so the golden file
// shows int64 vs float64 vs string, which JSON alone would blur.
func (c *collector) dump(t *testing.T) []byte {
	t.Helper()
	type typed struct {
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	var recs []map[string]typed
	for _, r := range c.records {
		m := map[string]typed{}
		for k, v := range r {
			m[k] = typed{Type: typeName(v), Value: v}
		}
		recs = append(recs, m)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"records": recs, "rejects": c.rejects}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case int64:
		return "int64"
	case float64:
		return "float64"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "UNEXPECTED"
}

// open opens a connection on dir with the given resources.
func open(t *testing.T, dir string, lim *pipeline.Limiter, res map[string]ResourceConfig) *Conn {
	t.Helper()
	c, err := Open(t.Context(), pipeline.Env{Connection: "test", BaseDir: dir, Limiter: lim}, &Config{Resources: res})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readAll(t *testing.T, c *Conn, resource string) *collector {
	t.Helper()
	var col collector
	if err := c.Read(t.Context(), resource, pipeline.ReadQuery{}, &col); err != nil {
		t.Fatalf("read %s: %v", resource, err)
	}
	return &col
}

// decodeString writes data to a file named as resource s's and decodes it
// through a fresh DuckDB, as a read would.
func decodeString(t testing.TB, ctx context.Context, s *spec, data []byte) (recs []pipeline.Record, rows []row, err error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), filepath.Base(s.path))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = decode(ctx, db, path, s, func(rw row) error {
		// rw.vals is reused for the next row: keep the record.
		rw.rec, rw.vals = rw.record(s), nil
		rows = append(rows, rw)
		if rw.err == nil {
			recs = append(recs, rw.rec)
		}
		return nil
	})
	return recs, rows, err
}

func fields(pairs ...string) Fields {
	var f Fields
	for i := 0; i+1 < len(pairs); i += 2 {
		f = append(f, FieldDecl{Name: pairs[i], Type: pairs[i+1]})
	}
	return f
}

func mustSpec(t testing.TB, name string, rc ResourceConfig) *spec {
	t.Helper()
	s, err := rc.spec(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
