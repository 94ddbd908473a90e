package daemon

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeMaxRunsWaitsForASlot: with every slot taken a triggered run waits,
// starts once a slot is free, and its schedule delay counts the wait.
func TestServeMaxRunsWaitsForASlot(t *testing.T) {
	inTempDir(t)
	copyCSVExample(t, "")
	h := newHarness(t, Options{MaxRuns: 1}, "pipeline.yaml")
	h.start()
	h.srv.slots <- struct{}{} // the only slot, held as a run in progress would
	if code, body := h.do(http.MethodPost, "/run/two-way-csv"); code != http.StatusAccepted || !strings.Contains(body, `"run": "started"`) {
		t.Fatalf("POST /run: %d %s", code, body)
	}
	<-h.started // the scheduler began the run; it waits for the slot
	if h.logs.find("run started", map[string]any{"pipeline": "two-way-csv"}) != nil {
		t.Fatal("a run started while every slot was taken")
	}
	h.clock.Advance(7 * time.Second)
	<-h.srv.slots
	h.waitRun()
	if h.logs.find("run started", map[string]any{"pipeline": "two-way-csv", "delay": "7s"}) == nil {
		t.Error("no run started with the 7 s it waited as its delay")
	}
	if run := h.pipeline("two-way-csv").LastRun; run == nil || run.Outcome != "success" {
		t.Errorf("the run that waited: %+v", run)
	}
}
