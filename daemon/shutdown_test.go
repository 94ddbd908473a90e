package daemon

import (
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline/state"
)

// holdFirstWrite wraps Fiken: the first POST closes writing and then waits
// for release, so the test stops the daemon while a run is mid-apply.
func holdFirstWrite(writing, release chan struct{}) func(http.Handler) http.Handler {
	var once sync.Once
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				once.Do(func() {
					close(writing)
					<-release
				})
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestShutdownCancelsRunsInProgress: once Serve's context ends, a run in
// progress may go on until the shutdown timeout or a second stop signal;
// then it is cancelled, the write in flight finishes, no other starts, the
// run is recorded as stopped, and Serve returns.
func TestShutdownCancelsRunsInProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		// cancel makes the daemon cancel the run.
		cancel func(h *harness)
		log    string
	}{
		{"shutdown timeout", func(h *harness) {
			h.waitTimers(1) // the shutdown timeout's
			h.clock.Advance(time.Minute)
		}, "shutdown timeout: cancelling runs in progress"},
		{"second signal", func(h *harness) {
			// The first is the one that ended the context.
			h.stop <- syscall.SIGTERM
			h.stop <- syscall.SIGTERM
		}, "second signal: cancelling runs in progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writing, release := make(chan struct{}), make(chan struct{})
			fk := startEmulators(t, fikentest.Options{}, holdFirstWrite(writing, release))
			inTempDir(t)
			writeProducts(t, "products.yaml", "@every 1h")
			h := newHarness(t, Options{ShutdownTimeout: time.Minute}, "products.yaml")
			h.start()
			h.do(http.MethodPost, "/run/serve-products")
			<-writing
			h.cancel()
			tc.cancel(h)
			close(release)
			<-h.done
			if h.logs.find(tc.log, nil) == nil {
				t.Errorf("no %q logged", tc.log)
			}
			ps := h.srv.Status(h.clock.Now()).Pipeline("serve-products")
			if ps.LastRun == nil || ps.LastRun.Outcome != "stopped" || ps.Running || ps.LastRun.Applied != len(fk.Products()) ||
				ps.LastRun.Applied > 1 {
				t.Fatalf("after the shutdown: %+v, last run %+v; Fiken has %d products", ps, ps.LastRun, len(fk.Products()))
			}
			st, err := state.OpenReadOnly(t.Context(), ps.State)
			if err != nil {
				t.Fatal(err)
			}
			defer st.DB.Close()
			if rec, ok, err := st.LastRun(t.Context(), "serve-products", state.ModeApply); err != nil || !ok || rec.ID != ps.LastRun.ID || rec.Status != "stopped" {
				t.Errorf("synk.runs: %+v, %v, %v", rec, ok, err)
			}
		})
	}
}
