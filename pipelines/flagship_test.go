package pipelines_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/accounting"
)

var (
	simTrials = flag.Int("sim.trials", 4, "seeds of TestStockBothWaysSimulation")
	simSteps  = flag.Int("sim.steps", 125, "interleaved steps per seed of TestStockBothWaysSimulation")
)

// world is the flagship pipeline between a PrestaShop and a Fiken emulator,
// both over real TCP, with a real DuckDB state file.
type world struct {
	t     *testing.T
	fk    *fikentest.Server
	ps    *prestashoptest.Server
	p     *spec.Pipeline
	store *state.Store
}

const flagship = "prestashop-fiken.yaml"

// fastRetry keeps retries under injected faults quick; the policy's logic
// is the production one.
var fastRetry = pipeline.RetryPolicy{MaxAttempts: 6, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

// newWorld starts both emulators with small seed data and loads the
// flagship pipeline, with edit applied to its text (vars for one test).
func newWorld(t *testing.T, seed uint64, edit func(string) string) *world {
	t.Helper()
	fk, err := fikentest.NewServer(fikentest.Options{Seed: seed, Products: 4, Contacts: 3, CountersInitialized: true,
		Limits: fikentest.Limits{RejectConcurrent: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fk.Close() })
	fikentest.Check(t, fk)
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: seed, Products: 5, Customers: 4, Orders: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	prestashoptest.Check(t, ps)
	src, err := os.ReadFile(flagship)
	if err != nil {
		t.Fatal(err)
	}
	// Fiken's 4 requests/s would make every test slow; the emulator still
	// answers 429 to a second request in flight.
	text := strings.Replace(string(src), "    # Fiken's limits (1 request in flight, 4/s) are the default.", "    rate: 0", 1)
	if edit != nil {
		text = edit(text)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PRESTASHOP_URL": ps.URL(), "PRESTASHOP_KEY": ps.Key(), "FIKEN_URL": fk.URL(),
		"FIKEN_COMPANY": fk.Company(), "FIKEN_TOKEN": fk.Token()}
	reg := pipeline.NewRegistry()
	file.Register(reg)
	prestashop.Register(reg)
	fiken.Register(reg)
	p, err := spec.Load(path, reg, spec.Options{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Functions: functions()})
	if err != nil {
		t.Fatalf("load %s: %v", flagship, err)
	}
	st, err := state.Open(t.Context(), filepath.Join(dir, "synk.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &world{t: t, fk: fk, ps: ps, p: p, store: st}
}

func (w *world) apply() *engine.Result {
	w.t.Helper()
	r, err := engine.New(w.t.Context(), w.p, w.store, engine.Options{Retry: fastRetry})
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Apply(w.t.Context(), nil)
	if err != nil {
		w.t.Fatalf("apply: %v", err)
	}
	for _, rj := range res.Plan.Rejects {
		w.t.Errorf("reject %s %s %s: %s", rj.Entity, rj.Resource, rj.Key, rj.Reason)
	}
	return res
}

// converge applies until a run has nothing to do (at most 5 runs).
func (w *world) converge() {
	w.t.Helper()
	for range 5 {
		if res := w.apply(); res.Planned == 0 {
			return
		}
	}
	w.t.Fatal("no convergence after 5 runs")
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) rows(q string, args ...any) [][]string {
	w.t.Helper()
	rs, err := w.store.DB.QueryContext(w.t.Context(), q, args...)
	if err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			w.t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	return out
}

func (w *world) recon(view string) int {
	w.t.Helper()
	n, _ := strconv.Atoi(w.rows("SELECT count(*) FROM recon." + view)[0][0])
	return n
}

func (w *world) shopField(resource string, id int64, field string) string {
	o, ok := w.ps.Get(resource, id)
	if !ok {
		w.t.Fatalf("shop %s %d missing", resource, id)
	}
	return strings.TrimSpace(o.Fields[field])
}

func (w *world) invoicesByRef() map[string][]fikentest.Invoice {
	out := map[string][]fikentest.Invoice{}
	for _, inv := range w.fk.Invoices() {
		out[inv.OrderReference] = append(out[inv.OrderReference], inv)
	}
	return out
}

func eligible(state string) bool {
	switch state {
	case "2", "3", "4", "5", "10":
		return true
	}
	return false
}

func TestCustomersBothWays(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, func(s string) string { return strings.Replace(s, "to_fiken: ordered", "to_fiken: all", 1) })
	shopBorn := w.ps.IDs("customers")
	w.converge()
	// Fiken holds member numbers (the back office shows them; its API
	// never returns them).
	members := map[string]fikentest.Contact{}
	emails := map[string]bool{}
	for _, c := range w.fk.Contacts() {
		if c.MemberNumberString != "" {
			if _, dup := members[c.MemberNumberString]; dup {
				t.Fatalf("two Fiken contacts for shop customer %s", c.MemberNumberString)
			}
			members[c.MemberNumberString] = c
		}
	}
	links := map[string]string{}
	for _, r := range w.rows(`SELECT left_key, right_key FROM synk.links WHERE entity = 'customers'`) {
		links[r[0]] = r[1]
	}
	for _, id := range w.ps.IDs("customers") {
		key := strconv.FormatInt(id, 10)
		emails[strings.ToLower(w.shopField("customers", id, "email"))] = true
		cid, ok := links[key]
		if !ok {
			t.Fatalf("shop customer %d is linked to no Fiken contact", id)
		}
		c, ok := w.fk.Contact(mustID(t, cid))
		if !ok {
			t.Fatalf("shop customer %d is linked to contact %s, which Fiken does not have", id, cid)
		}
		if !strings.EqualFold(c.Email, w.shopField("customers", id, "email")) {
			t.Errorf("contact %d email %q, shop %q", c.ContactID, c.Email, w.shopField("customers", id, "email"))
		}
		// A contact synk made carries the shop id as its member number; a
		// contact made in Fiken keeps what it had (writing one back would
		// need its phone number, which Fiken never returns).
		if slices.Contains(shopBorn, id) {
			if m, ok := members[key]; !ok || m.ContactID != c.ContactID {
				t.Errorf("shop customer %d: contact %d has member number %q, want %d", id, c.ContactID, c.MemberNumberString, id)
			}
		}
	}
	for _, c := range w.fk.Contacts() {
		if c.Customer && c.Email != "" && !emails[strings.ToLower(c.Email)] {
			t.Errorf("Fiken customer %s <%s> did not come into the shop", c.Name, c.Email)
		}
	}
	if n := w.recon("unmatched_customers"); n != 0 {
		t.Fatalf("recon.unmatched_customers has %d rows", n)
	}
}

func TestProductsBothWays(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.converge()
	byNumber := map[string]fikentest.Product{}
	for _, p := range w.fk.Products() {
		if _, dup := byNumber[p.ProductNumber]; dup {
			t.Fatalf("duplicate Fiken product %s", p.ProductNumber)
		}
		byNumber[p.ProductNumber] = p
	}
	shopRefs := map[string]int64{}
	for _, id := range w.ps.IDs("products") {
		ref := w.shopField("products", id, "reference")
		if _, dup := shopRefs[ref]; dup {
			t.Fatalf("duplicate shop product %s", ref)
		}
		shopRefs[ref] = id
		if _, ok := byNumber[ref]; !ok {
			t.Errorf("shop product %s not in Fiken", ref)
		}
	}
	for n := range byNumber {
		if _, ok := shopRefs[n]; !ok {
			t.Errorf("Fiken product %s not in the shop", n)
		}
	}
	// A name edited in Fiken reaches the shop; a price edited in the shop reaches Fiken.
	var fp fikentest.Product
	for _, p := range byNumber {
		fp = p
		break
	}
	if _, err := w.fk.EditProduct(fp.ProductID, func(p *fikentest.Product) { p.Name = "Ullvotter (ny)" }); err != nil {
		t.Fatal(err)
	}
	sid := shopRefs[fp.ProductNumber]
	if err := w.ps.Edit("products", sid, map[string]string{"price": "123.400000"}); err != nil {
		t.Fatal(err)
	}
	w.converge()
	o, _ := w.ps.Get("products", sid)
	if got := o.I18n["name"]["1"]; got != "Ullvotter (ny)" {
		t.Errorf("shop name %q, want the Fiken edit", got)
	}
	for _, p := range w.fk.Products() {
		if p.ProductID == fp.ProductID && (p.UnitPrice == nil || *p.UnitPrice != 12340) {
			t.Errorf("Fiken unitPrice %v, want 12340", p.UnitPrice)
		}
	}
}

func TestOrdersBecomeInvoices(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, nil)
	w.converge()
	inv := w.invoicesByRef()
	productOf := map[string]int64{} // shop reference → Fiken productId
	for _, p := range w.fk.Products() {
		productOf[p.ProductNumber] = p.ProductID
	}
	contactOf := map[string]int64{}
	for _, c := range w.fk.Contacts() {
		contactOf[c.MemberNumberString] = c.ContactID
	}
	n := 0
	for _, id := range w.ps.IDs("orders") {
		ref := w.shopField("orders", id, "reference")
		if !eligible(w.shopField("orders", id, "current_state")) {
			if len(inv[ref]) != 0 {
				t.Errorf("order %s in state %s was invoiced", ref, w.shopField("orders", id, "current_state"))
			}
			continue
		}
		n++
		if len(inv[ref]) != 1 {
			t.Fatalf("order %s has %d invoices, want 1", ref, len(inv[ref]))
		}
		iv := inv[ref][0]
		total, _ := strconv.ParseFloat(w.shopField("orders", id, "total_paid_tax_incl"), 64)
		want := int64(total*100 + 0.5)
		if w.shopField("orders", id, "module") == "ps_wirepayment" {
			want += 4900
		}
		if iv.Gross != want {
			t.Errorf("order %s: invoice gross %d, want %d", ref, iv.Gross, want)
		}
		if iv.Customer == nil || iv.Customer.ContactID != contactOf[w.shopField("orders", id, "id_customer")] {
			t.Errorf("order %s: invoice customer %+v, want contact of shop customer %s", ref, iv.Customer, w.shopField("orders", id, "id_customer"))
		}
		o, _ := w.ps.Get("orders", id)
		for _, row := range o.Assoc["order_rows"] {
			// A combination's row is invoiced as its product.
			pid, _ := strconv.ParseInt(strings.TrimSpace(row["product_id"]), 10, 64)
			pref := w.shopField("products", pid, "reference")
			found := false
			for _, l := range iv.Lines {
				found = found || (l.ProductID == productOf[pref] && l.ProductID != 0)
			}
			if !found {
				t.Errorf("order %s: no invoice line for product %s (Fiken %d)", ref, pref, productOf[pref])
			}
		}
	}
	if n == 0 {
		t.Fatal("no eligible orders in the seed")
	}
	if c := w.recon("invoice_vs_order_totals") + w.recon("orders_without_invoice"); c != 0 {
		t.Fatalf("recon not clean: %d rows", c)
	}
	// A rerun after convergence writes nothing to either system.
	w.fk.ResetStats()
	w.ps.ResetStats()
	w.apply()
	if fw, pw := w.fk.Stats().Writes, w.ps.Stats().Writes; fw != 0 || pw != 0 {
		t.Fatalf("no-op rerun wrote %d times to Fiken and %d times to the shop", fw, pw)
	}
}

// placeOrder checks out a new order for the first shop customer.
func (w *world) placeOrder(module string, qty int) int64 {
	w.t.Helper()
	id, err := w.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: w.ps.IDs("customers")[0], Module: module,
		Lines: []prestashoptest.OrderLine{{ProductID: w.ps.IDs("products")[0], Quantity: qty}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func TestFikenAsInvoicePaymentMethod(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 4, nil)
	w.converge()
	id := w.placeOrder("ps_wirepayment", 1)
	w.converge()
	ref := w.shopField("orders", id, "reference")
	invs := w.invoicesByRef()[ref]
	if len(invs) != 1 {
		t.Fatalf("%d invoices for the invoice-payment order", len(invs))
	}
	iv := invs[0]
	if iv.Cash || len(iv.Dispatches) == 0 || iv.Kid == "" {
		t.Fatalf("invoice cash=%v dispatches=%v kid=%q, want unpaid, sent by Fiken, with Fiken's KID", iv.Cash, iv.Dispatches, iv.Kid)
	}
	fee := false
	for _, l := range iv.Lines {
		fee = fee || (l.Description == "Fakturagebyr" && l.Gross == 4900)
	}
	if !fee {
		t.Errorf("no 49,00 invoice fee line: %+v", iv.Lines)
	}
	if iv.DueDate <= iv.IssueDate {
		t.Errorf("due %s, issued %s: want 14 days later", iv.DueDate, iv.IssueDate)
	}
	// A card order is booked as paid, not sent.
	id = w.placeOrder("stripe_official", 1)
	w.converge()
	if invs := w.invoicesByRef()[w.shopField("orders", id, "reference")]; len(invs) != 1 || !invs[0].Cash {
		t.Fatalf("card order invoices %+v, want one paid invoice", invs)
	}
}

func TestSettlementMovesOrderOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 5, nil)
	w.converge()
	id := w.placeOrder("ps_wirepayment", 2)
	w.converge()
	iv := w.invoicesByRef()[w.shopField("orders", id, "reference")][0]
	if _, err := w.fk.RegisterPayment(iv.InvoiceID, iv.Gross, iv.IssueDate); err != nil {
		t.Fatal(err)
	}
	w.converge()
	w.converge()
	o, _ := w.ps.Get("orders", id)
	if w.rows(`SELECT state_name FROM shop.orders WHERE id = ?`, id)[0][0] != "Oppgjort i Fiken" {
		t.Fatalf("order state %s, want Oppgjort i Fiken", o.Fields["current_state"])
	}
	settled := o.Fields["current_state"]
	n := 0
	for _, hid := range w.ps.IDs("order_histories") {
		h, _ := w.ps.Get("order_histories", hid)
		if h.Fields["id_order"] == strconv.FormatInt(id, 10) && h.Fields["id_order_state"] == settled {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d history rows for the settled state, want 1", n)
	}
	if c := w.recon("settled_not_marked"); c != 0 {
		t.Fatalf("recon.settled_not_marked has %d rows", c)
	}
}

func TestFikenOrdersNeverSentToShop(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6, nil)
	w.converge()
	before := len(w.ps.IDs("orders"))
	p := w.fk.Products()[0]
	c := w.fk.Contacts()[0]
	if _, err := w.fk.ManualInvoice(c.ContactID, []fikentest.ManualLine{{ProductID: p.ProductID, Quantity: 1}}); err != nil {
		t.Fatal(err)
	}
	w.converge()
	if after := len(w.ps.IDs("orders")); after != before {
		t.Fatalf("shop orders %d → %d after a Fiken sale", before, after)
	}
	if n := w.recon("stock_differences"); n != 0 {
		t.Fatalf("stock differs for %d products after the Fiken sale", n)
	}
}

func TestCancelledOrdersGetCreditNoteOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7, func(s string) string {
		return strings.Replace(s, "credit_notes: false", "credit_notes: true", 1)
	})
	w.converge()
	id := w.placeOrder("stripe_official", 1)
	w.converge()
	iv := w.invoicesByRef()[w.shopField("orders", id, "reference")][0]
	if _, err := w.ps.SetOrderState(id, prestashoptest.StateCanceled); err != nil {
		t.Fatal(err)
	}
	w.converge()
	w.converge()
	n := 0
	for _, cn := range w.fk.CreditNotes() {
		if cn.AssociatedInvoiceID == iv.InvoiceID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d credit notes for the cancelled order's invoice, want 1", n)
	}
}

// TestStockBothWaysSimulation interleaves, at random per seed, shop orders
// (which synk invoices, drawing Fiken's stock), sales made in Fiken, stock
// counts on both sides, sync runs, runs with lost answers and 5xx/429
// faults, and runs stopped mid-way. Once runs go through, both stocks must
// equal initial + corrections − units sold, and every eligible order must
// have exactly one invoice. -sim.trials × -sim.steps interleaved steps.
func TestStockBothWaysSimulation(t *testing.T) {
	t.Parallel()
	for seed := range *simTrials {
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, uint64(100+seed), nil)
			w.converge()
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			// Expected level per shop product id, from the converged start.
			want := map[int64]int{}
			for _, pid := range w.ps.IDs("products") {
				q, _ := w.ps.Stock(pid, 0)
				want[pid] = q
			}
			fikenOf := map[int64]int64{}
			for _, p := range w.fk.Products() {
				for pid := range want {
					if w.shopField("products", pid, "reference") == p.ProductNumber {
						fikenOf[pid] = p.ProductID
					}
				}
			}
			pids := w.ps.IDs("products")
			var log []string
			for step := 0; step < *simSteps; step++ {
				pid := pids[rng.IntN(len(pids))]
				switch rng.IntN(5) {
				case 0, 1: // a shop order, invoiced by synk
					q := 1 + rng.IntN(2)
					if _, err := w.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: w.ps.IDs("customers")[0], Module: "stripe_official",
						Lines: []prestashoptest.OrderLine{{ProductID: pid, Quantity: q}}}); err == nil {
						want[pid] -= q
						log = append(log, fmt.Sprintf("shop order %d×%d", pid, q))
					}
				case 2: // a sale made in Fiken
					if _, err := w.fk.ManualInvoice(w.fk.Contacts()[0].ContactID, []fikentest.ManualLine{{ProductID: fikenOf[pid], Quantity: 1}}); err != nil {
						t.Fatal(err)
					}
					want[pid]--
					log = append(log, fmt.Sprintf("fiken sale %d×1", pid))
				case 3: // a stock count in the shop
					d := rng.IntN(5) - 2
					q, _ := w.ps.Stock(pid, 0)
					if err := w.ps.SetStock(pid, 0, q+d); err != nil {
						t.Fatal(err)
					}
					want[pid] += d
					log = append(log, fmt.Sprintf("shop count %d%+d", pid, d))
				case 4: // a stock count in Fiken
					d := rng.IntN(5) - 2
					if _, err := w.fk.AdjustStock(fikenOf[pid], float64(d)); err != nil {
						t.Fatal(err)
					}
					want[pid] += d
					log = append(log, fmt.Sprintf("fiken count %d%+d", pid, d))
				}
				switch rng.IntN(8) {
				case 0:
					w.apply()
					log = append(log, "run")
				case 1: // answers lost after commit, 5xx and 429
					w.fk.SetFaults(fikentest.Faults{DropAfterCommitRate: 0.3, ErrorRate: map[int]float64{503: 0.05, 429: 0.05}})
					w.ps.SetFaults(prestashoptest.Faults{DropAfterCommitRate: 0.3, ErrorRate: map[int]float64{503: 0.05}})
					w.tryApply(t.Context())
					w.fk.SetFaults(fikentest.Faults{})
					w.ps.SetFaults(prestashoptest.Faults{})
					log = append(log, "faulty run")
				case 2: // a run stopped part way, like a killed process
					ctx, cancel := context.WithTimeout(t.Context(), time.Duration(5+rng.IntN(200))*time.Millisecond)
					w.tryApply(ctx)
					cancel()
					log = append(log, "stopped run")
				}
			}
			w.converge()
			for pid, q := range want {
				got, _ := w.ps.Stock(pid, 0)
				var fs float64
				for _, p := range w.fk.Products() {
					if p.ProductID == fikenOf[pid] && p.Stock != nil {
						fs = *p.Stock
					}
				}
				if got != q || int(fs) != q {
					t.Errorf("product %d: shop %d, Fiken %v, want %d\nsteps: %s", pid, got, fs, q, strings.Join(log, ", "))
				}
			}
			inv := w.invoicesByRef()
			for _, id := range w.ps.IDs("orders") {
				ref := w.shopField("orders", id, "reference")
				if eligible(w.shopField("orders", id, "current_state")) && len(inv[ref]) != 1 {
					t.Errorf("order %s has %d invoices, want 1", ref, len(inv[ref]))
				}
			}
		})
	}
}

// tryApply runs once and tolerates what faults cause: a failed run,
// rejects, failed changes.
func (w *world) tryApply(ctx context.Context) {
	r, err := engine.New(ctx, w.p, w.store, engine.Options{Retry: fastRetry})
	if err != nil {
		return
	}
	defer r.Close()
	_, _ = r.Apply(ctx, nil)
}

// TestShopOrderDrawsFikenStockOnce: the run that invoices a new shop order
// leaves both stocks at the same level, lowered once.
func TestShopOrderDrawsFikenStockOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 8, nil)
	w.converge()
	pid := w.ps.IDs("products")[0]
	before, _ := w.ps.Stock(pid, 0)
	w.placeOrder("stripe_official", 2)
	w.apply()
	ref := w.shopField("products", pid, "reference")
	for _, p := range w.fk.Products() {
		if p.ProductNumber == ref {
			if p.Stock == nil || int(*p.Stock) != before-2 {
				t.Fatalf("Fiken stock %v after one run, want %d", p.Stock, before-2)
			}
		}
	}
	if got, _ := w.ps.Stock(pid, 0); got != before-2 {
		t.Fatalf("shop stock %d, want %d", got, before-2)
	}
	if pl := w.apply(); pl.Planned != 0 {
		t.Fatalf("second run planned %d changes", pl.Planned)
	}
}

// TestInvoicedOrderEditedInShop: invoices are immutable; an order changed
// in the shop after invoicing is neither rewritten nor rejected run after
// run, and reconciliation reports the difference.
func TestInvoicedOrderEditedInShop(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 9, nil)
	w.converge()
	id := w.placeOrder("stripe_official", 1)
	w.converge()
	total, _ := strconv.ParseFloat(w.shopField("orders", id, "total_paid_tax_incl"), 64)
	if err := w.ps.Edit("orders", id, map[string]string{"total_paid_tax_incl": strconv.FormatFloat(total+10, 'f', 6, 64)}); err != nil {
		t.Fatal(err)
	}
	w.fk.ResetStats()
	w.apply() // fails the test on any reject
	if n := w.fk.Stats().Writes; n != 0 {
		t.Fatalf("%d Fiken writes after the shop edited an invoiced order", n)
	}
	if n := w.recon("invoice_vs_order_totals"); n != 1 {
		t.Fatalf("recon.invoice_vs_order_totals has %d rows, want 1", n)
	}
}

// functions are the expression functions the flagship calls, as synk's
// main registers them: the core and the accounting set.
func functions() *transforms.Functions {
	fns := transforms.NewFunctions()
	accounting.Register(fns)
	return fns
}
