package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline"
)

func newCheckCmd(g *globals) *cobra.Command {
	var stateFlag string
	cmd := &cobra.Command{
		Use:   "check PIPELINE.yaml",
		Short: "Check online that every connection works: credentials, accounts, counters, versions, the shop settings vars name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(cmd, g, args[0], stateFlag, false)
			if err != nil {
				return err
			}
			defer s.Close()
			out := checkPrinter{w: cmd.OutOrStdout(), color: isTTY(cmd.OutOrStdout()), redact: s.p.Redact}
			for _, c := range s.p.Connections {
				conn := s.runner.Connector(c.Name)
				ch, ok := conn.(pipeline.Checker)
				if !ok {
					out.note(fmt.Sprintf("%s (%s): no online checks", c.Name, c.Type.Name))
					continue
				}
				for _, r := range ch.Check(cmd.Context()) {
					out.result(c.Name, r)
				}
				if vc, ok := conn.(varsChecker); ok {
					for _, r := range vc.CheckVars(cmd.Context(), s.p.Vars) {
						out.result(c.Name, r)
					}
				}
			}
			checkCurrencies(cmd.Context(), s, &out)
			if out.failed > 0 {
				return &exitError{code: 1, err: errors.New(fmt.Sprint(out.failed, " check(s) failed"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default: the pipeline's state:, else ./synk.duckdb)")
	return cmd
}

// checkPrinter writes one line per check: ✓ passed, ✗ failed (counted), !
// a warning that does not fail the command, - a note.
type checkPrinter struct {
	w      io.Writer
	color  bool
	redact func(string) string
	failed int
}

func (p *checkPrinter) result(conn string, r pipeline.CheckResult) {
	if r.Skipped {
		p.note(conn + ": " + r.Name + " not checked: " + r.Detail)
		return
	}
	mark := paint(p.color, green, "✓")
	switch {
	case r.Warning:
		mark = paint(p.color, yellow, "!")
	case !r.OK:
		mark = paint(p.color, red, "✗")
		p.failed++
	}
	line := fmt.Sprintf("%s %s: %s", mark, conn, r.Name)
	if r.Detail != "" {
		line += " — " + r.Detail
	}
	fmt.Fprintln(p.w, p.redact(line))
}

func (p *checkPrinter) note(s string) { fmt.Fprintln(p.w, p.redact("- "+s)) }

// varsChecker is the optional capability of a connection that can check
// the settings of its system a pipeline's vars name (the PrestaShop
// connector: order states, the settled state, payment modules), so that a
// wrong id fails `synk check` instead of a run.
type varsChecker interface {
	CheckVars(ctx context.Context, vars map[string]any) []pipeline.CheckResult
}

// currencySeller is a system whose orders come in currencies (the shop).
type currencySeller interface {
	Currencies(ctx context.Context) ([]string, error)
}

// currencyInvoicer is a system that invoices in some currencies only
// (Fiken).
type currencyInvoicer interface {
	InvoicesIn(code string) bool
}

// checkCurrencies lists the currencies each selling connection's orders
// can be in and, for each invoicing connection, whether it invoices in
// each: an order in a currency it does not is a reject, never booked as
// another currency.
func checkCurrencies(ctx context.Context, s *session, out *checkPrinter) {
	var codes []string
	for _, c := range s.p.Connections {
		seller, ok := s.runner.Connector(c.Name).(currencySeller)
		if !ok {
			continue
		}
		cs, err := seller.Currencies(ctx)
		if err != nil {
			out.result(c.Name, pipeline.CheckResult{Name: "currencies", Detail: err.Error()})
			continue
		}
		out.result(c.Name, pipeline.CheckResult{Name: "currencies", OK: len(cs) > 0, Detail: strings.Join(cs, ", ")})
		codes = append(codes, cs...)
	}
	slices.Sort(codes)
	codes = slices.Compact(codes)
	for _, c := range s.p.Connections {
		inv, ok := s.runner.Connector(c.Name).(currencyInvoicer)
		if !ok || len(codes) == 0 {
			continue
		}
		var no []string
		for _, code := range codes {
			if !inv.InvoicesIn(code) {
				no = append(no, code)
			}
		}
		r := pipeline.CheckResult{Name: "invoices in " + strings.Join(codes, ", "), OK: len(no) == 0}
		if len(no) > 0 {
			r.Name = "invoices in " + strings.Join(no, ", ")
			r.Detail = "not a currency it invoices in: orders in it are rejected"
		}
		out.result(c.Name, r)
	}
}
