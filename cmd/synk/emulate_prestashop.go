package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/emulator"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// newEmulatePrestashopCmd serves the PrestaShop webservice emulator.
func newEmulatePrestashopCmd() *cobra.Command {
	var (
		opts       prestashoptest.Options
		errorRates []string
	)
	cmd := &cobra.Command{
		Use:   "prestashop",
		Short: "Serve the PrestaShop webservice emulator",
		Long: `Serve a PrestaShop 8.x or 1.7 webservice (http://ADDR/api/...) with a seeded
Norwegian shop: products with VAT groups, customers, orders in several states.
Point a connection's url at the printed shop URL and key at the printed key.
Back-office hooks for tests live under /_emulator/ (see the connector README).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rates, err := emulator.ParseErrorRates(errorRates...)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			opts.Faults.ErrorRate = rates
			srv, err := prestashoptest.NewServer(opts)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("emulate prestashop: %w", err)}
			}
			defer srv.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "PrestaShop %s webservice emulator\n", srv.Version())
			fmt.Fprintf(out, "url: %s\n", srv.URL())
			fmt.Fprintf(out, "key: %s\n", srv.Key())
			fmt.Fprintf(out, "api: %s/api/  back office: %s/_emulator/\n", srv.URL(), srv.URL())
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8380", "listen address")
	f.StringVar(&opts.Key, "key", "", "webservice key, 32 characters (default: derived from --seed)")
	f.StringVar(&opts.Version, "version", prestashoptest.Version8, "PrestaShop version to act as: "+prestashoptest.Version8+" or "+prestashoptest.Version17)
	f.Uint64Var(&opts.Seed, "seed", 1, "seed for the shop data, references and faults")
	f.IntVar(&opts.Products, "products", 24, "seeded products")
	f.IntVar(&opts.Customers, "customers", 12, "seeded customers")
	f.IntVar(&opts.Orders, "orders", 20, "seeded orders")
	f.BoolVar(&opts.Empty, "empty", false, "seed reference data only (no products, customers or orders)")
	f.StringArrayVar(&errorRates, "error-rate", nil, "STATUS=RATE: fail that share of requests with the status, e.g. 503=0.05 (repeatable)")
	f.DurationVar(&opts.Faults.Latency, "latency", 0, "latency added to every request")
	f.DurationVar(&opts.Faults.Jitter, "jitter", 0, "random extra latency, up to this")
	f.Float64Var(&opts.Faults.ResetRate, "reset-rate", 0, "share of requests whose connection is reset before the shop sees them")
	f.Float64Var(&opts.Faults.MalformedRate, "malformed-rate", 0, "share of successful responses truncated")
	f.Float64Var(&opts.Faults.DropAfterCommitRate, "drop-after-commit-rate", 0, "share of writes committed and then answered by a dropped connection")
	f.IntVar(&opts.Faults.RequestsPerMinute, "requests-per-minute", 0, "cap requests per minute (429 with Retry-After above it); 0 = no cap")
	return cmd
}
