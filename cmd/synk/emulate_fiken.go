package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/emulator"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
)

// newEmulateFikenCmd serves the Fiken API v2 emulator until interrupted.
func newEmulateFikenCmd() *cobra.Command {
	var (
		opts       fikentest.Options
		noLimits   bool
		rate       float64
		errorRates string
	)
	cmd := &cobra.Command{
		Use:   "fiken",
		Short: "Serve the Fiken API v2 emulator",
		Long: "Serve an emulator of Fiken's API v2 (validated against Fiken's OpenAPI spec) with seed data,\n" +
			"Fiken's limits (one request in flight, slowed above 4/s) and optional faults.\n" +
			"Back-office calls live under /_emulator/ (see connectors/fiken/README.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rates, err := emulator.ParseErrorRates(errorRates)
			if err != nil {
				return err
			}
			opts.Faults.ErrorRate = rates
			if !noLimits {
				opts.Limits = fikentest.Limits{RejectConcurrent: true, Rate: rate}
			}
			srv, err := fikentest.NewServer(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			id, secret := srv.ClientCredentials()
			fmt.Fprintf(out, "Fiken emulator\n  url:     %s\n  company: %s\n  token:   %s\n", srv.URL(), srv.Company(), srv.Token())
			fmt.Fprintf(out, "  oauth:   %s/oauth/authorize, %s/oauth/token (client %s / %s)\n", srv.RootURL(), srv.RootURL(), id, secret)
			fmt.Fprintf(out, "  back office: %s/_emulator/\n", srv.RootURL())
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8790", "listen address")
	f.StringVar(&opts.Company, "company", "demo-as", "company slug")
	f.StringVar(&opts.Token, "token", "demo-token", "personal API token the emulator accepts")
	f.StringVar(&opts.ClientID, "client-id", "demo-client", "OAuth client id the token endpoint accepts")
	f.StringVar(&opts.ClientSecret, "client-secret", "demo-secret", "OAuth client secret the token endpoint accepts")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed for data, ids and faults")
	f.IntVar(&opts.Products, "products", 40, "seed products")
	f.IntVar(&opts.Contacts, "contacts", 20, "seed contacts")
	f.IntVar(&opts.Invoices, "invoices", 0, "seed invoices (initialises the counters)")
	f.BoolVar(&opts.CountersInitialized, "counters", false, "start with the invoice and credit note counters created (a fresh Fiken company has none)")
	f.BoolVar(&opts.APIModuleInactive, "api-module-inactive", false, "answer 403 as for a company without the API module")
	f.BoolVar(&noLimits, "no-limits", false, "turn off Fiken's limits (429 on concurrent requests, slowing above --rate)")
	f.Float64Var(&rate, "rate", 4, "requests per second above which responses are slowed")
	f.StringVar(&errorRates, "error-rate", "", "injected error answers, e.g. 429=0.05,500=0.01,502=0.01,503=0.01")
	f.DurationVar(&opts.Faults.Latency, "latency", 0, "latency added to every API request")
	f.Float64Var(&opts.Faults.ResetRate, "reset-rate", 0, "probability of resetting the connection before handling")
	f.Float64Var(&opts.Faults.MalformedRate, "malformed-rate", 0, "probability of a truncated JSON body on GETs")
	f.Float64Var(&opts.Faults.DropAfterCommitRate, "drop-after-commit-rate", 0, "probability of doing a write and then dropping the answer")
	return cmd
}
