package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/daemon"
)

const serveToken = "serve-test-fiken-token"

// shopProducts is how many products the shop emulator is seeded with.
const shopProducts = 24

// emulators starts both emulators over TCP and returns the environment
// the products pipeline reads.
func emulators(t *testing.T, fkOpts fikentest.Options) (*fikentest.Server, *prestashoptest.Server, []string) {
	t.Helper()
	fkOpts.Company, fkOpts.Token, fkOpts.Seed = "demo-as", serveToken, 11
	fk, err := fikentest.NewServer(fkOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fk.Close() })
	fikentest.Check(t, fk)
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 11, Products: shopProducts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	prestashoptest.Check(t, ps)
	return fk, ps, []string{"PRESTASHOP_URL=" + ps.URL(), "PRESTASHOP_KEY=" + ps.Key(),
		"FIKEN_URL=" + fk.URL(), "FIKEN_COMPANY=demo-as", "FIKEN_TOKEN=" + serveToken}
}

// writePipeline copies daemon/testdata/products.yaml into dir with another
// schedule.
func writePipeline(t *testing.T, dir, name, sched string) string {
	t.Helper()
	b, err := os.ReadFile("../../daemon/testdata/products.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), `schedule: "@every 1h"`, `schedule: "`+sched+`"`, 1)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveProc is a running `synk serve`.
type serveProc struct {
	*proc
	t   *testing.T
	url string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs the real binary's serve and waits for /healthz.
func startServe(t *testing.T, dir string, env []string, args ...string) *serveProc {
	t.Helper()
	addr := freeAddr(t)
	p := &serveProc{t: t, url: "http://" + addr,
		proc: startProc(t, dir, env, append([]string{"serve", "--addr", addr, "--watch", "100ms"}, args...)...)}
	p.eventually("healthz", 30*time.Second, func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("serve exited %d before it was healthy:\n%s", p.code, p.stderr)
		default:
		}
		code, body := p.get("/healthz")
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
	return p
}

// eventually polls cond until it holds, failing after timeout.
func (p *serveProc) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not within %v; last: %s\nserve stderr:\n%s", what, timeout, last, p.stderr)
		}
		<-tick.C
	}
}

func (p *serveProc) get(path string) (int, string) {
	resp, err := http.Get(p.url + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *serveProc) post(path string) (int, string) {
	resp, err := http.Post(p.url+path, "", nil)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *serveProc) status() daemon.Status {
	p.t.Helper()
	code, body := p.get("/status")
	var doc daemon.Status
	if code != http.StatusOK {
		p.t.Fatalf("/status: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		p.t.Fatalf("/status: %v\n%s", err, body)
	}
	return doc
}

// waitRun waits until the pipeline's last run is not prev and returns it.
func (p *serveProc) waitRun(name, prev string) daemon.RunRecord {
	p.t.Helper()
	var got daemon.RunRecord
	p.eventually("a new run of "+name, 60*time.Second, func() (bool, string) {
		ps := p.status().Pipeline(name)
		if ps == nil || ps.LastRun == nil || ps.LastRun.ID == prev || ps.Running {
			return false, fmt.Sprintf("%+v", ps)
		}
		got = *ps.LastRun
		return true, ""
	})
	return got
}

// stop sends sig and waits for the exit code.
func (p *serveProc) stop(sig os.Signal, timeout time.Duration) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("serve did not exit within %v of %v:\n%s", timeout, sig, p.stderr)
	}
	return p.code
}

func noSecrets(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("serve's log output contains the secret %q", s)
		}
	}
}

// TestServe runs the real binary on two pipelines from a DIR (the products
// pipeline against the emulators, triggered; the CSV example every second)
// and checks a trigger, the state file between runs, the metrics, the log
// lines and a clean SIGTERM. The reload and readiness logic is tested
// in-process in package daemon.
func TestServe(t *testing.T) {
	fk, ps, env := emulators(t, fikentest.Options{})
	dir := t.TempDir()
	copyTree(t, "../../examples/two-way-csv", dir)
	csv := filepath.Join(dir, "pipeline.yaml")
	b, _ := os.ReadFile(csv)
	os.WriteFile(csv, []byte(strings.Replace(string(b), "name: two-way-csv\n", "name: two-way-csv\nschedule: \"@every 1s\"\n", 1)), 0o644)
	writePipeline(t, dir, "products.yaml", "@every 1h")

	p := startServe(t, dir, env, ".")
	doc := p.status()
	if len(doc.Pipelines) != 2 || doc.Pipeline("serve-products") == nil || doc.Pipeline("two-way-csv") == nil {
		t.Fatalf("pipelines: %+v", doc.Pipelines)
	}
	sp := doc.Pipeline("serve-products")
	if sp.Schedule != "@every 1h" || sp.File != "products.yaml" || sp.State != filepath.Join(dir, "products.duckdb") ||
		sp.NextRun == nil || time.Until(*sp.NextRun) < 59*time.Minute || sp.LastRun != nil {
		t.Errorf("products before any run: %+v", sp)
	}
	if code, body := p.get("/readyz"); code != http.StatusOK {
		t.Errorf("readyz at start: %d %s", code, body)
	}

	// The CSV pipeline runs on its own, every second.
	csvRun := p.waitRun("two-way-csv", "")
	if csvRun.Outcome != "success" || csvRun.Reason != "schedule" || csvRun.Applied == 0 {
		t.Errorf("first csv run: %+v", csvRun)
	}
	if next := p.waitRun("two-way-csv", csvRun.ID); next.Outcome != "success" || next.Applied != 0 {
		t.Errorf("second csv run: %+v", next)
	}

	code, body := p.post("/run/serve-products")
	if code != http.StatusAccepted || !strings.Contains(body, `"started"`) {
		t.Fatalf("POST /run: %d %s", code, body)
	}
	prun := p.waitRun("serve-products", "")
	if prun.Outcome != "success" || prun.Reason != "trigger" || prun.Applied != shopProducts || prun.Applied == 0 {
		t.Fatalf("triggered run: %+v (shop has %d products)", prun, shopProducts)
	}
	if n := len(fk.Products()); n != prun.Applied {
		t.Errorf("fiken has %d products after applying %d", n, prun.Applied)
	}
	// Between runs the state file is free: synk sql reads the run.
	r := run(t, dir, "sql", "--state", "products.duckdb", "--format", "csv",
		fmt.Sprintf("SELECT status, applied FROM synk.runs WHERE run_id = '%s'", prun.ID))
	if r.code != 0 || r.stdout != fmt.Sprintf("status,applied\nsuccess,%d\n", prun.Applied) {
		t.Errorf("synk.runs: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	_, metrics := p.get("/metrics")
	for _, want := range []string{`synk_runs_total{pipeline="serve-products",status="success"} 1`,
		`synk_schedule_delay_seconds_count{pipeline="two-way-csv"}`, "go_goroutines ", `synk_http_requests_total{code="201",connection="fiken",method="POST",pipeline="serve-products"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if code := p.stop(syscall.SIGTERM, 60*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, p.stderr)
	}
	out := p.stderr.String()
	noSecrets(t, out, serveToken, ps.Key())
	if !strings.Contains(out, `"run_id":"`+prun.ID+`"`) || !strings.Contains(out, `"pipeline":"serve-products"`) {
		t.Errorf("run log lines lack pipeline and run_id:\n%s", out)
	}
}

// TestServeShutdownMidApply: SIGTERM while creates are going to a slow
// Fiken; with a short --shutdown-timeout the run is cancelled, serve exits
// 0, and the next apply finishes the job without creating anything twice.
func TestServeShutdownMidApply(t *testing.T) {
	fk, ps, env := emulators(t, fikentest.Options{Faults: fikentest.Faults{Latency: 150 * time.Millisecond}})
	dir := t.TempDir()
	writePipeline(t, dir, "products.yaml", "@every 1h")
	p := startServe(t, dir, env, "--shutdown-timeout", "300ms", "products.yaml")
	if code, body := p.post("/run/serve-products"); code != http.StatusAccepted {
		t.Fatalf("POST /run: %d %s", code, body)
	}
	p.eventually("creates under way", 30*time.Second, func() (bool, string) {
		n := fk.Stats().ByMethod["POST"]
		return n >= 3, fmt.Sprint(n, " POSTs")
	})
	if code := p.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM mid-apply\n%s", code, p.stderr)
	}
	created := len(fk.Products())
	want := shopProducts
	if created == 0 || created >= want {
		t.Fatalf("%d of %d products created: the run was not stopped mid-apply", created, want)
	}
	if !strings.Contains(p.stderr.String(), "cancelling runs in progress") {
		t.Errorf("no cancellation logged:\n%s", p.stderr)
	}
	noSecrets(t, p.stderr.String(), serveToken, ps.Key())
	r := run(t, dir, "sql", "--state", "products.duckdb", "--format", "csv", "SELECT status FROM synk.runs")
	if r.code != 0 || r.stdout != "status\nstopped\n" {
		t.Errorf("the cancelled run is not recorded as stopped: %q %s", r.stdout, r.stderr)
	}
	r = runEnv(t, env, "apply", filepath.Join(dir, "products.yaml"))
	if r.code != 0 {
		t.Fatalf("apply after the shutdown: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	seen := map[string]int{}
	for _, pr := range fk.Products() {
		seen[pr.ProductNumber]++
		if seen[pr.ProductNumber] > 1 {
			t.Errorf("product %s created twice", pr.ProductNumber)
		}
	}
	if len(seen) != want {
		t.Errorf("fiken has %d products, the shop %d", len(seen), want)
	}
	r = run(t, dir, "sql", "--state", "products.duckdb", "--format", "csv", "SELECT count(*) AS n FROM synk.journal WHERE status = 'pending'")
	if r.code != 0 || r.stdout != "n\n0\n" {
		t.Errorf("journal intents left pending: %q %s", r.stdout, r.stderr)
	}

	// A restarted serve shows the last run and success from synk.runs.
	p = startServe(t, dir, env, "products.yaml")
	sp := p.status().Pipeline("serve-products")
	if sp == nil || sp.LastRun == nil || sp.LastRun.Outcome != "success" || sp.LastRun.Applied != shopProducts-created || sp.LastSuccess == nil {
		t.Errorf("status after a restart: %+v", sp)
	}
	if code := p.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestServeLoadErrors: a file that does not load stops serve at the start
// with exit 2 and each error positioned.
func TestServeLoadErrors(t *testing.T) {
	_, _, env := emulators(t, fikentest.Options{})
	tests := []struct {
		name  string
		setup func(dir string) []string
		want  string
	}{
		{"bad schedule", func(dir string) []string {
			writePipeline(t, dir, "p.yaml", "every 5 minutes")
			return []string{"p.yaml"}
		}, "p.yaml:6:11: schedule \"every 5 minutes\""},
		{"shared state file", func(dir string) []string {
			writePipeline(t, dir, "a.yaml", "@every 1m")
			b := writePipeline(t, dir, "b.yaml", "@every 1m")
			src, _ := os.ReadFile(b)
			os.WriteFile(b, []byte(strings.Replace(string(src), "name: serve-products", "name: other", 1)), 0o644)
			return []string{"a.yaml", "b.yaml"}
		}, "is already used by pipeline serve-products"},
		{"same name", func(dir string) []string {
			writePipeline(t, dir, "a.yaml", "@every 1m")
			b := writePipeline(t, dir, "b.yaml", "@every 1m")
			src, _ := os.ReadFile(b)
			os.WriteFile(b, []byte(strings.Replace(string(src), "state: products.duckdb", "state: b.duckdb", 1)), 0o644)
			return []string{"a.yaml", "b.yaml"}
		}, "pipeline name serve-products is already used by a.yaml"},
		{"unknown field", func(dir string) []string {
			p := writePipeline(t, dir, "p.yaml", "@every 1m")
			src, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(src), "name: name\n", "name: nmae\n", 1)), 0o644)
			return []string{"p.yaml"}
		}, "p.yaml:27:17: unknown name nmae"},
		{"empty dir", func(dir string) []string { return []string{"."} }, "no pipelines found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"serve", "--addr", freeAddr(t)}, tt.setup(dir)...)
			cmd := exec.CommandContext(t.Context(), synkBin, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), env...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2\n%s", err, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, errb.String())
			}
		})
	}
}

// TestServeSIGHUP: with polling off, an edit is picked up on SIGHUP; a
// pipeline without a schedule runs only when triggered.
func TestServeSIGHUP(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "../../examples/two-way-csv", dir)
	p := startServe(t, dir, nil, "--watch", "0", "pipeline.yaml")
	sp := p.status().Pipeline("two-way-csv")
	if sp == nil || sp.Schedule != "" || sp.NextRun != nil || sp.StaleAfter != nil {
		t.Fatalf("trigger-only pipeline: %+v", sp)
	}
	if code, body := p.post("/run/two-way-csv"); code != http.StatusAccepted {
		t.Fatalf("POST /run: %d %s", code, body)
	}
	if r := p.waitRun("two-way-csv", ""); r.Outcome != "success" || r.Applied == 0 {
		t.Fatalf("run: %+v", r)
	}
	path := filepath.Join(dir, "pipeline.yaml")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "name: two-way-csv\n", "name: two-way-csv\nschedule: \"@every 1h\"\n", 1)), 0o644)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.eventually("schedule reloaded on SIGHUP", 20*time.Second, func() (bool, string) {
		sp := p.status().Pipeline("two-way-csv")
		return sp != nil && sp.Schedule == "@every 1h" && sp.NextRun != nil, fmt.Sprintf("%+v", sp)
	})
	if code := p.stop(syscall.SIGINT, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
}
