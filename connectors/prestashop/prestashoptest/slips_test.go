package prestashoptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// refundShop is a shop with a settable clock and one order of two rows:
// 3 units of a product priced 10.004 excl. VAT (12.505 incl.: its
// rounding tells the round types apart) and 1 unit of another product.
func refundShop(t *testing.T) (s *Server, order int64, clock *atomic.Int64) {
	t.Helper()
	clock = &atomic.Int64{}
	clock.Store(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).Unix())
	s = start(t, Options{Seed: 9, Products: 4, Customers: 2, Orders: 1,
		Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	Check(t, s)
	if err := s.Edit("products", 1, map[string]string{"price": "10.004", "id_tax_rules_group": "1"}); err != nil {
		t.Fatal(err)
	}
	shipping := 99.0
	order, err := s.PlaceOrder(OrderRequest{CustomerID: 1, Module: "vipps", Shipping: &shipping,
		Lines: []OrderLine{{ProductID: 1, Quantity: 3}, {ProductID: 2, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return s, order, clock
}

// refundHook posts a refund to the back-office hook.
func refundHook(t *testing.T, s *Server, order int64, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		s.URL()+"/_emulator/orders/"+strconv.FormatInt(order, 10)+"/refund", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID int64 `json:"id"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strconv.FormatInt(out.ID, 10)
}

func TestRefundMakesSlipAsPrestaShop(t *testing.T) {
	s, order, clock := refundShop(t)
	rows := s.childIDs(nil, "order_details", "id_order", strconv.FormatInt(order, 10))
	clock.Add(3600)
	status, id := refundHook(t, s, order, `{"first_row_units":2}`)
	if status != http.StatusOK {
		t.Fatalf("refund: %d %s", status, id)
	}
	r := call(t, s, "GET", "/api/order_slip/"+id, "")
	doc, err := prestashop.DecodeXML(r.body)
	if r.status != 200 || err != nil || doc.Node != "order_slip" || len(doc.Objects) != 1 {
		t.Fatalf("GET order_slip/%s: %d %v %s", id, r.status, err, r.body)
	}
	got := doc.Objects[0]
	want := map[string]string{
		"id": id, "id_customer": "1", "id_order": strconv.FormatInt(order, 10), "conversion_rate": "1.000000",
		// 2 × 12.505 incl.; excl. is 25.01 / 1.25 = 20.008, rounded per row.
		"total_products_tax_incl": "25.010000", "total_products_tax_excl": "20.010000",
		"total_shipping_tax_incl": "0.000000", "total_shipping_tax_excl": "0.000000",
		"amount": "25.010000", "shipping_cost": "0", "shipping_cost_amount": "0.000000", "partial": "0",
		"date_add": "2025-03-01 12:00:00", "date_upd": "2025-03-01 12:00:00", "order_slip_type": "0",
	}
	if d := cmp.Diff(want, got.Fields); d != "" {
		t.Errorf("slip fields (-want +got):\n%s", d)
	}
	wantDetails := []map[string]string{{"id": id, "id_order_detail": strconv.FormatInt(rows[0], 10), "product_quantity": "2",
		"amount_tax_excl": "20.010000", "amount_tax_incl": "25.010000"}}
	if d := cmp.Diff(wantDetails, got.Assoc["order_slip_details"]); d != "" {
		t.Errorf("order_slip_details (-want +got):\n%s", d)
	}
	if !strings.Contains(string(r.body), `<order_slip_details nodeType="order_slip_detail" virtualEntity="true">`) {
		t.Errorf("association header not as PrestaShop writes it:\n%s", r.body)
	}
	o, _ := s.Get("orders", order)
	if o.Fields["date_upd"] != "2025-03-01 12:00:00" {
		t.Errorf("order date_upd %s, want the refund's time", o.Fields["date_upd"])
	}
	d, _ := s.Get("order_details", rows[0])
	if d.Fields["product_quantity_refunded"] != "2" || d.Fields["total_refunded_tax_incl"] != "25.010000" {
		t.Errorf("order detail refunded %s units, %s incl., want 2 and 25.01", d.Fields["product_quantity_refunded"], d.Fields["total_refunded_tax_incl"])
	}

	// JSON, and the list with a filter and a date window.
	r = call(t, s, "GET", "/api/order_slip/"+id+"?output_format=JSON", "")
	var one struct {
		OrderSlip struct {
			ID           int64 `json:"id"`
			Associations struct {
				Details []map[string]string `json:"order_slip_details"`
			} `json:"associations"`
		} `json:"order_slip"`
	}
	if err := json.Unmarshal(r.body, &one); err != nil || strconv.FormatInt(one.OrderSlip.ID, 10) != id || len(one.OrderSlip.Associations.Details) != 1 {
		t.Errorf("JSON slip: %v %s", err, r.body)
	}
	list := func(q string) []prestashop.Object {
		t.Helper()
		r := call(t, s, "GET", "/api/order_slip?display=full&"+q, "")
		doc, err := prestashop.DecodeXML(r.body)
		if r.status != 200 || err != nil || !doc.List {
			t.Fatalf("list %s: %d %v %s", q, r.status, err, r.body)
		}
		return doc.Objects
	}
	if n := len(list("filter[id_order]=[" + strconv.FormatInt(order, 10) + "]")); n != 1 {
		t.Errorf("filter by id_order: %d slips", n)
	}
	if n := len(list("date=1&filter[date_upd]=" + url.QueryEscape("[2025-03-01 11:00:00,2025-03-01 13:00:00]"))); n != 1 {
		t.Errorf("date window: %d slips", n)
	}
	if n := len(list("date=1&filter[date_upd]=" + url.QueryEscape(">[2025-03-01 13:00:00]"))); n != 0 {
		t.Errorf("after the window: %d slips", n)
	}

	// The third unit and the shipping, in a second slip.
	status, id2 := refundHook(t, s, order, `{"rows":[{"id_order_detail":`+strconv.FormatInt(rows[0], 10)+`,"quantity":1}],"shipping":true}`)
	if status != http.StatusOK {
		t.Fatalf("second refund: %d %s", status, id2)
	}
	o2, _ := s.Get("order_slip", mustInt(id2))
	ship := o.Fields["total_shipping_tax_incl"]
	if o2.Fields["total_shipping_tax_incl"] != ship || o2.Fields["shipping_cost"] != "1" || o2.Fields["order_slip_type"] != "2" ||
		o2.Fields["shipping_cost_amount"] != ship || o2.Fields["total_products_tax_incl"] != "12.505000" {
		t.Errorf("slip with shipping: %v (order shipping %s)", o2.Fields, ship)
	}
}

func TestRefundRoundsAsTheOrder(t *testing.T) {
	tests := []struct {
		roundType string
		wantExcl  string
	}{
		{"1", "30.000000"}, // 12.505 / 1.25 = 10.004 → 10.00, × 3
		{"2", "30.010000"}, // 37.515 / 1.25 = 30.012 → 30.01
		{"3", "30.010000"}, // one tax group: the same on the total
	}
	for _, tt := range tests {
		t.Run(tt.roundType, func(t *testing.T) {
			s, order, _ := refundShop(t)
			if err := s.Edit("orders", order, map[string]string{"round_type": tt.roundType}); err != nil {
				t.Fatal(err)
			}
			id, err := s.Refund(order, RefundRequest{FirstRowUnits: 3})
			if err != nil {
				t.Fatal(err)
			}
			slip, _ := s.Get("order_slip", id)
			if got := slip.Fields["total_products_tax_excl"]; got != tt.wantExcl {
				t.Errorf("total_products_tax_excl %s, want %s", got, tt.wantExcl)
			}
			if got := slip.Assoc["order_slip_details"][0]["amount_tax_incl"]; got != "37.520000" {
				t.Errorf("amount_tax_incl %s, want 37.52 (37.515 rounded half up)", got)
			}
		})
	}
}

func TestRefundRefusals(t *testing.T) {
	s, order, _ := refundShop(t)
	rows := s.childIDs(nil, "order_details", "id_order", strconv.FormatInt(order, 10))
	first := strconv.FormatInt(rows[0], 10)
	if _, err := s.Refund(order, RefundRequest{FirstRowUnits: 2, Shipping: true}); err != nil {
		t.Fatal(err)
	}
	slips := len(s.IDs("order_slip"))
	tests := []struct {
		name, body, want string
	}{
		{"more units than left", `{"first_row_units":2}`, "2 units to refund, but 3 were bought and 2 already refunded"},
		{"more units in two rows", `{"rows":[{"id_order_detail":` + first + `,"quantity":1},{"id_order_detail":` + first + `,"quantity":1}]}`, "already refunded"},
		{"shipping twice", `{"shipping":true}`, "was refunded by slip"},
		{"another order's row", `{"rows":[{"id_order_detail":999,"quantity":1}]}`, "has no row"},
		{"nothing", `{}`, "nothing to refund"},
		{"zero units", `{"rows":[{"id_order_detail":` + first + `,"quantity":0}]}`, "want at least 1"},
		{"both forms", `{"first_row_units":1,"rows":[{"id_order_detail":` + first + `,"quantity":1}]}`, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := refundHook(t, s, order, tt.body)
			if status != http.StatusBadRequest || !strings.Contains(msg, tt.want) {
				t.Errorf("got %d %q, want 400 with %q", status, msg, tt.want)
			}
		})
	}
	if status, msg := refundHook(t, s, 999, `{"first_row_units":1}`); status != http.StatusBadRequest {
		t.Errorf("unknown order: %d %s", status, msg)
	}
	if n := len(s.IDs("order_slip")); n != slips {
		t.Errorf("refused refunds made %d slips", n-slips)
	}
	if d, _ := s.Get("order_details", rows[0]); d.Fields["product_quantity_refunded"] != "2" {
		t.Errorf("refused refunds counted units: %s refunded", d.Fields["product_quantity_refunded"])
	}
}
