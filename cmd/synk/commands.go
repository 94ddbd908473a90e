package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PIPELINE.yaml",
		Short: "Check a pipeline file offline: keys, settings, resources, every expression",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPipeline(cmd, g, args[0])
			if err != nil {
				return err
			}
			for _, w := range p.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w.Pretty())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d connections, %d entities, %d warnings)\n", args[0], len(p.Connections), len(p.Entities), len(p.Warnings))
			return nil
		},
	}
}

func newPlanCmd(g *globals) *cobra.Command {
	var stateFlag, format, out string
	var full bool
	cmd := &cobra.Command{
		Use:   "plan PIPELINE.yaml",
		Short: "Read both sides and print the changes apply would make; writes nothing to any system",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use text or json", format)}
			}
			s, err := openSession(cmd, g, args[0], stateFlag, full)
			if err != nil {
				return err
			}
			defer s.Close()
			defer pushSession(cmd.Context(), g, s)
			pl, err := s.runner.Plan(cmd.Context())
			if err != nil {
				return err
			}
			if out != "" {
				if err := savePlan(out, pl); err != nil {
					return fmt.Errorf("save plan: %w", err)
				}
			}
			if format == "json" {
				return pl.WriteReport(cmd.OutOrStdout())
			}
			if err := printPlan(cmd.OutOrStdout(), pl, isTTY(cmd.OutOrStdout())); err != nil {
				return fmt.Errorf("print plan: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default: the pipeline's state:, else ./synk.duckdb)")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&out, "out", "", "also save the plan as JSON, for apply --plan")
	cmd.Flags().BoolVar(&full, "full", false, "read every resource in full (finds deletions)")
	return cmd
}

// savePlan writes the plan for apply --plan, streamed, readable by its
// owner only.
func savePlan(path string, pl *pipeline.Plan) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := pl.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newApplyCmd(g *globals) *cobra.Command {
	var stateFlag, planFile string
	var full bool
	cmd := &cobra.Command{
		Use:   "apply PIPELINE.yaml",
		Short: "Plan and apply (or apply a saved plan if nothing moved since it was made)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var saved *pipeline.Plan
			if planFile != "" {
				b, err := os.ReadFile(planFile)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("read plan: %w", err)}
				}
				saved = &pipeline.Plan{}
				if err := json.Unmarshal(b, saved); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s is not a saved plan: %w", planFile, err)}
				}
			}
			// Bars go to stderr, and the session logs above them.
			prog := newApplyProgress(cmd.ErrOrStderr())
			cmd.SetErr(prog.Writer(cmd.ErrOrStderr()))
			s, err := openSession(cmd, g, args[0], stateFlag, full, prog)
			if err != nil {
				return err
			}
			defer s.Close()
			defer pushSession(cmd.Context(), g, s)
			prog.bind(s.p, s.log, s.runner.RunID, s.runner.Connector)
			// The first SIGINT/SIGTERM ends cmd.Context(): no new write
			// starts, the ones in flight finish. A second one exits at
			// once; the journal settles what was in flight next run.
			defer exitOnSecondSignal(cmd.ErrOrStderr())()
			res, err := s.runner.Apply(cmd.Context(), saved)
			prog.Close()
			w := cmd.OutOrStdout()
			if errors.Is(err, engine.ErrStopped) {
				var applied, left int
				if res != nil {
					applied, left = res.Applied, res.NotAttempted
				}
				fmt.Fprintf(w, "stopped: applied %d, not attempted %d (run %s)\n", applied, left, s.runner.RunID())
				return &exitError{code: 1, err: errors.New("")}
			}
			if err != nil {
				return &exitError{code: 1, err: s.p.RedactError(err)}
			}
			printSummary(w, res.Plan, isTTY(w))
			fmt.Fprintf(w, "applied %d, failed %d, rejected %d (run %s)\n", res.Applied, res.Failed, res.Rejected, s.runner.RunID())
			for _, rj := range res.Plan.Rejects {
				fmt.Fprintf(w, "  reject %s %s.%s %s: %s\n", rj.Entity, rj.Connection, rj.Resource, rj.Key, rj.Reason)
			}
			if res.Failed > 0 || res.Rejected > 0 {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default: the pipeline's state:, else ./synk.duckdb)")
	cmd.Flags().StringVar(&planFile, "plan", "", "apply this saved plan (from plan --out); refused if stale")
	cmd.Flags().BoolVar(&full, "full", false, "read every resource in full (finds deletions)")
	return cmd
}

func newSchemaCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of pipeline files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := spec.Schema(g.reg)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
}

const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	reset  = "\x1b[0m"
)

func paint(on bool, color, s string) string {
	if !on {
		return s
	}
	return color + s + reset
}

func printSummary(w io.Writer, pl *pipeline.Plan, color bool) {
	ents := make([]string, 0, len(pl.Summary))
	for e := range pl.Summary {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	if len(ents) == 0 {
		fmt.Fprintln(w, "No changes: both sides are in step.")
	}
	for _, e := range ents {
		s := pl.Summary[e]
		fmt.Fprintf(w, "%-16s %s  %s  %s\n", e,
			paint(color, green, fmt.Sprintf("+%d create", s[pipeline.Create])),
			paint(color, yellow, fmt.Sprintf("~%d update", s[pipeline.Update])),
			paint(color, red, fmt.Sprintf("-%d delete", s[pipeline.Delete])))
	}
}

// printPlan prints the summary, then the changes one at a time (the
// creates of a first sync planned in chunks are made as they are printed),
// then the rejects.
func printPlan(w io.Writer, pl *pipeline.Plan, color bool) error {
	printSummary(w, pl, color)
	err := pl.Each(func(c pipeline.Change) error {
		sym, col := "~", yellow
		switch c.Action {
		case pipeline.Create:
			sym, col = "+", green
		case pipeline.Delete:
			sym, col = "-", red
		}
		target := c.TargetKey
		if target == "" {
			target = "(new)"
		}
		fmt.Fprintf(w, "%s %s %s %s → %s\n", paint(color, col, sym), c.Entity, c.Flow, c.SourceKey, target)
		for _, f := range c.Fields {
			if c.Action == pipeline.Create {
				fmt.Fprintf(w, "    %s = %s\n", f, show(c.After[f]))
			} else {
				fmt.Fprintf(w, "    %s: %s → %s\n", f, show(c.Before[f]), show(c.After[f]))
			}
		}
		if len(c.Waits) > 0 {
			fmt.Fprintf(w, "    (waits for %s created in this run)\n", strings.Join(c.Waits, ", "))
		}
		for _, n := range c.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rj := range pl.Rejects {
		fmt.Fprintf(w, "%s %s %s.%s %s: %s\n", paint(color, red, "!"), rj.Entity, rj.Connection, rj.Resource, rj.Key, rj.Reason)
	}
	return nil
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// exitOnSecondSignal watches SIGINT/SIGTERM while a run applies: the first
// is main's (it ends the command's context), a second exits the process at
// once. The returned func stops watching.
func exitOnSecondSignal(stderr io.Writer) func() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
				if seen++; seen >= 2 {
					fmt.Fprintln(stderr, "synk: second signal: exiting now; the next run looks up what was in flight")
					os.Exit(1)
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
