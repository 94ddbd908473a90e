package pipelines_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// refund issues a refund in the shop through the back office hook, over
// TCP, and returns the credit slip's id.
func (w *world) refund(order int64, body string) int64 {
	w.t.Helper()
	url := fmt.Sprintf("%s/_emulator/orders/%d/refund", w.ps.URL(), order)
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("refund %s: %d %s", body, resp.StatusCode, b)
	}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		w.t.Fatal(err)
	}
	return out.ID
}

// invoicedOrder brings the pipeline in step, then has the first customer
// buy units of the first product by card, with 99 kr shipping, and runs
// until that order is invoiced. It returns the order and its invoice.
func (w *world) invoicedOrder(units int) (int64, fikentest.Invoice) {
	w.t.Helper()
	w.converge()
	shipping := 99.0
	id, err := w.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: w.ps.IDs("customers")[0], Module: "stripe_official",
		Shipping: &shipping, Lines: []prestashoptest.OrderLine{{ProductID: w.ps.IDs("products")[0], Quantity: units}}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.converge()
	invs := w.invoicesByRef()[w.shopField("orders", id, "reference")]
	if len(invs) != 1 {
		w.t.Fatalf("%d invoices for order %d, want 1", len(invs), id)
	}
	return id, invs[0]
}

// creditNotesOf are the credit notes of an invoice.
func (w *world) creditNotesOf(invoiceID int64) []fikentest.CreditNote {
	var out []fikentest.CreditNote
	for _, cn := range w.fk.CreditNotes() {
		if cn.AssociatedInvoiceID == invoiceID {
			out = append(out, cn)
		}
	}
	return out
}

// slipGross is a slip's refund in øre, as the shop shows it.
func (w *world) slipGross(slip int64) int64 {
	w.t.Helper()
	s, ok := w.ps.Get("order_slip", slip)
	if !ok {
		w.t.Fatalf("no slip %d", slip)
	}
	var gross int64
	for _, f := range []string{"total_products_tax_incl", "total_shipping_tax_incl"} {
		x, err := strconv.ParseFloat(s.Fields[f], 64)
		if err != nil {
			w.t.Fatal(err)
		}
		gross += int64(x*100 + 0.5)
	}
	return gross
}

// TestRefundBecomesOnePartialCreditNote: order → invoice → the shop
// refunds one unit → exactly one partial credit note against the invoice
// for that unit's amount, with the Fiken product; a rerun does nothing; a
// second refund (a unit and the shipping) is a second note; a refund on
// an order never invoiced is left alone.
func TestRefundBecomesOnePartialCreditNote(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 11, nil)
	id, inv := w.invoicedOrder(3)
	ref := inv.OrderReference

	slip := w.refund(id, `{"first_row_units":1}`)
	w.converge()
	notes := w.creditNotesOf(inv.InvoiceID)
	if len(notes) != 1 {
		t.Fatalf("%d credit notes for the refund, want 1: %+v", len(notes), notes)
	}
	cn := notes[0]
	unit := inv.Lines[0]
	if want := w.slipGross(slip); cn.Gross != want || want != unit.Gross/3 {
		t.Errorf("credit note gross %d, slip %d, one unit of the invoice %d", cn.Gross, want, unit.Gross/3)
	}
	if len(cn.Lines) != 1 || cn.Lines[0].ProductID != unit.ProductID || cn.Lines[0].Quantity != 1 || cn.Lines[0].VatType != unit.VatType {
		t.Errorf("credit note lines %+v, want one unit of product %d (%s)", cn.Lines, unit.ProductID, unit.VatType)
	}
	if want := fmt.Sprintf("Kreditnota %d for ordre %s", slip, ref); cn.CreditNoteText != want || cn.OrderReference != "" {
		t.Errorf("credit note text %q, orderReference %q; want %q and none", cn.CreditNoteText, cn.OrderReference, want)
	}

	w.fk.ResetStats()
	if res := w.apply(); res.Planned != 0 || w.fk.Stats().Writes != 0 {
		t.Fatalf("rerun planned %d changes, wrote %d times to Fiken", res.Planned, w.fk.Stats().Writes)
	}

	slip2 := w.refund(id, `{"first_row_units":1,"shipping":true}`)
	other := w.placeOrder("ps_checkpayment", 1) // awaiting a cheque: never invoiced
	w.refund(other, `{"first_row_units":1}`)
	w.converge()
	notes = w.creditNotesOf(inv.InvoiceID)
	if len(notes) != 2 || notes[1].Gross != w.slipGross(slip2) || len(notes[1].Lines) != 2 {
		t.Fatalf("after the second refund: %+v, want a second note of %d with a shipping line", notes, w.slipGross(slip2))
	}
	if n := len(w.fk.CreditNotes()); n != 2 {
		t.Errorf("%d credit notes in Fiken, want 2 (the uninvoiced order's refund is left alone)", n)
	}
}

// TestRefundsCanBeTurnedOff: vars.refunds false makes no credit notes.
func TestRefundsCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 12, func(s string) string { return strings.Replace(s, "refunds: true", "refunds: false", 1) })
	id, _ := w.invoicedOrder(2)
	w.refund(id, `{"first_row_units":1}`)
	w.converge()
	if n := len(w.fk.CreditNotes()); n != 0 {
		t.Fatalf("%d credit notes with refunds off", n)
	}
}

// TestLostCreditNoteAnswerMakesOneNote: Fiken books the partial credit
// note but its answer is lost; the run finds the note through the invoice
// instead of creating it again, and later runs leave it be.
func TestLostCreditNoteAnswerMakesOneNote(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 13, nil)
	id, inv := w.invoicedOrder(2)
	w.refund(id, `{"first_row_units":1}`)

	w.fk.ResetStats()
	w.fk.SetFaults(fikentest.Faults{DropAfterCommitRate: 1})
	w.ps.SetFaults(prestashoptest.Faults{DropAfterCommitRate: 1})
	res := w.apply()
	w.fk.SetFaults(fikentest.Faults{})
	w.ps.SetFaults(prestashoptest.Faults{})
	if res.Failed != 0 {
		t.Fatalf("%d changes failed: %v", res.Failed,
			w.rows(`SELECT entity, action, source_key, error FROM synk.changes WHERE run_id = ? AND status = 'failed'`, res.Plan.RunID))
	}
	if n := w.fk.Stats().ByMethod["POST"]; n != 1 {
		t.Errorf("%d POSTs to Fiken in the run with lost answers, want 1 (the credit note)", n)
	}
	w.converge()
	w.converge()
	if n := len(w.creditNotesOf(inv.InvoiceID)); n != 1 {
		t.Fatalf("%d credit notes after a lost answer, want 1", n)
	}
	w.noDuplicates()
}

// TestPartlyRefundedInvoicePaidIsSettled: an invoice order whose customer
// returns one item and pays the rest is settled in the shop; a cancelled
// one, credited in full, is not.
func TestPartlyRefundedInvoicePaidIsSettled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 12, func(s string) string { return strings.Replace(s, "credit_notes: false", "credit_notes: true", 1) })
	w.converge()
	paid := w.placeOrder("ps_wirepayment", 2)
	cancelled := w.placeOrder("ps_wirepayment", 1)
	w.converge()
	w.refund(paid, `{"first_row_units":1}`)
	if _, err := w.ps.SetOrderState(cancelled, prestashoptest.StateCanceled); err != nil {
		t.Fatal(err)
	}
	w.converge()
	inv := w.invoicesByRef()[w.shopField("orders", paid, "reference")][0]
	if len(w.creditNotesOf(inv.InvoiceID)) != 1 || inv.Sale == nil || inv.Sale.Settled {
		t.Fatalf("the partly refunded invoice: %d notes, sale %+v; want one note and money still owed", len(w.creditNotesOf(inv.InvoiceID)), inv.Sale)
	}
	if _, err := w.fk.RegisterPayment(inv.InvoiceID, inv.Sale.OutstandingBalance, inv.IssueDate); err != nil {
		t.Fatal(err)
	}
	w.converge()
	if got := w.rows(`SELECT state_name FROM shop.orders WHERE id = ?`, paid)[0][0]; got != "Oppgjort i Fiken" {
		t.Errorf("the partly refunded, paid order is %q, want Oppgjort i Fiken; invoice %v; credited in full %v", got,
			w.rows(`SELECT _key, settled, cash, associatedCreditNotes FROM fiken.invoices WHERE _key = ?`, fmt.Sprint(inv.InvoiceID)),
			w.rows(`SELECT * FROM lookup.credited_in_full`))
	}
	if got := w.rows(`SELECT state_name FROM shop.orders WHERE id = ?`, cancelled)[0][0]; got == "Oppgjort i Fiken" {
		t.Errorf("the cancelled order, credited in full, was marked settled")
	}
	if n := w.recon("settled_not_marked"); n != 0 {
		t.Errorf("recon.settled_not_marked: %d rows", n)
	}
}
