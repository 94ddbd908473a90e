package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/synk-etl/synk/pipeline/schedule"
)

// RunRecord is one finished run, as GET /status shows it.
type RunRecord struct {
	ID string `json:"run_id"`
	// Reason is schedule, trigger or follow-up; empty for a run read back
	// from the state file after a restart.
	Reason string    `json:"reason,omitempty"`
	Start  time.Time `json:"started_at"`
	End    time.Time `json:"finished_at"`
	// Outcome is engine.Status of the run.
	Outcome  string `json:"outcome"`
	Planned  int    `json:"planned"`
	Applied  int    `json:"applied"`
	Failed   int    `json:"failed"`
	Rejected int    `json:"rejected"`
	Error    string `json:"error,omitempty"`
}

// PipelineStatus is one pipeline in GET /status.
type PipelineStatus struct {
	Name        string     `json:"name"`
	File        string     `json:"file"`
	State       string     `json:"state"`
	Schedule    string     `json:"schedule"`
	Running     bool       `json:"running"`
	RunStarted  *time.Time `json:"run_started_at,omitempty"`
	Queued      bool       `json:"queued"`
	NextRun     *time.Time `json:"next_run"`
	LastRun     *RunRecord `json:"last_run"`
	LastSuccess *time.Time `json:"last_success"`
	StaleAfter  *time.Time `json:"stale_after,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LoadError   string     `json:"load_error,omitempty"`
}

// Status is the GET /status document.
type Status struct {
	Started time.Time `json:"started_at"`
	// Shard is this process's --shard (I/N); empty when it serves all.
	Shard     string           `json:"shard,omitempty"`
	Ready     bool             `json:"ready"`
	Pipelines []PipelineStatus `json:"pipelines"`
	// NotLoaded are files found after the start that never loaded.
	NotLoaded []FileError `json:"not_loaded"`
}

// Pipeline is the named pipeline's status, nil if it is not served.
func (d Status) Pipeline(name string) *PipelineStatus {
	for i := range d.Pipelines {
		if d.Pipelines[i].Name == name {
			return &d.Pipelines[i]
		}
	}
	return nil
}

// FileError is a pipeline file that did not load.
type FileError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// Handler answers GET /metrics, /healthz, /readyz, /status and POST
// /run/{pipeline}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.promReg, promhttp.HandlerOpts{Registry: s.promReg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reasons := s.notReady(s.clock.Now()); len(reasons) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reasons": reasons})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Status(s.clock.Now()))
	})
	mux.HandleFunc("POST /run/{pipeline}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("pipeline")
		got, err := s.sched.Trigger(name)
		switch {
		case errors.Is(err, schedule.ErrUnknown):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown pipeline " + name})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down"})
		default:
			s.log.Info("run triggered", "pipeline", name, "result", string(got))
			writeJSON(w, http.StatusAccepted, map[string]string{"pipeline": name, "run": string(got)})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// staleAfter is when a pipeline without a newer success stops being
// ready: three activations after its last success (or after it was
// loaded, if that is later), plus the jitter bound, plus an interval when
// activations are spread. Zero for pipelines without a schedule.
func (sv *served) staleAfter(maxJitter time.Duration, spread bool) time.Time {
	if sv.sched == nil {
		return time.Time{}
	}
	ref := sv.loadedAt
	if sv.lastSuccess.After(ref) {
		ref = sv.lastSuccess
	}
	iv := sv.sched.Interval(ref)
	at := sv.sched.Nth(ref, 3).Add(schedule.JitterBound(iv, maxJitter))
	if spread {
		at = at.Add(iv)
	}
	return at
}

// notReady lists why the process is not ready: shutting down, a pipeline
// file that never loaded, or a pipeline whose last success is older than
// three of its intervals.
func (s *Server) notReady(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var reasons []string
	if s.stopping {
		reasons = append(reasons, "shutting down")
	}
	for path, fs := range s.files {
		if fs.name == "" && fs.loadErr != "" {
			reasons = append(reasons, fmt.Sprintf("%s: not loaded: %s", path, fs.loadErr))
		}
	}
	for name, sv := range s.pipes {
		if at := sv.staleAfter(s.maxJitter, s.spread); !at.IsZero() && now.After(at) {
			since := "since it was loaded at " + sv.loadedAt.UTC().Format(time.RFC3339)
			if !sv.lastSuccess.IsZero() && sv.lastSuccess.After(sv.loadedAt) {
				since = "since " + sv.lastSuccess.UTC().Format(time.RFC3339)
			}
			msg := fmt.Sprintf("pipeline %s: no successful run %s (schedule %s)", name, since, sv.sched)
			if sv.lastError != "" {
				msg += "; last error: " + sv.lastError
			}
			reasons = append(reasons, msg)
		}
	}
	sort.Strings(reasons)
	return reasons
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Status is what GET /status answers at now.
func (s *Server) Status(now time.Time) Status {
	ready := len(s.notReady(now)) == 0
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := Status{Started: s.started, Shard: s.shard.String(), Ready: ready, Pipelines: []PipelineStatus{}, NotLoaded: []FileError{}}
	for name, sv := range s.pipes {
		info, _ := s.sched.Info(name)
		ps := PipelineStatus{Name: name, File: sv.file, State: sv.statePath, Schedule: sv.p.Schedule,
			Running: info.Running, Queued: info.Queued, NextRun: timePtr(info.Next), LastRun: sv.last,
			LastSuccess: timePtr(sv.lastSuccess), StaleAfter: timePtr(sv.staleAfter(s.maxJitter, s.spread)),
			LastError: sv.lastError, LoadError: sv.loadErr}
		if info.Running {
			ps.RunStarted = timePtr(sv.runStart)
		}
		doc.Pipelines = append(doc.Pipelines, ps)
	}
	sort.Slice(doc.Pipelines, func(i, j int) bool { return doc.Pipelines[i].Name < doc.Pipelines[j].Name })
	for path, fs := range s.files {
		if fs.name == "" && fs.loadErr != "" {
			doc.NotLoaded = append(doc.NotLoaded, FileError{path, fs.loadErr})
		}
	}
	sort.Slice(doc.NotLoaded, func(i, j int) bool { return doc.NotLoaded[i].File < doc.NotLoaded[j].File })
	return doc
}
