package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// benchGen is an in-memory connector that generates n records; records
// whose index is below changed get a different name on side "a", so a
// plan sees exactly that many updates.
type benchGenConfig struct {
	Side string `yaml:"side"`
	N    int    `yaml:"n"`
}

type benchGen struct {
	cfg     *benchGenConfig
	changed *int
}

var benchFields = []pipeline.Field{
	{Name: "id", Type: pipeline.TypeString}, {Name: "name", Type: pipeline.TypeString},
	{Name: "price", Type: pipeline.TypeFloat}, {Name: "qty", Type: pipeline.TypeInt},
	{Name: "active", Type: pipeline.TypeBool}, {Name: "updated", Type: pipeline.TypeTime},
}

func (g *benchGen) Read(ctx context.Context, _ string, _ pipeline.ReadQuery, out pipeline.Emitter) error {
	for i := 0; i < g.cfg.N; i++ {
		name := "Produkt " + strconv.Itoa(i)
		if g.cfg.Side == "a" && i < *g.changed {
			name += " (ny)"
		}
		rec := pipeline.Record{"id": "P" + strconv.Itoa(i), "name": name, "price": float64(i%1000) + 0.5,
			"qty": int64(i % 50), "active": i%7 != 0, "updated": "2026-11-01T10:00:00Z"}
		if err := out.Emit(rec); err != nil {
			return err
		}
	}
	return nil
}

func (g *benchGen) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	return nil, fmt.Errorf("bench: unexpected create")
}
func (g *benchGen) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	return w.Current, nil
}
func (g *benchGen) Delete(ctx context.Context, w pipeline.Write) error { return nil }

const benchPipeline = `version: 1
name: bench
connections:
  a: {type: gen, side: a, n: %d}
  b: {type: gen, side: b, n: %d}
entities:
  items:
    key: {a: id, b: id}
    flows:
      - from: a.items
        to: b.items
        create: true
        map: {name: name, price: price, qty: qty, active: active}
      - from: b.items
        to: a.items
        map: {name: name, price: price}
`

// benchSpec parses the bench pipeline with n records per side; records
// below *changed differ on side a.
func benchSpec(tb testing.TB, n int, changed *int) *spec.Pipeline {
	reg := pipeline.NewRegistry()
	reg.Register(pipeline.ConnectorType{
		Name:      "gen",
		NewConfig: func() any { return &benchGenConfig{} },
		Resources: func(any) ([]pipeline.Resource, error) {
			return []pipeline.Resource{{Name: "items", Key: "id", Fields: benchFields, Create: true, Update: true, Delete: true}}, nil
		},
		Open: func(ctx context.Context, env pipeline.Env, cfg any) (pipeline.Connector, error) {
			return &benchGen{cfg: cfg.(*benchGenConfig), changed: changed}, nil
		},
	})
	p, err := spec.Parse("bench.yaml", []byte(fmt.Sprintf(benchPipeline, n, n)), reg, spec.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Environment of the converge helper process, and the optional cache of
// converged state files (SYNK_BENCH_CACHE=DIR keeps bench-N.duckdb there
// and reuses it; delete it after changing the state layout).
const (
	benchConvergeEnv = "SYNK_BENCH_CONVERGE"
	benchNEnv        = "SYNK_BENCH_N"
	benchCacheEnv    = "SYNK_BENCH_CACHE"
)

// benchSetup returns the pipeline and a state file in which every record
// is already linked and converged. Converging (an apply that matches n
// pairs) runs in a child process, so the benchmark process's peak RSS
// belongs to the plans it measures and nothing else.
func benchSetup(b *testing.B, n int, changed *int) (*spec.Pipeline, string) {
	p := benchSpec(b, n, changed)
	path := filepath.Join(b.TempDir(), "bench.duckdb")
	cached := ""
	if dir := os.Getenv(benchCacheEnv); dir != "" {
		cached = filepath.Join(dir, fmt.Sprintf("bench-%d.duckdb", n))
		if copyFile(b, cached, path) {
			return p, path
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchConverge$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchConvergeEnv+"="+path, benchNEnv+"="+strconv.Itoa(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("converge %d records: %v\n%s", n, err, out)
	}
	if cached != "" {
		copyFile(b, path, cached)
	}
	return p, path
}

// copyFile copies from to to and reports whether from existed. It
// streams: reading a state file into memory would count in the peak RSS.
func copyFile(tb testing.TB, from, to string) bool {
	src, err := os.Open(from)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
	return true
}

// TestBenchConverge is BenchmarkPlan's helper process: it converges a
// state file (every record matched by id, one base row each) and checks
// that a plan over it is empty. It does nothing unless started by
// benchSetup.
func TestBenchConverge(t *testing.T) {
	path := os.Getenv(benchConvergeEnv)
	if path == "" {
		t.Skip("helper process of BenchmarkPlan")
	}
	n, err := strconv.Atoi(os.Getenv(benchNEnv))
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	p := benchSpec(t, n, &changed)
	pl := benchRun(t, p, path, true)
	if got := pl.Summary["items"][pipeline.Create]; got != 0 {
		t.Fatalf("converge planned %d creates, want 0 (records are matched by id)", got)
	}
	if pl := benchRun(t, p, path, false); len(pl.Changes) != 0 {
		t.Fatalf("plan after converge has %d changes, want none", len(pl.Changes))
	}
}

func benchRun(b testing.TB, p *spec.Pipeline, path string, apply bool) *pipeline.Plan {
	ctx := context.Background()
	st, err := state.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var opts engine.Options
	if os.Getenv("SYNK_BENCH_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := engine.New(ctx, p, st, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if apply {
		res, err := r.Apply(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		return res.Plan
	}
	pl, err := r.Plan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

// cpuSeconds is the CPU time (user + system) of the whole process so far,
// DuckDB's threads included: unlike wall time it does not grow when other
// work shares the machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS is the process's peak resident set (VmHWM), DuckDB included.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkPlan measures a whole plan run (read both sides into DuckDB,
// pair, map, diff) over n records per side, with nothing or 1% changed.
// Run one size per process for a meaningful peak RSS, e.g.
//
//	go test ./pipeline/engine -run '^$' -bench 'Plan/1M_noop' -benchtime 1x
//
// It reports wall time (ns/op, ns/record), the CPU time of the whole
// process per plan (cpu-s/op, which other load on the machine inflates
// far less than wall time) and the process's peak RSS (VmHWM), DuckDB
// included. SYNK_BENCH_LOG=1 prints the engine's debug timings.
func BenchmarkPlan(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		for _, mode := range []struct {
			name string
			pct  int
		}{{"noop", 0}, {"1pct", 1}} {
			b.Run(size.name+"_"+mode.name, func(b *testing.B) {
				changed := 0
				p, path := benchSetup(b, size.n, &changed)
				changed = size.n * mode.pct / 100
				b.ResetTimer()
				cpu := cpuSeconds()
				for i := 0; i < b.N; i++ {
					pl := benchRun(b, p, path, false)
					if got := pl.Summary["items"][pipeline.Update]; got != changed {
						b.Fatalf("plan has %d updates, want %d", got, changed)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size.n), "ns/record")
				b.ReportMetric((cpuSeconds()-cpu)/float64(b.N), "cpu-s/op")
				b.ReportMetric(peakRSS(), "peak-RSS-MiB")
			})
		}
	}
}

// benchSinkConfig is the settings of the bench's target: with Batch > 0
// it is a pipeline.BatchSink of at most Batch writes a call.
type benchSinkConfig struct {
	Batch int `yaml:"batch"`
}

// benchSink is an in-memory target that starts empty and keys what it
// creates itself; made counts its creates across connections.
type benchSink struct {
	mu    sync.Mutex
	recs  []pipeline.Record
	made  *atomic.Int64
	batch int
}

// benchBatchSink is benchSink taking its writes in batches.
type benchBatchSink struct{ *benchSink }

// Read emits what the sink holds.
func (s *benchSink) Read(ctx context.Context, _ string, _ pipeline.ReadQuery, out pipeline.Emitter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.recs {
		if err := out.Emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// create stores one record; the caller holds s.mu.
func (s *benchSink) create(w pipeline.Write) pipeline.Record {
	rec := maps.Clone(w.Set)
	rec["id"] = "B" + strconv.Itoa(len(s.recs))
	s.recs = append(s.recs, rec)
	s.made.Add(1)
	return rec
}

// Create stores one record.
func (s *benchSink) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(w), nil
}

// Update is never planned in a first sync.
func (s *benchSink) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	return nil, fmt.Errorf("bench: unexpected update")
}

// Delete is never planned in a first sync.
func (s *benchSink) Delete(ctx context.Context, w pipeline.Write) error {
	return fmt.Errorf("bench: unexpected delete")
}

// MaxBatch is the connection's batch setting.
func (s benchBatchSink) MaxBatch() int { return s.batch }

// WriteBatch stores a batch of creates.
func (s benchBatchSink) WriteBatch(ctx context.Context, _ string, ops []pipeline.Op) ([]pipeline.OpResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pipeline.OpResult, len(ops))
	for i, op := range ops {
		if op.Action != pipeline.Create {
			return nil, fmt.Errorf("bench: unexpected %s", op.Action)
		}
		out[i].Record = s.create(op.Write)
	}
	return out, nil
}

const benchSyncPipeline = `version: 1
name: benchsync
connections:
  a: {type: gen, side: b, n: %d}
  b: {type: sink, batch: %d}
entities:
  items:
    flows:
      - from: a.items
        to: b.items
        create: true
        map: {name: name, price: price, qty: qty, active: active}
`

// benchSyncSpec parses a first sync of n generated records into an empty
// in-memory target that batches (batch > 0) or takes one write a call;
// made counts the creates.
func benchSyncSpec(tb testing.TB, n, batch int, made *atomic.Int64) *spec.Pipeline {
	reg := pipeline.NewRegistry()
	items := []pipeline.Resource{{Name: "items", Key: "id", Fields: benchFields, Create: true, Update: true, Delete: true}}
	reg.Register(pipeline.ConnectorType{
		Name:      "gen",
		NewConfig: func() any { return &benchGenConfig{} },
		Resources: func(any) ([]pipeline.Resource, error) { return items, nil },
		Open: func(ctx context.Context, env pipeline.Env, cfg any) (pipeline.Connector, error) {
			return &benchGen{cfg: cfg.(*benchGenConfig), changed: new(int)}, nil
		},
	})
	reg.Register(pipeline.ConnectorType{
		Name:      "sink",
		NewConfig: func() any { return &benchSinkConfig{} },
		Resources: func(any) ([]pipeline.Resource, error) { return items, nil },
		Open: func(ctx context.Context, env pipeline.Env, cfg any) (pipeline.Connector, error) {
			s := &benchSink{made: made, batch: cfg.(*benchSinkConfig).Batch}
			if s.batch > 0 {
				return benchBatchSink{s}, nil
			}
			return s, nil
		},
	})
	p, err := spec.Parse("benchsync.yaml", []byte(fmt.Sprintf(benchSyncPipeline, n, batch)), reg, spec.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkFirstSync measures a whole first-sync apply (read, plan, and n
// creates with their journal, links and base) into an empty in-memory
// target, in batches of 1,000 or one create a call (the per-record path
// takes about 12 ms a create, so it is measured small). Run one size per
// process for a meaningful peak RSS, e.g.
//
//	go test ./pipeline/engine -run '^$' -bench 'FirstSync/batch_100k' -benchtime 1x
func BenchmarkFirstSync(b *testing.B) {
	for _, tt := range []struct {
		name     string
		n, batch int
	}{
		{"batch_100k", 100_000, 1000},
		{"batch_10k", 10_000, 1000},
		{"batch_2k", 2_000, 1000},
		{"record_2k", 2_000, 0},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var made atomic.Int64
			p := benchSyncSpec(b, tt.n, tt.batch, &made)
			cpu := cpuSeconds()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), "first.duckdb")
				made.Store(0)
				b.StartTimer()
				pl := benchRun(b, p, path, true)
				if got := pl.Summary["items"][pipeline.Create]; got != tt.n || made.Load() != int64(tt.n) {
					b.Fatalf("planned %d creates and made %d, want %d", got, made.Load(), tt.n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tt.n), "ns/record")
			b.ReportMetric((cpuSeconds()-cpu)/float64(b.N), "cpu-s/op")
			b.ReportMetric(peakRSS(), "peak-RSS-MiB")
		})
	}
}
