package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/schedule"
	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/accounting"
)

const fikenToken = "daemon-test-fiken-token"

// shopProducts is how many products the shop emulator is seeded with: few,
// since the client keeps to Fiken's four requests a second.
const shopProducts = 6

// startEmulators starts both emulators over TCP and sets the environment
// the products pipeline reads. Fiken's requests go through wrap, if not
// nil.
func startEmulators(t *testing.T, fkOpts fikentest.Options, wrap func(http.Handler) http.Handler) *fikentest.Server {
	t.Helper()
	fkOpts.Company, fkOpts.Token, fkOpts.Seed = "demo-as", fikenToken, 11
	fk, err := fikentest.New(fkOpts)
	if err != nil {
		t.Fatal(err)
	}
	fikentest.Check(t, fk)
	h := fk.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	fkServer := httptest.NewServer(h)
	t.Cleanup(fkServer.Close)
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 11, Products: shopProducts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	prestashoptest.Check(t, ps)
	for k, v := range map[string]string{"PRESTASHOP_URL": ps.URL(), "PRESTASHOP_KEY": ps.Key(),
		"FIKEN_URL": fkServer.URL + fikentest.APIPrefix, "FIKEN_COMPANY": "demo-as", "FIKEN_TOKEN": fikenToken} {
		t.Setenv(k, v)
	}
	return fk
}

// inTempDir makes a new temporary directory the working directory: the
// daemon takes pipeline paths and state files relative to it.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

// writeProducts writes testdata/products.yaml as name, with sched.
func writeProducts(t *testing.T, name, sched string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "products.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, name, strings.Replace(string(b), `schedule: "@every 1h"`, `schedule: "`+sched+`"`, 1))
}

// testdata is this package's testdata, absolute: the tests change their
// working directory.
var testdata, _ = filepath.Abs("testdata")

// copyCSVExample copies examples/two-way-csv into the working directory;
// with sched not "" the pipeline gets that schedule.
func copyCSVExample(t *testing.T, sched string) {
	t.Helper()
	if err := os.CopyFS(".", os.DirFS(filepath.Join(testdata, "..", "..", "examples", "two-way-csv"))); err != nil {
		t.Fatal(err)
	}
	if sched != "" {
		editFile(t, "pipeline.yaml", "name: two-way-csv\n", "name: two-way-csv\nschedule: \""+sched+"\"\n")
	}
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editFile replaces old, which must be there, by new in the file.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// logRecords are the daemon's log records, decoded: slog's JSON handler
// writes each record in one Write.
type logRecords struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (l *logRecords) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(p, &rec); err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return len(p), nil
}

// find is the first record with msg and every one of attrs; nil if none.
func (l *logRecords) find(msg string, attrs map[string]any) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rec := range l.recs {
		if rec["msg"] != msg {
			continue
		}
		match := true
		for k, v := range attrs {
			match = match && rec[k] == v
		}
		if match {
			return rec
		}
	}
	return nil
}

// harness is a Server in this process on a fake clock, serving HTTP on a
// free local port.
type harness struct {
	t     *testing.T
	srv   *Server
	clock *schedule.FakeClock
	logs  *logRecords
	// started and ran receive every run as it starts and once it has
	// finished, so the tests wait on runs instead of polling for them.
	started, ran chan schedule.Run
	stop, reload chan os.Signal
	url          string
	cancel       context.CancelFunc
	done         chan struct{}
}

// newHarness builds a Server for paths; opts get the harness's registry,
// fake clock and logger.
func newHarness(t *testing.T, opts Options, paths ...string) *harness {
	t.Helper()
	reg := pipeline.NewRegistry()
	file.Register(reg)
	prestashop.Register(reg)
	fiken.Register(reg)
	h := &harness{t: t, clock: schedule.NewFakeClock(time.Now().Truncate(time.Second)), logs: &logRecords{},
		started: make(chan schedule.Run, 16), ran: make(chan schedule.Run, 16),
		stop: make(chan os.Signal), reload: make(chan os.Signal)}
	fns := transforms.NewFunctions()
	accounting.Register(fns)
	opts.Registry, opts.Functions, opts.Clock = reg, fns, h.clock
	opts.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(h.logs, t.Output()), nil))
	h.srv = New(paths, opts)
	h.srv.sched = schedule.New(func(ctx context.Context, r schedule.Run) {
		h.started <- r
		h.srv.run(ctx, r)
		h.ran <- r
	}, schedule.Options{Clock: h.clock, MaxJitter: opts.MaxJitter, Spread: opts.Spread})
	return h
}

// start loads every pipeline file (each must load) and serves.
func (h *harness) start() {
	h.t.Helper()
	if errs := h.srv.Load(); len(errs) > 0 {
		h.t.Fatalf("load: %v", errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(h.t.Context())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.srv.Serve(ctx, ln, Signals{Stop: h.stop, Reload: h.reload})
	}()
	h.t.Cleanup(h.shutdown)
}

// shutdown ends Serve's context, as the first SIGTERM does, and waits for
// Serve to return.
func (h *harness) shutdown() {
	h.cancel()
	<-h.done
}

// waitTimers waits until n timers are waiting on the fake clock: the
// scheduler's next activations, the file watcher's and the shutdown
// timeout's.
func (h *harness) waitTimers(n int) {
	h.t.Helper()
	if err := h.clock.BlockUntil(h.t.Context(), n); err != nil {
		h.t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

// waitRun waits for the next run to finish.
func (h *harness) waitRun() schedule.Run {
	h.t.Helper()
	select {
	case r := <-h.ran:
		return r
	case <-h.t.Context().Done():
		h.t.Fatal("no run finished")
		return schedule.Run{}
	}
}

// do sends one request to the daemon and returns the status code and body.
func (h *harness) do(method, path string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// trigger POSTs /run/name and waits for the run it started.
func (h *harness) trigger(name string) *RunRecord {
	h.t.Helper()
	if code, body := h.do(http.MethodPost, "/run/"+name); code != http.StatusAccepted || !strings.Contains(body, `"run": "started"`) {
		h.t.Fatalf("POST /run/%s: %d %s", name, code, body)
	}
	if r := h.waitRun(); r.Name != name || r.Reason != schedule.ByTrigger {
		h.t.Fatalf("run %+v, want a triggered run of %s", r, name)
	}
	return h.pipeline(name).LastRun
}

// status is GET /status, decoded.
func (h *harness) status() Status {
	h.t.Helper()
	code, body := h.do(http.MethodGet, "/status")
	var doc Status
	if code != http.StatusOK {
		h.t.Fatalf("/status: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		h.t.Fatalf("/status: %v\n%s", err, body)
	}
	return doc
}

// pipeline is the named pipeline in GET /status; the test fails if it is
// not served.
func (h *harness) pipeline(name string) *PipelineStatus {
	h.t.Helper()
	doc := h.status()
	ps := doc.Pipeline(name)
	if ps == nil {
		h.t.Fatalf("/status lacks pipeline %s: %+v", name, doc.Pipelines)
	}
	return ps
}

// readiness is GET /readyz: its code and the reasons it gives.
func (h *harness) readiness() (int, []string) {
	h.t.Helper()
	code, body := h.do(http.MethodGet, "/readyz")
	var doc struct {
		Ready   bool     `json:"ready"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Ready != (code == http.StatusOK) {
		h.t.Fatalf("/readyz: %d %s (%v)", code, body, err)
	}
	return code, doc.Reasons
}

// metric is the value of one sample line in GET /metrics ("" if absent).
func (h *harness) metric(sample string) string {
	h.t.Helper()
	_, body := h.do(http.MethodGet, "/metrics")
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), sample+" "); ok {
			return v
		}
	}
	return ""
}
