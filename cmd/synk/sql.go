package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/pipeline/state"
)

func newSQLCmd(g *globals) *cobra.Command {
	var stateFlag, format string
	cmd := &cobra.Command{
		Use:   `sql [--state FILE] "QUERY"`,
		Short: "Query the state file read-only (tables: synk.*, one schema per connection, recon.*)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "csv" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use table, csv or json", format)}
			}
			st, err := state.OpenReadOnly(cmd.Context(), statePath(stateFlag, nil))
			if err != nil {
				return err
			}
			defer st.DB.Close()
			rows, err := st.DB.QueryContext(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("query: %w", err)}
			}
			defer rows.Close()
			return writeRows(cmd.OutOrStdout(), rows, format)
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file (default ./synk.duckdb)")
	cmd.Flags().StringVar(&format, "format", "table", "table, csv or json")
	return cmd
}

func cell(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
}

func writeRows(w io.Writer, rows *sql.Rows, format string) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var data [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i := range vals {
			vals[i] = cell(vals[i])
		}
		data = append(data, vals)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch format {
	case "json":
		out := make([]map[string]any, len(data))
		for i, row := range data {
			m := make(map[string]any, len(cols))
			for j, c := range cols {
				m[c] = row[j]
			}
			out[i] = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(cols)
		for _, row := range data {
			rec := make([]string, len(row))
			for i, v := range row {
				if v != nil {
					rec[i] = fmt.Sprint(v)
				}
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	text := make([][]string, len(data))
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = len(c)
	}
	for r, row := range data {
		text[r] = make([]string, len(row))
		for i, v := range row {
			s := "NULL"
			if v != nil {
				s = fmt.Sprint(v)
			}
			text[r][i] = s
			width[i] = max(width[i], len([]rune(s)))
		}
	}
	line := func(vals []string) {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v + strings.Repeat(" ", width[i]-len([]rune(v)))
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(parts, "  "), " "))
	}
	line(cols)
	seps := make([]string, len(cols))
	for i := range cols {
		seps[i] = strings.Repeat("-", width[i])
	}
	line(seps)
	for _, row := range text {
		line(row)
	}
	fmt.Fprintf(w, "(%d rows)\n", len(data))
	return nil
}
