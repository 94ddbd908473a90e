// Command api counts the requests the flagship pipeline (PrestaShop ⇄
// Fiken) makes per run against a shop of many products, next to the floor:
// the writes the changes need plus the list pages an incremental read of
// each Fiken resource needs. Both emulators run in this process, over TCP.
// After a first sync of the whole shop it measures a no-op run
// (incremental and --full), a run after 1 % of the products changed their
// price in the shop, one after 1 % changed in Fiken, and one after 10 new
// orders. With -rate it also makes -rate-changes price changes under
// Fiken's real limits (4 requests a second, one in flight, 240 a minute
// enforced by the emulator) and reports the rate Fiken saw while synk
// wrote.
//
//	go run ./examples/bench/api        # 5,000 products, counts only
//	go run ./examples/bench/api -rate  # also the rate run (about a minute more)
//
// Request counts are exact and repeatable; times are not (the machine's
// load shows in them), which is why the table is in requests. It exits 1
// when a target is missed.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Products, "products", cfg.Products, "products in the shop")
	flag.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers in the shop")
	flag.IntVar(&cfg.Orders, "orders", cfg.Orders, "orders in the shop before the first sync")
	flag.Float64Var(&cfg.Changed, "changed", cfg.Changed, "share of products changed per side")
	flag.IntVar(&cfg.NewOrders, "new-orders", cfg.NewOrders, "orders placed for the new-orders run")
	flag.BoolVar(&cfg.Rate, "rate", cfg.Rate, "also measure the rate Fiken sees under its real limits")
	flag.IntVar(&cfg.RateChanges, "rate-changes", cfg.RateChanges, "price changes in the rate run")
	verbose := flag.Bool("v", false, "log the engine's progress")
	flag.Parse()
	if *verbose {
		cfg.Log = os.Stderr
	}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	rep.print(os.Stdout)
	if !rep.ok() {
		os.Exit(1)
	}
}

// config sizes a benchmark.
type config struct {
	Products, Customers, Orders int
	// Changed is the share of products changed in the change runs.
	Changed   float64
	NewOrders int
	// Rate adds the run under Fiken's real limits, with RateChanges
	// price changes.
	Rate        bool
	RateChanges int
	// Log, if set, gets the engine's log.
	Log io.Writer
}

func defaultConfig() config {
	return config{Products: 5000, Customers: 200, Orders: 50, Changed: 0.01, NewOrders: 10, RateChanges: 100}
}
