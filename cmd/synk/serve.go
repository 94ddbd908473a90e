package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/schedule"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// serveOptions are serve's own flags.
type serveOptions struct {
	addr            string
	shutdownTimeout time.Duration
	watch           time.Duration
	maxJitter       time.Duration
	shard           string
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:9464] PIPELINE.yaml|DIR...",
		Short: "Run pipelines on their schedules with /metrics, /healthz, /readyz, /status and POST /run/{pipeline}",
		Long: `Runs every pipeline on its schedule (cron or @every), each with its own state file, the
same way apply does. A DIR means every *.yaml/*.yml in it that is a pipeline. SIGHUP or an edited
file reloads; a broken edit keeps the previous version running. SIGTERM/SIGINT stop scheduling,
give runs in progress --shutdown-timeout to finish, then cancel them (a second signal cancels at
once); the exit code is 0.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, g, o, args)
		},
	}
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:9464", "HTTP listen address (127.0.0.1 when no host is given; 0.0.0.0:9464 for every interface)")
	cmd.Flags().DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long runs in progress may go on before they are cancelled")
	cmd.Flags().DurationVar(&o.watch, "watch", 3*time.Second, "how often pipeline files are checked for edits (0: only on SIGHUP)")
	cmd.Flags().DurationVar(&o.maxJitter, "max-jitter", 5*time.Second, "largest random delay added to a scheduled run (at most a tenth of its interval)")
	cmd.Flags().StringVar(&o.shard, "shard", "", "I/N: serve only the pipelines whose name hashes to shard I of N (FNV-1a 32 of the name, mod N; see synk shards)")
	return cmd
}

// server is a running `synk serve`: the loaded pipelines, their scheduler
// and what the HTTP endpoints report.
type server struct {
	reg     *pipeline.Registry
	args    []string
	log     *slog.Logger
	metrics *pipeline.Metrics
	// limiters are shared by every run: pipelines on one account (a Fiken
	// company, a shop) keep its limits together.
	limiters *pipeline.Limiters
	delay    *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	sched    *schedule.Scheduler
	started  time.Time
	// maxJitter widens the staleness deadline by the jitter bound.
	maxJitter time.Duration
	// shard says which pipelines this process serves.
	shard shard

	// reloadMu serialises loading: SIGHUP and the file watcher.
	reloadMu sync.Mutex

	mu       sync.Mutex
	pipes    map[string]*served    // by pipeline name
	files    map[string]*fileState // by path
	stopping bool

	// secretsMu guards secrets, the values the logger redacts: every
	// secret of every pipeline loaded so far (kept after a reload, since
	// old values may still be in flight).
	secretsMu sync.RWMutex
	secrets   *spec.Pipeline
}

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
	last        *runRecord
	lastSuccess time.Time
	lastError   string
}

// runRecord is one finished run, as /status shows it.
type runRecord struct {
	ID       string    `json:"run_id"`
	Reason   string    `json:"reason,omitempty"`
	Start    time.Time `json:"started_at"`
	End      time.Time `json:"finished_at"`
	Outcome  string    `json:"outcome"`
	Planned  int       `json:"planned"`
	Applied  int       `json:"applied"`
	Failed   int       `json:"failed"`
	Rejected int       `json:"rejected"`
	Error    string    `json:"error,omitempty"`
}

func runServe(cmd *cobra.Command, g *globals, o serveOptions, args []string) error {
	if g.metricsAddr != "" {
		return &exitError{code: 2, err: errors.New("--metrics-addr: serve serves /metrics on --addr")}
	}
	sh, err := parseShard(o.shard)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	s := &server{reg: g.reg, args: args, pipes: map[string]*served{}, files: map[string]*fileState{},
		secrets: &spec.Pipeline{}, started: time.Now(), maxJitter: o.maxJitter, shard: sh}
	log, err := newLogger(cmd.ErrOrStderr(), g.logLevel, s.redact)
	if err != nil {
		return err
	}
	s.log = log
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = pipeline.NewMetrics(promReg)
	s.limiters = pipeline.NewLimiters()
	s.delay = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "synk_schedule_delay_seconds", Help: "How late a run started after it was due (scheduled or triggered).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"pipeline"})
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "synk_reloads_total", Help: "Pipeline file loads by serve after the start, by result (ok, error).",
	}, []string{"result"})
	promReg.MustRegister(s.delay, s.reloads)
	s.sched = schedule.New(s.run, schedule.Options{MaxJitter: o.maxJitter})

	if errs := s.reload(true); len(errs) > 0 {
		for _, err := range errs {
			var se spec.Errors
			if errors.As(err, &se) {
				fmt.Fprintln(cmd.ErrOrStderr(), se.Pretty())
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
			}
		}
		return &exitError{code: 2, err: fmt.Errorf("%d pipeline file(s) did not load", len(errs))}
	}
	if len(s.sched.Names()) == 0 {
		return &exitError{code: 2, err: fmt.Errorf("no pipelines found in %s", strings.Join(args, " "))}
	}

	addr := o.addr
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	} else if !strings.Contains(addr, ":") {
		addr = "127.0.0.1:" + addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--addr: %w", err)}
	}
	hs := &http.Server{Handler: s.handler(promReg), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	s.log.Info("serving", "addr", ln.Addr().String(), "pipelines", len(s.sched.Names()))

	ctx := cmd.Context()
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	// main's NotifyContext ends ctx on the first SIGINT/SIGTERM; these
	// channels see the same signals (a second one cancels runs at once)
	// and SIGHUP.
	stopSig := make(chan os.Signal, 2)
	hup := make(chan os.Signal, 1)
	signal.Notify(stopSig, os.Interrupt, syscall.SIGTERM)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(stopSig)
	defer signal.Stop(hup)

	var bg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	bg.Go(func() { s.watch(watchCtx, hup, o.watch) })
	bg.Go(func() {
		<-ctx.Done()
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		s.log.Info("stopping: no new runs; runs in progress may finish", "shutdown_timeout", o.shutdownTimeout.String())
		timer := time.NewTimer(o.shutdownTimeout)
		defer timer.Stop()
		signals := 0
		for {
			select {
			case <-runCtx.Done():
				return
			case <-timer.C:
				s.log.Warn("shutdown timeout: cancelling runs in progress")
				cancelRuns()
				return
			case <-stopSig:
				// The first signal is the one that ended ctx.
				if signals++; signals >= 2 {
					s.log.Warn("second signal: cancelling runs in progress")
					cancelRuns()
					return
				}
			}
		}
	})

	s.sched.Run(ctx, runCtx)
	cancelRuns()
	stopWatch()
	bg.Wait()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	hs.Shutdown(shutCtx)
	s.log.Info("stopped")
	return nil
}

// redact removes every known secret from a log value.
func (s *server) redact(v string) string {
	s.secretsMu.RLock()
	defer s.secretsMu.RUnlock()
	return s.secrets.Redact(v)
}

// watch reloads on SIGHUP (every file, changed or not: env and ${file:}
// secrets may have changed) and, every interval, the files that changed.
func (s *server) watch(ctx context.Context, hup <-chan os.Signal, interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("SIGHUP: reloading every pipeline file")
			s.reload(true)
		case <-tick:
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

// pipelineFiles expands the arguments: files as given, and in a DIR every
// *.yaml/*.yml with top-level connections or entities (a deployment
// manifest next to the pipelines is not one).
func (s *server) pipelineFiles() (files []string, fromDir map[string]bool, errs []error) {
	fromDir = map[string]bool{}
	for _, a := range s.args {
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
			s.mu.Lock()
			known := s.files[p] != nil && s.files[p].name != ""
			s.mu.Unlock()
			if !known {
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

// reload loads every changed pipeline file (every file with force) and
// installs what validates. A file that fails keeps its previous version
// running; the error, with file:line:col, is logged and returned.
func (s *server) reload(force bool) []error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	initial := len(s.files) == 0
	files, fromDir, errs := s.pipelineFiles()
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

func (s *server) loadFailed(path string, fs *fileState, err error, initial bool) {
	s.mu.Lock()
	fs.loadErr = err.Error()
	if sv := s.pipes[fs.name]; sv != nil && fs.name != "" {
		sv.loadErr = fs.loadErr
	}
	name := fs.name
	s.mu.Unlock()
	if initial {
		return // runServe prints them, positioned, and exits
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
func (s *server) load(path string, src []byte, fs *fileState) error {
	// Whose pipeline it is needs only its name, not its secrets: a pod
	// may hold only its own shards' secrets.
	if name, err := pipelineName(path, src, s.reg); err == nil && !s.shard.owns(name) {
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
	p, err := spec.Parse(path, src, s.reg, spec.Options{})
	if err != nil {
		return err
	}
	var sc *schedule.Schedule
	if p.Schedule != "" {
		if sc, err = schedule.Parse(p.Schedule); err != nil {
			return scheduleError(path, src, err)
		}
	}
	sp := statePath("", p)
	if abs, err := filepath.Abs(sp); err == nil {
		sp = abs
	}
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

	s.secretsMu.Lock()
	for _, sec := range p.Secrets {
		if !slices.Contains(s.secrets.Secrets, sec) {
			s.secrets.Secrets = append(s.secrets.Secrets, sec)
		}
	}
	s.secretsMu.Unlock()

	var last *runRecord
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
		sv = &served{name: p.Name, loadedAt: time.Now(), last: last, lastSuccess: lastOK}
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
func lastRun(name, path string) (*runRecord, time.Time) {
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
	var r runRecord
	var end *time.Time
	var errMsg *string
	err = st.DB.QueryRowContext(ctx, `SELECT run_id, started_at, finished_at, status, planned, applied, failed, rejected, error
		FROM synk.runs WHERE pipeline = ? AND mode = 'apply' ORDER BY started_at DESC LIMIT 1`, name).
		Scan(&r.ID, &r.Start, &end, &r.Outcome, &r.Planned, &r.Applied, &r.Failed, &r.Rejected, &errMsg)
	if err != nil {
		return nil, time.Time{}
	}
	if end != nil {
		r.End = *end
	}
	if errMsg != nil {
		r.Error = *errMsg
	}
	var ok *time.Time
	_ = st.DB.QueryRowContext(ctx, `SELECT max(finished_at) FROM synk.runs WHERE pipeline = ? AND mode = 'apply' AND status = 'success'`, name).Scan(&ok)
	if ok != nil {
		return &r, *ok
	}
	return &r, time.Time{}
}

// run is the scheduler's job: one apply of the pipeline's current version,
// through the same engine calls `synk apply` makes.
func (s *server) run(ctx context.Context, r schedule.Run) {
	start := time.Now()
	s.mu.Lock()
	sv := s.pipes[r.Name]
	if sv == nil {
		s.mu.Unlock()
		return
	}
	p, sp := sv.p, sv.statePath
	sv.runStart = start
	s.mu.Unlock()
	delay := max(start.Sub(r.Due), 0)
	s.delay.WithLabelValues(r.Name).Observe(delay.Seconds())
	log := s.log.With("pipeline", r.Name)
	log.Info("run started", "reason", string(r.Reason), "delay", delay.Round(time.Millisecond).String())

	res, runID, err := s.apply(ctx, p, sp)
	rec := &runRecord{ID: runID, Reason: string(r.Reason), Start: start, End: time.Now(), Outcome: engine.Status(res, err)}
	if res != nil {
		rec.Planned, rec.Applied, rec.Failed, rec.Rejected = res.Planned, res.Applied, res.Failed, res.Rejected
	}
	if err != nil {
		rec.Error = s.redact(p.Redact(err.Error()))
	}
	s.mu.Lock()
	sv.last, sv.runStart = rec, time.Time{}
	if rec.Outcome == "success" {
		sv.lastSuccess = rec.End
	}
	if err != nil {
		sv.lastError = rec.Error
	}
	s.mu.Unlock()
	attrs := []any{"run_id", runID, "outcome", rec.Outcome, "planned", rec.Planned, "applied", rec.Applied,
		"failed", rec.Failed, "rejected", rec.Rejected, "took", rec.End.Sub(start).Round(time.Millisecond).String()}
	switch rec.Outcome {
	case "failed":
		log.Error("run finished", append(attrs, "err", rec.Error)...)
	case "partial", "stopped":
		log.Warn("run finished", attrs...)
	default:
		log.Info("run finished", attrs...)
	}
}

// apply opens the state file and the connections for one run and closes
// them after, so between runs the state file is free for `synk sql`.
func (s *server) apply(ctx context.Context, p *spec.Pipeline, sp string) (*engine.Result, string, error) {
	st, err := openState(ctx, sp)
	if err != nil {
		s.metrics.RunsTotal.WithLabelValues(p.Name, "failed").Inc()
		return nil, "", err
	}
	defer st.Close()
	runner, err := engine.New(ctx, p, st, engine.Options{Metrics: s.metrics, Logger: s.log, Limiters: s.limiters})
	if err != nil {
		s.metrics.RunsTotal.WithLabelValues(p.Name, "failed").Inc()
		return nil, "", err
	}
	defer runner.Close()
	res, err := runner.Apply(ctx, nil)
	return res, runner.RunID(), err
}

// openState waits a little for a state file another process holds (an
// analyst's `synk sql`), rather than failing the run at once.
func openState(ctx context.Context, path string) (*state.Store, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := state.Open(ctx, path)
		if err == nil || !errors.Is(err, state.ErrInUse) || time.Now().After(deadline) {
			return st, err
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (s *server) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reasons := s.notReady(time.Now()); len(reasons) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reasons": reasons})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.status(time.Now()))
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
// loaded, if that is later), plus the jitter bound. Zero for pipelines
// without a schedule.
func (sv *served) staleAfter(maxJitter time.Duration) time.Time {
	if sv.sched == nil {
		return time.Time{}
	}
	ref := sv.loadedAt
	if sv.lastSuccess.After(ref) {
		ref = sv.lastSuccess
	}
	return sv.sched.Nth(ref, 3).Add(schedule.JitterBound(sv.sched.Interval(ref), maxJitter))
}

// notReady lists why the process is not ready: shutting down, a pipeline
// file that never loaded, or a pipeline whose last success is older than
// three of its intervals.
func (s *server) notReady(now time.Time) []string {
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
		if at := sv.staleAfter(s.maxJitter); !at.IsZero() && now.After(at) {
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

// pipelineStatus is one pipeline in GET /status.
type pipelineStatus struct {
	Name        string     `json:"name"`
	File        string     `json:"file"`
	State       string     `json:"state"`
	Schedule    string     `json:"schedule"`
	Running     bool       `json:"running"`
	RunStarted  *time.Time `json:"run_started_at,omitempty"`
	Queued      bool       `json:"queued"`
	NextRun     *time.Time `json:"next_run"`
	LastRun     *runRecord `json:"last_run"`
	LastSuccess *time.Time `json:"last_success"`
	StaleAfter  *time.Time `json:"stale_after,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LoadError   string     `json:"load_error,omitempty"`
}

type statusDoc struct {
	Started time.Time `json:"started_at"`
	// Shard is this process's --shard (I/N); empty when it serves all.
	Shard     string           `json:"shard,omitempty"`
	Ready     bool             `json:"ready"`
	Pipelines []pipelineStatus `json:"pipelines"`
	// NotLoaded are files found after the start that never loaded.
	NotLoaded []fileError `json:"not_loaded"`
}

type fileError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *server) status(now time.Time) statusDoc {
	ready := len(s.notReady(now)) == 0
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := statusDoc{Started: s.started, Shard: s.shard.String(), Ready: ready, Pipelines: []pipelineStatus{}, NotLoaded: []fileError{}}
	for name, sv := range s.pipes {
		info, _ := s.sched.Info(name)
		ps := pipelineStatus{Name: name, File: sv.file, State: sv.statePath, Schedule: sv.p.Schedule,
			Running: info.Running, Queued: info.Queued, NextRun: timePtr(info.Next), LastRun: sv.last,
			LastSuccess: timePtr(sv.lastSuccess), StaleAfter: timePtr(sv.staleAfter(s.maxJitter)),
			LastError: sv.lastError, LoadError: sv.loadErr}
		if info.Running {
			ps.RunStarted = timePtr(sv.runStart)
		}
		doc.Pipelines = append(doc.Pipelines, ps)
	}
	sort.Slice(doc.Pipelines, func(i, j int) bool { return doc.Pipelines[i].Name < doc.Pipelines[j].Name })
	for path, fs := range s.files {
		if fs.name == "" && fs.loadErr != "" {
			doc.NotLoaded = append(doc.NotLoaded, fileError{path, fs.loadErr})
		}
	}
	sort.Slice(doc.NotLoaded, func(i, j int) bool { return doc.NotLoaded[i].File < doc.NotLoaded[j].File })
	return doc
}
