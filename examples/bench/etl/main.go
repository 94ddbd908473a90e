// Command etl measures synk as a file ETL runner next to its floor, DuckDB
// running the same mapping itself, on the same data in the same run: a
// JSONL file of products mapped with six expressions (renames, upper(trim(
// name)), a VAT rate → VAT type switch) into another JSONL file.
//
//	go run ./examples/bench/etl               # 1,000,000 products
//	go run ./examples/bench/etl -n 100000
//
// Steps, each a child process so its peak RSS is its own:
//
//   - floor: DuckDB's COPY (SELECT … FROM read_json(…)) TO … of the mapping;
//   - first apply: `synk apply` from an empty state and output file;
//   - no-op plan: `synk plan` with nothing changed;
//   - 1 % apply: `synk apply` after 1 % of the input records changed.
//
// The output of the first apply is checked against the floor's, record by
// record. It prints a table with synk's figures next to the floor's and the
// issue's targets, and exits 1 when a target is missed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

func main() {
	n := flag.Int("n", 1_000_000, "products in the input file")
	dir := flag.String("dir", "", "work directory (kept); default a temporary one, removed")
	synk := flag.String("synk", "", "synk binary; default one built from this module")
	floor := flag.Bool("floor", false, "internal: run the floor's COPY (args: input output)")
	flag.Parse()
	if *floor {
		if err := runFloor(flag.Arg(0), flag.Arg(1)); err != nil {
			log.Fatal(err)
		}
		return
	}
	cfg := config{N: *n, Dir: *dir, Synk: *synk, Self: os.Args[0]}
	rep, err := run(cfg)
	if err != nil {
		log.Fatal(err)
	}
	rep.print(os.Stdout)
	if miss := rep.missed(); len(miss) > 0 {
		fmt.Fprintln(os.Stderr, "\ntargets missed:", strings.Join(miss, "; "))
		os.Exit(1)
	}
}
