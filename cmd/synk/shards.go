package main

import (
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/daemon"
	"github.com/synk-etl/synk/pipeline/spec"
)

func newShardsCmd(g *globals) *cobra.Command {
	var from int
	cmd := &cobra.Command{
		Use:   "shards N PIPELINE.yaml|DIR... [--from M]",
		Short: "Print which of N `serve --shard I/N` processes serves each pipeline (with --from M: which move)",
		Long: `Shards prints, for every pipeline in the files and directories given (as serve finds them),
the shard of N that serves it: FNV-1a (32 bits) of the pipeline's name, modulo N. With --from M
it prints only the pipelines whose shard changes when the number of shards goes from M to N,
with their state files: those are the files to move between the pods' volumes. It reads only
the pipelines' names, so it needs none of their secrets.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n int
			if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 {
				return &exitError{code: 2, err: fmt.Errorf("N %q: want a number of shards ≥ 1", args[0])}
			}
			if cmd.Flags().Changed("from") && from < 1 {
				return &exitError{code: 2, err: fmt.Errorf("--from %d: want a number of shards ≥ 1", from)}
			}
			files, err := daemon.PipelineFiles(args[1:])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			type row struct{ name, file, state string }
			var rows []row
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				// Only the name and state file: no secrets needed.
				p, err := spec.Parse(f, src, g.reg, spec.Options{Offline: true, Functions: g.fns})
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %w", f, err)}
				}
				rows = append(rows, row{p.Name, f, daemon.StatePath(p)})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			defer w.Flush()
			if from == 0 {
				fmt.Fprintln(w, "PIPELINE\tSHARD\tFILE\tSTATE")
				for _, r := range rows {
					fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\n", r.name, daemon.ShardOf(r.name, n), n, r.file, r.state)
				}
				return nil
			}
			fmt.Fprintln(w, "PIPELINE\tFROM\tTO\tSTATE")
			for _, r := range rows {
				if a, b := daemon.ShardOf(r.name, from), daemon.ShardOf(r.name, n); a != b {
					fmt.Fprintf(w, "%s\t%d/%d\t%d/%d\t%s\n", r.name, a, from, b, n, r.state)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&from, "from", 0, "the number of shards now: print only the pipelines that move")
	return cmd
}
