package pipelines_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"

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

	// An invoice order in EUR is settled when paid in EUR.
	wire := w.order(prestashoptest.OrderRequest{Module: "ps_wirepayment", Currency: "EUR"})
	w.converge()
	wireInv := w.invoicesByRef()[w.shopField("orders", wire, "reference")][0]
	if wireInv.Currency != "EUR" || wireInv.Gross != w.orderCents(wire) {
		t.Errorf("EUR invoice order: %s %d, want EUR %d (no NOK fee)", wireInv.Currency, wireInv.Gross, w.orderCents(wire))
	}
	if _, err := w.fk.RegisterPayment(wireInv.InvoiceID, wireInv.Gross, wireInv.IssueDate); err != nil {
		t.Fatal(err)
	}
	w.converge()
	if got := w.rows(`SELECT state_name FROM shop.orders WHERE id = ?`, wire)[0][0]; got != "Oppgjort i Fiken" {
		t.Errorf("the paid EUR invoice order is %q, want Oppgjort i Fiken", got)
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

// cents parses a shop amount into cents of its currency.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(math.Round(f * 100))
}

// TestInvoicesMinusCreditNotesEqualPaidMinusRefunded: random orders in
// NOK, EUR and SEK over products at 25, 15, 12 and 0 %, paid by card or
// invoice, some discounted, some exported, some partly refunded (units
// and shipping). For every order, after the runs: its invoice minus its
// credit notes is what the customer paid minus what the shop refunded, in
// total to the øre (cent), in net to the øre, and per VAT rate in net.
func TestInvoicesMinusCreditNotesEqualPaidMinusRefunded(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 30+seed, nil)
			w.converge()
			rng := rand.New(rand.NewPCG(seed, 11))
			var products []int64
			for _, id := range w.ps.IDs("products") {
				if len(w.rows(`SELECT 1 FROM shop.products WHERE id = ? AND reference <> ''`, id)) == 0 {
					continue
				}
				if o, _ := w.ps.Get("products", id); len(o.Assoc["combinations"]) == 0 {
					if err := w.ps.SetStock(id, 0, 500); err != nil {
						t.Fatal(err)
					}
					products = append(products, id)
				}
			}
			pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
			var orders []int64
			discounted := map[int64]bool{}
			for range 8 {
				req := prestashoptest.OrderRequest{Module: pick("stripe_official", "vipps", "ps_wirepayment"),
					Currency: pick("NOK", "EUR", "SEK"), DeliveryCountry: pick("NO", "NO", "SE")}
				if rng.IntN(3) == 0 {
					req.DiscountPercent = 10
				}
				for _, i := range rng.Perm(len(products))[:1+rng.IntN(len(products))] {
					req.Lines = append(req.Lines, prestashoptest.OrderLine{ProductID: products[i], Quantity: 1 + rng.IntN(3)})
				}
				id := w.order(req)
				orders = append(orders, id)
				discounted[id] = req.DiscountPercent > 0
			}
			w.converge()
			slips := map[int64][]int64{}
			for _, id := range orders {
				if rng.IntN(2) == 0 {
					continue
				}
				ship := rng.IntN(2) == 0 && cents(t, w.shopField("orders", id, "total_shipping_tax_incl")) > 0
				slip, err := w.ps.Refund(id, prestashoptest.RefundRequest{FirstRowUnits: 1, Shipping: ship})
				if err != nil {
					t.Fatal(err)
				}
				slips[id] = append(slips[id], slip)
			}
			w.converge()

			nSlips, currencies := 0, map[string]int{}
			for _, id := range orders {
				nSlips += len(slips[id])
				currencies[w.shopField("orders", id, "id_currency")]++
			}
			if nSlips == 0 || len(currencies) < 2 || len(products) < 3 {
				t.Fatalf("the random orders cover too little: %d refunds, currencies %v, %d products", nSlips, currencies, len(products))
			}
			notesOf := map[int64][]fikentest.CreditNote{}
			for _, cn := range w.fk.CreditNotes() {
				notesOf[cn.AssociatedInvoiceID] = append(notesOf[cn.AssociatedInvoiceID], cn)
			}
			for _, id := range orders {
				ref := w.shopField("orders", id, "reference")
				invs := w.invoicesByRef()[ref]
				if len(invs) != 1 {
					t.Fatalf("order %s: %d invoices", ref, len(invs))
				}
				inv := invs[0]
				notes := notesOf[inv.InvoiceID]
				if len(notes) != len(slips[id]) {
					t.Fatalf("order %s: %d credit notes for %d refunds", ref, len(notes), len(slips[id]))
				}
				// What the books say, by rate: nets of the lines that
				// carry a rate (not the øreavrunding, not the fee).
				booked := map[float64]int64{}
				var bookedGross, bookedNet, fee int64
				add := func(lines []fikentest.InvoiceLine, sign int64) {
					for _, l := range lines {
						switch {
						case l.VatType == "NONE":
						case l.Description == "Fakturagebyr":
							fee += sign * l.Gross
						default:
							booked[l.VatInPercent] += sign * l.Net
							bookedNet += sign * l.Net
						}
					}
				}
				// Each line's VAT is what an auditor recomputes, within
				// an øre.
				for _, l := range inv.Lines {
					if d := float64(l.Vat) - float64(l.Net)*l.VatInPercent/100; d > 1 || d < -1 {
						t.Errorf("order %s: line %q net %d at %v %% has VAT %d", ref, l.Description, l.Net, l.VatInPercent, l.Vat)
					}
				}
				add(inv.Lines, 1)
				bookedGross = inv.Gross
				for _, cn := range notes {
					add(cn.Lines, -1)
					bookedGross -= cn.Gross
				}
				// What the shop says.
				o, _ := w.ps.Get("orders", id)
				paid := cents(t, o.Fields["total_paid_tax_incl"])
				paidNet := cents(t, o.Fields["total_paid_tax_excl"])
				charged := map[float64]int64{}
				for _, row := range o.Assoc["order_rows"] {
					d, _ := w.ps.Get("order_details", mustID(t, row["id"]))
					rate, _ := strconv.ParseFloat(d.Fields["tax_rate"], 64)
					charged[rate] += cents(t, d.Fields["total_price_tax_excl"])
				}
				carrier, _ := strconv.ParseFloat(o.Fields["carrier_tax_rate"], 64)
				charged[carrier] += cents(t, o.Fields["total_shipping_tax_excl"])
				var refunded, refundedNet int64
				for _, sid := range slips[id] {
					s, _ := w.ps.Get("order_slip", sid)
					refunded += cents(t, s.Fields["total_products_tax_incl"]) + cents(t, s.Fields["total_shipping_tax_incl"])
					refundedNet += cents(t, s.Fields["total_products_tax_excl"]) + cents(t, s.Fields["total_shipping_tax_excl"])
					charged[carrier] -= cents(t, s.Fields["total_shipping_tax_excl"])
					for _, it := range s.Assoc["order_slip_details"] {
						d, _ := w.ps.Get("order_details", mustID(t, it["id_order_detail"]))
						rate, _ := strconv.ParseFloat(d.Fields["tax_rate"], 64)
						charged[rate] -= cents(t, it["amount_tax_excl"])
					}
				}
				wantFee := int64(0)
				if o.Fields["module"] == "ps_wirepayment" && (o.Fields["id_currency"] == "1") {
					wantFee = 4900
				}
				what := fmt.Sprintf("order %s (%s, %s, %d refunds)", ref, inv.Currency, o.Fields["module"], len(slips[id]))
				if fee != wantFee {
					t.Errorf("%s: fee %d, want %d", what, fee, wantFee)
				}
				if bookedGross != paid+wantFee-refunded {
					t.Errorf("%s: invoice − credit notes = %d, paid − refunded = %d", what, bookedGross, paid+wantFee-refunded)
				}
				if bookedNet != paidNet-refundedNet {
					t.Errorf("%s: net invoiced − credited = %d, shop's net paid − refunded = %d", what, bookedNet, paidNet-refundedNet)
				}
				if discounted[id] {
					continue // the shop keeps no per-rate split of a cart discount
				}
				for rate, n := range charged {
					if n != 0 && booked[rate] != n {
						t.Errorf("%s: at %v %% booked net %d, the shop's net %d", what, rate, booked[rate], n)
					}
				}
			}
		})
	}
}
