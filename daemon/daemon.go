// Package daemon is `synk serve`: one long-running process for many
// pipelines (many shops). Each pipeline runs on its schedule, through the
// same engine calls `synk apply` makes, with its own state file that is
// open only during a run. Pipeline files are reloaded when they change and
// on SIGHUP; a broken edit keeps the previous version running. Over HTTP
// it answers /metrics, /healthz, /readyz, /status and POST /run/{pipeline}.
//
// The daemon takes everything it needs from its caller (connector
// registry, limiters, metrics registry, logger, clock, listener, signals),
// so cmd/synk only wires it, and its tests run in-process on a fake clock.
package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/schedule"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/transforms"
)

// Options are what a Server is built from.
type Options struct {
	// Registry knows the connection types pipelines may use.
	Registry *pipeline.Registry
	// Functions are the functions pipeline expressions may call; nil
	// means the core set.
	Functions *transforms.Functions
	// Limiters are shared by every run: pipelines on one account (a Fiken
	// company, a shop) keep its limits together. Nil means a new set.
	Limiters *pipeline.Limiters
	// Metrics is the registry GET /metrics serves; the runs' metrics and
	// the daemon's own are registered on it. Nil means a new registry.
	Metrics *prometheus.Registry
	// Logger should redact with Secrets; nil discards the logs.
	Logger *slog.Logger
	// Secrets gathers the loaded pipelines' secrets for Logger to redact;
	// nil means the daemon keeps its own (run errors are still redacted).
	Secrets *Secrets
	// Clock drives the schedules, the file watcher, the shutdown timeout
	// and readiness; nil means the system clock.
	Clock schedule.Clock
	// ShutdownTimeout is how long runs in progress may go on once the
	// daemon stops, before they are cancelled.
	ShutdownTimeout time.Duration
	// Watch is how often pipeline files are checked for edits; 0 means
	// only on a reload signal.
	Watch time.Duration
	// MaxJitter is the largest random delay added to a scheduled run.
	MaxJitter time.Duration
	// Spread moves each pipeline's cron activations by its own fixed
	// share of the interval (schedule.SpreadFraction of its name), so a
	// thousand shops on */5 take turns over the five minutes instead of
	// all being due on the same second.
	Spread bool
	// Shard says which pipelines this process serves; the zero value
	// serves all.
	Shard Shard
	// MaxRuns caps the runs in progress at once; 0 means no cap. Runs
	// due while every slot is taken wait for one, and their schedule
	// delay counts the wait. Every run holds its state file's DuckDB
	// instance and its reads in memory, so a thousand pipelines on one
	// cron minute would otherwise all hold them at the same time.
	MaxRuns int
}

// Signals are the process signals the daemon acts on, delivered by its
// caller. A nil channel never delivers.
type Signals struct {
	// Stop receives SIGINT and SIGTERM. The first one is expected to end
	// the context Serve got as well; a second cancels the runs in
	// progress at once.
	Stop <-chan os.Signal
	// Reload receives SIGHUP: every pipeline file is loaded again.
	Reload <-chan os.Signal
}

// Server is a running `synk serve`: the loaded pipelines, their scheduler
// and what the HTTP endpoints report.
type Server struct {
	reg      *pipeline.Registry
	fns      *transforms.Functions
	args     []string
	log      *slog.Logger
	clock    schedule.Clock
	promReg  *prometheus.Registry
	metrics  *pipeline.Metrics
	limiters *pipeline.Limiters
	secrets  *Secrets
	delay    *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
	sched    *schedule.Scheduler
	started  time.Time
	// maxJitter widens the staleness deadline by the jitter bound, and
	// spread by an interval.
	maxJitter       time.Duration
	spread          bool
	shard           Shard
	watchEvery      time.Duration
	shutdownTimeout time.Duration
	// slots holds one token per run in progress when MaxRuns caps them;
	// nil means no cap.
	slots chan struct{}

	// reloadMu serialises loading: the reload signal and the file watcher.
	reloadMu sync.Mutex

	mu       sync.Mutex
	pipes    map[string]*served    // by pipeline name
	files    map[string]*fileState // by path
	stopping bool
}

// New returns a Server for the pipeline files and directories in paths
// (a directory means every *.yaml/*.yml in it that is a pipeline).
// Nothing is loaded until Load.
func New(paths []string, opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = schedule.SystemClock()
	}
	if opts.Secrets == nil {
		opts.Secrets = &Secrets{}
	}
	if opts.Limiters == nil {
		opts.Limiters = pipeline.NewLimiters()
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{reg: opts.Registry, fns: opts.Functions, args: paths, log: opts.Logger, clock: opts.Clock, promReg: opts.Metrics,
		limiters: opts.Limiters, secrets: opts.Secrets, started: opts.Clock.Now(), maxJitter: opts.MaxJitter, spread: opts.Spread,
		shard: opts.Shard, watchEvery: opts.Watch, shutdownTimeout: opts.ShutdownTimeout,
		pipes: map[string]*served{}, files: map[string]*fileState{}}
	if opts.MaxRuns > 0 {
		s.slots = make(chan struct{}, opts.MaxRuns)
	}
	s.metrics = pipeline.NewMetrics(opts.Metrics)
	s.delay = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "synk_schedule_delay_seconds", Help: "How late a run started after it was due (scheduled or triggered).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"pipeline"})
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "synk_reloads_total", Help: "Pipeline file loads by serve after the start, by result (ok, error).",
	}, []string{"result"})
	opts.Metrics.MustRegister(s.delay, s.reloads)
	s.sched = schedule.New(s.run, schedule.Options{Clock: opts.Clock, MaxJitter: opts.MaxJitter, Spread: opts.Spread})
	return s
}

// Load loads every pipeline file for the start. The errors are the files
// that did not load (spec.Errors positioned at file:line:col); the caller
// decides whether to serve anyway.
func (s *Server) Load() []error {
	return s.reload(true)
}

// Names are the pipelines this process serves, sorted.
func (s *Server) Names() []string {
	return s.sched.Names()
}

// Serve answers HTTP on ln and runs the pipelines until ctx is done, then
// stops scheduling, gives runs in progress the shutdown timeout (or until
// a second stop signal) and cancels them. It returns when every run has
// returned and the HTTP server is shut down.
func (s *Server) Serve(ctx context.Context, ln net.Listener, sig Signals) {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	s.log.Info("serving", "addr", ln.Addr().String(), "pipelines", len(s.sched.Names()))

	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	var bg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	bg.Go(func() { s.watch(watchCtx, sig.Reload) })
	bg.Go(func() { s.drain(ctx, runCtx, cancelRuns, sig.Stop) })

	s.sched.Run(ctx, runCtx)
	cancelRuns()
	stopWatch()
	bg.Wait()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	hs.Shutdown(shutCtx)
	s.log.Info("stopped")
}

// drain waits for ctx to end, then lets runs in progress go on until the
// shutdown timeout or a second stop signal, whichever comes first.
func (s *Server) drain(ctx, runCtx context.Context, cancelRuns func(), stop <-chan os.Signal) {
	<-ctx.Done()
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.log.Info("stopping: no new runs; runs in progress may finish", "shutdown_timeout", s.shutdownTimeout.String())
	timer := s.clock.NewTimer(s.shutdownTimeout)
	defer timer.Stop()
	signals := 0
	for {
		select {
		case <-runCtx.Done():
			return
		case <-timer.C():
			s.log.Warn("shutdown timeout: cancelling runs in progress")
			cancelRuns()
			return
		case <-stop:
			// The first signal is the one that ended ctx.
			if signals++; signals >= 2 {
				s.log.Warn("second signal: cancelling runs in progress")
				cancelRuns()
				return
			}
		}
	}
}

// redact removes every known secret from a value.
func (s *Server) redact(v string) string { return s.secrets.Redact(v) }

// run is the scheduler's job: one apply of the pipeline's current version,
// through the same engine calls `synk apply` makes.
func (s *Server) run(ctx context.Context, r schedule.Run) {
	waited := false
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		default:
			waited = true
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		defer func() { <-s.slots }()
	}
	start := s.clock.Now()
	s.mu.Lock()
	sv := s.pipes[r.Name]
	if sv == nil || waited && s.stopping {
		// Removed, or still waiting for a slot when the daemon began
		// stopping: once stopping, no new runs start.
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
	rec := &RunRecord{ID: runID, Reason: string(r.Reason), Start: start, End: s.clock.Now(), Outcome: engine.Status(res, err)}
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
func (s *Server) apply(ctx context.Context, p *spec.Pipeline, sp string) (*engine.Result, string, error) {
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
// analyst's `synk sql`), rather than failing the run at once. It waits on
// the wall clock, not the daemon's: the other process lives in real time.
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

// StatePath is the absolute path of the pipeline's state file: its
// state: setting, else state.DefaultFile, relative to the working
// directory.
func StatePath(p *spec.Pipeline) string {
	sp := p.State
	if sp == "" {
		sp = state.DefaultFile
	}
	if abs, err := filepath.Abs(sp); err == nil {
		return abs
	}
	return sp
}
