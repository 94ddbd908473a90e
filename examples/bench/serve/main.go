// Command serve measures how many flagship pipelines one `synk serve`
// process keeps on schedule. Each of N pipelines is pipelines/
// prestashop-fiken.yaml (customers, products, stock, orders, credit notes)
// against a shop and a Fiken company of its own: the emulators run in this
// process as multi-tenant servers (-emulators listeners of each kind), every
// Fiken company with Fiken's limits (one request in flight, 4/s) and the
// pipeline with Fiken's default client limits. It starts the real binary's
// serve on them, waits until every pipeline has had a run with nothing to
// do (the first runs create customers, products and invoices), then reads
// serve's JSON log for a measuring window and samples the process from
// /proc: per run, how late it started and how long it took; CPU per run,
// peak RSS, open files and goroutines.
//
// Time is compressed by default: "* * * * *" stands for "*/5 * * * *".
// Both are cron schedules, so every pipeline is due on the same second and
// spread only by serve's jitter (5 s by default for both: a tenth of the
// interval, capped by --max-jitter), so the herd at each activation is the
// same as on */5, only it comes five times as often. Runs per minute on
// */5 are a fifth of the figure printed; CPU per run, delay and run time
// are per herd and do not scale.
//
//	go build -o /tmp/synk ./cmd/synk
//	go run ./examples/bench/serve -synk /tmp/synk -n 100,300,1000 -for 3m
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipelines"
)

func main() {
	bin := flag.String("synk", "", "the synk binary (go build -o /tmp/synk ./cmd/synk)")
	ns := flag.String("n", "100,300,1000", "pipeline counts to try, comma separated")
	sched := flag.String("schedule", "* * * * *", `each pipeline's schedule ("* * * * *" stands for "*/5 * * * *", 5x compressed)`)
	window := flag.Duration("for", 3*time.Minute, "measuring window after every pipeline's first no-op run")
	emulators := flag.Int("emulators", 4, "listeners of each emulator kind; tenants are spread over them")
	extra := flag.String("serve-args", "", "extra serve flags, space separated")
	flag.DurationVar(&warmFor, "warm", 15*time.Minute, "how long every pipeline may take to reach a run with nothing to do before the window")
	flag.BoolVar(&keep, "keep", false, "keep each N's directory (pipelines, state files) for a look after, and print its path")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-synk is required")
	}
	fmt.Printf("schedule %q; load average at start: %s\n", *sched, loadavg())
	fmt.Printf("%5s %6s %8s %17s %17s %8s %9s %9s %8s %6s %6s %7s %s\n", "N", "runs", "runs/min", "delay p50/p95", "took p50/p95", "cpu/run",
		"RSS peak", "RSS win", "Go heap", "fds", "gorout", "failed", "load")
	fmt.Println("      (failed: runs that failed or had a failed write; runs whose only trouble was a reject are counted apart)")
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatal(err)
		}
		r, err := measure(*bin, n, *sched, *window, *emulators, strings.Fields(*extra))
		if err != nil {
			log.Fatal(err)
		}
		cpu := "-"
		if len(r.took) > 0 {
			cpu = fmt.Sprintf("%.3fs", r.cpu/float64(len(r.took)))
		}
		fmt.Printf("%5d %6d %8.1f %17s %17s %8s %8dM %8dM %7dM %6d %6d %7d %s\n", n, len(r.took), float64(len(r.took))/window.Minutes(),
			pct(r.delay, 50)+" / "+pct(r.delay, 95), pct(r.took, 50)+" / "+pct(r.took, 95), cpu,
			r.peakKB>>10, r.windowKB>>10, r.goHeapKB>>10, r.fds, r.goroutines, r.failed, r.load)
		if r.rejecting > 0 {
			fmt.Printf("      (%d of the runs in the window were partial with rejects only: data synk refuses to write, see the log)\n", r.rejecting)
		}
		if r.busy > 0 {
			fmt.Printf("      (%d of the runs in the window planned changes: not no-op)\n", r.busy)
		}
	}
}

type result struct {
	delay, took []time.Duration
	failed      int
	// rejecting counts runs in the window that were partial with rejects
	// and no failed write.
	rejecting int
	// busy counts runs in the window that planned changes.
	busy int
	// cpu is the serve process's CPU seconds during the window.
	cpu float64
	// peakKB is the process's peak RSS (VmHWM, first runs included);
	// windowKB the most sampled in the window.
	peakKB, windowKB int
	// goHeapKB is the most Go heap in use sampled in the window: the rest
	// of the RSS is DuckDB's (C) memory and the runtime's.
	goHeapKB int
	// fds and goroutines are the most seen in the window.
	fds, goroutines int
	load            string
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(10 * time.Millisecond).String()
}

// world is the emulated shops and Fiken companies, one of each per
// pipeline.
type world struct {
	fk []*fikentest.Tenants
	ps []*prestashoptest.Tenants
}

func (w *world) close() {
	for _, t := range w.fk {
		t.Close()
	}
	for _, t := range w.ps {
		t.Close()
	}
}

func newWorld(listeners int) (*world, error) {
	w := &world{}
	for range listeners {
		fk, err := fikentest.NewTenants("")
		if err != nil {
			w.close()
			return nil, err
		}
		w.fk = append(w.fk, fk)
		ps, err := prestashoptest.NewTenants("")
		if err != nil {
			w.close()
			return nil, err
		}
		w.ps = append(w.ps, ps)
	}
	return w, nil
}

// pipeline adds shop i's tenants and returns its pipeline text and the
// environment it reads (each pipeline its own variables: one serve
// process has one environment).
func (w *world) pipeline(i int, sched string) (string, []string, error) {
	fk, ps := w.fk[i%len(w.fk)], w.ps[i%len(w.ps)]
	seed := uint64(i + 1)
	company, token := fmt.Sprintf("shop-%04d-as", i), fmt.Sprintf("token-%04d", i)
	if _, err := fk.Add(fikentest.Options{Company: company, Token: token, Seed: seed, Products: 4, Contacts: 3,
		CountersInitialized: true, Limits: fikentest.FikenLimits()}); err != nil {
		return "", nil, err
	}
	shop, err := ps.Add(fmt.Sprintf("%04d", i), prestashoptest.Options{Seed: seed, Products: 5, Customers: 4, Orders: 6})
	if err != nil {
		return "", nil, err
	}
	sfx := fmt.Sprintf("_%04d", i)
	text := pipelines.PrestashopFiken()
	for _, r := range [][2]string{
		{"name: prestashop-fiken", fmt.Sprintf("name: shop-%04d", i)},
		{`schedule: "*/5 * * * *"`, fmt.Sprintf("schedule: %q", sched)},
		{"state: synk.duckdb", fmt.Sprintf("state: shop-%04d.duckdb", i)},
		{"${env:FIKEN_URL:-https://api.fiken.no/api/v2}", fk.URL()},
		{"${env:PRESTASHOP_URL}", "${env:PRESTASHOP_URL" + sfx + "}"},
		{"${env:PRESTASHOP_KEY}", "${env:PRESTASHOP_KEY" + sfx + "}"},
		{"${env:FIKEN_COMPANY}", "${env:FIKEN_COMPANY" + sfx + "}"},
		{"${env:FIKEN_TOKEN}", "${env:FIKEN_TOKEN" + sfx + "}"},
	} {
		if !strings.Contains(text, r[0]) {
			return "", nil, fmt.Errorf("the flagship pipeline has no %q to replace", r[0])
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	env := []string{"PRESTASHOP_URL" + sfx + "=" + shop.URL(), "PRESTASHOP_KEY" + sfx + "=" + shop.Key(),
		"FIKEN_COMPANY" + sfx + "=" + company, "FIKEN_TOKEN" + sfx + "=" + token}
	return text, env, nil
}

// keep is -keep: the directories are not removed; warmFor is -warm.
var (
	keep    bool
	warmFor time.Duration
)

func measure(bin string, n int, sched string, window time.Duration, listeners int, extra []string) (*result, error) {
	w, err := newWorld(listeners)
	if err != nil {
		return nil, err
	}
	defer w.close()
	dir, err := os.MkdirTemp("", "synk-bench-serve")
	if err != nil {
		return nil, err
	}
	if keep {
		log.Printf("n=%d: pipelines and state files in %s (kept)", n, dir)
	} else {
		defer os.RemoveAll(dir)
	}
	env := os.Environ()
	for i := range n {
		text, penv, err := w.pipeline(i, sched)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shop-%04d.yaml", i)), []byte(text), 0o600); err != nil {
			return nil, err
		}
		env = append(env, penv...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, append(append([]string{"serve", "--addr", addr}, extra...), dir)...)
	cmd.Dir = dir
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	// Measuring starts once every pipeline has finished a run that planned
	// nothing: the first runs create the customers, products and invoices.
	var mu sync.Mutex
	res := &result{}
	quiet := map[string]bool{}
	var measuring bool
	warm := make(chan struct{})
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Msg      string `json:"msg"`
				Pipeline string `json:"pipeline"`
				Delay    string `json:"delay"`
				Took     string `json:"took"`
				Outcome  string `json:"outcome"`
				Planned  int    `json:"planned"`
				Failed   int    `json:"failed"`
				Rejected int    `json:"rejected"`
				RunID    string `json:"run_id"`
				Err      string `json:"err"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			mu.Lock()
			switch l.Msg {
			case "run started":
				if measuring {
					d, _ := time.ParseDuration(l.Delay)
					res.delay = append(res.delay, d)
				}
			case "run finished":
				if l.Outcome != "success" {
					log.Printf("%s: run %s %s: %d failed, %d rejected %s", l.Pipeline, l.RunID, l.Outcome, l.Failed, l.Rejected, l.Err)
				}
				if measuring {
					d, _ := time.ParseDuration(l.Took)
					res.took = append(res.took, d)
					switch {
					case l.Outcome == "failed" || l.Failed > 0:
						res.failed++
					case l.Outcome != "success":
						res.rejecting++
					}
					if l.Planned > 0 {
						res.busy++
					}
				} else if l.Outcome != "failed" && l.Failed == 0 && l.Planned == 0 && !quiet[l.Pipeline] {
					// Nothing to do: a pipeline whose data holds a reject
					// (a contact synk refuses to overwrite) is as quiet
					// as it will get.
					quiet[l.Pipeline] = true
					if len(quiet) == n {
						close(warm)
					}
				}
			}
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), warmFor)
	defer cancel()
	select {
	case <-warm:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-lines
		cmd.Wait()
		return nil, fmt.Errorf("n=%d: not every pipeline had a no-op run within %v (%d did)", n, warmFor, len(quiet))
	}
	cpu0 := cpuSeconds(pid)
	mu.Lock()
	measuring = true
	mu.Unlock()
	// The window is wall time by design; the samples every second are the
	// most open files and goroutines seen in it.
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		res.fds = max(res.fds, openFiles(pid))
		res.goroutines = max(res.goroutines, int(metric(addr, "go_goroutines")))
		res.goHeapKB = max(res.goHeapKB, int(metric(addr, "go_memstats_heap_inuse_bytes"))>>10)
		res.windowKB = max(res.windowKB, procStatusKB(pid, "VmRSS"))
		time.Sleep(time.Second)
	}
	mu.Lock()
	measuring = false
	mu.Unlock()
	res.cpu = cpuSeconds(pid) - cpu0
	res.peakKB = procStatusKB(pid, "VmHWM")
	res.load = loadavg()
	cmd.Process.Signal(syscall.SIGTERM)
	<-lines
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return res, nil
}

// cpuSeconds is the process's user plus system CPU time, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// procStatusKB reads a kB field of /proc/PID/status (VmHWM: peak RSS).
func procStatusKB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// metric reads a gauge from serve's /metrics (0 when it cannot).
func metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "-"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
