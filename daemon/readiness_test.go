package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline/schedule"
)

// TestNotReadyAfterThreeActivationsWithoutSuccess: a pipeline whose runs
// fail (Fiken refuses its token) is ready until three of its activations
// pass without a success, then /readyz answers 503 naming it and its last
// error; a success (after a reload with the right token) makes the
// process ready again and moves the deadline; shutting down is not ready.
func TestNotReadyAfterThreeActivationsWithoutSuccess(t *testing.T) {
	fk := startEmulators(t, fikentest.Options{}, nil)
	t.Setenv("FIKEN_TOKEN", "not-the-token")
	dir := inTempDir(t)
	writeProducts(t, "products.yaml", "@every 2s")
	h := newHarness(t, Options{}, "products.yaml") // no jitter
	h.start()
	loaded := h.clock.Now()
	h.waitTimers(1) // the first activation

	ps := h.pipeline("serve-products")
	if ps.File != "products.yaml" || ps.State != dir+"/products.duckdb" || ps.LastRun != nil || ps.LastSuccess != nil ||
		ps.NextRun == nil || !ps.NextRun.Equal(loaded.Add(2*time.Second)) ||
		ps.StaleAfter == nil || !ps.StaleAfter.Equal(loaded.Add(6*time.Second)) {
		t.Fatalf("before any run: %+v", ps)
	}
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Fatalf("readyz before the first run is due: %d %v", code, reasons)
	}

	h.clock.Advance(2 * time.Second)
	if r := h.waitRun(); r.Reason != schedule.BySchedule || !r.Due.Equal(loaded.Add(2*time.Second)) {
		t.Errorf("first run: %+v", r)
	}
	ps = h.pipeline("serve-products")
	if ps.LastRun == nil || ps.LastRun.Outcome != "failed" || ps.LastRun.Reason != "schedule" || ps.LastSuccess != nil ||
		ps.LastError == "" || ps.LastError != ps.LastRun.Error || !strings.Contains(ps.LastError, "401") {
		t.Fatalf("after a failed run: %+v, last run %+v", ps, ps.LastRun)
	}
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Errorf("readyz after one failure, before three activations: %d %v", code, reasons)
	}

	h.waitTimers(1) // the next activation, two seconds after the failed run
	h.clock.Advance(5 * time.Second)
	h.waitRun()
	code, reasons := h.readiness()
	want := []string{fmt.Sprintf("pipeline serve-products: no successful run since it was loaded at %s (schedule @every 2s); last error: %s",
		loaded.UTC().Format(time.RFC3339), h.pipeline("serve-products").LastError)}
	if diff := cmp.Diff(want, reasons); code != http.StatusServiceUnavailable || diff != "" {
		t.Errorf("readyz three activations after the load: %d, reasons (-want +got):\n%s", code, diff)
	}

	// The right token, as a reload signal would pick it up, and a success.
	t.Setenv("FIKEN_TOKEN", fikenToken)
	if errs := h.srv.reload(true); len(errs) > 0 {
		t.Fatal(errs)
	}
	run := h.trigger("serve-products")
	if run.Outcome != "success" || run.Applied != shopProducts || len(fk.Products()) != shopProducts {
		t.Fatalf("run after the token is fixed: %+v; Fiken has %d products", run, len(fk.Products()))
	}
	ps = h.pipeline("serve-products")
	if now := h.clock.Now(); ps.LastSuccess == nil || !ps.LastSuccess.Equal(now) || ps.LastError == "" ||
		ps.StaleAfter == nil || !ps.StaleAfter.Equal(now.Add(6*time.Second)) {
		t.Errorf("after a success at %v: %+v", now, ps)
	}
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Errorf("readyz after a success: %d %v", code, reasons)
	}
	if got := h.metric(`synk_runs_total{pipeline="serve-products",status="failed"}`); got != "2" {
		t.Errorf("failed runs counted: %q, want 2", got)
	}

	h.shutdown()
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"shutting down"`) {
		t.Errorf("readyz once stopped: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/run/serve-products", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"shutting down"`) {
		t.Errorf("POST /run once stopped: %d %s", rec.Code, rec.Body)
	}
}

// TestTriggerOnlyPipeline: a pipeline without a schedule has no next run
// and is never stale; it runs on POST /run, an unknown name is 404 and a
// GET is not a trigger.
func TestTriggerOnlyPipeline(t *testing.T) {
	inTempDir(t)
	copyCSVExample(t, "")
	h := newHarness(t, Options{}, "pipeline.yaml")
	h.start()
	ps := h.pipeline("two-way-csv")
	if ps.Schedule != "" || ps.NextRun != nil || ps.StaleAfter != nil || ps.Running {
		t.Fatalf("trigger-only pipeline: %+v", ps)
	}
	if h.logs.find("pipeline has no schedule: it runs only on POST /run/two-way-csv", map[string]any{"pipeline": "two-way-csv"}) == nil {
		t.Error("no warning that the pipeline runs only when triggered")
	}
	if code, body := h.do(http.MethodPost, "/run/nope"); code != http.StatusNotFound || !strings.Contains(body, "unknown pipeline nope") {
		t.Errorf("POST /run/nope: %d %s", code, body)
	}
	if code, _ := h.do(http.MethodGet, "/run/two-way-csv"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /run: %d", code)
	}
	run := h.trigger("two-way-csv")
	if run.Outcome != "success" || run.Reason != "trigger" || run.Applied == 0 || run.ID == "" {
		t.Fatalf("triggered run: %+v", run)
	}
	if h.logs.find("run finished", map[string]any{"pipeline": "two-way-csv", "run_id": run.ID, "outcome": "success"}) == nil {
		t.Errorf("no run finished line with the pipeline and run_id")
	}
	// Days later it is still ready: it has no schedule to fall behind.
	h.clock.Advance(72 * time.Hour)
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Errorf("readyz: %d %v", code, reasons)
	}
}

// TestSpreadStatus: with Spread, a */5 pipeline's next run is at its own
// place in the five minutes (from its name), and its staleness deadline
// allows an interval more.
func TestSpreadStatus(t *testing.T) {
	startEmulators(t, fikentest.Options{}, nil)
	inTempDir(t)
	writeProducts(t, "products.yaml", "*/5 * * * *")
	h := newHarness(t, Options{Spread: true}, "products.yaml")
	h.start()
	loaded := h.clock.Now()
	h.waitTimers(1)
	sched, err := schedule.Parse("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	ps := h.pipeline("serve-products")
	off := time.Duration(schedule.SpreadFraction("serve-products") * float64(5*time.Minute))
	next := loaded.Truncate(5 * time.Minute).Add(off)
	if !next.After(loaded) {
		next = next.Add(5 * time.Minute)
	}
	if ps.NextRun == nil || !ps.NextRun.Equal(next) {
		t.Errorf("next run %v, want %v (the slot plus %v)", ps.NextRun, next, off)
	}
	if stale := sched.Nth(loaded, 3).Add(5 * time.Minute); ps.StaleAfter == nil || !ps.StaleAfter.Equal(stale) {
		t.Errorf("stale after %v, want %v", ps.StaleAfter, stale)
	}
}
