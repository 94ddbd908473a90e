package main

import (
	"strings"
	"testing"
)

// TestBenchmarkSmall runs the benchmark on a small shop, the rate run
// included (a few seconds at Fiken's 4 requests a second), and holds it to
// the targets: Fiken requests within 5 % of the floor, no 429, a no-op run
// within 20 shop requests, and Fiken's rate used to 95 %.
func TestBenchmarkSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and syncs a shop")
	}
	cfg := config{Products: 300, Customers: 30, Orders: 10, Changed: 0.02, NewOrders: 5, Rate: true, RateChanges: 12}
	rep, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.print(&out)
	t.Log("\n" + out.String())
	if len(rep.Rows) != 5 || rep.Rate == nil {
		t.Fatalf("%d runs measured, rate %v; want 5 and the rate run", len(rep.Rows), rep.Rate)
	}
	for _, r := range rep.Rows {
		if !r.ok() {
			t.Errorf("%s: Fiken %d requests (floor %d, target ≤ %d), shop %d, 429 answers %d", r.Name, r.Fiken, r.floor(), r.limit(), r.Shop, r.TooMany+r.Refused)
		}
		if r.Changes > 0 && r.FikenWrites == 0 && !strings.Contains(r.Name, "Fiken") {
			t.Errorf("%s: %d changes planned, none written to Fiken", r.Name, r.Changes)
		}
	}
	if !rep.Rate.ok() {
		t.Errorf("rate run: %.2f/s of %.0f/s, 429 answers %d", rep.Rate.rate(), rep.Rate.Configured, rep.Rate.TooMany+rep.Rate.Refused)
	}
}
