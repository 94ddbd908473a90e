// Package engine runs a loaded pipeline: it snapshots both sides of every
// entity into the state file, pairs records, plans changes and applies them
// with per-connection limits, a journal for exactly-once creates, and the
// links and base that make two-way flows converge.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"
	_ "time/tzdata" // zones of modification times (conflict: newest) on machines without zoneinfo

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// Options tune a Runner.
type Options struct {
	Metrics *pipeline.Metrics
	Logger  *slog.Logger
	// Full forces full reads of every resource.
	Full bool
	// Retry is the HTTP retry policy; zero means pipeline.DefaultRetryPolicy.
	Retry pipeline.RetryPolicy
	// HTTPTimeout bounds one HTTP request; zero means 60 s.
	HTTPTimeout time.Duration
	// Progress, if set, is told about applied changes.
	Progress Progress
	// Limiters, if set, shares connection limiters with other runners in
	// the process (serve): connections to one account share one limiter.
	Limiters *pipeline.Limiters
	// ChunkSize is how many records a chunk of creates holds: an entity
	// side with more unlinked records than this, none of which could be
	// paired (a first sync), is planned and applied chunk by chunk instead
	// of all at once, so its plan is never all in memory. Zero means
	// DefaultChunkSize.
	ChunkSize int
}

// Progress receives apply progress, per entity.
type Progress interface {
	Start(entity string, total int)
	Done(entity string, n int)
}

// Runner runs one pipeline against one state file.
type Runner struct {
	p     *spec.Pipeline
	store *state.Store
	opts  Options
	log   *slog.Logger
	conns map[string]*conn
	runID string
	// fullRead records which sides were read in full this run (deletions
	// are only planned from full reads).
	fullRead map[string]bool
	links    *linkCache
	// only, in a follow-up round, names the entities it reads and plans.
	only map[string]bool
	// created names the entities that created records in this round.
	created map[string]bool
	// writeBack names the entities whose creates give their sources new
	// values (see needsWriteBack).
	writeBack map[string]bool
	// attempted holds the changes and rejects of this run\'s rounds.
	attempted map[string]bool
	// failedNow holds the changes that failed in this round, failedIn
	// their entities: a follow-up round tries them again.
	failedNow, failedIn map[string]bool
	// viewSets are the views expressions read (`views.NAME`), by name,
	// as sets of their first column's values; see viewsets.go.
	viewSets map[string]any
	mu       sync.Mutex
	// stateMu serialises writes to the state file from concurrent changes.
	stateMu sync.Mutex
}

type conn struct {
	spec      *spec.Connection
	connector pipeline.Connector
	limiter   *pipeline.Limiter
	http      *http.Client
}

// New opens every connection of p.
func New(ctx context.Context, p *spec.Pipeline, store *state.Store, opts Options) (*Runner, error) {
	if opts.Metrics == nil {
		opts.Metrics = pipeline.NewMetrics(nil)
	}
	// The runner's per-entity and per-connection series carry its pipeline.
	opts.Metrics = opts.Metrics.ForPipeline(p.Name)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Retry.MaxAttempts == 0 {
		opts.Retry = pipeline.DefaultRetryPolicy
	}
	if opts.HTTPTimeout == 0 {
		opts.HTTPTimeout = 60 * time.Second
	}
	r := &Runner{p: p, store: store, opts: opts, conns: map[string]*conn{}, fullRead: map[string]bool{},
		log: opts.Logger.With("pipeline", p.Name)}
	r.links = newLinkCache(r)
	for _, c := range p.Connections {
		name := c.Name
		if opts.Limiters == nil {
			opts.Limiters = pipeline.NewLimiters()
		}
		lim := opts.Limiters.For(pipeline.Account(c.Config), c.Limits, func(d time.Duration) {
			opts.Metrics.RateLimitWait.WithLabelValues(name).Add(d.Seconds())
		})
		env := pipeline.Env{
			Connection: name,
			Limiter:    lim,
			HTTP:       pipeline.NewHTTPClient(name, lim, opts.Metrics, opts.Retry, opts.HTTPTimeout),
			Logger:     r.log.With("connection", name),
			BaseDir:    p.Dir,
			StateDir:   filepath.Dir(store.Path),
		}
		cn, err := c.Type.Open(ctx, env, c.Config)
		if err != nil {
			env.HTTP.CloseIdleConnections()
			r.Close()
			return nil, fmt.Errorf("open connection %s: %w", name, p.RedactError(err))
		}
		r.conns[name] = &conn{spec: c, connector: cn, limiter: lim, http: env.HTTP}
	}
	return r, nil
}

// Close closes every connection that holds resources, and the HTTP
// connections kept alive for the run: a daemon running thousands of
// pipelines would otherwise hold each run's sockets (and their reader
// goroutines) for the transport's idle timeout after the run ended.
func (r *Runner) Close() error {
	var errs []error
	for _, c := range r.conns {
		c.http.CloseIdleConnections()
		if cl, ok := c.connector.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}

// Connector returns an opened connection's connector (for `synk check`).
func (r *Runner) Connector(name string) pipeline.Connector {
	if c, ok := r.conns[name]; ok {
		return c.connector
	}
	return nil
}

func newRunID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

func (r *Runner) beginRun(ctx context.Context, mode state.Mode) error {
	r.runID = newRunID()
	r.created, r.writeBack, r.attempted, r.failedNow, r.failedIn = nil, nil, nil, nil, nil
	if err := r.store.BeginRun(ctx, r.runID, r.p.Name, mode); err != nil {
		return err
	}
	// Each connection's schema exists before the concurrent reads: two
	// loaders creating the same schema at once fail with a DuckDB catalog
	// write-write conflict.
	for _, c := range r.p.Connections {
		if _, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `CREATE SCHEMA IF NOT EXISTS `+state.Ident(c.Name)); err != nil {
			return fmt.Errorf("record run: create schema %s: %w", c.Name, err)
		}
	}
	return nil
}

// RunID is the id of the current (or last) run.
func (r *Runner) RunID() string { return r.runID }

// Status is a run's outcome, as synk.runs, the metrics and serve's /status
// say it: success (every planned change made), partial (some failed or
// were refused), stopped (a signal ended it; the rest waits for the next
// run) or failed (the run itself could not go on).
func Status(res *Result, err error) string {
	switch {
	case errors.Is(err, ErrStopped):
		return "stopped"
	case err != nil:
		return "failed"
	case res != nil && (res.Failed > 0 || res.Rejected > 0):
		return "partial"
	}
	return "success"
}

func (r *Runner) finishRun(res *Result, runErr error) {
	o := state.Outcome{Status: Status(res, runErr)}
	if res != nil {
		o.Planned, o.Applied, o.Failed, o.Rejected = res.Planned, res.Applied, res.Failed, res.Rejected
	}
	if runErr != nil && o.Status != "stopped" {
		o.Error = r.p.Redact(runErr.Error())
	}
	// Not ctx: a stopped run is recorded too. Best effort: the run's own
	// error, if any, is the one worth returning.
	_ = r.store.FinishRun(context.Background(), r.runID, o)
}
