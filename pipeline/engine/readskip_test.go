package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/pipeline"
)

// countedConn is a file connection that counts its reads and can rewrite
// the versions it gives, to watch the engine skip (or not) a read.
type countedConn struct {
	*file.Conn
	name string
	t    *readTally
}

// readTally counts full reads per connection, and versions asked.
type readTally struct {
	mu    sync.Mutex
	reads map[string]int
	// version, when set, replaces the connector's version.
	version func(conn, v string) string
	// mapsOnly hides the engine's pipeline.ValuesEmitter from the
	// connector, which then hands over every record as a map.
	mapsOnly bool
}

// mapEmitter is an Emitter and nothing more.
type mapEmitter struct{ out pipeline.Emitter }

func (m mapEmitter) Emit(rec pipeline.Record) error { return m.out.Emit(rec) }

func (m mapEmitter) Reject(key string, raw []byte, reason error) error {
	return m.out.Reject(key, raw, reason)
}

func (c *countedConn) Read(ctx context.Context, resource string, q pipeline.ReadQuery, out pipeline.Emitter) error {
	c.t.mu.Lock()
	c.t.reads[c.name]++
	if c.t.mapsOnly {
		out = mapEmitter{out}
	}
	c.t.mu.Unlock()
	return c.Conn.Read(ctx, resource, q, out)
}

func (c *countedConn) ReadVersion(ctx context.Context, resource string) (string, error) {
	v, err := c.Conn.ReadVersion(ctx, resource)
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.t.version != nil {
		v = c.t.version(c.name, v)
	}
	return v, err
}

func (t *readTally) count(conn string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reads[conn]
}

// countedFiles registers type "counted": the file connector, counted.
func countedFiles(h *harness) *readTally {
	tally := &readTally{reads: map[string]int{}}
	reg := pipeline.NewRegistry()
	file.Register(reg)
	ft, _ := reg.Lookup(file.TypeName)
	ct := ft
	ct.Name = "counted"
	ct.Open = func(ctx context.Context, env pipeline.Env, config any) (pipeline.Connector, error) {
		c, err := ft.Open(ctx, env, config)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c.(*file.Conn), name: env.Connection, t: tally}, nil
	}
	h.reg.Register(ct)
	return tally
}

const skipPipeline = `version: 1
name: skip
connections:
  a:
    type: counted
    dir: a
    resources:
      items: {path: items.jsonl, key: id, fields: {id: int, name: string, price: float, tags: list, at: time}}
  b:
    type: counted
    dir: b
    resources:
      items: {path: items.jsonl, key: id, fields: {id: int, name: string, price: float, tags: list, at: time}}
entities:
  items:
    flows:
      - from: a.items
        to: b.items
        create: true
        map: {id: id, name: name, price: price, tags: tags, at: at}
`

// skipInput has good lines and every kind of bad one: a value that does
// not convert, a duplicate key, a line that is not JSON, a missing key.
const skipInput = `{"id": 1, "name": "kaffe", "price": 12.5, "tags": ["a", 1], "at": "2024-05-01T12:00:00.500+02:00"}
{"id": 2, "name": "te", "price": "dyr", "tags": [], "at": "2024-05-01T12:00:00Z"}
{"id": 3, "name": "melk <&>", "price": 1e3, "tags": null, "at": null}

{"id": 1, "name": "again", "price": 1, "tags": [], "at": null}
{"id": 4, "name": "brød", "price": 7
{"name": "no key", "price": 3}
{"id": 5, "name": "\u00e6\u00f8\u00e5", "price": 0.1, "tags": [{"x": 1.50}], "at": "2024-05-01T12:00:00Z"}
`

// snapshotRows are a snapshot table's rows as strings, _synced_at left
// out (when a row was read is not what it holds).
func snapshotRows(h *harness, table string) [][]string {
	h.t.Helper()
	return h.rows(`SELECT _key, _hash, CAST(_raw AS VARCHAR), CAST(id AS VARCHAR), name, CAST(price AS VARCHAR),
		CAST(tags AS VARCHAR), CAST("at" AS VARCHAR) FROM ` + table + ` ORDER BY _key`)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freshRead reads path as a.items into a new state file, the slow path
// every skipped read must equal, and returns its snapshot and rejects.
func freshRead(t *testing.T, content string) ([][]string, []pipeline.Reject) {
	t.Helper()
	h := newHarness(t)
	countedFiles(h)
	writeFile(t, filepath.Join(h.dir, "a", "items.jsonl"), content)
	p := h.load(skipPipeline)
	pl := h.plan(p)
	return snapshotRows(h, "a.items"), pl.Rejects
}

func TestUnchangedFileIsNotReadAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tally := countedFiles(h)
	in := filepath.Join(h.dir, "a", "items.jsonl")
	writeFile(t, in, skipInput)
	p := h.load(skipPipeline)

	res := h.apply(p)
	if res.Applied != 3 {
		t.Fatalf("first apply applied %d, want 3 creates (ids 1, 3, 5)", res.Applied)
	}
	wantRows, wantRejects := freshRead(t, skipInput)
	if len(wantRejects) != 4 {
		t.Fatalf("a fresh read rejects %d lines, want 4:%s", len(wantRejects), describeRejects(wantRejects))
	}
	reads := tally.count("a")

	// The next run finds a.items unchanged: no read, and the snapshot and
	// rejects are what reading the file gives. b's file was written by the
	// apply, so b is read.
	bReads := tally.count("b")
	pl := h.plan(p)
	if got := tally.count("a"); got != reads {
		t.Errorf("the unchanged file was read again (%d reads, want %d)", got, reads)
	}
	if got := tally.count("b"); got != bReads+1 {
		t.Errorf("the file the apply wrote was read %d times, want 1", got-bReads)
	}
	if len(pl.Changes) != 0 {
		t.Errorf("plan after apply has changes:%s", describeChanges(pl.Changes))
	}
	if diff := cmp.Diff(wantRejects, pl.Rejects); diff != "" {
		t.Errorf("a skipped read's rejects differ from a read's (-read +skipped):\n%s", diff)
	}
	if diff := cmp.Diff(wantRows, snapshotRows(h, "a.items")); diff != "" {
		t.Errorf("the snapshot of a skipped read differs from a read's (-read +skipped):\n%s", diff)
	}
	// Now b is unchanged too.
	bReads = tally.count("b")
	h.plan(p)
	if tally.count("b") != bReads || tally.count("a") != reads {
		t.Errorf("a plan over two unchanged files read them")
	}
}

func TestChangedFileIsAlwaysRead(t *testing.T) {
	t.Parallel()
	type step struct {
		name string
		// change edits the file or the state; wantRead says the next plan
		// must read a.items.
		change   func(t *testing.T, h *harness, path string)
		wantRead bool
	}
	steps := []step{
		{"nothing changed", func(*testing.T, *harness, string) {}, false},
		{"one byte, same size and mtime", func(t *testing.T, h *harness, path string) {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			writeFile(t, path, strings.Replace(string(b), `"price": 12.5`, `"price": 12.6`, 1))
			if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"nothing changed again", func(*testing.T, *harness, string) {}, false},
		{"a bad line fixed", func(t *testing.T, h *harness, path string) {
			b, _ := os.ReadFile(path)
			writeFile(t, path, strings.Replace(string(b), `"price": "dyr"`, `"price": 9`, 1))
		}, true},
		{"the file deleted", func(t *testing.T, h *harness, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"the file back", func(t *testing.T, h *harness, path string) { writeFile(t, path, skipInput) }, true},
		{"a snapshot row deleted by hand", func(t *testing.T, h *harness, path string) {
			if _, err := h.state().DB.ExecContext(t.Context(), `DELETE FROM a.items WHERE _key = '3'`); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a snapshot hash edited by hand", func(t *testing.T, h *harness, path string) {
			if _, err := h.state().DB.ExecContext(t.Context(), `UPDATE a.items SET _hash = 'f' WHERE _key = '1'`); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"only touched", func(t *testing.T, h *harness, path string) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"nothing changed at last", func(*testing.T, *harness, string) {}, false},
	}
	h := newHarness(t)
	tally := countedFiles(h)
	in := filepath.Join(h.dir, "a", "items.jsonl")
	writeFile(t, in, skipInput)
	p := h.load(skipPipeline)
	h.plan(p)
	for _, s := range steps {
		s.change(t, h, in)
		before := tally.count("a")
		pl := h.plan(p)
		if read := tally.count("a") > before; read != s.wantRead {
			t.Fatalf("%s: read %v, want %v", s.name, read, s.wantRead)
		}
		content, err := os.ReadFile(in)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		wantRows, wantRejects := freshRead(t, string(content))
		if diff := cmp.Diff(wantRejects, pl.Rejects); diff != "" {
			t.Errorf("%s: rejects differ from a fresh read's (-fresh +got):\n%s", s.name, diff)
		}
		if diff := cmp.Diff(wantRows, snapshotRows(h, "a.items")); diff != "" {
			t.Errorf("%s: snapshot differs from a fresh read's (-fresh +got):\n%s", s.name, diff)
		}
	}
}

// TestReadVersionMustHoldAcrossTheRead: a source whose version moved while
// it was read (a file written during the read) is read again next time,
// even if it then gives the version from before that read.
func TestReadVersionMustHoldAcrossTheRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tally := countedFiles(h)
	writeFile(t, filepath.Join(h.dir, "a", "items.jsonl"), skipInput)
	p := h.load(skipPipeline)
	calls := 0
	tally.version = func(conn, v string) string {
		if conn != "a" {
			return v
		}
		calls++
		if calls%2 == 0 {
			return v + fmt.Sprint(calls) // the version after the read differs
		}
		return v
	}
	for range 3 {
		before := tally.count("a")
		h.plan(p)
		if tally.count("a") != before+1 {
			t.Fatalf("a read whose version moved meanwhile was skipped by the next run")
		}
	}
	// An unknown version is never skipped either.
	tally.version = func(string, string) string { return "" }
	for range 2 {
		before := tally.count("a")
		h.plan(p)
		if tally.count("a") != before+1 {
			t.Fatalf("a read with no version was skipped")
		}
	}
}

// TestValuesReadIsTheMapsRead: a file read handing records over as values
// (pipeline.ValuesEmitter) stores the very snapshot rows and rejects a
// read of maps does, on a first read and on a read over stored rows, in
// JSONL and CSV, bad rows included.
func TestValuesReadIsTheMapsRead(t *testing.T) {
	t.Parallel()
	csvInput := "id,name,price,tags,at\n" +
		"1,kaffe,12.5,\"[\"\"a\"\",1]\",2024-05-01T12:00:00.500+02:00\n" +
		"2,te,dyr,[],2024-05-01T12:00:00Z\n" +
		"3,melk <&>,1e3,,\n" +
		"1,again,1,[],\n" +
		",no key,3,,\n" +
		"5,æøå,0.1,\"[{\"\"x\"\": 1.50}]\",2024-05-01T12:00:00Z\n" +
		"6, 42 ,-0,[1e400],\n"
	edits := map[string][2]string{
		"items.jsonl": {`"price": 0.1`, `"price": 0.2`},
		"items.csv":   {",0.1,", ",0.2,"},
	}
	for name, content := range map[string]string{"items.jsonl": skipInput, "items.csv": csvInput} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := strings.ReplaceAll(skipPipeline, "items.jsonl", name)
			type result struct {
				rows    [][]string
				rejects []pipeline.Reject
			}
			read := func(mapsOnly bool) []result {
				h := newHarness(t)
				countedFiles(h).mapsOnly = mapsOnly
				in := filepath.Join(h.dir, "a", name)
				writeFile(t, in, content)
				p := h.load(src)
				var out []result
				pl := h.plan(p)
				out = append(out, result{snapshotRows(h, "a.items"), pl.Rejects})
				// A read over stored rows: one row changed, the rest kept.
				writeFile(t, in, strings.Replace(content, edits[name][0], edits[name][1], 1))
				pl = h.plan(p)
				out = append(out, result{snapshotRows(h, "a.items"), pl.Rejects})
				return out
			}
			maps, values := read(true), read(false)
			if len(maps[0].rejects) < 3 || len(maps[0].rows) < 3 {
				t.Fatalf("the file has %d rows and %d rejects: not the test it should be", len(maps[0].rows), len(maps[0].rejects))
			}
			if maps[0].rows[len(maps[0].rows)-1][1] == maps[1].rows[len(maps[1].rows)-1][1] {
				t.Fatal("the edit changed no hash")
			}
			if diff := cmp.Diff(maps, values, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("values differ from maps (-maps +values):\n%s", diff)
			}
		})
	}
}
