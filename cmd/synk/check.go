package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline"
)

func newCheckCmd(g *globals) *cobra.Command {
	var stateFlag string
	cmd := &cobra.Command{
		Use:   "check PIPELINE.yaml",
		Short: "Check online that every connection works: credentials, accounts, counters, versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(cmd, g, args[0], stateFlag, false)
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			color := isTTY(w)
			failed := 0
			for _, c := range s.p.Connections {
				ch, ok := s.runner.Connector(c.Name).(pipeline.Checker)
				if !ok {
					fmt.Fprintf(w, "- %s (%s): no online checks\n", c.Name, c.Type.Name)
					continue
				}
				for _, r := range ch.Check(cmd.Context()) {
					mark := paint(color, green, "✓")
					if !r.OK {
						mark = paint(color, red, "✗")
						failed++
					}
					line := fmt.Sprintf("%s %s: %s", mark, c.Name, r.Name)
					if r.Detail != "" {
						line += " — " + r.Detail
					}
					fmt.Fprintln(w, s.p.Redact(line))
				}
			}
			if failed > 0 {
				return &exitError{code: 1, err: errors.New(fmt.Sprint(failed, " check(s) failed"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default: the pipeline's state:, else ./synk.duckdb)")
	return cmd
}
