package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/daemon"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// serveOptions are serve's own flags.
type serveOptions struct {
	addr            string
	shutdownTimeout time.Duration
	watch           time.Duration
	maxJitter       time.Duration
	spread          bool
	shard           string
	maxRuns         int
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
	cmd.Flags().BoolVar(&o.spread, "spread", false, "spread cron activations: each pipeline runs at its own fixed place in its interval (from a hash of its name) instead of all on the same second")
	cmd.Flags().IntVar(&o.maxRuns, "max-runs", 0, "most runs in progress at once (0: no cap); due runs wait for a slot, and their schedule delay counts the wait")
	cmd.Flags().StringVar(&o.shard, "shard", "", "I/N: serve only the pipelines whose name hashes to shard I of N (FNV-1a 32 of the name, mod N; see synk shards)")
	return cmd
}

// runServe wires the daemon: its logger, metrics registry, listener and
// signals. The daemon package does the rest.
func runServe(cmd *cobra.Command, g *globals, o serveOptions, args []string) error {
	if g.metricsAddr != "" {
		return &exitError{code: 2, err: errors.New("--metrics-addr: serve serves /metrics on --addr")}
	}
	sh, err := daemon.ParseShard(o.shard)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	secrets := &daemon.Secrets{}
	log, err := newLogger(cmd.ErrOrStderr(), g.logLevel, secrets.Redact)
	if err != nil {
		return err
	}
	srv := daemon.New(args, daemon.Options{Registry: g.reg, Functions: g.fns, Limiters: pipeline.NewLimiters(), Metrics: newRegistry(),
		Logger: log, Secrets: secrets, ShutdownTimeout: o.shutdownTimeout, Watch: o.watch, MaxJitter: o.maxJitter, Spread: o.spread, Shard: sh, MaxRuns: o.maxRuns})
	if errs := srv.Load(); len(errs) > 0 {
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
	if len(srv.Names()) == 0 {
		return &exitError{code: 2, err: fmt.Errorf("no pipelines found in %s", strings.Join(args, " "))}
	}
	ln, err := listen(o.addr)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--addr: %w", err)}
	}

	// main's NotifyContext ends the context on the first SIGINT/SIGTERM;
	// these channels see the same signals (a second one cancels runs at
	// once) and SIGHUP.
	stop := make(chan os.Signal, 2)
	hup := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(stop)
	defer signal.Stop(hup)
	srv.Serve(cmd.Context(), ln, daemon.Signals{Stop: stop, Reload: hup})
	return nil
}
