package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/prestashop"
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
					out.result(c.Name, r, "", false)
				}
				if sc, ok := conn.(shopChecker); ok && c.Type.Name == "prestashop" {
					checkShopVars(cmd.Context(), &out, c.Name, sc, s.p.Vars)
				}
			}
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

func (p *checkPrinter) result(conn string, r pipeline.CheckResult, via string, warning bool) {
	mark := paint(p.color, green, "✓")
	switch {
	case warning:
		mark = paint(p.color, yellow, "!")
	case !r.OK:
		mark = paint(p.color, red, "✗")
		p.failed++
	}
	line := fmt.Sprintf("%s %s: %s", mark, conn, r.Name)
	if via != "" {
		line += " (" + via + ")"
	}
	if r.Detail != "" {
		line += " — " + r.Detail
	}
	fmt.Fprintln(p.w, p.redact(line))
}

func (p *checkPrinter) note(s string) { fmt.Fprintln(p.w, p.redact("- "+s)) }

// shopChecker is what `synk check` asks a PrestaShop connection about the
// shop settings a pipeline's vars name.
type shopChecker interface {
	CheckOrderStates(ctx context.Context, ids []int64, names []string) []pipeline.CheckResult
	CheckSettledState(ctx context.Context, name string) pipeline.CheckResult
	CheckPaymentModules(ctx context.Context, modules []string) []pipeline.CheckResult
}

// checkShopVars checks the shop settings named by the flagship pipeline's
// vars (see pipelines/prestashop-fiken.yaml): vars.order_states and, with
// vars.credit_notes on, vars.credit_states must be order state ids of the
// shop; vars.settled_state is found or will be created on the first
// settlement; each key of vars.payments is a payment module, and one not
// seen in the recent orders is a warning (!), not a failure, because a new
// shop or a newly added payment method has no orders yet. A var that is
// missing skips its check; one of the wrong shape fails.
func checkShopVars(ctx context.Context, out *checkPrinter, conn string, sc shopChecker, vars map[string]any) {
	bad := func(name, want string) {
		out.result(conn, pipeline.CheckResult{Name: "vars." + name, Detail: "want " + want}, "", false)
	}
	if v, ok := vars["order_states"]; ok {
		if ids, ok := stateIDs(v); ok {
			for _, r := range sc.CheckOrderStates(ctx, ids, nil) {
				out.result(conn, r, "vars.order_states", false)
			}
		} else {
			bad("order_states", "a list of order state ids, like [2, 3, 4, 5]")
		}
	}
	if v, ok := vars["credit_states"]; ok {
		switch ids, ok := stateIDs(v); {
		case !ok:
			bad("credit_states", "a list of order state ids, like [6, 7]")
		case vars["credit_notes"] != true:
			out.note(conn + ": vars.credit_states not checked: vars.credit_notes is not true")
		default:
			for _, r := range sc.CheckOrderStates(ctx, ids, nil) {
				out.result(conn, r, "vars.credit_states", false)
			}
		}
	}
	if v, ok := vars["settled_state"]; ok {
		if name, ok := v.(string); ok && strings.TrimSpace(name) != "" {
			out.result(conn, sc.CheckSettledState(ctx, name), "vars.settled_state", false)
		} else {
			bad("settled_state", "the name of an order state, like \"Oppgjort i Fiken\"")
		}
	}
	if v, ok := vars["payments"]; ok {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			bad("payments", "a map from payment module name to its settings")
			return
		}
		modules := make([]string, 0, len(m))
		for k := range m {
			modules = append(modules, k)
		}
		slices.Sort(modules)
		for _, r := range sc.CheckPaymentModules(ctx, modules) {
			out.result(conn, r, "vars.payments", prestashop.PaymentModuleUnseen(r))
		}
	}
}

// stateIDs reads a YAML list of order state ids; numbers arrive as ints,
// unsigned ints or floats depending on the YAML, and numeric strings are
// accepted too.
func stateIDs(v any) ([]int64, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	ids := make([]int64, 0, len(list))
	for _, x := range list {
		var id int64
		switch n := x.(type) {
		case int:
			id = int64(n)
		case int64:
			id = n
		case uint64:
			if n > math.MaxInt64 {
				return nil, false
			}
			id = int64(n)
		case float64:
			if n != math.Trunc(n) {
				return nil, false
			}
			id = int64(n)
		case string:
			p, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			if err != nil {
				return nil, false
			}
			id = p
		default:
			return nil, false
		}
		if id <= 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
