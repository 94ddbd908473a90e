package prestashop_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// num is a shop id or count as the record types it.
func num(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// slipOrder places an order of two rows (2 units of product 1, 1 of
// product 2) with shipping, and returns it with its order detail ids.
func slipOrder(t *testing.T, f fixture) (order int64, details []int64) {
	t.Helper()
	shipping := 99.0
	order, err := f.srv.PlaceOrder(prestashoptest.OrderRequest{CustomerID: 1, Module: "vipps", Shipping: &shipping,
		Lines: []prestashoptest.OrderLine{{ProductID: 1, Quantity: 2}, {ProductID: 2, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range f.srv.IDs("order_details") {
		if d, _ := f.srv.Get("order_details", id); d.Fields["id_order"] == strconv.FormatInt(order, 10) {
			details = append(details, id)
		}
	}
	return order, details
}

func TestReadSlipsWithOrderAndProducts(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			var want []any // per slip: order reference and its rows' products
			for range 3 {
				order, details := slipOrder(t, f)
				o, _ := f.srv.Get("orders", order)
				for i, d := range details {
					if _, err := f.srv.Refund(order, prestashoptest.RefundRequest{
						Rows: []prestashoptest.RefundRow{{OrderDetailID: d, Quantity: 1}}, Shipping: i == 1}); err != nil {
						t.Fatal(err)
					}
					od, _ := f.srv.Get("order_details", d)
					want = append(want, []any{o.Fields["reference"], int64(d), num(od.Fields["product_id"]), od.Fields["product_reference"]})
				}
			}
			f.srv.ResetStats()
			recs := read(t, f, prestashop.SlipsResource, time.Time{})
			if len(recs) != 6 {
				t.Fatalf("read %d slips, want 6", len(recs))
			}
			var got []any
			for _, r := range recs {
				rows := r["order_slip_details"].([]any)
				if len(rows) != 1 {
					t.Fatalf("slip %v has %d details", r["id"], len(rows))
				}
				d := rows[0].(map[string]any)
				got = append(got, []any{r["order_reference"], d["id_order_detail"], d["product_id"], d["product_reference"]})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("slips' orders and products (-shop +read):\n%s", diff)
			}
			// Two pages of five: each page one list of its orders and one
			// of its order details.
			if by := f.srv.Stats().ReadsBy; by["orders"] != 2 || by["order_details"] != 2 {
				t.Errorf("read made %v requests, want 2 lists of orders and 2 of order details", by)
			}

			// Each slip's own fields, typed.
			slip, _ := f.srv.Get("order_slip", recs[1]["id"].(int64))
			r := recs[1]
			ship, _ := strconv.ParseFloat(slip.Fields["total_shipping_tax_incl"], 64)
			if r["id_order"] != num(slip.Fields["id_order"]) || r["total_shipping_tax_incl"] != ship || ship == 0 ||
				r["shipping_cost"] != int64(1) || r["date_add"] != slip.Fields["date_add"] {
				t.Errorf("slip record %v, shop %v", r, slip.Fields)
			}
			d := r["order_slip_details"].([]any)[0].(map[string]any)
			incl, _ := strconv.ParseFloat(slip.Assoc["order_slip_details"][0]["amount_tax_incl"], 64)
			if d["amount_tax_incl"] != incl || d["product_quantity"] != int64(1) {
				t.Errorf("detail %v, shop %v", d, slip.Assoc["order_slip_details"][0])
			}
		})
	}
}

func TestReadSlipsIncrementally(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	order, _ := slipOrder(t, f)
	if _, err := f.srv.Refund(order, prestashoptest.RefundRequest{FirstRowUnits: 1}); err != nil {
		t.Fatal(err)
	}
	f.clock.set(time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC))
	id, err := f.srv.Refund(order, prestashoptest.RefundRequest{FirstRowUnits: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs := read(t, f, prestashop.SlipsResource, time.Date(2026, 2, 1, 10, 5, 0, 0, time.UTC))
	if len(recs) != 1 || recs[0]["id"] != id {
		t.Fatalf("incremental read: %v, want slip %d only", recs, id)
	}
	f.clock.set(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	f.srv.ResetStats()
	if recs := read(t, f, prestashop.SlipsResource, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)); len(recs) != 0 {
		t.Fatalf("read %d slips with nothing new", len(recs))
	}
	if n := f.srv.Stats().Reads; n != 1 {
		t.Errorf("nothing new cost %d requests, want 1", n)
	}
}
