package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/schedule"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/transforms"
)

// fileState is what the watcher knows about one pipeline file.
type fileState struct {
	hash    [32]byte
	name    string // the pipeline loaded from it; "" if never loaded
	loadErr string
	// fromDir is true for files found in a DIR argument: they stop being
	// served when they disappear from it.
	fromDir bool
}

// served is one pipeline: its current version and its runs.
type served struct {
	name      string
	file      string
	p         *spec.Pipeline
	sched     *schedule.Schedule // nil: runs only when triggered
	statePath string
	// loadedAt is when this process first loaded the pipeline: staleness
	// counts from it, so a pipeline that has not had time for a run yet
	// is not stale.
	loadedAt    time.Time
	loadErr     string
	runStart    time.Time
	last        *RunRecord
	lastSuccess time.Time
	lastError   string
}

// watch reloads on a reload signal (every file, changed or not: env and
// ${file:} secrets may have changed) and, every s.watchEvery, the files
// that changed.
func (s *Server) watch(ctx context.Context, hup <-chan os.Signal) {
	var t schedule.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		var tick <-chan time.Time
		if s.watchEvery > 0 {
			if t == nil {
				t = s.clock.NewTimer(s.watchEvery)
			}
			tick = t.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("SIGHUP: reloading every pipeline file")
			s.reload(true)
		case <-tick:
			t = nil
			s.reload(false)
		}
	}
}

// isPipeline says whether a YAML file has the top-level keys of a
// pipeline.
func isPipeline(src []byte) bool {
	for line := range strings.Lines(string(src)) {
		if strings.HasPrefix(line, "connections:") || strings.HasPrefix(line, "entities:") {
			return true
		}
	}
	return false
}

// PipelineFiles expands pipeline arguments as serve does: files as given,
// and in a DIR every *.yaml/*.yml with top-level connections or entities
// (a deployment manifest next to the pipelines is not one).
func PipelineFiles(args []string) ([]string, error) {
	files, _, errs := pipelineFiles(args, func(string) bool { return false })
	return files, errors.Join(errs...)
}

// pipelineFiles is PipelineFiles that also keeps a file in a DIR that
// loaded before (known) even if it no longer looks like a pipeline, so a
// bad edit is reported rather than the pipeline silently dropped.
func pipelineFiles(args []string, known func(path string) bool) (files []string, fromDir map[string]bool, errs []error) {
	fromDir = map[string]bool{}
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			files = append(files, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("read pipeline dir: %w", err))
			continue
		}
		for _, e := range ents {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			p := filepath.Join(a, e.Name())
			if !known(p) {
				b, err := os.ReadFile(p)
				if err != nil || !isPipeline(b) {
					continue
				}
			}
			files = append(files, p)
			fromDir[p] = true
		}
	}
	return files, fromDir, errs
}

// loaded says whether the file at path has had a pipeline loaded from it.
func (s *Server) loaded(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[path] != nil && s.files[path].name != ""
}

// reload loads every changed pipeline file (every file with force) and
// installs what validates. A file that fails keeps its previous version
// running; the error, with file:line:col, is logged and returned.
func (s *Server) reload(force bool) []error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	initial := len(s.files) == 0
	files, fromDir, errs := pipelineFiles(s.args, s.loaded)
	seen := map[string]bool{}
	for _, path := range files {
		seen[path] = true
		src, err := os.ReadFile(path)
		s.mu.Lock()
		fs := s.files[path]
		if fs == nil {
			fs = &fileState{fromDir: fromDir[path]}
			s.files[path] = fs
		}
		s.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("read pipeline: %w", err)
			if fs.loadErr != err.Error() || force {
				s.loadFailed(path, fs, err, initial)
			}
			errs = append(errs, err)
			continue
		}
		h := sha256.Sum256(src)
		if h == fs.hash && !force {
			continue
		}
		fs.hash = h
		if err := s.load(path, src, fs); err != nil {
			s.loadFailed(path, fs, err, initial)
			errs = append(errs, err)
			continue
		}
		if !initial {
			s.reloads.WithLabelValues("ok").Inc()
		}
	}
	// Files gone from a DIR stop being served.
	s.mu.Lock()
	for path, fs := range s.files {
		if seen[path] || !fs.fromDir {
			continue
		}
		delete(s.files, path)
		if fs.name != "" {
			s.sched.Remove(fs.name)
			delete(s.pipes, fs.name)
			s.log.Info("pipeline file removed: no longer scheduled", "pipeline", fs.name, "file", path)
		}
	}
	s.mu.Unlock()
	return errs
}

func (s *Server) loadFailed(path string, fs *fileState, err error, initial bool) {
	s.mu.Lock()
	fs.loadErr = err.Error()
	if sv := s.pipes[fs.name]; sv != nil && fs.name != "" {
		sv.loadErr = fs.loadErr
	}
	name := fs.name
	s.mu.Unlock()
	if initial {
		return // Load's caller prints them, positioned
	}
	s.reloads.WithLabelValues("error").Inc()
	if name != "" {
		s.log.Error("pipeline file not reloaded; the previous version keeps running", "pipeline", name, "file", path, "err", err)
	} else {
		s.log.Error("pipeline file not loaded", "file", path, "err", err)
	}
}

// load parses one file and, if it validates and clashes with no other
// pipeline, makes it the current version of its pipeline.
func (s *Server) load(path string, src []byte, fs *fileState) error {
	// Whose pipeline it is needs only its name, not its secrets: a pod
	// may hold only its own shards' secrets.
	if name, err := pipelineName(path, src, s.reg, s.fns); err == nil && !s.shard.Owns(name) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if sv := s.pipes[name]; sv != nil && sv.file == path { // renamed into another shard
			s.sched.Remove(name)
			delete(s.pipes, name)
		}
		if fs.name != name {
			s.log.Info("pipeline belongs to another shard", "pipeline", name, "file", path, "shard", s.shard.of(name))
		}
		fs.name, fs.loadErr = name, ""
		return nil
	}
	p, err := spec.Parse(path, src, s.reg, spec.Options{Functions: s.fns})
	if err != nil {
		return err
	}
	var sc *schedule.Schedule
	if p.Schedule != "" {
		if sc, err = schedule.Parse(p.Schedule); err != nil {
			return scheduleError(path, src, err)
		}
	}
	sp := StatePath(p)
	s.mu.Lock()
	for name, other := range s.pipes {
		if other.file == path {
			continue
		}
		if name == p.Name {
			s.mu.Unlock()
			return fmt.Errorf("%s: pipeline name %s is already used by %s", path, p.Name, other.file)
		}
		if other.statePath == sp {
			s.mu.Unlock()
			return fmt.Errorf("%s: state file %s is already used by pipeline %s (%s); give each pipeline its own state:", path, sp, name, other.file)
		}
	}
	s.mu.Unlock()

	s.secrets.add(p.Secrets)

	var last *RunRecord
	var lastOK time.Time
	s.mu.Lock()
	_, known := s.pipes[p.Name]
	s.mu.Unlock()
	if !known {
		last, lastOK = lastRun(p.Name, sp)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if fs.name != "" && fs.name != p.Name { // renamed: the old name goes
		s.sched.Remove(fs.name)
		delete(s.pipes, fs.name)
	}
	sv := s.pipes[p.Name]
	if sv == nil {
		sv = &served{name: p.Name, loadedAt: s.clock.Now(), last: last, lastSuccess: lastOK}
		s.pipes[p.Name] = sv
	}
	changed := sv.p == nil || sv.p.Schedule != p.Schedule
	sv.p, sv.sched, sv.file, sv.statePath, sv.loadErr = p, sc, path, sp, ""
	fs.name, fs.loadErr = p.Name, ""
	if changed {
		s.sched.Set(p.Name, sc)
	}
	s.log.Info("pipeline loaded", "pipeline", p.Name, "file", path, "schedule", p.Schedule, "state", sp)
	if sc == nil {
		s.log.Warn("pipeline has no schedule: it runs only on POST /run/"+p.Name, "pipeline", p.Name)
	}
	return nil
}

// pipelineName reads a pipeline file's name without its secrets.
func pipelineName(path string, src []byte, reg *pipeline.Registry, fns *transforms.Functions) (string, error) {
	p, err := spec.Parse(path, src, reg, spec.Options{Offline: true, Functions: fns})
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// scheduleError positions a bad schedule at its value in the file (spec
// keeps the string but not its position).
func scheduleError(path string, src []byte, err error) error {
	e := &spec.Error{File: path, Pos: spec.Pos{Line: 1, Col: 1}, Msg: err.Error()}
	for i, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "schedule:"); ok {
			value := strings.TrimLeft(rest, " \t")
			e.Pos = spec.Pos{Line: i + 1, Col: len(line) - len(value) + 1}
			e.Source = strings.TrimRight(line, "\r")
			break
		}
	}
	return spec.Errors{e}
}

// lastRun reads a pipeline's last apply and last success from its state
// file, so /status has history right after a restart. Best effort: a
// missing or busy file gives nothing.
func lastRun(name, path string) (*RunRecord, time.Time) {
	if _, err := os.Stat(path); err != nil {
		return nil, time.Time{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := state.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, time.Time{}
	}
	defer st.DB.Close()
	r, ok, err := st.LastRun(ctx, name, state.ModeApply)
	if err != nil || !ok {
		return nil, time.Time{}
	}
	okAt, _, _ := st.LastSuccess(ctx, name, state.ModeApply)
	return &RunRecord{ID: r.ID, Start: r.Started, End: r.Finished, Outcome: r.Status, Planned: r.Planned,
		Applied: r.Applied, Failed: r.Failed, Rejected: r.Rejected, Error: r.Error}, okAt
}
