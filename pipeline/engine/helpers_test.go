package engine_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// TestMain doubles as the helper process that holds a state file open (see
// TestStateFileInUseByAnotherProcess).
func TestMain(m *testing.M) {
	if path := os.Getenv(holdStateEnv); path != "" {
		os.Exit(holdState(path))
	}
	os.Exit(m.Run())
}

const holdStateEnv = "SYNK_ENGINE_TEST_HOLD_STATE"

// holdState opens the state file, says "ready" on stdout and keeps it open
// until stdin closes.
func holdState(path string) int {
	st, err := state.Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	st.Close()
	return 0
}

// harness is one test's world: a temp dir holding the pipeline file, CSV
// files and the DuckDB state file, a registry with the real file connector
// and the instrumented "mem" connector ("memb": the same, a
// pipeline.BatchSink too), and the mem systems by name.
type harness struct {
	t       *testing.T
	dir     string
	reg     *pipeline.Registry
	systems map[string]*memSystem
	store   *state.Store
	metrics *pipeline.Metrics
	// chunkSize is the runners' Options.ChunkSize.
	chunkSize int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), reg: pipeline.NewRegistry(), systems: map[string]*memSystem{}}
	file.Register(h.reg)
	for _, batch := range []bool{false, true} {
		name := "mem"
		if batch {
			name = "memb"
		}
		h.reg.Register(pipeline.ConnectorType{
			Name:      name,
			NewConfig: func() any { return &memConfig{} },
			Resources: func(config any) ([]pipeline.Resource, error) {
				sys, err := h.lookup(config)
				if err != nil {
					return nil, err
				}
				return slices.Clone(sys.resources), nil
			},
			Open: func(_ context.Context, env pipeline.Env, config any) (pipeline.Connector, error) {
				sys, err := h.lookup(config)
				if err != nil {
					return nil, err
				}
				c := &memConn{sys: sys, lim: env.Limiter, http: env.HTTP}
				if batch {
					return &memBatchConn{c}, nil
				}
				return c, nil
			},
		})
	}
	return h
}

// memConfig is the settings of a `type: mem` connection: which of the
// test's systems it talks to.
type memConfig struct {
	System string `yaml:"system"`
}

func (h *harness) lookup(config any) (*memSystem, error) {
	c, ok := config.(*memConfig)
	if !ok {
		return nil, fmt.Errorf("mem: config is %T", config)
	}
	sys, ok := h.systems[c.System]
	if !ok {
		return nil, fmt.Errorf("mem: no system %q", c.System)
	}
	return sys, nil
}

// system adds an in-memory system with the given resources.
func (h *harness) system(name string, res ...pipeline.Resource) *memSystem {
	s := &memSystem{name: name, resources: res, data: map[string]map[string]pipeline.Record{}, idem: map[string]string{}}
	for _, r := range res {
		s.data[r.Name] = map[string]pipeline.Record{}
	}
	h.systems[name] = s
	return s
}

// load writes src as the pipeline file and loads it.
func (h *harness) load(src string) *spec.Pipeline {
	h.t.Helper()
	path := filepath.Join(h.dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
	p, err := spec.Parse(path, []byte(src), h.reg, spec.Options{Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		h.t.Fatalf("load pipeline: %v", err)
	}
	return p
}

// state returns the harness's state file, opened on first use.
func (h *harness) state() *state.Store {
	h.t.Helper()
	if h.store == nil {
		st, err := state.Open(h.t.Context(), h.statePath())
		if err != nil {
			h.t.Fatalf("open state: %v", err)
		}
		h.store = st
		h.t.Cleanup(func() { st.Close() })
	}
	return h.store
}

func (h *harness) statePath() string { return filepath.Join(h.dir, "synk.duckdb") }

func (h *harness) runner(ctx context.Context, p *spec.Pipeline) *engine.Runner {
	h.t.Helper()
	r, err := engine.New(ctx, p, h.state(), engine.Options{Metrics: h.metrics, ChunkSize: h.chunkSize})
	if err != nil {
		h.t.Fatalf("engine.New: %v", err)
	}
	return r
}

// plan makes a plan with a fresh runner.
func (h *harness) plan(p *spec.Pipeline) *pipeline.Plan {
	h.t.Helper()
	r := h.runner(h.t.Context(), p)
	defer r.Close()
	pl, err := r.Plan(h.t.Context())
	if err != nil {
		h.t.Fatalf("plan: %v", err)
	}
	return pl
}

// apply plans and applies with a fresh runner and fails the test on a run error.
func (h *harness) apply(p *spec.Pipeline) *engine.Result {
	h.t.Helper()
	res, err := h.applyCtx(h.t.Context(), p)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return res
}

func (h *harness) applyCtx(ctx context.Context, p *spec.Pipeline) (*engine.Result, error) {
	h.t.Helper()
	r := h.runner(ctx, p)
	defer r.Close()
	return r.Apply(ctx, nil)
}

// mustBeConverged fails unless a fresh plan has no changes and no rejects.
func (h *harness) mustBeConverged(p *spec.Pipeline) {
	h.t.Helper()
	pl := h.plan(p)
	if len(pl.Changes) != 0 || len(pl.Rejects) != 0 {
		h.t.Fatalf("plan after apply not empty:\nchanges: %s\nrejects: %s", describeChanges(pl.Changes), describeRejects(pl.Rejects))
	}
}

// rows runs a query on the state file and returns every row as strings
// (NULL as "<nil>").
func (h *harness) rows(q string, args ...any) [][]string {
	h.t.Helper()
	rs, err := h.state().DB.QueryContext(h.t.Context(), q, args...)
	if err != nil {
		h.t.Fatalf("query %q: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			h.t.Fatalf("scan %q: %v", q, err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if v.Valid {
				row[i] = v.String
			} else {
				row[i] = "<nil>"
			}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		h.t.Fatalf("query %q: %v", q, err)
	}
	return out
}

// links returns an entity's links, left key → right key.
func (h *harness) links(entity string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	for _, r := range h.rows(`SELECT left_key, right_key FROM synk.links WHERE entity = ?`, entity) {
		out[r[0]] = r[1]
	}
	return out
}

func describeChanges(cs []pipeline.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  %s %s %s %s→%s fields=%v before=%v after=%v waits=%v", c.Entity, c.Flow, c.Action, c.SourceKey, c.TargetKey, c.Fields, c.Before, c.After, c.Waits)
	}
	return b.String()
}

func describeRejects(rs []pipeline.Reject) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %s %s.%s %s: %s", r.Entity, r.Connection, r.Resource, r.Key, r.Reason)
	}
	return b.String()
}

// memSystem is an instrumented in-memory system behind the "mem" connector:
// it keeps records per resource, remembers idempotency keys for Find, counts
// calls and the most writes it saw in flight at once, and has hooks to
// refuse writes or lose responses. It outlives runners, like a real system.
type memSystem struct {
	name      string
	resources []pipeline.Resource

	mu      sync.Mutex
	data    map[string]map[string]pipeline.Record
	idem    map[string]string // idempotency key → resource + "\x00" + key
	nextKey int64

	creates, updates, deletes, finds int
	inFlight, maxInFlight            int
	writeTimes                       []time.Time

	// latency is how long each write takes once it holds the limiter.
	latency time.Duration
	// refuse, if set, may refuse a write before it commits.
	refuse func(w pipeline.Write) error
	// afterCreate, if set, runs after a create committed; a non-nil error
	// is returned instead of the record (the response is lost).
	afterCreate func(ctx context.Context, w pipeline.Write, rec pipeline.Record) error
	// afterUpdate, if set, runs after an update committed; a non-nil
	// error is returned instead of the record (the answer is lost).
	afterUpdate func(w pipeline.Write) error
	// findErr, if set, makes Find fail.
	findErr error
	// pingURL, if set, is fetched with the engine's HTTP client before
	// each read, so HTTP metrics see traffic.
	pingURL string
	// beforeGet, if set, runs before Get reads a record (a sale made
	// between the snapshot and a counter write).
	beforeGet func(resource, key string)
	gets      int
	// assigned are fields the system sets on a create ("field-key") and
	// leaves out of Create's answer, as a sink that does not read the
	// record back leaves out what the system assigned.
	assigned []string
	// fresh holds the Current of each update made with Write.Fresh.
	fresh []pipeline.Record
	// reads counts Read calls.
	reads int

	// maxBatch is MaxBatch of a memb connection.
	maxBatch int
	// batches holds the size of each WriteBatch call, in call order.
	batches []int
	// beforeBatch, if set, runs when WriteBatch is called (call is
	// 1-based), before the batch takes the limiter; a non-nil error is
	// returned with nothing written.
	beforeBatch func(call int, ops []pipeline.Op) error
	// afterBatch, if set, runs after a batch's writes were made; a
	// non-nil error is returned instead of the results (the answer is
	// lost).
	afterBatch func(call int, ops []pipeline.Op) error
	// batchMu keeps WriteBatch calls in the order they were numbered
	// until each holds the limiter.
	batchMu sync.Mutex
}

// writeOnly returns the names of a resource's write-only fields.
func (s *memSystem) writeOnly(resource string) []string {
	var out []string
	for _, f := range s.resource(resource).Fields {
		if f.WriteOnly {
			out = append(out, f.Name)
		}
	}
	return out
}

// readable is rec as the system answers a read: without write-only fields.
func (s *memSystem) readable(resource string, rec pipeline.Record) pipeline.Record {
	out := maps.Clone(rec)
	for _, f := range s.writeOnly(resource) {
		delete(out, f)
	}
	return out
}

func (s *memSystem) resource(name string) pipeline.Resource {
	for _, r := range s.resources {
		if r.Name == name {
			return r
		}
	}
	panic("mem: no resource " + name)
}

// put stores rec (its key field must be set).
func (s *memSystem) put(resource string, rec pipeline.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fmt.Sprint(rec[s.resource(resource).Key])
	s.data[resource][k] = maps.Clone(rec)
}

// set changes one field of a stored record.
func (s *memSystem) set(resource, key, field string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.data[resource][key]
	if !ok {
		panic(fmt.Sprintf("mem %s: no %s %s", s.name, resource, key))
	}
	rec[field] = v
}

func (s *memSystem) remove(resource, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data[resource], key)
}

func (s *memSystem) get(resource, key string) (pipeline.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.data[resource][key]
	return maps.Clone(rec), ok
}

// all returns a resource's records sorted by key.
func (s *memSystem) all(resource string) []pipeline.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.data[resource]))
	out := make([]pipeline.Record, 0, len(keys))
	for _, k := range keys {
		out = append(out, maps.Clone(s.data[resource][k]))
	}
	return out
}

// where returns the records whose field equals v.
func (s *memSystem) where(resource, field string, v any) []pipeline.Record {
	var out []pipeline.Record
	for _, r := range s.all(resource) {
		if fmt.Sprint(r[field]) == fmt.Sprint(v) {
			out = append(out, r)
		}
	}
	return out
}

// counts returns creates, updates and deletes so far.
func (s *memSystem) counts() (creates, updates, deletes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates, s.updates, s.deletes
}

func (s *memSystem) writes() int {
	c, u, d := s.counts()
	return c + u + d
}

// memConn is one runner's connection to a memSystem.
type memConn struct {
	sys  *memSystem
	lim  *pipeline.Limiter
	http *http.Client
}

func (c *memConn) Read(ctx context.Context, resource string, _ pipeline.ReadQuery, out pipeline.Emitter) error {
	if c.sys.pingURL != "" {
		// Through the engine's client, which takes the limiter itself.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.sys.pingURL, nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	release, err := c.lim.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	c.sys.mu.Lock()
	c.sys.reads++
	c.sys.mu.Unlock()
	for _, rec := range c.sys.all(resource) {
		if err := out.Emit(c.sys.readable(resource, rec)); err != nil {
			return err
		}
	}
	return nil
}

// begin acquires the limiter and marks a write in flight, as a real
// connector's request would.
func (c *memConn) begin(ctx context.Context) (func(), error) {
	release, err := c.lim.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		release() // a cancelled request never reaches the system
		return nil, err
	}
	s := c.sys
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.writeTimes = append(s.writeTimes, time.Now())
	lat := s.latency
	s.mu.Unlock()
	if lat > 0 {
		time.Sleep(lat) // simulated latency of the remote system
	}
	return func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
		release()
	}, nil
}

func (c *memConn) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return c.create(ctx, w)
}

// create makes a create once the write holds the limiter.
func (c *memConn) create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	s := c.sys
	s.mu.Lock()
	if s.refuse != nil {
		if err := s.refuse(w); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	res := s.resource(w.Resource)
	rec := maps.Clone(w.Set)
	if rec[res.Key] == nil {
		s.nextKey++
		if f, _ := res.Field(res.Key); f.Type == pipeline.TypeInt {
			rec[res.Key] = 1000 + s.nextKey
		} else {
			rec[res.Key] = fmt.Sprintf("%s-%d", s.name, s.nextKey)
		}
	}
	key := fmt.Sprint(rec[res.Key])
	if _, dup := s.data[w.Resource][key]; dup {
		s.mu.Unlock()
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: key, Err: errors.New("key taken")}
	}
	s.data[w.Resource][key] = rec
	if w.IdempotencyKey != "" {
		s.idem[w.IdempotencyKey] = w.Resource + "\x00" + key
	}
	s.creates++
	hook := s.afterCreate
	out := s.readable(w.Resource, rec)
	for _, f := range s.assigned {
		rec[f] = f + "-" + key
		delete(out, f)
	}
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, w, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *memConn) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return c.update(w)
}

// update makes an update once the write holds the limiter.
func (c *memConn) update(w pipeline.Write) (pipeline.Record, error) {
	s := c.sys
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		if err := s.refuse(w); err != nil {
			return nil, err
		}
	}
	rec, ok := s.data[w.Resource][w.Key]
	if !ok {
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: errors.New("not found")}
	}
	// A resource with write-only fields is replaced whole, like a Fiken
	// contact: what it holds there comes from Known or Set, or the write
	// is refused rather than erase it.
	for _, f := range s.writeOnly(w.Resource) {
		v, inSet := w.Set[f]
		if !inSet {
			v, inSet = w.Known[f]
		}
		if !inSet {
			return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: fmt.Errorf("field %s: never returned and not known; a replace would erase it", f)}
		}
		rec[f] = v
	}
	for k, v := range w.Set {
		rec[k] = v
	}
	if w.Fresh {
		s.fresh = append(s.fresh, maps.Clone(w.Current))
	}
	s.updates++
	if s.afterUpdate != nil {
		if err := s.afterUpdate(w); err != nil {
			return nil, err
		}
	}
	return s.readable(w.Resource, rec), nil
}

func (c *memConn) Delete(ctx context.Context, w pipeline.Write) error {
	done, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	c.delete(w)
	return nil
}

// delete makes a delete once the write holds the limiter.
func (c *memConn) delete(w pipeline.Write) {
	s := c.sys
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data[w.Resource], w.Key)
	s.deletes++
}

func (c *memConn) Find(ctx context.Context, w pipeline.Write) (pipeline.Record, bool, error) {
	release, err := c.lim.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	defer release()
	s := c.sys
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds++
	if s.findErr != nil {
		return nil, false, s.findErr
	}
	if w.IdempotencyKey == "" {
		// A lookup by the values given, write-only ones included (a
		// system filters on what it never lists).
		for _, rec := range s.data[w.Resource] {
			match := true
			for k, v := range w.Set {
				match = match && fmt.Sprint(rec[k]) == fmt.Sprint(v)
			}
			if match {
				return s.readable(w.Resource, rec), true, nil
			}
		}
		return nil, false, nil
	}
	ref, ok := s.idem[w.IdempotencyKey]
	if !ok {
		return nil, false, nil
	}
	res, key, _ := strings.Cut(ref, "\x00")
	rec, ok := s.data[res][key]
	if !ok {
		return nil, false, nil
	}
	return s.readable(res, rec), true, nil
}

func (c *memConn) Get(ctx context.Context, resource, key string) (pipeline.Record, bool, error) {
	release, err := c.lim.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	defer release()
	s := c.sys
	if hook := s.beforeGet; hook != nil {
		hook(resource, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	rec, ok := s.data[resource][key]
	if !ok {
		return nil, false, nil
	}
	return s.readable(resource, rec), true, nil
}

// writeCSV writes a CSV file with a header and rows.
func writeCSV(t *testing.T, path string, header []string, rows ...[]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readCSV reads a CSV file as rows keyed by column name, in file order.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(all) == 0 {
		return nil
	}
	var out []map[string]string
	for _, row := range all[1:] {
		m := map[string]string{}
		for i, c := range all[0] {
			m[c] = row[i]
		}
		out = append(out, m)
	}
	return out
}

// csvBy indexes CSV rows by one column.
func csvBy(rows []map[string]string, col string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range rows {
		out[r[col]] = r
	}
	return out
}

// editCSV changes one cell of the row whose key column equals key.
func editCSV(t *testing.T, path, keyCol, key, col, val string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ki, ci := slices.Index(all[0], keyCol), slices.Index(all[0], col)
	if ki < 0 || ci < 0 {
		t.Fatalf("%s has no column %s or %s", path, keyCol, col)
	}
	found := false
	for _, row := range all[1:] {
		if row[ki] == key {
			row[ci] = val
			found = true
		}
	}
	if !found {
		t.Fatalf("%s has no row %s=%s", path, keyCol, key)
	}
	writeCSV(t, path, all[0], all[1:]...)
}

// removeCSVRow deletes the row whose key column equals key.
func removeCSVRow(t *testing.T, path, keyCol, key string) {
	t.Helper()
	rows := readCSV(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := csv.NewReader(f).ReadAll()
	f.Close()
	header := all[0]
	var keep [][]string
	for _, r := range rows {
		if r[keyCol] == key {
			continue
		}
		row := make([]string, len(header))
		for i, c := range header {
			row[i] = r[c]
		}
		keep = append(keep, row)
	}
	if len(keep) == len(rows) {
		t.Fatalf("%s has no row %s=%s", path, keyCol, key)
	}
	writeCSV(t, path, header, keep...)
}

func sortedStrings(ss []string) []string {
	out := slices.Clone(ss)
	sort.Strings(out)
	return out
}
