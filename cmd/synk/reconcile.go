package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

func newReconcileCmd(g *globals) *cobra.Command {
	var stateFlag, format string
	cmd := &cobra.Command{
		Use:   "reconcile PIPELINE.yaml",
		Short: "Print the pipeline's recon.* views from the state file; exit 1 when any report has rows",
		Long: `Reconcile (re)creates the pipeline's views in the state file and prints every view in
schema recon with its rows. A view is a discrepancy report unless a counter's offset query
reads it (recon.fiken_units_invoiced feeds the stock counter): such helpers are printed but
their rows are not discrepancies. Exit 0 when every report is empty, 1 when any has rows,
2 when the pipeline, the state file or a view is broken. It reads only the state file: run
synk apply first so the snapshot is fresh.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "csv" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use table, csv or json", format)}
			}
			// Only the views and the state path are needed: an analyst
			// runs this without the connections' secrets.
			p, err := loadPipelineWith(cmd, g, args[0], spec.Options{Offline: true})
			if err != nil {
				return err
			}
			path := statePath(stateFlag, p)
			if _, err := os.Stat(path); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("state file %s: %w (run synk apply first)", path, err)}
			}
			store, err := state.Open(cmd.Context(), path)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer store.Close()
			rep, err := reconcile(cmd.Context(), store, p, format)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := rep.write(cmd.OutOrStdout(), format); err != nil {
				return err
			}
			if !rep.clean() {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default: the pipeline's state:, else ./synk.duckdb)")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv or json")
	return cmd
}

// reconView is one view in schema recon and what it held.
type reconView struct {
	Name string `json:"view"`
	// Helper is true for a view a counter's offset query reads: it is
	// bookkeeping the engine needs, so its rows are no discrepancy.
	Helper bool            `json:"helper"`
	Count  int             `json:"count"`
	Rows   json.RawMessage `json:"rows"`
	// text is the rows as a table or CSV, for those formats.
	text string
}

// reconReport is every recon view of a pipeline, in file order.
type reconReport struct {
	Views []*reconView `json:"views"`
}

// clean reports whether every discrepancy report is empty.
func (r *reconReport) clean() bool { return len(r.dirty()) == 0 }

func (r *reconReport) dirty() []*reconView {
	var out []*reconView
	for _, v := range r.Views {
		if !v.Helper && v.Count > 0 {
			out = append(out, v)
		}
	}
	return out
}

// summary is one line: clean, or which reports have how many rows.
func (r *reconReport) summary() string {
	reports := 0
	for _, v := range r.Views {
		if !v.Helper {
			reports++
		}
	}
	d := r.dirty()
	if len(d) == 0 {
		return fmt.Sprintf("reconcile: clean (%d reports, no rows)", reports)
	}
	parts := make([]string, len(d))
	rows := 0
	for i, v := range d {
		parts[i] = fmt.Sprintf("%s (%d)", v.Name, v.Count)
		rows += v.Count
	}
	return fmt.Sprintf("reconcile: %d discrepancies in %d of %d reports: %s", rows, len(d), reports, strings.Join(parts, ", "))
}

func (r *reconReport) write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Clean bool `json:"clean"`
			*reconReport
		}{r.clean(), r})
	case "csv":
		for i, v := range r.Views {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "# %s %s: %d rows\n", v.Name, v.kind(), v.Count)
			io.WriteString(w, v.text)
		}
		return nil
	}
	for _, v := range r.Views {
		switch {
		case v.Count == 0:
			fmt.Fprintf(w, "%s: ok (0 rows)\n", v.Name)
		case v.Helper:
			fmt.Fprintf(w, "%s (helper for a counter offset, not a discrepancy): %d rows\n", v.Name, v.Count)
			io.WriteString(w, indent(v.text))
		default:
			fmt.Fprintf(w, "%s: %d rows\n", v.Name, v.Count)
			io.WriteString(w, indent(v.text))
		}
	}
	fmt.Fprintln(w, r.summary())
	return nil
}

func (v *reconView) kind() string {
	if v.Helper {
		return "helper"
	}
	return "report"
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// reconcile (re)creates the pipeline's views and reads every view in
// schema recon, with its rows also printed in format (table or csv).
func reconcile(ctx context.Context, store *state.Store, p *spec.Pipeline, format string) (*reconReport, error) {
	if err := engine.CreateViews(ctx, store, p); err != nil {
		return nil, fmt.Errorf("create views: %w", err)
	}
	rep := &reconReport{}
	for _, name := range reconNames(p) {
		v := &reconView{Name: name, Helper: offsetReads(p, name)}
		schema, base, _ := strings.Cut(name, ".")
		from := state.Ident(schema) + "." + state.Ident(base)
		formats := []string{"json"}
		if format != "json" {
			formats = append(formats, format)
		}
		for _, f := range formats {
			rows, err := store.DB.QueryContext(ctx, "SELECT * FROM "+from)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			var buf bytes.Buffer
			err = writeRows(&buf, rows, f)
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			if f != "json" {
				v.text = buf.String()
				continue
			}
			var list []json.RawMessage
			if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			v.Count = len(list)
			v.Rows = bytes.TrimSpace(buf.Bytes())
			if list == nil {
				v.Rows = json.RawMessage("[]")
			}
		}
		rep.Views = append(rep.Views, v)
	}
	return rep, nil
}

// reconNames are the pipeline's views in schema recon, in file order.
func reconNames(p *spec.Pipeline) []string {
	var out []string
	for _, v := range p.Views {
		if schema, _, _ := strings.Cut(v.Name, "."); schema == "recon" {
			out = append(out, v.Name)
		}
	}
	return out
}

// offsetReads reports whether a counter entity's offset query reads the
// view: views that feed the engine are helpers, not discrepancy reports.
func offsetReads(p *spec.Pipeline, view string) bool {
	schema, base, _ := strings.Cut(view, ".")
	re := regexp.MustCompile(`(?i)\b"?` + regexp.QuoteMeta(schema) + `"?\s*\.\s*"?` + regexp.QuoteMeta(base) + `\b`)
	for _, e := range p.Entities {
		if c := e.Counter; c != nil && (re.MatchString(c.LeftOffset) || re.MatchString(c.RightOffset)) {
			return true
		}
	}
	return false
}
