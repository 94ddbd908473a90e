package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestETA(t *testing.T) {
	tests := []struct {
		name      string
		remaining int
		rate, cap float64
		want      time.Duration
		wantKnown bool
	}{
		{"nothing left", 0, 0, 0, 0, true},
		{"observed rate only", 100, 10, 0, 10 * time.Second, true},
		{"nothing to go on", 100, 0, 0, 0, false},
		{"cap before the first change", 40, 0, 4, 10 * time.Second, true},
		{"a burst faster than the cap is not believed", 40, 50, 4, 10 * time.Second, true},
		{"slower than the cap: the observed rate wins", 40, 2, 4, 20 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := eta(tt.remaining, tt.rate, tt.cap)
			if got != tt.want || known != tt.wantKnown {
				t.Errorf("eta(%d, %v, %v) = %v, %v; want %v, %v", tt.remaining, tt.rate, tt.cap, got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestFormatETA(t *testing.T) {
	tests := []struct {
		d     time.Duration
		known bool
		want  string
	}{
		{0, false, "?"},
		{0, true, "0s"},
		{300 * time.Millisecond, true, "<1s"},
		{41 * time.Second, true, "41s"},
		{3*time.Minute + 5*time.Second, true, "3m05s"},
		{62*time.Minute + 10*time.Second, true, "1h02m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := formatETA(tt.d, tt.known); got != tt.want {
				t.Errorf("formatETA(%v, %v) = %q, want %q", tt.d, tt.known, got, tt.want)
			}
		})
	}
}

// testPipeline has two entities writing to the same connection (shop,
// rate 4/s), one writing to an unlimited one, and a two-way entity.
func testPipeline() *spec.Pipeline {
	shop := &spec.Connection{Name: "shop", Limits: pipeline.Limits{Rate: 4}}
	books := &spec.Connection{Name: "books", Limits: pipeline.Limits{Rate: 2}}
	file := &spec.Connection{Name: "file"}
	side := func(c *spec.Connection) spec.Side { return spec.Side{Conn: c} }
	ent := func(name string, flows ...[2]*spec.Connection) *spec.Entity {
		e := &spec.Entity{Name: name}
		for _, f := range flows {
			e.Flows = append(e.Flows, &spec.Flow{From: side(f[0]), To: side(f[1])})
		}
		return e
	}
	return &spec.Pipeline{
		Name:        "shop-books",
		Connections: []*spec.Connection{shop, books, file},
		Entities: []*spec.Entity{
			ent("products", [2]*spec.Connection{file, shop}),
			ent("stock", [2]*spec.Connection{file, shop}),
			ent("export", [2]*spec.Connection{shop, file}),
			ent("customers", [2]*spec.Connection{shop, books}, [2]*spec.Connection{books, shop}),
		},
	}
}

func TestProgressStateRateCap(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	st := newProgressState(testPipeline(), clk.now)

	st.start("products", 40)
	if v := st.view("products"); v.Cap != 4 || v.ETA != 10*time.Second || !v.Known {
		t.Errorf("alone on shop: %+v, want cap 4 and ETA 10s", v)
	}
	// A second entity on the same connection halves the share.
	st.start("stock", 10)
	if v := st.view("products"); v.Cap != 2 || v.ETA != 20*time.Second {
		t.Errorf("sharing shop: %+v, want cap 2 and ETA 20s", v)
	}
	// A burst of 20 in the first second is faster than the limiter lets
	// the rest go: the ETA stays at remaining/cap.
	clk.add(time.Second)
	st.done("products", 20)
	v := st.view("products")
	if v.Rate != 20 || v.ETA != 10*time.Second {
		t.Errorf("after a burst: %+v, want rate 20 and ETA 20/2 = 10s", v)
	}
	// Once stock is done, products has shop to itself again.
	if !st.done("stock", 10) {
		t.Fatal("stock not finished after 10 of 10")
	}
	if v := st.view("products"); v.Cap != 4 || v.ETA != 5*time.Second {
		t.Errorf("after stock finished: %+v, want cap 4 and ETA 5s", v)
	}
	// Writing to an unlimited connection: no cap, ETA from the rate seen.
	st.start("export", 30)
	if v := st.view("export"); v.Cap != 0 || v.Known {
		t.Errorf("export before any change: %+v, want no cap and unknown ETA", v)
	}
	clk.add(2 * time.Second)
	st.done("export", 10)
	if v := st.view("export"); v.Rate != 5 || v.ETA != 4*time.Second {
		t.Errorf("export: %+v, want rate 5 and ETA 4s", v)
	}
	// Two-way: changes go to both connections, so their shares add up.
	st.start("customers", 9)
	if v := st.view("customers"); v.Cap != 2+4.0/2 {
		t.Errorf("customers cap = %v, want books 2 + half of shop 4", v.Cap)
	}
}

func TestProgressStateFinish(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	st := newProgressState(testPipeline(), clk.now)
	st.start("products", 3)
	clk.add(1500 * time.Millisecond)
	if st.done("products", 2) {
		t.Error("finished after 2 of 3")
	}
	if !st.done("products", 1) {
		t.Error("not finished after 3 of 3")
	}
	if st.done("products", 1) {
		t.Error("finished twice")
	}
	clk.add(time.Hour)
	if v := st.view("products"); v.Elapsed != 1500*time.Millisecond || v.ETA != 0 || !v.Known {
		t.Errorf("finished view: %+v, want elapsed frozen at 1.5s and ETA 0", v)
	}
	if st.done("unknown", 1) {
		t.Error("an entity never started finished")
	}
}

func TestStatusText(t *testing.T) {
	got := statusText(progressView{Done: 12, Total: 40, Rate: 3.96, Cap: 4, ETA: 7 * time.Second, Known: true})
	if want := "12/40  4.0/s  ETA 7s (limit 4/s)"; got != want {
		t.Errorf("statusText = %q, want %q", got, want)
	}
	got = statusText(progressView{Done: 0, Total: 5})
	if want := "0/5  0.0/s  ETA ?"; got != want {
		t.Errorf("statusText = %q, want %q", got, want)
	}
}

// TestProgressLines is the output without a terminal: a line every
// interval for an entity still running, one when it finishes, as JSON
// with the pipeline, entity and run id.
func TestProgressLines(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	pr := &applyProgress{every: 10 * time.Second, now: clk.now}
	pr.bind(testPipeline(), slog.New(slog.NewJSONHandler(&buf, nil)), func() string { return "run-1" }, nil)

	pr.Start("products", 40)
	clk.add(5 * time.Second)
	pr.Done("products", 20)
	pr.logDue()
	if buf.Len() != 0 {
		t.Fatalf("a line before the interval: %s", buf.String())
	}
	clk.add(5 * time.Second)
	pr.logDue()
	pr.logDue() // not due again yet
	clk.add(5 * time.Second)
	pr.Done("products", 20)
	pr.logDue() // finished: no more progress lines
	pr.Close()
	pr.Close()

	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		delete(m, "time")
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "applying", "pipeline": "shop-books", "entity": "products", "run_id": "run-1",
			"done": 20.0, "total": 40.0, "rate": 2.0, "eta": "10s", "limit": 4.0},
		{"level": "INFO", "msg": "entity applied", "pipeline": "shop-books", "entity": "products", "run_id": "run-1",
			"changes": 40.0, "took": "15s", "rate": 2.7},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestApplyProgressLinesBinary runs apply with stderr not a terminal: the
// per-entity line is on stderr as JSON and stdout has only the summary.
func TestApplyProgressLinesBinary(t *testing.T) {
	dir := t.TempDir()
	writeRatePipeline(t, dir, 12, 200)
	r := run(t, dir, "apply", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "entity applied") || strings.Contains(r.stdout, "\x1b") {
		t.Errorf("progress in stdout:\n%s", r.stdout)
	}
	var lines []map[string]any
	for _, l := range strings.Split(r.stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "entity applied" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("want one line per entity, got %d:\n%s", len(lines), r.stderr)
	}
	for _, m := range lines {
		if m["changes"] != 12.0 || m["pipeline"] != "progress" || m["run_id"] == "" {
			t.Errorf("line %v", m)
		}
	}
}

// writeRatePipeline writes a pipeline copying n rows from a CSV file into
// two others, one of them written through a connection limited to rate/s.
func writeRatePipeline(t *testing.T, dir string, n int, rate float64) {
	t.Helper()
	for _, d := range []string{"src", "dst"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,item %d\n", i, i)
	}
	files := map[string]string{
		"src/items.csv":  b.String(),
		"dst/items.csv":  "id,name\n",
		"dst/copies.csv": "id,name\n",
		"pipeline.yaml": fmt.Sprintf(`version: 1
name: progress
state: synk.duckdb
connections:
  src:
    type: file
    dir: src
    resources:
      items: {path: items.csv, key: id, fields: {id: int, name: string}}
  limited:
    type: file
    dir: dst
    rate: %g
    batch_size: 1              # one change per request: the rate caps changes
    resources:
      items: {path: items.csv, key: id, fields: {id: int, name: string}}
  free:
    type: file
    dir: dst
    resources:
      copies: {path: copies.csv, key: id, fields: {id: int, name: string}}
entities:
  items:
    key: {src: id, limited: id}
    flows:
      - {from: src.items, to: limited.items, create: true, map: {id: id, name: name}}
  copies:
    key: {src: id, free: id}
    flows:
      - {from: src.items, to: free.copies, create: true, map: {id: id, name: name}}
`, rate),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// batchConn is a connection that takes batches of n changes.
type batchConn struct{ n int }

func (b batchConn) MaxBatch() int { return b.n }
func (b batchConn) WriteBatch(context.Context, string, []pipeline.Op) ([]pipeline.OpResult, error) {
	return nil, nil
}

// TestProgressCapCountsBatches: a connection that takes batches makes up
// to its batch size of changes per request, so its rate caps changes at
// rate × batch size; the others' caps stay their rate.
func TestProgressCapCountsBatches(t *testing.T) {
	pr := &applyProgress{every: time.Second, now: time.Now}
	pr.bind(testPipeline(), slog.New(slog.DiscardHandler), func() string { return "run-1" }, func(name string) pipeline.Connector {
		if name == "books" {
			return batchConn{n: 100}
		}
		return nil
	})
	if diff := cmp.Diff(map[string]float64{"shop": 4, "books": 200, "file": 0}, pr.st.rates); diff != "" {
		t.Errorf("changes/s caps per connection (-want +got):\n%s", diff)
	}
}
