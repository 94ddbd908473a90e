package pipelines_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// TestFlagshipConvergesOnFlakyHosts: with a tenth of the answers cut short
// and one connection in twenty reset, on both systems, the flagship from an
// empty state gets every apply through with nothing failed or rejected,
// comes to "No changes", and nothing exists twice on either side.
func TestFlagshipConvergesOnFlakyHosts(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{31, 32} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, seed, nil)
			w.fk.SetFaults(fikentest.Faults{MalformedRate: 0.1, ResetRate: 0.05})
			w.ps.SetFaults(prestashoptest.Faults{MalformedRate: 0.1, ResetRate: 0.05})
			converged := false
			for run := 1; run <= 3 && !converged; run++ {
				res := w.apply() // fails the test on a run error or a reject
				if res.Failed != 0 {
					t.Fatalf("run %d: %d changes failed: %v", run, res.Failed,
						w.rows(`SELECT entity, flow, action, source_key, error FROM synk.changes WHERE run_id = ? AND status = 'failed'`, res.Plan.RunID))
				}
				converged = res.Planned == 0
			}
			w.fk.SetFaults(fikentest.Faults{})
			w.ps.SetFaults(prestashoptest.Faults{})
			if res := w.apply(); res.Planned != 0 {
				t.Fatalf("not in step (converged under faults: %v): a clean run still planned %d changes: %v", converged, res.Planned,
					w.rows(`SELECT entity, flow, action, source_key, target_key, CAST(before AS VARCHAR), CAST(after AS VARCHAR), status FROM synk.changes WHERE run_id = ?`, res.Plan.RunID))
			}
			w.noDuplicates()
		})
	}
}

// noDuplicates fails if either system holds one thing twice: an invoice per
// order, a credit note per text and invoice (a refund's names its slip), a
// Fiken product per number, a contact per shop customer, a shop product per
// reference, a shop customer per e-mail.
func (w *world) noDuplicates() {
	w.t.Helper()
	seen := map[string]bool{}
	dup := func(what string) {
		if seen[what] {
			w.t.Errorf("twice: %s", what)
		}
		seen[what] = true
	}
	for _, inv := range w.fk.Invoices() {
		if inv.OrderReference != "" {
			dup("Fiken invoice for order " + inv.OrderReference)
		}
	}
	for _, cn := range w.fk.CreditNotes() {
		dup(fmt.Sprintf("Fiken credit note %q of invoice %d", cn.CreditNoteText, cn.AssociatedInvoiceID))
	}
	for _, p := range w.fk.Products() {
		dup("Fiken product " + p.ProductNumber)
	}
	for _, c := range w.fk.Contacts() {
		if c.Email != "" {
			dup("Fiken contact " + strings.ToLower(c.Email))
		}
	}
	for _, id := range w.ps.IDs("products") {
		if ref := w.shopField("products", id, "reference"); ref != "" {
			dup("shop product " + ref)
		}
	}
	for _, id := range w.ps.IDs("customers") {
		dup("shop customer " + strings.ToLower(w.shopField("customers", id, "email")))
	}
}
