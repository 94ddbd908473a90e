package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/transforms"
)

// globals are the flags every command shares.
type globals struct {
	reg *pipeline.Registry
	// fns are the functions pipeline expressions may call.
	fns         *transforms.Functions
	logLevel    string
	metricsAddr string
	// pushGateway is a Pushgateway URL the run's metrics are pushed to at
	// the end of plan and apply (for one-shot runs from cron).
	pushGateway string
}

// loadPipeline loads and validates a pipeline; a broken file is exit 2
// with every error, positioned, on stderr.
func loadPipeline(cmd *cobra.Command, g *globals, path string) (*spec.Pipeline, error) {
	return loadPipelineWith(cmd, g, path, spec.Options{})
}

// loadPipelineWith is loadPipeline with load options (Offline for commands
// that only read the state file and need no secrets).
func loadPipelineWith(cmd *cobra.Command, g *globals, path string, opts spec.Options) (*spec.Pipeline, error) {
	opts.Functions = g.fns
	p, err := spec.Load(path, g.reg, opts)
	if err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			fmt.Fprintln(cmd.ErrOrStderr(), errs.Pretty())
			return nil, &exitError{code: 2, err: fmt.Errorf("%s: %d error(s)", path, len(errs))}
		}
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}

// statePath picks --state, else the pipeline's state:, else ./synk.duckdb.
func statePath(flag string, p *spec.Pipeline) string {
	switch {
	case flag != "":
		return flag
	case p != nil && p.State != "":
		return p.State
	}
	return state.DefaultFile
}

func isTTY(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr }) // *os.File, or the progress bars' writer
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger logs text on a TTY and JSON otherwise, with secrets redacted.
func newLogger(w io.Writer, level string, redact func(string) string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if redact != nil && a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(redact(a.Value.String()))
		}
		if redact != nil && a.Value.Kind() == slog.KindAny {
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(redact(err.Error()))
			}
		}
		return a
	}}
	var h slog.Handler
	if isTTY(w) {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&redactHandler{Handler: h, redact: redact}), nil
}

// redactHandler also redacts the message itself.
type redactHandler struct {
	slog.Handler
	redact func(string) string
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.redact != nil {
		r.Message = h.redact(r.Message)
	}
	return h.Handler.Handle(ctx, r)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &redactHandler{Handler: h.Handler.WithAttrs(as), redact: h.redact}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{Handler: h.Handler.WithGroup(name), redact: h.redact}
}

// newRegistry is a Prometheus registry with the Go and process metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// listen listens on a TCP address, on 127.0.0.1 when it names no host.
func listen(addr string) (net.Listener, error) {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	} else if !strings.Contains(addr, ":") {
		addr = "127.0.0.1:" + addr
	}
	return net.Listen("tcp", addr)
}

// newMetrics builds the Prometheus registry and, with --metrics-addr,
// serves it; the returned stop shuts the server down.
func newMetrics(g *globals) (*pipeline.Metrics, *prometheus.Registry, func(), error) {
	reg := newRegistry()
	m := pipeline.NewMetrics(reg)
	if g.metricsAddr == "" {
		return m, reg, func() {}, nil
	}
	ln, err := listen(g.metricsAddr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return m, reg, func() { srv.Close() }, nil
}

// session is a loaded pipeline with its state file and open connections.
type session struct {
	p      *spec.Pipeline
	store  *state.Store
	runner *engine.Runner
	log    *slog.Logger
	stop   func()
	// metrics is the run's registry, for --push-gateway.
	metrics *prometheus.Registry
}

func (s *session) Close() {
	if s.runner != nil {
		s.runner.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.stop != nil {
		s.stop()
	}
}

// openSession loads the pipeline, opens its state file and connections. A
// progress (at most one) is told about apply progress.
func openSession(cmd *cobra.Command, g *globals, path, stateFlag string, full bool, progress ...engine.Progress) (*session, error) {
	p, err := loadPipeline(cmd, g, path)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cmd.ErrOrStderr(), g.logLevel, p.Redact)
	if err != nil {
		return nil, err
	}
	m, reg, stop, err := newMetrics(g)
	if err != nil {
		return nil, err
	}
	s := &session{p: p, log: log, stop: stop, metrics: reg}
	sp := statePath(stateFlag, p)
	if abs, err := filepath.Abs(sp); err == nil {
		sp = abs
	}
	s.store, err = state.Open(cmd.Context(), sp)
	if err != nil {
		s.Close()
		return nil, err
	}
	opts := engine.Options{Metrics: m, Logger: log, Full: full}
	if len(progress) > 0 {
		opts.Progress = progress[0]
	}
	s.runner, err = engine.New(cmd.Context(), p, s.store, opts)
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
