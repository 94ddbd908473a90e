package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/synk-etl/synk/pipeline"
)

func customers(format string) map[string]ResourceConfig {
	return map[string]ResourceConfig{"customers": {
		Path: "customers." + format, Key: "id", GenerateKey: true,
		Fields: fields("id", "int", "name", "string", "email", "string", "price", "float",
			"active", "bool", "updated", "time", "born", "date", "tags", "list"),
	}}
}

// TestRoundTrip creates, updates and deletes through the sink and checks
// after each step that a read gives back exactly what the sink returned.
func TestRoundTrip(t *testing.T) {
	for _, format := range []string{formatCSV, formatJSONL, formatParquet} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, nil, customers(format))
			ctx := t.Context()
			want := map[int64]pipeline.Record{}
			check := func(step string) {
				t.Helper()
				col := readAll(t, c, "customers")
				if len(col.rejects) > 0 {
					t.Fatalf("%s: rejects %+v", step, col.rejects)
				}
				got := map[int64]pipeline.Record{}
				for _, r := range col.records {
					got[r["id"].(int64)] = r
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s: read (-sink +file):\n%s", step, diff)
				}
			}

			ada, err := c.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{
				"id": 7, "name": "Ada", "email": "", "price": 12.5, "active": true,
				"updated": time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), "born": "1815-12-10",
				"tags": []any{"vip", 1},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if ada["id"] != int64(7) {
				t.Fatalf("create returned id %#v, want int64 7", ada["id"])
			}
			want[7] = ada
			check("create ada")

			bob, err := c.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{
				"name": "Bob, \"the\" builder\nline 2", "price": "3", "active": "no",
			}})
			if err != nil {
				t.Fatal(err)
			}
			if bob["id"] != int64(8) {
				t.Fatalf("generated id %#v, want 8 (max+1)", bob["id"])
			}
			want[8] = bob
			check("create bob")

			upd, err := c.Update(ctx, pipeline.Write{Resource: "customers", Key: "7", Current: ada,
				Set: pipeline.Record{"price": 13, "email": "ada@example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			if upd["name"] != "Ada" || upd["price"] != 13.0 || upd["email"] != "ada@example.com" {
				t.Fatalf("update did not merge: %#v", upd)
			}
			want[7] = upd
			check("update ada")

			if err := c.Delete(ctx, pipeline.Write{Resource: "customers", Key: "8"}); err != nil {
				t.Fatal(err)
			}
			delete(want, 8)
			check("delete bob")

			again, err := c.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"id": 8, "name": "Bob again"}})
			if err != nil {
				t.Fatal(err)
			}
			want[8] = again
			check("create bob again")
			if format == formatParquet {
				return // binary; the records checked above are what matters
			}
			got, err := os.ReadFile(c.Path("customers"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("rewrite", "roundtrip."+format), got)
		})
	}
}

func TestWriteErrors(t *testing.T) {
	res := map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int", "n", "int")}}
	tests := []struct {
		name   string
		do     func(ctx context.Context, c *Conn) error
		want   string
		record bool // a *pipeline.RecordError
	}{
		{"create existing key", func(ctx context.Context, c *Conn) error {
			_, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 1}})
			return err
		}, "already exists", true},
		{"create without key", func(ctx context.Context, c *Conn) error {
			_, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"n": 1}})
			return err
		}, "generate_key is off", true},
		{"create unknown field", func(ctx context.Context, c *Conn) error {
			_, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 3, "x": 1}})
			return err
		}, `unknown field "x"`, true},
		{"create bad value", func(ctx context.Context, c *Conn) error {
			_, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 3, "n": "many"}})
			return err
		}, `field "n": cannot read "many" as an int`, true},
		{"update missing", func(ctx context.Context, c *Conn) error {
			_, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "9", Set: pipeline.Record{"n": 1}})
			return err
		}, "no record with this key", true},
		{"update key to a taken one", func(ctx context.Context, c *Conn) error {
			_, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "1", Set: pipeline.Record{"id": 2}})
			return err
		}, `change key to "2": a record with this key already exists`, true},
		{"update empties key", func(ctx context.Context, c *Conn) error {
			_, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "1", Set: pipeline.Record{"id": nil}})
			return err
		}, "cannot be emptied", true},
		{"delete without key", func(ctx context.Context, c *Conn) error {
			return c.Delete(ctx, pipeline.Write{Resource: "c"})
		}, "delete without a key", true},
		{"unknown resource", func(ctx context.Context, c *Conn) error {
			_, err := c.Create(ctx, pipeline.Write{Resource: "nope", Set: pipeline.Record{"id": 3}})
			return err
		}, `unknown resource "nope"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "c.csv")
			before := "id,n\n1,10\n2,20\n"
			if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
				t.Fatal(err)
			}
			c := open(t, dir, nil, res)
			err := tt.do(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			var re *pipeline.RecordError
			if errors.As(err, &re) != tt.record {
				t.Errorf("error %T: RecordError = %v, want %v", err, !tt.record, tt.record)
			}
			after, _ := os.ReadFile(path)
			if string(after) != before {
				t.Errorf("file changed by a failed write:\n%s", after)
			}
		})
	}
}

func TestUpdateChangesKey(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.jsonl", Key: "code", Fields: fields("code", "string", "n", "int")}})
	ctx := t.Context()
	if _, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"code": "a", "n": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "a", Set: pipeline.Record{"code": "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "a", Set: pipeline.Record{"n": 2}}); err == nil {
		t.Fatal("the old key still updates")
	}
	col := readAll(t, c, "c")
	if diff := cmp.Diff([]pipeline.Record{{"code": "b", "n": int64(1)}}, col.records); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDeleteOfMissingRecordIsDone(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, customers(formatCSV))
	if err := c.Delete(t.Context(), pipeline.Write{Resource: "customers", Key: "42"}); err != nil {
		t.Fatalf("delete of a missing record: %v", err)
	}
	if _, err := os.Stat(c.Path("customers")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a no-op delete wrote the file (stat err %v)", err)
	}
}

func TestGenerateKey(t *testing.T) {
	t.Run("int after existing rows, bad ones included", func(t *testing.T) {
		dir := t.TempDir()
		// Row 12 is unreadable (bad n) but its key must not be handed out.
		data := "id,n\n3,1\n10,1\n12,x\n"
		if err := os.WriteFile(filepath.Join(dir, "c.csv"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", GenerateKey: true, Fields: fields("id", "int", "n", "int")}})
		rec, err := c.Create(t.Context(), pipeline.Write{Resource: "c", Set: pipeline.Record{"n": 5}})
		if err != nil {
			t.Fatal(err)
		}
		if rec["id"] != int64(13) {
			t.Errorf("generated %#v, want 13", rec["id"])
		}
	})
	t.Run("int in an empty file", func(t *testing.T) {
		c := open(t, t.TempDir(), nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", GenerateKey: true, Fields: fields("id", "int")}})
		rec, err := c.Create(t.Context(), pipeline.Write{Resource: "c", Set: pipeline.Record{}})
		if err != nil {
			t.Fatal(err)
		}
		if rec["id"] != int64(1) {
			t.Errorf("generated %#v, want 1", rec["id"])
		}
	})
	t.Run("string keys are uuids", func(t *testing.T) {
		c := open(t, t.TempDir(), nil, map[string]ResourceConfig{"c": {Path: "c.jsonl", Key: "id", GenerateKey: true, Fields: fields("id", "string", "n", "int")}})
		seen := map[string]bool{}
		for range 3 {
			rec, err := c.Create(t.Context(), pipeline.Write{Resource: "c", Set: pipeline.Record{"n": 1}})
			if err != nil {
				t.Fatal(err)
			}
			id, _ := rec["id"].(string)
			if _, err := uuid.Parse(id); err != nil || seen[id] {
				t.Fatalf("generated key %q: not a fresh uuid (%v)", id, err)
			}
			seen[id] = true
		}
	})
}

// TestBadRowsSurviveRewrite: rows synk cannot read are rejected on read and
// written back unchanged, so a sync never destroys them.
func TestBadRowsSurviveRewrite(t *testing.T) {
	tests := []struct {
		file, data string
	}{
		{"c.csv", "note,n,id,extra\nok,1,1,x\nbad n,many,2,x\ndup,3,1,x\nshort,4\n,5,3,x\n"},
		{"c.jsonl", "{\"id\":1,\"n\":1}\n{\"id\":2,\"n\":\"many\"}\nnot json\n{\"id\":1,\"n\":3}\n{\"id\":3,\"n\":5,\"extra\":true}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: tt.file, Key: "id", Fields: fields("id", "int", "n", "int", "note", "string")}})
			before := readAll(t, c, "c")
			ctx := t.Context()
			if _, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 4, "n": 4}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "3", Set: pipeline.Record{"n": 6}}); err != nil {
				t.Fatal(err)
			}
			_, err := c.Update(ctx, pipeline.Write{Resource: "c", Key: "2", Set: pipeline.Record{"n": 6}})
			if err == nil || !strings.Contains(err.Error(), "cannot be read") {
				t.Errorf("update of an unreadable row: %v", err)
			}
			_, err = c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 2}})
			if err == nil || !strings.Contains(err.Error(), "unreadable row") {
				t.Errorf("create over an unreadable row's key: %v", err)
			}
			after := readAll(t, c, "c")
			if len(after.rejects) != len(before.rejects) || len(after.records) != len(before.records)+1 {
				t.Errorf("before: %d records %d rejects; after: %d records %d rejects",
					len(before.records), len(before.rejects), len(after.records), len(after.rejects))
			}
			got, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("rewrite", "badrows."+tt.file), got)
		})
	}
}

func TestCSVSyntaxErrorBlocksWrites(t *testing.T) {
	dir := t.TempDir()
	data := "id,n\n1,1\n2,\"unterminated\n3,3\n"
	path := filepath.Join(dir, "c.csv")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int", "n", "int")}})
	_, err := c.Create(t.Context(), pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 9}})
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "fix the file by hand") {
		t.Fatalf("error = %v, want the bad line and advice", err)
	}
	if got, _ := os.ReadFile(path); string(got) != data {
		t.Errorf("file changed:\n%s", got)
	}
}

// TestAtomicRewrite reads the file in a loop while another goroutine writes:
// every read must parse cleanly and never see fewer records than before.
func TestAtomicRewrite(t *testing.T) {
	for _, format := range []string{formatCSV, formatJSONL} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, nil, customers(format))
			reader := open(t, dir, nil, customers(format))
			const writes = 60
			done := make(chan struct{})
			readerErr := make(chan error, 1)
			reads := 0
			go func() {
				defer close(readerErr)
				last := 0
				for {
					select {
					case <-done:
						return
					default:
					}
					var col collector
					if err := reader.Read(t.Context(), "customers", pipeline.ReadQuery{}, &col); err != nil {
						readerErr <- err
						return
					}
					if len(col.rejects) > 0 {
						readerErr <- errors.New("partial file seen: " + col.rejects[0].Reason)
						return
					}
					if len(col.records) < last {
						readerErr <- errors.New("records went missing between reads")
						return
					}
					last = len(col.records)
					reads++
				}
			}()
			for i := range writes {
				_, err := c.Create(t.Context(), pipeline.Write{Resource: "customers", Set: pipeline.Record{
					"name": strings.Repeat("x", 200+i), "price": float64(i) / 3, "active": i%2 == 0, "tags": []any{i},
				}})
				if err != nil {
					t.Fatal(err)
				}
			}
			close(done)
			if err := <-readerErr; err != nil {
				t.Fatal(err)
			}
			t.Logf("%d reads during %d writes", reads, writes)
			if n := len(readAll(t, c, "customers").records); n != writes {
				t.Errorf("%d records, want %d", n, writes)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %v, want only the data file (no temp files)", names)
			}
			st, err := os.Stat(c.Path("customers"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", st.Mode().Perm())
			}
		})
	}
}

// TestLimiterBoundsWrites counts writers inside the limited section (before
// the connection's own lock). With MaxInFlight 1 there is never more than one;
// the control case shows the counter does see concurrency when the limiter
// allows it, so the first case is not passing by construction.
func TestLimiterBoundsWrites(t *testing.T) {
	tests := []struct {
		name     string
		inFlight int
		writers  int
		barrier  bool // hold each writer until inFlight are inside
	}{
		{"max in flight 1", 1, 16, false},
		{"control: max in flight 4", 4, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var acquired atomic.Int64
			lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: tt.inFlight}, func(time.Duration) { acquired.Add(1) })
			c := open(t, t.TempDir(), lim, customers(formatCSV))
			var cur, peak, calls atomic.Int64
			allIn := make(chan struct{})
			var allInOnce sync.Once
			c.onWrite = func() {
				n := cur.Add(1)
				calls.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if tt.barrier {
					if n == int64(tt.inFlight) {
						allInOnce.Do(func() { close(allIn) })
					}
					select {
					case <-allIn:
					case <-time.After(10 * time.Second): // watchdog, not synchronisation
						t.Error("writers never ran concurrently")
					}
				} else {
					runtime.Gosched() // widen the window in which a second writer could enter
				}
				cur.Add(-1)
			}
			const perWriter = 4
			var wg sync.WaitGroup
			for range tt.writers {
				wg.Go(func() {
					for range perWriter {
						if _, err := c.Create(t.Context(), pipeline.Write{Resource: "customers", Set: pipeline.Record{"name": "x"}}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			total := int64(tt.writers * perWriter)
			if got := peak.Load(); got != int64(tt.inFlight) {
				t.Errorf("peak concurrent writers %d, want %d", got, tt.inFlight)
			}
			if calls.Load() != total || acquired.Load() != total {
				t.Errorf("%d writes, %d in the limited section, %d limiter acquisitions; want all equal",
					total, calls.Load(), acquired.Load())
			}
			if n := len(readAll(t, c, "customers").records); int64(n) != total {
				t.Errorf("%d records in the file, want %d", n, total)
			}
		})
	}
}

func TestWriteWaitsForLimiter(t *testing.T) {
	lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 1}, nil)
	c := open(t, t.TempDir(), lim, customers(formatCSV))
	release, err := lim.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		close(started)
		_, err := c.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"id": 1}})
		result <- err
	}()
	<-started
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("create while the only slot is held: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(c.Path("customers")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file was written without a limiter slot (stat err %v)", err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, customers(formatJSONL))
	ctx := t.Context()
	created, err := c.Create(ctx, pipeline.Write{Resource: "customers", IdempotencyKey: "k1", Set: pipeline.Record{"id": 5, "name": "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh connection stands for the next run after a crash.
	fresh := open(t, dir, nil, customers(formatJSONL))
	tests := []struct {
		name  string
		conn  *Conn
		set   pipeline.Record
		found bool
		err   string
	}{
		{"same connection", c, pipeline.Record{"id": 5, "name": "Ada"}, true, ""},
		{"next run", fresh, pipeline.Record{"id": "5"}, true, ""},
		{"other key", fresh, pipeline.Record{"id": 6}, false, ""},
		{"no key (generated)", fresh, pipeline.Record{"name": "Ada"}, false, ""},
		{"bad key", fresh, pipeline.Record{"id": "five"}, false, "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, found, err := tt.conn.Find(ctx, pipeline.Write{Resource: "customers", IdempotencyKey: "k1", Set: tt.set})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.found {
				t.Fatalf("found = %v, want %v", found, tt.found)
			}
			if found {
				if diff := cmp.Diff(created, rec); diff != "" {
					t.Errorf("found record (-created +found):\n%s", diff)
				}
			}
		})
	}
}

func TestExternalChangeIsReloaded(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}})
	ctx := t.Context()
	if _, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 1}}); err != nil {
		t.Fatal(err)
	}
	// Someone edits the file between two of synk's writes.
	if err := os.WriteFile(c.Path("c"), []byte("id\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 3}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(c.Path("c"))
	if string(got) != "id\n1\n2\n3\n" {
		t.Errorf("file = %q, want the outside edit kept", got)
	}
}

func TestOpenResolvesPaths(t *testing.T) {
	base := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs.jsonl")
	c, err := Open(t.Context(), pipeline.Env{BaseDir: base}, &Config{Dir: "data/crm", Resources: map[string]ResourceConfig{
		"rel": {Path: "sub/c.csv", Key: "id", Fields: fields("id", "int")},
		"abs": {Path: abs, Key: "id", Fields: fields("id", "int")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.Path("rel"), filepath.Join(base, "data", "crm", "sub", "c.csv"); got != want {
		t.Errorf("Path(rel) = %s, want %s", got, want)
	}
	if got := c.Path("abs"); got != abs {
		t.Errorf("Path(abs) = %s, want %s", got, abs)
	}
	if col := readAll(t, c, "rel"); len(col.records)+len(col.rejects) != 0 {
		t.Errorf("a missing file read as %+v", col)
	}
	if _, err := c.Create(t.Context(), pipeline.Write{Resource: "rel", Set: pipeline.Record{"id": 1}}); err != nil {
		t.Fatalf("first write into a missing directory: %v", err)
	}
	if got, _ := os.ReadFile(c.Path("rel")); string(got) != "id\n1\n" {
		t.Errorf("file = %q", got)
	}
}

func TestWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.csv")
	if err := os.WriteFile(target, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "c.csv")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}})
	if _, err := c.Create(t.Context(), pipeline.Write{Resource: "c", Set: pipeline.Record{"id": 2}}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(filepath.Join(dir, "c.csv")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced (%v)", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "id\n1\n2\n" {
		t.Errorf("target = %q", got)
	}
}

func TestClosedConnectionRefusesWrites(t *testing.T) {
	c := open(t, t.TempDir(), nil, customers(formatCSV))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(t.Context(), pipeline.Write{Resource: "customers", Set: pipeline.Record{"id": 1}}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestDuckDBSpillsToTempDir: a read too large for memory must not spill
// into the working directory, DuckDB's default for in-memory databases.
func TestDuckDBSpillsToTempDir(t *testing.T) {
	c := open(t, t.TempDir(), nil, customers(formatCSV))
	var dir string
	if err := c.db.QueryRowContext(t.Context(), "SELECT current_setting('temp_directory')").Scan(&dir); err != nil {
		t.Fatal(err)
	}
	if dir != c.spill || !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("temp_directory %q, want %q under %s", dir, c.spill, os.TempDir())
	}
}
