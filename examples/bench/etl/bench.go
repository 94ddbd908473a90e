package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// config sizes and places a benchmark.
type config struct {
	N int
	// Dir is kept when set; else a temporary directory is used and removed.
	Dir string
	// Synk is the binary under test; empty builds one from this module.
	Synk string
	// Self is this program, re-run with -floor for the floor's step.
	Self string
}

// pipelineYAML maps the input products into the output file with six
// expressions; floorSQL is the same mapping in DuckDB SQL.
const pipelineYAML = `version: 1
name: etl-bench
state: synk.duckdb
connections:
  src:
    type: file
    dir: in
    resources:
      products:
        path: products.jsonl
        key: id
        fields: {id: int, name: string, price: float, vat_rate: int, stock: int, updated: time}
  dst:
    type: file
    dir: out
    resources:
      products:
        path: products.jsonl
        key: id
        fields: {id: int, name: string, price_nok: float, vat_type: string, quantity: int, updated: time}
entities:
  products:
    key: {src: id, dst: id}
    flows:
      - from: src.products
        to: dst.products
        create: true
        map:
          id: id
          name: upper(trim(name))
          price_nok: price
          vat_type: 'vat_rate == 25 ? "HIGH" : vat_rate == 15 ? "MEDIUM" : vat_rate == 12 ? "LOW" : "NONE"'
          quantity: stock
          updated: updated
`

const floorSQL = `COPY (SELECT id, upper(trim(name)) AS name, price AS price_nok,
	CASE vat_rate WHEN 25 THEN 'HIGH' WHEN 15 THEN 'MEDIUM' WHEN 12 THEN 'LOW' ELSE 'NONE' END AS vat_type,
	stock AS quantity, updated
	FROM read_json(?, format = 'newline_delimited',
		columns = {id: 'BIGINT', name: 'VARCHAR', price: 'DOUBLE', vat_rate: 'BIGINT', stock: 'BIGINT', updated: 'VARCHAR'}))
	TO '%s' (FORMAT json)`

// runFloor is the floor's step, run in its own process: DuckDB reads,
// maps and writes the file itself.
func runFloor(in, out string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf(floorSQL, strings.ReplaceAll(out, "'", "''")), in)
	return err
}

// step is one measured child process.
type step struct {
	Name   string
	Wall   time.Duration
	MaxRSS int64 // bytes
	CPU    time.Duration
}

// measure runs a command and reports its wall time, CPU time and peak RSS.
func measure(name, dir string, bin string, args ...string) (step, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return step{}, fmt.Errorf("%s: %s %s: %w\n%s", name, bin, strings.Join(args, " "), err, tail(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return step{Name: name, Wall: wall, MaxRSS: ru.Maxrss * 1024, CPU: cpu}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// report holds a benchmark's steps.
type report struct {
	N                                   int
	Floor, FirstApply, NoopPlan, Change step
}

func run(cfg config) (*report, error) {
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "synk-bench-etl")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for _, d := range []string{"in", "out", "floor"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	bin := cfg.Synk
	if bin == "" {
		bin = filepath.Join(dir, "synk")
		build := exec.Command("go", "build", "-o", bin, "github.com/synk-etl/synk/cmd/synk")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build synk: %w\n%s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(pipelineYAML), 0o644); err != nil {
		return nil, err
	}
	in := filepath.Join(dir, "in", "products.jsonl")
	if err := writeProducts(in, cfg.N, false); err != nil {
		return nil, err
	}
	rep := &report{N: cfg.N}
	var err error
	floorOut := filepath.Join(dir, "floor", "products.jsonl")
	if rep.Floor, err = measure("floor", dir, cfg.Self, "-floor", in, floorOut); err != nil {
		return nil, err
	}
	if rep.FirstApply, err = measure("first apply", dir, bin, "apply", "pipeline.yaml"); err != nil {
		return nil, err
	}
	if err := sameRecords(filepath.Join(dir, "out", "products.jsonl"), floorOut); err != nil {
		return nil, fmt.Errorf("synk's output is not the floor's: %w", err)
	}
	if rep.NoopPlan, err = measure("no-op plan", dir, bin, "plan", "pipeline.yaml"); err != nil {
		return nil, err
	}
	if err := writeProducts(in, cfg.N, true); err != nil {
		return nil, err
	}
	if rep.Change, err = measure("1 % apply", dir, bin, "apply", "pipeline.yaml"); err != nil {
		return nil, err
	}
	// The floor of the changed input, to check the 1 % apply's output too.
	if err := runFloor(in, floorOut); err != nil {
		return nil, err
	}
	if err := sameRecords(filepath.Join(dir, "out", "products.jsonl"), floorOut); err != nil {
		return nil, fmt.Errorf("after the 1 %% apply, synk's output is not the floor's: %w", err)
	}
	return rep, nil
}

// writeProducts writes n products; with changed, every hundredth has a
// new price (the 1 % change).
func writeProducts(path string, n int, changed bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	rates := []int{25, 25, 25, 15, 12, 0}
	names := []string{"  kaffe ", "Te", "sjokolade  ", " Brød", "melk"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for id := 1; id <= n; id++ {
		price := float64(rng.IntN(100000)) / 100
		if changed && id%100 == 0 {
			price += 1
		}
		fmt.Fprintf(w, `{"id":%d,"name":"%s nr %d","price":%g,"vat_rate":%d,"stock":%d,"updated":"%s"}`+"\n",
			id, names[rng.IntN(len(names))], id, price, rates[rng.IntN(len(rates))], rng.IntN(500),
			base.Add(time.Duration(rng.IntN(300*24*3600))*time.Second).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sameRecords compares two JSONL files as sets of records keyed by id.
func sameRecords(got, want string) error {
	g, err := readRecords(got)
	if err != nil {
		return err
	}
	w, err := readRecords(want)
	if err != nil {
		return err
	}
	if len(g) != len(w) {
		return fmt.Errorf("%d records, want %d", len(g), len(w))
	}
	for id, wr := range w {
		gr, ok := g[id]
		if !ok {
			return fmt.Errorf("record %s missing", id)
		}
		for k, wv := range wr {
			if fmt.Sprint(gr[k]) != fmt.Sprint(wv) {
				return fmt.Errorf("record %s: %s = %v, want %v", id, k, gr[k], wv)
			}
		}
		if len(gr) != len(wr) {
			return fmt.Errorf("record %s has fields %v, want %v", id, gr, wr)
		}
	}
	return nil
}

func readRecords(path string) (map[string]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out[fmt.Sprint(rec["id"])] = rec
	}
	return out, sc.Err()
}

// Targets of issue 12, on an idle 2-core machine.
const (
	firstApplyFactor = 3.0
	maxRSS           = 1 << 30
	noopPlanTarget   = 2500 * time.Millisecond
	changeTarget     = 4 * time.Second
)

func (r *report) missed() []string {
	var out []string
	if r.FirstApply.Wall > time.Duration(firstApplyFactor*float64(r.Floor.Wall)) {
		out = append(out, fmt.Sprintf("first apply %.1f× the floor (target ≤ %.0f×)", r.ratio(), firstApplyFactor))
	}
	for _, s := range []step{r.FirstApply, r.NoopPlan, r.Change} {
		if s.MaxRSS > maxRSS {
			out = append(out, fmt.Sprintf("%s peak RSS %s (target < 1 GiB)", s.Name, mib(s.MaxRSS)))
		}
	}
	if r.NoopPlan.Wall > noopPlanTarget {
		out = append(out, fmt.Sprintf("no-op plan %s (target < %s)", secs(r.NoopPlan.Wall), secs(noopPlanTarget)))
	}
	if r.Change.Wall > changeTarget {
		out = append(out, fmt.Sprintf("1 %% apply %s (target < %s)", secs(r.Change.Wall), secs(changeTarget)))
	}
	return out
}

func (r *report) ratio() float64 { return float64(r.FirstApply.Wall) / float64(r.Floor.Wall) }

func (r *report) print(w *os.File) {
	fmt.Fprintf(w, "%d products, JSONL → JSONL, six expressions\n\n", r.N)
	fmt.Fprintln(w, "| step | wall | CPU | peak RSS | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	row := func(s step, target string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", s.Name, secs(s.Wall), secs(s.CPU), mib(s.MaxRSS), target)
	}
	row(r.Floor, "the floor: DuckDB `COPY … FROM read_json` of the same mapping")
	row(r.FirstApply, fmt.Sprintf("≤ %.0f× the floor (%.1f×), < 1 GiB", firstApplyFactor, r.ratio()))
	row(r.NoopPlan, "< "+secs(noopPlanTarget)+", < 1 GiB")
	row(r.Change, "< "+secs(changeTarget)+", < 1 GiB")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func mib(b int64) string          { return fmt.Sprintf("%d MiB", b>>20) }
