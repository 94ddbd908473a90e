// Command serve measures how many pipelines one `synk serve` process keeps
// on schedule. It starts one Fiken and one PrestaShop emulator in this
// process, writes N copies of a products pipeline (each with its own state
// file and its own product-number prefix, so the copies do not match each
// other's Fiken products), runs the real binary's serve on them, lets the
// first runs create the products, and then reads serve's JSON log for a
// measuring window: per run, how late it started and how long it took.
//
//	go build -o /tmp/synk ./cmd/synk
//	go run ./examples/bench/serve -synk /tmp/synk -n 10,20,40 -every 10s -for 60s
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
)

const pipelineTmpl = `version: 1
name: shop-%[1]d
schedule: "@every %[2]s"
state: shop-%[1]d.duckdb
connections:
  shop:
    type: prestashop
    url: ${env:PRESTASHOP_URL}
    key: ${env:PRESTASHOP_KEY}
  fiken:
    type: fiken
    url: ${env:FIKEN_URL}
    company: ${env:FIKEN_COMPANY}
    token: ${env:FIKEN_TOKEN}
entities:
  products:
    key: {shop: '"s%[1]d-" + reference', fiken: productNumber}
    flows:
      - from: shop.products
        to: fiken.products
        create: true
        map:
          productNumber: '"s%[1]d-" + reference'
          name: name
          unitPrice: ore(price)
          vatType: vat_type(tax_rate)
          incomeAccount: 'vat_type(tax_rate) == "EXEMPT" ? "3100" : "3000"'
          active: active
`

func main() {
	bin := flag.String("synk", "", "the synk binary (go build -o /tmp/synk ./cmd/synk)")
	ns := flag.String("n", "10,20,40", "pipeline counts to try, comma separated")
	every := flag.Duration("every", 10*time.Second, "each pipeline's schedule")
	window := flag.Duration("for", 60*time.Second, "measuring window after the first runs")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-synk is required")
	}
	fmt.Printf("%5s %6s %8s %10s %10s %10s %10s %7s %9s\n", "N", "runs", "runs/min", "delay p95", "took p50", "took p95", "took max", "failed", "cpu/run")
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatal(err)
		}
		r, err := measure(*bin, n, *every, *window)
		if err != nil {
			log.Fatal(err)
		}
		cpu := "-"
		if len(r.took) > 0 {
			cpu = fmt.Sprintf("%.2fs", r.cpu/float64(len(r.took)))
		}
		fmt.Printf("%5d %6d %8.1f %10s %10s %10s %10s %7d %9s\n", n, len(r.took), float64(len(r.took))/window.Minutes(),
			pct(r.delay, 95), pct(r.took, 50), pct(r.took, 95), pct(r.took, 100), r.failed, cpu)
	}
}

type result struct {
	delay, took []time.Duration
	failed      int
	// cpu is the serve process's CPU seconds during the window.
	cpu float64
}

// cpuSeconds reads process_cpu_seconds_total from serve's /metrics.
func cpuSeconds(addr string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
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

func measure(bin string, n int, every, window time.Duration) (*result, error) {
	fk, err := fikentest.NewServer(fikentest.Options{Company: "bench", Token: "bench-token", Seed: 1, CountersInitialized: true})
	if err != nil {
		return nil, err
	}
	defer fk.Close()
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 1})
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	dir, err := os.MkdirTemp("", "synk-bench-serve")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for i := range n {
		src := fmt.Sprintf(pipelineTmpl, i, every)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shop-%d.yaml", i)), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, dir)
	cmd.Env = append(os.Environ(), "PRESTASHOP_URL="+ps.URL(), "PRESTASHOP_KEY="+ps.Key(),
		"FIKEN_URL="+fk.URL(), "FIKEN_COMPANY=bench", "FIKEN_TOKEN=bench-token")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Every pipeline's first run creates its products; measuring starts
	// once each has finished one run.
	var mu sync.Mutex
	res := &result{}
	firstDone := map[string]bool{}
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
				if measuring {
					d, _ := time.ParseDuration(l.Took)
					res.took = append(res.took, d)
					if l.Outcome != "success" {
						res.failed++
						log.Printf("%s: %s: %s", l.Pipeline, l.Outcome, l.Err)
					}
				} else if !firstDone[l.Pipeline] {
					firstDone[l.Pipeline] = true
					if len(firstDone) == n {
						close(warm)
					}
				}
			}
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	select {
	case <-warm:
	case <-ctx.Done():
		cmd.Process.Kill()
		return nil, fmt.Errorf("n=%d: first runs did not finish within 10 minutes", n)
	}
	cpu0 := cpuSeconds(addr)
	mu.Lock()
	measuring = true
	mu.Unlock()
	time.Sleep(window) // the measuring window itself, not synchronisation
	mu.Lock()
	measuring = false
	mu.Unlock()
	res.cpu = cpuSeconds(addr) - cpu0
	cmd.Process.Signal(syscall.SIGTERM)
	<-lines
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return res, nil
}
