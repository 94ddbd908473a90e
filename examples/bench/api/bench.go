package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/pipelines"
	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/accounting"
)

// world is the two emulators and the flagship pipeline between them.
type world struct {
	cfg   config
	fk    *fikentest.Server
	rec   *recorder
	fkSrv *http.Server
	ps    *prestashoptest.Server
	dir   string
	store *state.Store
	env   map[string]string
	log   *slog.Logger
}

// fastRetry keeps the count runs quick; nothing in them fails.
var fastRetry = pipeline.RetryPolicy{MaxAttempts: 6, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

func newWorld(ctx context.Context, cfg config) (*world, error) {
	w := &world{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	if cfg.Log != nil {
		w.log = slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	// One request in flight is enforced from the start: a second one is
	// answered 429 and shows in the figures.
	fk, err := fikentest.New(fikentest.Options{Seed: 1, CountersInitialized: true, Limits: fikentest.Limits{RejectConcurrent: true}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w.fk, w.rec = fk, &recorder{next: fk.Handler()}
	w.fkSrv = &http.Server{Handler: w.rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.fkSrv.Serve(ln) }()
	w.ps, err = prestashoptest.NewServer(prestashoptest.Options{Seed: 1, Products: cfg.Products, Customers: cfg.Customers, Orders: cfg.Orders})
	if err != nil {
		w.close()
		return nil, err
	}
	if w.dir, err = os.MkdirTemp("", "synk-bench-api-"); err != nil {
		w.close()
		return nil, err
	}
	if w.store, err = state.Open(ctx, filepath.Join(w.dir, "synk.duckdb")); err != nil {
		w.close()
		return nil, err
	}
	w.env = map[string]string{"PRESTASHOP_URL": w.ps.URL(), "PRESTASHOP_KEY": w.ps.Key(),
		"FIKEN_URL": "http://" + ln.Addr().String() + fikentest.APIPrefix, "FIKEN_COMPANY": fk.Company(), "FIKEN_TOKEN": fk.Token()}
	return w, nil
}

func (w *world) close() {
	if w.store != nil {
		w.store.Close()
	}
	if w.dir != "" {
		os.RemoveAll(w.dir)
	}
	if w.ps != nil {
		w.ps.Close()
	}
	if w.fkSrv != nil {
		w.fkSrv.Close()
	}
}

// load loads the flagship pipeline; limited keeps Fiken's default limits
// (4 requests a second, one in flight), else the rate is off so the count
// runs are quick (one in flight stays).
func (w *world) load(limited bool) (*spec.Pipeline, error) {
	text := pipelines.PrestashopFiken()
	if !limited {
		const line = "    # Fiken's limits (1 request in flight, 4/s) are the default."
		if !strings.Contains(text, line) {
			return nil, errors.New("the flagship pipeline no longer has the line the benchmark replaces")
		}
		text = strings.Replace(text, line, "    rate: 0", 1)
	}
	path := filepath.Join(w.dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return nil, err
	}
	reg := pipeline.NewRegistry()
	prestashop.Register(reg)
	fiken.Register(reg)
	fns := transforms.NewFunctions()
	accounting.Register(fns)
	return spec.Load(path, reg, spec.Options{Getenv: func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }, Functions: fns})
}

// apply runs one apply of p and returns its result.
func (w *world) apply(ctx context.Context, p *spec.Pipeline, full bool) (*engine.Result, error) {
	r, err := engine.New(ctx, p, w.store, engine.Options{Retry: fastRetry, Full: full, Logger: w.log})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res, err := r.Apply(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if res.Failed > 0 || res.Rejected > 0 {
		return res, fmt.Errorf("apply: %d failed, %d rejected; first: %v", res.Failed, res.Rejected, firstReject(res))
	}
	return res, nil
}

func firstReject(res *engine.Result) string {
	if len(res.Plan.Rejects) == 0 {
		return "(no reject recorded)"
	}
	rj := res.Plan.Rejects[0]
	return fmt.Sprintf("%s %s %s: %s", rj.Entity, rj.Resource, rj.Key, rj.Reason)
}

// measure runs one apply with the counters reset before it.
func (w *world) measure(ctx context.Context, name string, p *spec.Pipeline, full bool) (row, error) {
	w.ps.ResetStats()
	w.fk.ResetStats()
	w.rec.reset()
	res, err := w.apply(ctx, p, full)
	if err != nil {
		return row{}, fmt.Errorf("%s: %w", name, err)
	}
	return w.row(name, p, res), nil
}

func (w *world) row(name string, p *spec.Pipeline, res *engine.Result) row {
	shop := w.ps.Stats()
	reqs := w.rec.take()
	r := row{Name: name, Shop: shop.Requests, ShopStock: shop.ReadsBy["stock_availables"], Changes: len(res.Plan.Changes), ShopBy: shop.ByMethod}
	r.Fiken = len(reqs)
	r.Refused = w.fk.Stats().Concurrent
	r.WriteFloor = writeFloor(p, res.Plan.Changes)
	r.ListPages, r.ListFloor = listPages(reqs)
	r.FikenBy = map[string]int{}
	for _, q := range reqs {
		kind := q.method + " " + q.resource
		if q.listRead {
			kind += " list"
		}
		r.FikenBy[kind]++
		switch {
		case q.status == http.StatusTooManyRequests:
			r.TooMany++
		case q.method != http.MethodGet:
			r.FikenWrites++
		}
	}
	return r
}

// writeFloor is the fewest Fiken requests the changes can be made in: a
// create is one POST (an invoice sent is one more; a flow with lookup:
// looks the record up first, by a key Fiken never lists), an update or
// delete of a product or contact a fresh read and a PUT (Fiken's PUT
// replaces the whole record, so the fresh read is what keeps an edit made
// in Fiken), an invoice action a fresh read and the action.
func writeFloor(p *spec.Pipeline, changes []pipeline.Change) int {
	lookup := map[string]bool{}
	for _, e := range p.Entities {
		for _, f := range e.Flows {
			lookup[e.Name+" "+f.Name()] = len(f.Lookup) > 0
		}
	}
	n := 0
	for _, c := range changes {
		if !strings.Contains(c.Flow, "→fiken.") {
			continue
		}
		switch c.Action {
		case pipeline.Create:
			n++
			if strings.HasSuffix(c.Flow, "fiken.invoices") && c.After["send"] != nil {
				n++
			}
			if lookup[c.Entity+" "+c.Flow] {
				n++
			}
		case pipeline.Update, pipeline.Delete:
			n += 2
		}
	}
	return n
}

// listPages counts the pages of list reads (not lookups by a filter) and
// the pages one read of each resource needs: the records it matched
// (Fiken-Api-Result-Count), a full page at a time, at least one.
func listPages(reqs []request) (pages, floor int) {
	seen := map[string]bool{}
	for _, q := range reqs {
		if !q.listRead {
			continue
		}
		pages++
		if seen[q.resource] || q.page != 0 {
			continue
		}
		seen[q.resource] = true
		floor += max(1, int(math.Ceil(float64(q.resultCount)/fiken.MaxPageSize)))
	}
	return pages, floor
}

// run builds the world, syncs it, then measures each scenario.
func run(ctx context.Context, cfg config) (*report, error) {
	w, err := newWorld(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer w.close()
	p, err := w.load(false)
	if err != nil {
		return nil, err
	}
	rep := &report{cfg: cfg}
	start := time.Now()
	for i := 0; ; i++ {
		res, err := w.apply(ctx, p, false)
		if err != nil {
			return nil, fmt.Errorf("first sync: %w", err)
		}
		if res.Planned == 0 {
			break
		}
		if i == 5 {
			return nil, errors.New("first sync: no convergence after 6 runs")
		}
	}
	rep.SyncTook = time.Since(start)
	steps := []struct {
		name string
		full bool
		prep func() (int, error)
	}{
		{"no-op, incremental", false, nil},
		{"no-op, --full", true, nil},
		{"", false, w.changeShopPrices},
		{"", false, w.changeFikenPrices},
		{"", false, w.placeOrders},
	}
	names := []string{"", "", "%d products changed in the shop", "%d products changed in Fiken", "%d new orders"}
	for i, s := range steps {
		name := s.name
		if s.prep != nil {
			n, err := s.prep()
			if err != nil {
				return nil, err
			}
			name = fmt.Sprintf(names[i], n)
		}
		r, err := w.measure(ctx, name, p, s.full)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, r)
	}
	if cfg.Rate {
		if rep.Rate, err = w.measureRate(ctx); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// changed is how many of n records a change run changes.
func (w *world) changed(n int) int { return max(1, int(math.Round(float64(n)*w.cfg.Changed))) }

// changeShopPrices raises the price of 1 % of the active products with a
// reference, in the shop's back office.
func (w *world) changeShopPrices() (int, error) {
	return w.raiseShopPrices(w.changed(w.cfg.Products), 0)
}

func (w *world) raiseShopPrices(n, offset int) (int, error) {
	var ids []int64
	for _, id := range w.ps.IDs("products") {
		if o, ok := w.ps.Get("products", id); ok && o.Fields["active"] == "1" && o.Fields["reference"] != "" {
			ids = append(ids, id)
		}
	}
	for _, id := range spread(ids, n, offset) {
		o, _ := w.ps.Get("products", id)
		price, _ := strconv.ParseFloat(o.Fields["price"], 64)
		if err := w.ps.Edit("products", id, map[string]string{"price": strconv.FormatFloat(price+10, 'f', 6, 64)}); err != nil {
			return 0, err
		}
	}
	return min(n, len(ids)), nil
}

// spread picks n of list, evenly spread, starting offset in.
func spread[T any](list []T, n, offset int) []T {
	if n <= 0 || len(list) == 0 {
		return nil
	}
	step := max(1, len(list)/n)
	var out []T
	for i := offset % step; i < len(list) && len(out) < n; i += step {
		out = append(out, list[i])
	}
	return out
}

// changeFikenPrices raises the price of 1 % of the active products in
// Fiken, as a user of Fiken's web app would.
func (w *world) changeFikenPrices() (int, error) {
	var ids []int64
	for _, p := range w.fk.Products() {
		if p.Active && p.ProductNumber != "" && p.UnitPrice != nil {
			ids = append(ids, p.ProductID)
		}
	}
	picked := spread(ids, w.changed(w.cfg.Products), 1)
	for _, id := range picked {
		if _, err := w.fk.EditProduct(id, func(p *fikentest.Product) {
			v := *p.UnitPrice + 1500
			p.UnitPrice = &v
		}); err != nil {
			return 0, err
		}
	}
	return len(picked), nil
}

// placeOrders places cfg.NewOrders orders of one unit each, by customers
// in turn (some with orders before, some without), paid by invoice, card
// and Vipps in turn.
func (w *world) placeOrders() (int, error) {
	customers := w.ps.IDs("customers")
	products := w.ps.IDs("products")
	modules := []string{"ps_wirepayment", "stripe_official", "vipps"}
	placed := 0
	for i := 0; placed < w.cfg.NewOrders && i < len(products); i++ {
		pid := products[(i*37)%len(products)]
		if q, ok := w.ps.Stock(pid, 0); !ok || q < 1 {
			continue
		}
		o, _ := w.ps.Get("products", pid)
		if o.Fields["active"] != "1" || len(o.Assoc["combinations"]) > 0 {
			continue
		}
		_, err := w.ps.PlaceOrder(prestashoptest.OrderRequest{CustomerID: customers[(placed*7)%len(customers)],
			Lines: []prestashoptest.OrderLine{{ProductID: pid, Quantity: 1}}, Module: modules[placed%len(modules)]})
		if err != nil {
			return 0, err
		}
		placed++
	}
	if placed < w.cfg.NewOrders {
		return 0, fmt.Errorf("placed %d of %d orders: too few products in stock", placed, w.cfg.NewOrders)
	}
	return placed, nil
}
