// Command synk runs declarative sync pipelines. main only wires: it builds
// the connector registry, the expression functions and the metrics
// registry and hands them to the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/accounting"
)

// version is set by -ldflags "-X main.version=..." in release builds.
var version = "dev"

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := pipeline.NewRegistry()
	registerConnectors(reg)
	fns := transforms.NewFunctions()
	registerFunctions(fns)
	root := newRootCmd(reg, fns)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "synk:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "synk:", err)
	os.Exit(2)
}

func newRootCmd(reg *pipeline.Registry, fns *transforms.Functions) *cobra.Command {
	root := &cobra.Command{
		Use:           "synk",
		Short:         "Declarative ETL and two-way sync runner",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g := &globals{reg: reg, fns: fns}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address (127.0.0.1 when no host is given)")
	root.PersistentFlags().StringVar(&g.pushGateway, "push-gateway", "", "push the run's metrics to this Prometheus Pushgateway URL at the end of plan/apply (job synk, grouped by pipeline)")
	emulate := &cobra.Command{Use: "emulate", Short: "Serve a local emulator of a connected system"}
	emulate.AddCommand(newEmulateFikenCmd(), newEmulatePrestashopCmd())
	auth := &cobra.Command{Use: "auth", Short: "Authorise synk with a system (OAuth)"}
	auth.AddCommand(newAuthFikenCmd())
	root.AddCommand(
		newValidateCmd(g),
		newPlanCmd(g),
		newApplyCmd(g),
		newSQLCmd(g),
		newSchemaCmd(g),
		newCheckCmd(g),
		newDemoCmd(g),
		newReconcileCmd(g),
		newInitCmd(g),
		newServeCmd(g),
		newShardsCmd(g),
		&cobra.Command{
			Use:   "version",
			Short: "Print synk's version",
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "synk", version) },
		},
		emulate,
		auth,
	)
	return root
}

func registerConnectors(reg *pipeline.Registry) {
	file.Register(reg)
	prestashop.Register(reg)
	fiken.Register(reg)
}

// registerFunctions adds the function sets beyond the core one that
// pipeline expressions may call.
func registerFunctions(fns *transforms.Functions) {
	accounting.Register(fns)
}
