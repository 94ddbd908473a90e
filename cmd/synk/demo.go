package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/pipelines"
)

// demoState is the demo's own state file: replaced on every demo, unlike a
// --state file, which must not exist yet.
const demoState = "synk-demo.duckdb"

// demoSeed sizes the emulators' seed data: small, so the demo is quick.
const demoSeed = 7

func newDemoCmd(g *globals) *cobra.Command {
	var stateFlag string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the PrestaShop ⇄ Fiken pipeline against local emulators and tell what moved where",
		Long: `Demo starts a PrestaShop shop and a Fiken company (both emulated, in-process, on
127.0.0.1), applies the embedded pipelines/prestashop-fiken.yaml once and checks with a plan
that both sides are in step,
then acts like the shop and the accountant: a card order, an order in euro, an invoice
order and a refund in the shop,
a customer paying an invoice in Fiken, a product edited in Fiken, a sale made by hand in
Fiken and a stock count in the shop. It runs again, tells what moved where, reconciles, and
leaves the state file for synk sql. --keep leaves the emulators running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, g, stateFlag, keep)
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state file to create (default ./"+demoState+", replaced on every demo)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the emulators running (until Ctrl-C) and print how to point synk at them")
	return cmd
}

// demo is one demo: the two emulators, the pipeline between them and the
// state file.
type demo struct {
	out     io.Writer
	errOut  io.Writer // progress bars (on a terminal) or lines
	g       *globals
	fk      *fikentest.Server
	ps      *prestashoptest.Server
	p       *spec.Pipeline
	store   *state.Store
	log     *slog.Logger
	metrics *pipeline.Metrics
	// stopMetrics stops the --metrics-addr server.
	stopMetrics func()
	runs        int
}

func runDemo(cmd *cobra.Command, g *globals, stateFlag string, keep bool) error {
	ctx := cmd.Context()
	start := time.Now()
	out := cmd.OutOrStdout()
	path, err := demoStatePath(stateFlag)
	if err != nil {
		return err
	}
	d := &demo{out: out, errOut: cmd.ErrOrStderr(), g: g}
	defer d.close()
	if err := d.start(cmd, path); err != nil {
		return err
	}
	fmt.Fprintf(out, "synk demo: a PrestaShop shop and a Fiken company, emulated on 127.0.0.1, synced by\n"+
		"pipelines/prestashop-fiken.yaml (embedded) with the state in %s.\n\n", path)

	fmt.Fprintln(out, "1. First sync: both sides are paired and filled in")
	if err := d.converge(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   Shop: %d products, %d customers, %d orders. Fiken: %d products, %d contacts, %d invoices.\n\n",
		len(d.ps.IDs("products")), len(d.ps.IDs("customers")), len(d.ps.IDs("orders")),
		len(d.fk.Products()), len(d.fk.Contacts()), len(d.fk.Invoices()))

	fmt.Fprintln(out, "2. Business as usual")
	act, err := d.act()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, l := range act.told {
		fmt.Fprintln(out, "   "+l)
	}
	fmt.Fprintln(out)

	fmt.Fprintln(out, "3. synk runs again")
	firstRun := d.runs + 1
	if err := d.converge(ctx); err != nil {
		return err
	}
	if act.payLater {
		// No invoice was waiting for payment before: the customer pays the
		// one synk just made, and synk runs once more.
		inv, ok := d.unpaidSynkInvoice()
		if !ok {
			return errors.New("demo: no unpaid invoice from the shop to pay")
		}
		if _, err := d.fk.RegisterPayment(inv.InvoiceID, 0, ""); err != nil {
			return fmt.Errorf("demo: pay invoice: %w", err)
		}
		fmt.Fprintf(out, "   Fiken: the customer pays invoice %d (KID %s)\n", inv.InvoiceNumber, inv.Kid)
		if err := d.converge(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)

	fmt.Fprintln(out, "4. What moved where")
	story, wrong, err := d.story(ctx, firstRun, act)
	if err != nil {
		return err
	}
	for _, l := range story {
		fmt.Fprintln(out, "   "+l)
	}
	fmt.Fprintln(out)

	fmt.Fprintln(out, "5. Reconciliation (synk reconcile)")
	rep, err := reconcile(ctx, d.store, d.p, "table")
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := rep.write(&buf, "table"); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" {
			io.WriteString(out, "   "+l)
		}
	}
	fmt.Fprintln(out)

	d.store.Close()
	d.store = nil
	fmt.Fprintln(out, "6. Try next")
	for _, q := range analystQueries() {
		fmt.Fprintf(out, "   # %s\n   synk sql --state %s %q\n", q.why, path, q.sql)
	}
	fmt.Fprintf(out, "\nDone in %.1f s (%d runs).\n", time.Since(start).Seconds(), d.runs)
	if len(wrong) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: stock of %s is not what the sales and counts make it", strings.Join(wrong, ", "))}
	}
	// The Fiken emulator checks every request and answer against Fiken's
	// official spec: the demo is only a demo of the real API if none broke it.
	if v := d.fk.Violations(); len(v) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: %d requests or answers broke Fiken's spec, first: %s", len(v), v[0])}
	}
	if v := d.ps.Violations(); len(v) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: %d requests or answers broke the PrestaShop webservice's contract, first: %s", len(v), v[0])}
	}
	if !rep.clean() {
		return &exitError{code: 1, err: errors.New("demo: reconciliation found discrepancies")}
	}
	if !keep {
		return nil
	}
	fmt.Fprintf(out, "\nThe emulators keep running until Ctrl-C. Point synk at them:\n"+
		"   export PRESTASHOP_URL=%s PRESTASHOP_KEY=%s\n"+
		"   export FIKEN_URL=%s FIKEN_COMPANY=%s FIKEN_TOKEN=%s\n"+
		"   synk plan pipelines/prestashop-fiken.yaml --state %s\n"+
		"   synk reconcile pipelines/prestashop-fiken.yaml --state %s\n"+
		"   back offices: %s/_emulator/  %s/_emulator/\n",
		d.ps.URL(), d.ps.Key(), d.fk.URL(), d.fk.Company(), d.fk.Token(), path, path, d.ps.URL(), d.fk.RootURL())
	<-ctx.Done()
	return nil
}

// demoStatePath picks the state file: the default one is replaced, a
// given one must not exist (it could be a real pipeline's state).
func demoStatePath(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err == nil {
			return "", &exitError{code: 2, err: fmt.Errorf("--state %s exists: the demo starts a new state file; remove it or pick another name", flag)}
		}
		return flag, nil
	}
	for _, f := range []string{demoState, demoState + ".wal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("replace %s: %w", f, err)
		}
	}
	return demoState, nil
}

// analystQueries are what the demo suggests to try on its state file.
func analystQueries() []struct{ why, sql string } {
	return []struct{ why, sql string }{
		{"every write synk made, newest first",
			"SELECT entity, flow, action, source_key, target_key, fields FROM synk.changes ORDER BY changed_at DESC LIMIT 20"},
		{"shop orders and their Fiken invoices",
			"SELECT o.reference, o.module, o.state_name, i.invoiceNumber, i.kid, i.currency, i.gross / 100 AS gross, i.settled FROM synk.links k JOIN shop.orders o ON o._key = k.left_key JOIN fiken.invoices i ON i._key = k.right_key WHERE k.entity = 'orders' ORDER BY i.invoiceNumber"},
		{"stock on both sides",
			"SELECT s.reference, s.quantity AS shop, p.stock AS fiken FROM synk.links k JOIN shop.stock_availables s ON s._key = k.left_key JOIN fiken.products p ON p._key = k.right_key WHERE k.entity = 'stock' ORDER BY 1"},
		{"the runs",
			"SELECT run_id, status, planned, applied, failed, rejected FROM synk.runs ORDER BY started_at"},
		{"a reconciliation report",
			"SELECT * FROM recon.orders_without_invoice"},
	}
}

func (d *demo) start(cmd *cobra.Command, path string) error {
	var err error
	d.fk, err = fikentest.NewServer(fikentest.Options{Seed: demoSeed, Products: 6, Contacts: 4,
		// Fiken answers 429 to a second request in flight; the 4/s slowing
		// is left out so the demo is quick.
		Limits: fikentest.Limits{RejectConcurrent: true}})
	if err != nil {
		return fmt.Errorf("demo: start Fiken emulator: %w", err)
	}
	d.fk.InitCounters()
	d.ps, err = prestashoptest.NewServer(prestashoptest.Options{Seed: demoSeed, Products: 8, Customers: 5, Orders: 6})
	if err != nil {
		return fmt.Errorf("demo: start PrestaShop emulator: %w", err)
	}
	env := map[string]string{"PRESTASHOP_URL": d.ps.URL(), "PRESTASHOP_KEY": d.ps.Key(), "FIKEN_URL": d.fk.URL(),
		"FIKEN_COMPANY": d.fk.Company(), "FIKEN_TOKEN": d.fk.Token()}
	d.p, err = spec.Parse("prestashop-fiken.yaml", []byte(pipelines.PrestashopFiken()), d.g.reg,
		spec.Options{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Functions: d.g.fns})
	if err != nil {
		return fmt.Errorf("demo: embedded pipeline: %w", err)
	}
	for _, c := range d.p.Connections {
		c.Limits.Rate = 0 // the emulator does not slow down; one in flight stays
	}
	level := "warn" // the story is the output; --log-level shows the engine's log
	if f := cmd.Flag("log-level"); f != nil && f.Changed {
		level = d.g.logLevel
	}
	d.log, err = newLogger(cmd.ErrOrStderr(), level, d.p.Redact)
	if err != nil {
		return err
	}
	d.metrics, _, d.stopMetrics, err = newMetrics(d.g)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	d.store, err = state.Open(cmd.Context(), abs)
	return err
}

func (d *demo) close() {
	if d.stopMetrics != nil {
		d.stopMetrics()
	}
	if d.store != nil {
		d.store.Close()
	}
	if d.fk != nil {
		d.fk.Close()
	}
	if d.ps != nil {
		d.ps.Close()
	}
}

// apply is one `synk apply`, wired as the apply command is.
func (d *demo) apply(ctx context.Context) (*engine.Result, error) {
	prog := newApplyProgress(d.errOut)
	r, err := engine.New(ctx, d.p, d.store, engine.Options{Metrics: d.metrics, Logger: d.log, Progress: prog})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	prog.bind(d.p, d.log, r.RunID, r.Connector)
	start := time.Now()
	res, err := r.Apply(ctx, nil)
	prog.Close()
	if err != nil {
		return nil, fmt.Errorf("demo: run %d: %w", d.runs+1, d.p.RedactError(err))
	}
	d.runs++
	fmt.Fprintf(d.out, "   run %d: %s (%.1f s)\n", d.runs, runSummary(res), time.Since(start).Seconds())
	for _, rj := range res.Plan.Rejects {
		fmt.Fprintf(d.out, "     reject %s %s.%s %s: %s\n", rj.Entity, rj.Connection, rj.Resource, rj.Key, rj.Reason)
	}
	return res, nil
}

// converge is one `synk apply` and then a `synk plan`, which must find
// nothing left to do: one apply brings both sides in step.
func (d *demo) converge(ctx context.Context) error {
	res, err := d.apply(ctx)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: run %d: %d writes failed (synk sql \"SELECT * FROM synk.changes WHERE status = 'failed'\")", d.runs, res.Failed)}
	}
	r, err := engine.New(ctx, d.p, d.store, engine.Options{Metrics: d.metrics, Logger: d.log})
	if err != nil {
		return err
	}
	defer r.Close()
	pl, err := r.Plan(ctx)
	if err != nil {
		return fmt.Errorf("demo: plan after run %d: %w", d.runs, d.p.RedactError(err))
	}
	if !pl.Empty() || len(pl.Rejects) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: after run %d, synk plan still finds %d changes and %d rejects", d.runs, len(pl.Changes), len(pl.Rejects))}
	}
	fmt.Fprintln(d.out, "   synk plan: No changes, both sides are in step")
	return nil
}

func runSummary(res *engine.Result) string {
	if res.Planned == 0 {
		return "nothing to do, both sides are in step"
	}
	ents := make([]string, 0, len(res.Plan.Summary))
	for e := range res.Plan.Summary {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	var parts []string
	for _, e := range ents {
		s := res.Plan.Summary[e]
		var acts []string
		for _, a := range []struct {
			act pipeline.Action
			sym string
		}{{pipeline.Create, "+"}, {pipeline.Update, "~"}, {pipeline.Delete, "-"}} {
			if n := s[a.act]; n > 0 {
				acts = append(acts, fmt.Sprintf("%s%d", a.sym, n))
			}
		}
		if len(acts) > 0 {
			parts = append(parts, e+" "+strings.Join(acts, " "))
		}
	}
	return fmt.Sprintf("%s; %d writes", strings.Join(parts, ", "), res.Applied)
}

// stockNote is what happened to one product's stock during the demo.
type stockNote struct {
	ref     string
	shopID  int64
	fikenID int64
	before  int
	causes  []string
	delta   int
}

// acted is what the demo did as the shop and the accountant, for the story.
type acted struct {
	told []string
	// payLater is set when no invoice waited for payment before the runs:
	// the customer then pays the one the new invoice order gets.
	payLater bool
	// manual is the id of the invoice made by hand in Fiken.
	manual int64
	stock  []*stockNote
}

// demoProduct is a simple product (no combinations) linked on both sides.
type demoProduct struct {
	shopID, fikenID int64
	ref, name       string
	stock           int
}

// products are the simple, active, stocked products known on both sides.
func (d *demo) products() []demoProduct {
	combos := map[int64]bool{}
	for _, id := range d.ps.IDs("combinations") {
		if c, ok := d.ps.Get("combinations", id); ok {
			n, _ := strconv.ParseInt(c.Fields["id_product"], 10, 64)
			combos[n] = true
		}
	}
	fk := map[string]int64{}
	for _, p := range d.fk.Products() {
		if p.ProductNumber != "" {
			fk[p.ProductNumber] = p.ProductID
		}
	}
	var out []demoProduct
	for _, id := range d.ps.IDs("products") {
		o, ok := d.ps.Get("products", id)
		if !ok || combos[id] || o.Fields["active"] != "1" {
			continue
		}
		ref := o.Fields["reference"]
		q, _ := d.ps.Stock(id, 0)
		if fid, ok := fk[ref]; ok && q >= 5 {
			out = append(out, demoProduct{shopID: id, fikenID: fid, ref: ref, name: o.I18n["name"]["1"], stock: q})
		}
	}
	return out
}

func (d *demo) unpaidSynkInvoice() (fikentest.Invoice, bool) {
	for _, inv := range d.fk.Invoices() {
		if inv.OrderReference != "" && !inv.Cash && inv.Sale != nil && !inv.Sale.Settled {
			return inv, true
		}
	}
	return fikentest.Invoice{}, false
}

// act plays the shop and the accountant between two syncs.
func (d *demo) act() (*acted, error) {
	a := &acted{}
	prods := d.products()
	if len(prods) < 4 {
		return nil, fmt.Errorf("seed has %d simple stocked products, the demo needs 4", len(prods))
	}
	notes := map[int64]*stockNote{}
	note := func(p demoProduct) *stockNote {
		if n, ok := notes[p.shopID]; ok {
			return n
		}
		n := &stockNote{ref: p.ref, shopID: p.shopID, fikenID: p.fikenID, before: p.stock}
		notes[p.shopID] = n
		a.stock = append(a.stock, n)
		return n
	}
	customer, contact, err := d.customer()
	if err != nil {
		return nil, err
	}
	cust, _ := d.ps.Get("customers", customer)
	who := strings.TrimSpace(cust.Fields["firstname"] + " " + cust.Fields["lastname"])

	// Paid at checkout, by card.
	card, invoice, sold, counted := prods[0], prods[1], prods[2], prods[3]
	id, err := d.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: customer, Module: "stripe_official",
		Lines: []prestashoptest.OrderLine{{ProductID: card.shopID, Quantity: 1}}})
	if err != nil {
		return nil, err
	}
	o, _ := d.ps.Get("orders", id)
	a.told = append(a.told, fmt.Sprintf("Shop: %s buys 1 × %s (%s) and pays by card: order %s, %s NOK",
		who, card.name, card.ref, o.Fields["reference"], nok(o.Fields["total_paid_tax_incl"])))
	n := note(card)
	n.delta--
	n.causes = append(n.causes, "−1 card order "+o.Fields["reference"])

	// The same, in euro: the shop converts its prices; Fiken is invoiced
	// in EUR with the order's own amounts.
	id, err = d.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: customer, Module: "stripe_official", Currency: "EUR",
		Lines: []prestashoptest.OrderLine{{ProductID: card.shopID, Quantity: 1}}})
	if err != nil {
		return nil, err
	}
	o, _ = d.ps.Get("orders", id)
	a.told = append(a.told, fmt.Sprintf("Shop: %s buys 1 × %s (%s) and pays by card in euro: order %s, %s EUR",
		who, card.name, card.ref, o.Fields["reference"], nok(o.Fields["total_paid_tax_incl"])))
	n.delta--
	n.causes = append(n.causes, "−1 euro order "+o.Fields["reference"])

	// Invoice payment: Fiken sends the invoice.
	id, err = d.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: customer, Module: "ps_wirepayment",
		Lines: []prestashoptest.OrderLine{{ProductID: invoice.shopID, Quantity: 2}}})
	if err != nil {
		return nil, err
	}
	o, _ = d.ps.Get("orders", id)
	a.told = append(a.told, fmt.Sprintf("Shop: %s buys 2 × %s (%s) and asks for an invoice: order %s, %s NOK",
		who, invoice.name, invoice.ref, o.Fields["reference"], nok(o.Fields["total_paid_tax_incl"])))
	n = note(invoice)
	n.delta -= 2
	n.causes = append(n.causes, "−2 invoice order "+o.Fields["reference"])

	// The shop refunds one unit of an order synk invoiced earlier.
	if err := d.refundOne(a); err != nil {
		return nil, err
	}

	// A customer pays an invoice synk sent earlier.
	if inv, ok := d.unpaidSynkInvoice(); ok {
		if _, err := d.fk.RegisterPayment(inv.InvoiceID, 0, ""); err != nil {
			return nil, fmt.Errorf("pay invoice %d: %w", inv.InvoiceNumber, err)
		}
		a.told = append(a.told, fmt.Sprintf("Fiken: the bank reports KID %s: invoice %d (order %s, %s NOK) is paid",
			inv.Kid, inv.InvoiceNumber, inv.OrderReference, ore(inv.Gross)))
	} else {
		a.payLater = true
	}

	// The accountant edits a product in Fiken.
	edit := prods[len(prods)-1]
	var oldName string
	var oldPrice int64
	p, err := d.fk.EditProduct(edit.fikenID, func(p *fikentest.Product) {
		oldName = p.Name
		p.Name += " (ny modell)"
		if p.UnitPrice != nil {
			oldPrice = *p.UnitPrice
			v := *p.UnitPrice + 10000
			p.UnitPrice = &v
		}
	})
	if err != nil {
		return nil, fmt.Errorf("edit product: %w", err)
	}
	a.told = append(a.told, fmt.Sprintf("Fiken: product %s is renamed %q → %q, price %s → %s NOK (ex. VAT)",
		edit.ref, oldName, p.Name, ore(oldPrice), ore(*p.UnitPrice)))

	// A sale made by hand in Fiken, outside the shop.
	inv, err := d.fk.ManualInvoice(contact, []fikentest.ManualLine{{ProductID: sold.fikenID, Quantity: 1}})
	if err != nil {
		return nil, fmt.Errorf("manual invoice: %w", err)
	}
	a.manual = inv.InvoiceID
	a.told = append(a.told, fmt.Sprintf("Fiken: the accountant sells 1 × %s (%s) by hand: invoice %d, %s NOK",
		sold.name, sold.ref, inv.InvoiceNumber, ore(inv.Gross)))
	n = note(sold)
	n.delta--
	n.causes = append(n.causes, fmt.Sprintf("−1 sold in Fiken (invoice %d)", inv.InvoiceNumber))

	// A stock count in the shop finds more than the books say.
	q, _ := d.ps.Stock(counted.shopID, 0)
	if err := d.ps.SetStock(counted.shopID, 0, q+5); err != nil {
		return nil, err
	}
	a.told = append(a.told, fmt.Sprintf("Shop: a stock count finds %d × %s (%s), not %d", q+5, counted.name, counted.ref, q))
	n = note(counted)
	n.delta += 5
	n.causes = append(n.causes, fmt.Sprintf("+5 stock count in the shop (%d → %d)", q, q+5))
	return a, nil
}

// refundOne refunds one unit of the first row of an order synk invoiced
// in the first run, as the shop's back office does (a credit slip).
func (d *demo) refundOne(a *acted) error {
	for _, inv := range d.fk.Invoices() {
		// A card order's: the money goes back to the card, and the
		// invoices waiting for payment stay as they are for the story.
		if inv.OrderReference == "" || !inv.Cash || len(inv.AssociatedCreditNotes) > 0 {
			continue
		}
		for _, id := range d.ps.IDs("orders") {
			o, _ := d.ps.Get("orders", id)
			if o.Fields["reference"] != inv.OrderReference {
				continue
			}
			slip, err := d.ps.Refund(id, prestashoptest.RefundRequest{FirstRowUnits: 1})
			if err != nil {
				return fmt.Errorf("refund: %w", err)
			}
			sl, _ := d.ps.Get("order_slip", slip)
			name := ""
			if rows := o.Assoc["order_rows"]; len(rows) > 0 {
				name = rows[0]["product_name"]
			}
			a.told = append(a.told, fmt.Sprintf("Shop: order %s (Fiken invoice %d) gets 1 × %s back: credit slip %d, %s NOK refunded",
				o.Fields["reference"], inv.InvoiceNumber, name, slip, nok(sl.Fields["amount"])))
			return nil
		}
	}
	return errors.New("no invoiced order to refund")
}

// customer picks a shop customer with an address (so the shop takes an
// order) and the Fiken contact synk paired with them.
func (d *demo) customer() (shopID, contactID int64, err error) {
	contacts := map[string]int64{}
	for _, c := range d.fk.Contacts() {
		if c.MemberNumberString != "" && c.Customer {
			contacts[c.MemberNumberString] = c.ContactID
		}
	}
	withAddr := map[int64]bool{}
	for _, id := range d.ps.IDs("addresses") {
		if a, ok := d.ps.Get("addresses", id); ok && a.Fields["deleted"] != "1" {
			n, _ := strconv.ParseInt(a.Fields["id_customer"], 10, 64)
			withAddr[n] = true
		}
	}
	for _, id := range d.ps.IDs("customers") {
		if c, ok := contacts[strconv.FormatInt(id, 10)]; ok && withAddr[id] {
			return id, c, nil
		}
	}
	return 0, 0, errors.New("no shop customer with an address is paired with a Fiken contact")
}

// changes are the writes the runs since the fromRun-th (counting from 1)
// made, in run order.
func (d *demo) changes(ctx context.Context, fromRun int) ([]state.Change, error) {
	runs, err := d.store.Runs(ctx)
	if err != nil {
		return nil, err
	}
	var out []state.Change
	for _, r := range runs[min(max(fromRun-1, 0), len(runs)):] {
		chs, err := d.store.AppliedChanges(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, chs...)
	}
	return out, nil
}

// story tells what the runs since fromRun moved, from synk.changes and
// the emulators' records.
// wrong lists the products whose stock is not what the demo's sales and
// counts make it.
func (d *demo) story(ctx context.Context, fromRun int, a *acted) (lines, wrong []string, err error) {
	chs, err := d.changes(ctx, fromRun)
	if err != nil {
		return nil, nil, err
	}
	invoices := map[string]fikentest.Invoice{}
	for _, inv := range d.fk.Invoices() {
		invoices[strconv.FormatInt(inv.InvoiceID, 10)] = inv
	}
	fkRefs := map[string]string{}
	for _, p := range d.fk.Products() {
		fkRefs[strconv.FormatInt(p.ProductID, 10)] = p.ProductNumber
	}
	stockMoves := 0
	for _, c := range chs {
		switch {
		case c.Entity == "orders" && c.Action == "create":
			o, _ := d.ps.Get("orders", atoi(c.SourceKey))
			inv := invoices[c.TargetKey]
			how := "paid by card, booked as paid"
			if !inv.Cash {
				var via []string
				for _, dsp := range inv.Dispatches {
					via = append(via, dsp.DispatchType)
				}
				how = fmt.Sprintf("unpaid, sent by %s, KID %s, due %s", orNone(strings.Join(via, ", ")), inv.Kid, inv.DueDate)
			}
			if f, err := strconv.ParseFloat(o.Fields["total_paid_tax_incl"], 64); err == nil {
				if fee := inv.Gross - int64(math.Round(f*100)); fee != 0 {
					how += fmt.Sprintf(", incl. %s NOK invoice fee", ore(fee))
				}
			}
			lines = append(lines, fmt.Sprintf("order %s → Fiken invoice %d: %s %s, %s", o.Fields["reference"], inv.InvoiceNumber, ore(inv.Gross), inv.Currency, how))
		case c.Entity == "products" && c.Action == "update":
			ref, dir := "", "shop → Fiken"
			if c.Flow == "fiken.products→shop.products" {
				dir = "Fiken → shop"
				ref = fkRefs[c.SourceKey]
			} else if o, ok := d.ps.Get("products", atoi(c.SourceKey)); ok {
				ref = o.Fields["reference"]
			}
			var diffs []string
			for _, f := range c.Fields {
				diffs = append(diffs, fmt.Sprintf("%s %s → %s", f, show(c.Before[f]), show(c.After[f])))
			}
			lines = append(lines, fmt.Sprintf("product %s edited, %s: %s", ref, dir, strings.Join(diffs, ", ")))
		case c.Entity == "orders" && c.Flow == "fiken.invoices→shop.orders":
			o, _ := d.ps.Get("orders", atoi(c.TargetKey))
			inv := invoices[c.SourceKey]
			lines = append(lines, fmt.Sprintf("invoice %d paid → shop order %s moves to %q", inv.InvoiceNumber, o.Fields["reference"], fmt.Sprint(c.After["state_name"])))
		case c.Entity == "refunds" && c.Action == "create":
			for _, cn := range d.fk.CreditNotes() {
				if strconv.FormatInt(cn.CreditNoteID, 10) == c.TargetKey {
					lines = append(lines, fmt.Sprintf("credit slip %s → Fiken credit note %d: %s %s against invoice %d, a line per refunded row",
						c.SourceKey, cn.CreditNoteNumber, ore(cn.Gross), cn.Currency, invoiceNumber(invoices, cn.AssociatedInvoiceID)))
				}
			}
		case c.Entity == "stock":
			stockMoves++
		default:
			var diffs []string
			for _, f := range c.Fields {
				if c.Action == "create" {
					continue
				}
				diffs = append(diffs, fmt.Sprintf("%s %s → %s", f, show(c.Before[f]), show(c.After[f])))
			}
			what := fmt.Sprintf("%s %s %s → %s", c.Entity, c.Action, c.SourceKey, orNone(c.TargetKey))
			if c.Action == "create" {
				what = fmt.Sprintf("%s created: %s %s → %s", c.Entity, c.Flow, c.SourceKey, orNone(c.TargetKey))
			}
			if len(diffs) > 0 {
				what += " (" + strings.Join(diffs, ", ") + ")"
			}
			lines = append(lines, fmt.Sprintf("%s: %s", c.Flow, what))
		}
	}
	if a.manual != 0 {
		inv := d.fk.Invoices()
		i := slices.IndexFunc(inv, func(x fikentest.Invoice) bool { return x.InvoiceID == a.manual })
		if i >= 0 {
			lines = append(lines, fmt.Sprintf("Fiken invoice %d (made by hand) stays in Fiken: orders made in Fiken never go to the shop, only their stock does",
				inv[i].InvoiceNumber))
		}
	}
	fk := map[int64]fikentest.Product{}
	for _, p := range d.fk.Products() {
		fk[p.ProductID] = p
	}
	for _, n := range a.stock {
		shop, _ := d.ps.Stock(n.shopID, 0)
		fiken := "none"
		if s := fk[n.fikenID].Stock; s != nil {
			fiken = strconv.FormatFloat(*s, 'f', -1, 64)
		}
		mark := "✓"
		if strconv.Itoa(shop) != fiken || shop != n.before+n.delta {
			mark = fmt.Sprintf("✗ expected %d on both sides", n.before+n.delta)
			wrong = append(wrong, n.ref)
		}
		lines = append(lines, fmt.Sprintf("stock of %s: was %d; %s → shop %d, Fiken %s %s",
			n.ref, n.before, strings.Join(n.causes, ", "), shop, fiken, mark))
	}
	if len(lines) == 0 {
		lines = append(lines, "nothing moved")
	}
	if stockMoves > 0 {
		lines = append(lines, fmt.Sprintf("(stock is a counter: synk added up each side's change since the last run and wrote %d stock levels; units its own invoices drew in Fiken are not counted twice)", stockMoves))
	}
	return lines, wrong, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// ore formats øre as NOK with two decimals.
func ore(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// nok formats a shop amount ("1499.000000") with two decimals.
func nok(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// invoiceNumber is the number of the invoice with id, 0 if unknown.
func invoiceNumber(invoices map[string]fikentest.Invoice, id int64) int64 {
	return invoices[strconv.FormatInt(id, 10)].InvoiceNumber
}
