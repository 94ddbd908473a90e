package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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
