package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

var (
	stockRes = pipeline.Resource{Name: "stock", Key: "id", Update: true, Fields: []pipeline.Field{
		{Name: "id", Type: pipeline.TypeInt}, {Name: "ref", Type: pipeline.TypeString}, {Name: "qty", Type: pipeline.TypeInt},
	}}
	shopOrdersRes = pipeline.Resource{Name: "orders", Key: "id", Fields: []pipeline.Field{
		{Name: "id", Type: pipeline.TypeInt}, {Name: "ref", Type: pipeline.TypeString}, {Name: "units", Type: pipeline.TypeInt},
	}}
	acctProductsRes = pipeline.Resource{Name: "products", Key: "pid", Update: true, Fields: []pipeline.Field{
		{Name: "pid", Type: pipeline.TypeInt}, {Name: "number", Type: pipeline.TypeString}, {Name: "stock", Type: pipeline.TypeFloat},
	}}
	acctInvoicesRes = pipeline.Resource{Name: "invoices", Key: "iid", Create: true, Fields: []pipeline.Field{
		{Name: "iid", Type: pipeline.TypeInt}, {Name: "order", Type: pipeline.TypeInt},
		{Name: "pid", Type: pipeline.TypeInt}, {Name: "units", Type: pipeline.TypeFloat},
	}}
)

// counterPipeline keeps stock in step both ways while shop orders become
// invoices that draw the accounting side's stock, as Fiken's do.
const counterPipeline = `version: 1
name: counter
connections:
  shop: {type: mem, system: shop}
  acct: {type: mem, system: acct}
views:
  # Units on invoices synk created: those in the snapshot, and this run's
  # creates that the snapshot has not read yet.
  units_invoiced: |
    SELECT key, sum(units) AS units FROM (
      SELECT CAST(i.pid AS VARCHAR) AS key, i.units AS units
      FROM acct.invoices i JOIN synk.journal j ON j.entity = 'orders' AND j.status = 'done' AND j.target_key = i._key
      UNION ALL
      SELECT json_extract_string(c.after, '$.pid'), CAST(json_extract(c.after, '$.units') AS DOUBLE)
      FROM synk.changes c
      WHERE c.entity = 'orders' AND c.action = 'create' AND c.status = 'applied'
        AND NOT EXISTS (SELECT 1 FROM acct.invoices i WHERE i._key = c.target_key))
    GROUP BY key
entities:
  stock:
    key: {shop: ref, acct: number}
    counter:
      fields: {shop: qty, acct: stock}
      initial: shop
      offsets: {acct: "SELECT key, units FROM recon.units_invoiced"}
    flows:
      - {from: shop.stock, to: acct.products}
      - {from: acct.products, to: shop.stock}
  orders:
    key: {shop: id, acct: order}
    flows:
      - from: shop.orders
        to: acct.invoices
        create: true
        update: false
        map: {order: id, pid: 'vars.pids[ref]', units: units}
`

// counterWorld is a shop and an accounting system with products A and B.
type counterWorld struct {
	h          *harness
	shop, acct *memSystem
	nextOrder  int64
	sold       map[string]int64 // units sold per product, both sides
	corrected  map[string]int64
}

func newCounterWorld(t *testing.T) *counterWorld {
	h := newHarness(t)
	w := &counterWorld{h: h, shop: h.system("shop", stockRes, shopOrdersRes), acct: h.system("acct", acctProductsRes, acctInvoicesRes),
		sold: map[string]int64{}, corrected: map[string]int64{}}
	for i, ref := range []string{"A", "B"} {
		w.shop.put("stock", pipeline.Record{"id": int64(i + 1), "ref": ref, "qty": int64(20)})
		w.acct.put("products", pipeline.Record{"pid": int64(100 + i), "number": ref, "stock": 20.0})
	}
	// An invoice draws stock on the accounting side, like Fiken's.
	w.acct.afterCreate = func(_ context.Context, wr pipeline.Write, rec pipeline.Record) error {
		if wr.Resource != "invoices" {
			return nil
		}
		pid := fmt.Sprint(rec["pid"])
		p, _ := w.acct.get("products", pid)
		w.acct.set("products", pid, "stock", p["stock"].(float64)-toFloat(rec["units"]))
		return nil
	}
	return w
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

func (w *counterWorld) pipelineSrc() string {
	return counterPipeline + "vars:\n  pids: {A: 100, B: 101}\n"
}

func (w *counterWorld) shopSale(ref string, units int64) {
	id := map[string]string{"A": "1", "B": "2"}[ref]
	s, _ := w.shop.get("stock", id)
	w.shop.set("stock", id, "qty", s["qty"].(int64)-units)
	w.nextOrder++
	w.shop.put("orders", pipeline.Record{"id": w.nextOrder, "ref": ref, "units": units})
	w.sold[ref] += units
}

func (w *counterWorld) acctSale(ref string, units int64) {
	pid := map[string]string{"A": "100", "B": "101"}[ref]
	p, _ := w.acct.get("products", pid)
	w.acct.set("products", pid, "stock", p["stock"].(float64)-float64(units))
	w.sold[ref] += units
}

func (w *counterWorld) correct(shopSide bool, ref string, delta int64) {
	if shopSide {
		id := map[string]string{"A": "1", "B": "2"}[ref]
		s, _ := w.shop.get("stock", id)
		w.shop.set("stock", id, "qty", s["qty"].(int64)+delta)
	} else {
		pid := map[string]string{"A": "100", "B": "101"}[ref]
		p, _ := w.acct.get("products", pid)
		w.acct.set("products", pid, "stock", p["stock"].(float64)+float64(delta))
	}
	w.corrected[ref] += delta
}

// check fails unless both sides hold initial + corrections − sold.
func (w *counterWorld) check(t *testing.T, what string) {
	t.Helper()
	for i, ref := range []string{"A", "B"} {
		want := 20 + w.corrected[ref] - w.sold[ref]
		s, _ := w.shop.get("stock", fmt.Sprint(i+1))
		p, _ := w.acct.get("products", fmt.Sprint(100+i))
		if s["qty"].(int64) != want || p["stock"].(float64) != float64(want) {
			t.Fatalf("%s: %s shop %v, acct %v, want %d (sold %d, corrected %d)", what, ref, s["qty"], p["stock"], want, w.sold[ref], w.corrected[ref])
		}
	}
}

func TestCounterStockBothWaysNoDoubleCounting(t *testing.T) {
	t.Parallel()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w := newCounterWorld(t)
			p := w.h.load(asKind(w.pipelineSrc(), kind))
			w.h.apply(p)
			w.check(t, "first sync")
			w.h.mustBeConverged(p)

			w.shopSale("A", 2) // becomes an invoice that draws acct stock too
			w.acctSale("A", 1) // a sale made directly in accounting
			w.correct(true, "B", 5)
			w.correct(false, "B", -1)
			w.h.apply(p)
			// One run: the stock writes come after the invoice and count its draw.
			w.check(t, "after sales and corrections")
			w.h.mustBeConverged(p)
			if n := len(w.acct.all("invoices")); n != 1 {
				t.Fatalf("%d invoices, want 1", n)
			}
			// A counter writes one record per call, whatever its sink.
			want := map[string][]int{"mem": nil, "memb": {1}}[kind]
			if diff := cmp.Diff(want, w.acct.batchCalls()); diff != "" {
				t.Errorf("WriteBatch calls to acct, the invoice's only (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]int(nil), w.shop.batchCalls()); diff != "" {
				t.Errorf("WriteBatch calls to the shop, which only counters write (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCounterSurvivesLostWrites stops runs at random points (a cancelled
// context while writes are in flight, or a write whose effect happens but
// whose answer is lost) between random sales and corrections, and checks
// that once runs go through, both sides hold the same correct stock.
func TestCounterSurvivesLostWrites(t *testing.T) {
	t.Parallel()
	for seed := range 8 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			w := newCounterWorld(t)
			p := w.h.load(w.pipelineSrc())
			w.h.apply(p) // the first sync takes the shop's levels (initial: shop)
			refs := []string{"A", "B"}
			for step := 0; step < 12; step++ {
				switch rng.IntN(4) {
				case 0:
					w.shopSale(refs[rng.IntN(2)], int64(1+rng.IntN(3)))
				case 1:
					w.acctSale(refs[rng.IntN(2)], int64(1+rng.IntN(3)))
				case 2:
					w.correct(rng.IntN(2) == 0, refs[rng.IntN(2)], int64(rng.IntN(7)-3))
				}
				switch rng.IntN(4) {
				case 0:
					// Writes take effect but some answers are lost.
					lost := rng.IntN(3)
					lose := func(pipeline.Write) error {
						if lost > 0 {
							lost--
							return errors.New("connection reset after commit")
						}
						return nil
					}
					w.acct.afterUpdate, w.shop.afterUpdate = lose, lose
					_, _ = w.h.applyCtx(t.Context(), p)
					w.acct.afterUpdate, w.shop.afterUpdate = nil, nil
				case 1:
					// The run is stopped after a few writes.
					ctx, cancel := context.WithCancel(t.Context())
					left := rng.IntN(3)
					stop := func(pipeline.Write) error {
						if left--; left < 0 {
							cancel()
						}
						return nil
					}
					w.acct.afterUpdate, w.shop.afterUpdate = stop, stop
					_, _ = w.h.applyCtx(ctx, p)
					cancel()
					w.acct.afterUpdate, w.shop.afterUpdate = nil, nil
				default:
					w.h.apply(p)
				}
			}
			w.h.apply(p)
			w.h.apply(p)
			w.check(t, "quiescence")
			w.h.mustBeConverged(p)
		})
	}
}

// TestCounterRecoversAKillBetweenItsWrites: a run killed after one side's
// counter write and before the other side's was even journaled leaves a
// pending intent for one side only. The next run must take the other side
// as not written (its change since the base still counts), not as if both
// writes had been made: that would wipe the change made there.
func TestCounterRecoversAKillBetweenItsWrites(t *testing.T) {
	t.Parallel()
	w := newCounterWorld(t)
	p := w.h.load(w.pipelineSrc())
	w.h.apply(p)
	db := w.h.state().DB
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	w.correct(true, "A", -2) // shop: 20 → 18
	w.correct(false, "A", 5) // accounting: 20 → 25; both should end at 23
	exec(`CREATE TABLE main.base_before AS SELECT * FROM synk.base`)
	// The kill: the accounting write is made, and at that moment the
	// process dies; the shop's write never happens (refused here, and its
	// intent dropped from the image below, as if it had not started).
	w.acct.afterUpdate = func(pipeline.Write) error {
		exec(`CREATE TABLE main.journal_at_kill AS SELECT * FROM synk.journal`)
		return nil
	}
	w.shop.refuse = func(pipeline.Write) error { return errors.New("never sent: the process was killed") }
	_, _ = w.h.applyCtx(t.Context(), p)
	w.acct.afterUpdate, w.shop.refuse = nil, nil
	if got := w.h.rows(`SELECT count(*) FROM main.journal_at_kill WHERE flow = 'counter:right' AND status = 'pending'`); got[0][0] != "1" {
		t.Fatalf("pending accounting intents at the kill: %v", got)
	}
	exec(`DELETE FROM synk.journal`)
	exec(`INSERT INTO synk.journal SELECT * FROM main.journal_at_kill WHERE flow <> 'counter:left'`)
	exec(`DELETE FROM synk.base`)
	exec(`INSERT INTO synk.base SELECT * FROM main.base_before`)

	w.h.apply(p)
	w.check(t, "after the run that follows the kill")
	w.h.mustBeConverged(p)
}
