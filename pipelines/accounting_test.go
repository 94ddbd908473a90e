package pipelines_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// order checks out an order for the shop's first customer.
func (w *world) order(req prestashoptest.OrderRequest) int64 {
	w.t.Helper()
	if req.CustomerID == 0 {
		req.CustomerID = w.ps.IDs("customers")[0]
	}
	if len(req.Lines) == 0 {
		req.Lines = []prestashoptest.OrderLine{{ProductID: w.ps.IDs("products")[0], Quantity: 2}, {ProductID: w.ps.IDs("products")[1], Quantity: 1}}
	}
	id, err := w.ps.PlaceOrder(req)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// orderCents is an order's total in cents of its own currency.
func (w *world) orderCents(id int64) int64 {
	w.t.Helper()
	total, err := strconv.ParseFloat(w.shopField("orders", id, "total_paid_tax_incl"), 64)
	if err != nil {
		w.t.Fatal(err)
	}
	return int64(total*100 + 0.5)
}

// TestForeignCurrencyOrdersAreInvoicedInTheirCurrency: an order paid in
// EUR or SEK becomes a Fiken invoice in that currency with the order's own
// amounts (never converted by synk), is settled and credited in it, and
// the reconciliation compares in it.
func TestForeignCurrencyOrdersAreInvoicedInTheirCurrency(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 21, func(s string) string { return strings.Replace(s, "credit_notes: false", "credit_notes: true", 1) })
	w.converge()
	eur := w.order(prestashoptest.OrderRequest{Module: "stripe_official", Currency: "EUR"})
	sek := w.order(prestashoptest.OrderRequest{Module: "vipps", Currency: "SEK"})
	nok := w.order(prestashoptest.OrderRequest{Module: "stripe_official"})
	w.converge()

	nokTotal := w.orderCents(nok)
	for _, c := range []struct {
		id       int64
		currency string
	}{{eur, "EUR"}, {sek, "SEK"}, {nok, "NOK"}} {
		invs := w.invoicesByRef()[w.shopField("orders", c.id, "reference")]
		if len(invs) != 1 {
			t.Fatalf("%s order: %d invoices, want 1", c.currency, len(invs))
		}
		iv := invs[0]
		if iv.Currency != c.currency {
			t.Errorf("%s order: invoice in %s", c.currency, iv.Currency)
		}
		if want := w.orderCents(c.id); iv.Gross != want {
			t.Errorf("%s order: invoice gross %d, want the order's %d %s", c.currency, iv.Gross, want, c.currency)
		}
		if c.currency != "NOK" && iv.Gross == nokTotal {
			t.Errorf("%s order: same amount as the NOK order: not in its own currency", c.currency)
		}
		if !iv.Cash {
			t.Errorf("%s order: a card order's invoice is not booked as paid", c.currency)
		}
	}
	if n := w.recon("invoice_vs_order_totals"); n != 0 {
		t.Fatalf("recon.invoice_vs_order_totals: %d rows\n%v", n, w.rows(`SELECT * FROM recon.invoice_vs_order_totals`))
	}

	// A refund of one unit of the SEK order is a partial credit note in
	// SEK for the slip's amount.
	slip, err := w.ps.Refund(sek, prestashoptest.RefundRequest{FirstRowUnits: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.converge()
	refunded := int64(0)
	if s, ok := w.ps.Get("order_slip", slip); ok {
		f, _ := strconv.ParseFloat(s.Fields["amount"], 64)
		refunded = int64(f*100 + 0.5)
	}
	sekInv := w.invoicesByRef()[w.shopField("orders", sek, "reference")][0]
	var sekNotes int
	for _, cn := range w.fk.CreditNotes() {
		if cn.AssociatedInvoiceID == sekInv.InvoiceID {
			sekNotes++
			if cn.Currency != "SEK" || cn.Gross != refunded || refunded == 0 {
				t.Errorf("credit note for the SEK refund: %s %d, want SEK %d", cn.Currency, cn.Gross, refunded)
			}
		}
	}
	if sekNotes != 1 {
		t.Errorf("%d credit notes for the SEK order's refund, want 1", sekNotes)
	}

	// A cancelled EUR order is credited in EUR.
	if _, err := w.ps.SetOrderState(eur, prestashoptest.StateCanceled); err != nil {
		t.Fatal(err)
	}
	w.converge()
	iv := w.invoicesByRef()[w.shopField("orders", eur, "reference")][0]
	notes := w.fk.CreditNotes()
	found := false
	for _, cn := range notes {
		if cn.AssociatedInvoiceID == iv.InvoiceID {
			found = true
			if cn.Currency != "EUR" || cn.Gross != iv.Gross {
				t.Errorf("credit note %s %d, want EUR %d", cn.Currency, cn.Gross, iv.Gross)
			}
		}
	}
	if !found {
		t.Fatal("no credit note for the cancelled EUR order")
	}
}

// TestCurrencyFikenRefusesIsARejectWithItsReason: an order in a currency
// Fiken does not invoice in is a reject naming it, not a NOK invoice.
func TestCurrencyFikenRefusesIsARejectWithItsReason(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 22, nil)
	w.converge()
	if err := w.ps.Edit("currencies", 3, map[string]string{"iso_code": "XAU"}); err != nil {
		t.Fatal(err)
	}
	id := w.order(prestashoptest.OrderRequest{Module: "stripe_official", Currency: "XAU"})
	res := w.applyAllowingRejects()
	ref := w.shopField("orders", id, "reference")
	if n := len(w.invoicesByRef()[ref]); n != 0 {
		t.Fatalf("%d invoices for the XAU order, want none", n)
	}
	found := false
	for _, rj := range res.Plan.Rejects {
		found = found || (rj.Entity == "orders" && strings.Contains(rj.Reason, "XAU"))
	}
	got := w.rows(`SELECT reason FROM synk.rejects WHERE entity = 'orders' AND reason LIKE '%XAU%'`)
	if !found && len(got) == 0 {
		t.Fatalf("no reject naming the currency XAU; rejects: %v", w.rows(`SELECT entity, key, reason FROM synk.rejects`))
	}
}

// TestShopCustomersGoToFikenAtTheirFirstOrder: by default a shop customer
// becomes a Fiken contact when an order of theirs is invoiced; one who
// never bought stays out of Fiken's contact list, and the reconciliation
// does not count them as unmatched.
func TestShopCustomersGoToFikenAtTheirFirstOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 23, nil)
	w.converge()
	ordered := map[string]bool{}
	for _, r := range w.rows(`SELECT DISTINCT CAST(id_customer AS VARCHAR) FROM shop.orders WHERE current_state IN (2, 3, 4, 5, 10)`) {
		ordered[r[0]] = true
	}
	linked := map[string]bool{}
	for _, r := range w.rows(`SELECT left_key FROM synk.links WHERE entity = 'customers'`) {
		linked[r[0]] = true
	}
	members := map[string]bool{}
	for _, c := range w.fk.Contacts() {
		members[c.MemberNumberString] = true
	}
	var never int64
	for _, id := range w.ps.IDs("customers") {
		key := strconv.FormatInt(id, 10)
		switch {
		case ordered[key] && !linked[key]:
			t.Errorf("shop customer %d has an invoiced order but no Fiken contact", id)
		case !ordered[key] && members[key]:
			t.Errorf("shop customer %d never bought but synk made a Fiken contact for them", id)
		case !ordered[key] && !linked[key] && never == 0:
			never = id
		}
	}
	if never == 0 {
		t.Fatal("the seed has no shop customer without orders")
	}
	if n := w.recon("unmatched_customers"); n != 0 {
		t.Fatalf("recon.unmatched_customers: %v", w.rows(`SELECT * FROM recon.unmatched_customers`))
	}

	// Their first order brings them into Fiken, as the invoice's customer.
	id := w.order(prestashoptest.OrderRequest{CustomerID: never, Module: "stripe_official"})
	w.converge()
	invs := w.invoicesByRef()[w.shopField("orders", id, "reference")]
	if len(invs) != 1 || invs[0].Customer == nil {
		t.Fatalf("invoices for the first order: %+v", invs)
	}
	c, ok := w.fk.Contact(invs[0].Customer.ContactID)
	if !ok || c.MemberNumberString != strconv.FormatInt(never, 10) {
		t.Fatalf("the invoice's customer is contact %+v, want the shop customer %d", c, never)
	}
}

// TestZeroRateGoodsAreBookedByWhereTheyWent: a 0 % book delivered in
// Norway is an exempt sale, the same book shipped to Sweden an export,
// and to Svalbard outside the VAT area, each on its account.
func TestZeroRateGoodsAreBookedByWhereTheyWent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 24, nil)
	w.converge()
	var book int64
	for _, id := range w.ps.IDs("products") {
		if w.shopField("products", id, "id_tax_rules_group") == "4" {
			book = id
			break
		}
	}
	if book == 0 {
		t.Fatal("the seed has no 0 % product")
	}
	if err := w.ps.SetStock(book, 0, 10); err != nil {
		t.Fatal(err)
	}
	// The shop's emulator has no Svalbard: add it as the back office would.
	if err := w.ps.Edit("countries", 20, map[string]string{"iso_code": "SJ"}); err != nil {
		t.Fatal(err)
	}
	orders := map[string]int64{}
	for _, country := range []string{"NO", "SE", "SJ"} {
		orders[country] = w.order(prestashoptest.OrderRequest{Module: "stripe_official", DeliveryCountry: country,
			Lines: []prestashoptest.OrderLine{{ProductID: book, Quantity: 1}}})
	}
	w.converge()
	for country, want := range map[string]struct{ vatType, account string }{
		"NO": {"EXEMPT", "3100"}, "SE": {"EXEMPT_IMPORT_EXPORT", "3100"}, "SJ": {"OUTSIDE", "3200"},
	} {
		invs := w.invoicesByRef()[w.shopField("orders", orders[country], "reference")]
		if len(invs) != 1 {
			t.Fatalf("order to %s: %d invoices", country, len(invs))
		}
		var lines []string
		found := false
		for _, l := range invs[0].Lines {
			lines = append(lines, l.VatType+" "+l.IncomeAccount)
			if l.ProductID != 0 {
				found = true
				if l.VatType != want.vatType || l.IncomeAccount != want.account || l.Vat != 0 {
					t.Errorf("order to %s: the book's line is %s on %s with VAT %d, want %s on %s", country, l.VatType, l.IncomeAccount, l.Vat, want.vatType, want.account)
				}
			}
		}
		if !found {
			t.Errorf("order to %s: no product line in %v", country, lines)
		}
	}
	if n := w.recon("invoice_vs_order_totals"); n != 0 {
		t.Fatalf("recon.invoice_vs_order_totals: %d rows", n)
	}
}
