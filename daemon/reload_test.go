package daemon

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline/state"
)

// TestReloadKeepsThePreviousVersion drives the watcher's reloads over a
// DIR: a broken edit is reported once with file:line:col and the previous
// version keeps running; fixing it clears the error; a new file that does
// not load makes the process not ready until it goes; a pipeline whose
// file goes stops being served; a renamed pipeline is served by its new
// name only.
func TestReloadKeepsThePreviousVersion(t *testing.T) {
	fk := startEmulators(t, fikentest.Options{}, nil)
	dir := inTempDir(t)
	copyCSVExample(t, "@every 1h")
	writeProducts(t, "products.yaml", "@every 1h")
	// A deployment file next to the pipelines is not one.
	writeFile(t, "alerts.yaml", "groups:\n  - name: synk\n    rules: []\n")
	h := newHarness(t, Options{}, ".")
	h.start()
	doc := h.status()
	if names := h.srv.Names(); !cmp.Equal(names, []string{"serve-products", "two-way-csv"}) {
		t.Fatalf("pipelines served: %v", names)
	}
	if ps := doc.Pipeline("serve-products"); ps.File != "products.yaml" || ps.State != dir+"/products.duckdb" || ps.Schedule != "@every 1h" {
		t.Errorf("products: %+v", ps)
	}
	if h.logs.find("pipeline loaded", map[string]any{"file": "alerts.yaml"}) != nil || len(doc.NotLoaded) != 0 {
		t.Errorf("alerts.yaml was taken for a pipeline: %+v", doc.NotLoaded)
	}
	first := h.trigger("serve-products")
	if first.Outcome != "success" || first.Applied != shopProducts || len(fk.Products()) != shopProducts {
		t.Fatalf("first run: %+v", first)
	}

	// A broken edit: reported once, the old version keeps running.
	editFile(t, "products.yaml", "          name: name\n", "          name: nmae\n")
	errs := h.srv.reload(false)
	if len(errs) != 1 || !regexp.MustCompile(`^products\.yaml:2[0-9]:\d+: unknown name nmae`).MatchString(errs[0].Error()) {
		t.Fatalf("reload of a broken edit: %v", errs)
	}
	logged := h.logs.find("pipeline file not reloaded; the previous version keeps running", map[string]any{"pipeline": "serve-products", "file": "products.yaml"})
	if logged == nil || !strings.Contains(logged["err"].(string), "products.yaml:2") {
		t.Errorf("the broken edit is not logged with file:line:col: %v", logged)
	}
	if errs := h.srv.reload(false); len(errs) != 0 {
		t.Errorf("an unchanged broken file is reported again: %v", errs)
	}
	if ps := h.pipeline("serve-products"); ps.LoadError != errs[0].Error() || ps.Schedule != "@every 1h" {
		t.Errorf("status after a broken edit: %+v", ps)
	}
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Errorf("readyz after a broken edit of a running pipeline: %d %v", code, reasons)
	}
	if again := h.trigger("serve-products"); again.Outcome != "success" || again.Planned != 0 {
		t.Errorf("run with the previous version after a broken edit: %+v", again)
	}
	editFile(t, "products.yaml", "          name: nmae\n", "          name: name\n")
	if errs := h.srv.reload(false); len(errs) != 0 {
		t.Fatalf("reload of the fixed file: %v", errs)
	}
	if ps := h.pipeline("serve-products"); ps.LoadError != "" {
		t.Errorf("load error kept after the fix: %+v", ps)
	}

	// A new file in the directory that does not load.
	writeFile(t, "new.yaml", "version: 1\nname: new\nconnections: {}\nentities: {x: {}}\n")
	if errs := h.srv.reload(false); len(errs) != 1 {
		t.Fatalf("reload with a broken new file: %v", errs)
	}
	code, reasons := h.readiness()
	if code != http.StatusServiceUnavailable || len(reasons) != 1 || !strings.HasPrefix(reasons[0], "new.yaml: not loaded: ") {
		t.Errorf("readyz with a new file that does not load: %d %v", code, reasons)
	}
	if doc := h.status(); len(doc.NotLoaded) != 1 || doc.NotLoaded[0].File != "new.yaml" || doc.Ready {
		t.Errorf("not_loaded: %+v", doc.NotLoaded)
	}
	if h.logs.find("pipeline file not loaded", map[string]any{"file": "new.yaml"}) == nil {
		t.Error("the new file's error is not logged")
	}

	// Files gone from the directory.
	if err := os.Remove("new.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove("pipeline.yaml"); err != nil {
		t.Fatal(err)
	}
	if errs := h.srv.reload(false); len(errs) != 0 {
		t.Fatalf("reload after removals: %v", errs)
	}
	if code, reasons := h.readiness(); code != http.StatusOK {
		t.Errorf("readyz once the broken file is gone: %d %v", code, reasons)
	}
	if names := h.srv.Names(); !cmp.Equal(names, []string{"serve-products"}) {
		t.Errorf("pipelines served once pipeline.yaml is gone: %v", names)
	}
	if h.logs.find("pipeline file removed: no longer scheduled", map[string]any{"pipeline": "two-way-csv", "file": "pipeline.yaml"}) == nil {
		t.Error("the removal is not logged")
	}
	if code, _ := h.do(http.MethodPost, "/run/two-way-csv"); code != http.StatusNotFound {
		t.Errorf("POST /run of a removed pipeline: %d", code)
	}

	// Renamed: the old name goes, the new one keeps the file and state.
	editFile(t, "products.yaml", "name: serve-products\n", "name: renamed\n")
	if errs := h.srv.reload(false); len(errs) != 0 {
		t.Fatalf("reload after a rename: %v", errs)
	}
	if names := h.srv.Names(); !cmp.Equal(names, []string{"renamed"}) {
		t.Errorf("pipelines served after the rename: %v", names)
	}

	if got, want := h.metric(`synk_reloads_total{result="ok"}`), "2"; got != want {
		t.Errorf("reloads ok: %s, want %s (the fix and the rename)", got, want)
	}
	if got, want := h.metric(`synk_reloads_total{result="error"}`), "2"; got != want {
		t.Errorf("reloads failed: %s, want %s (the broken edit and the new file)", got, want)
	}
}

// TestWatchReloadsEditedFiles: every Watch interval the watcher loads the
// files that changed.
func TestWatchReloadsEditedFiles(t *testing.T) {
	inTempDir(t)
	copyCSVExample(t, "")
	h := newHarness(t, Options{Watch: 3 * time.Second}, "pipeline.yaml")
	h.start()
	h.waitTimers(1) // the watcher's; a trigger-only pipeline has none
	editFile(t, "pipeline.yaml", "name: two-way-csv\n", "name: two-way-csv\nschedule: \"@every 1h\"\n")
	h.clock.Advance(3 * time.Second)
	// The watcher's next timer and the pipeline's first activation.
	h.waitTimers(2)
	ps := h.pipeline("two-way-csv")
	if now := h.clock.Now(); ps.Schedule != "@every 1h" || ps.NextRun == nil || !ps.NextRun.Equal(now.Add(time.Hour)) {
		t.Errorf("after the watcher's tick at %v: %+v", now, ps)
	}
}

// TestReloadSignalReloadsEveryFile: with the watcher off, the reload
// signal loads every file, edited or not.
func TestReloadSignalReloadsEveryFile(t *testing.T) {
	inTempDir(t)
	copyCSVExample(t, "")
	h := newHarness(t, Options{}, "pipeline.yaml")
	h.start()
	editFile(t, "pipeline.yaml", "name: two-way-csv\n", "name: two-way-csv\nschedule: \"@every 1h\"\n")
	h.reload <- syscall.SIGHUP
	h.waitTimers(1) // the first activation of the schedule the reload set
	if ps := h.pipeline("two-way-csv"); ps.Schedule != "@every 1h" || ps.NextRun == nil {
		t.Errorf("after the reload signal: %+v", ps)
	}
	if h.logs.find("SIGHUP: reloading every pipeline file", nil) == nil {
		t.Error("the reload signal is not logged")
	}
}

// TestRestartShowsTheLastRun: a new daemon on the same state file shows
// the last apply and the last success from synk.runs before it has run.
func TestRestartShowsTheLastRun(t *testing.T) {
	inTempDir(t)
	copyCSVExample(t, "@every 1h")
	h := newHarness(t, Options{}, "pipeline.yaml")
	h.start()
	run := h.trigger("two-way-csv")
	h.shutdown()

	h = newHarness(t, Options{}, "pipeline.yaml")
	h.start()
	ps := h.pipeline("two-way-csv")
	if ps.LastRun == nil || ps.LastSuccess == nil || !ps.LastSuccess.Equal(ps.LastRun.End) {
		t.Fatalf("after a restart: %+v", ps)
	}
	got := *ps.LastRun
	want := *run
	want.Reason = "" // not kept in synk.runs
	// synk.runs has the times of the state file's clock; the ones before
	// the restart were the daemon's.
	want.Start, want.End = got.Start, got.End
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last run after a restart (-want +got):\n%s", diff)
	}
	// It is the same record apply left in the state file.
	st, err := state.OpenReadOnly(t.Context(), ps.State)
	if err != nil {
		t.Fatal(err)
	}
	defer st.DB.Close()
	rec, ok, err := st.LastRun(t.Context(), "two-way-csv", state.ModeApply)
	if err != nil || !ok || rec.ID != got.ID || !rec.Started.Equal(got.Start) || !rec.Finished.Equal(got.End) {
		t.Errorf("synk.runs has %+v (%v, %v); /status %+v", rec, ok, err, got)
	}
}
