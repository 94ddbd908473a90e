package prestashoptest

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/prestashop"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, s *Server, method, path, body string, hdr ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.Key(), "")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "auth" {
			req.Header.Del("Authorization")
			if hdr[i+1] != "" {
				req.SetBasicAuth(hdr[i+1], "")
			}
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

func errCode(t *testing.T, r result) int {
	t.Helper()
	doc, err := prestashop.DecodeXML(r.body)
	if err != nil || len(doc.Errors) == 0 {
		t.Fatalf("want an error document, got %d %s (%v)", r.status, r.body, err)
	}
	return doc.Errors[0].Code
}

func TestProtocolErrors(t *testing.T) {
	s8 := start(t, Options{Seed: 1})
	s17 := start(t, Options{Seed: 1, Version: Version17})
	product := `<prestashop><product><price>10</price><name><language id="1">X</language></name></product></prestashop>`
	tests := []struct {
		name       string
		s          *Server
		method     string
		path, body string
		hdr        []string
		status     int
		code       int // 0: no error document
	}{
		{"no key", s8, "GET", "/api/products", "", []string{"auth", ""}, 401, 0},
		{"wrong key", s8, "GET", "/api/products", "", []string{"auth", strings.Repeat("A", 32)}, 401, 18},
		{"unknown resource", s8, "GET", "/api/prodcts", "", nil, 400, 27},
		{"unknown filter", s8, "GET", "/api/products?filter[nope]=1", "", nil, 400, 32},
		{"date filter without date=1", s8, "GET", "/api/products?filter[date_upd]=[2020-01-01,2030-01-01]", "", nil, 400, 32},
		{"dynamic filter", s8, "GET", "/api/products?filter[quantity]=1", "", nil, 400, 34},
		{"malformed filter", s8, "GET", "/api/products?filter[id]=[1", "", nil, 400, 33},
		{"bad limit", s8, "GET", "/api/products?limit=a", "", nil, 400, 39},
		{"bad sort", s8, "GET", "/api/products?sort=id", "", nil, 400, 37},
		{"bad display", s8, "GET", "/api/products?display=[nope]", "", nil, 400, 35},
		{"unknown id", s8, "GET", "/api/products/9999", "", nil, 404, 0},
		{"post with id", s8, "POST", "/api/products", `<prestashop><product><id>1</id><price>1</price></product></prestashop>`, nil, 400, 91},
		{"put without id", s8, "PUT", "/api/products/1", product, nil, 400, 90},
		{"read-only field", s8, "POST", "/api/products", `<prestashop><product><price>1</price><quantity>5</quantity></product></prestashop>`, nil, 400, 93},
		{"missing required", s8, "POST", "/api/products", `<prestashop><product><reference>A</reference></product></prestashop>`, nil, 400, 41},
		{"unknown field", s8, "POST", "/api/products", `<prestashop><product><price>1</price><colour>red</colour></product></prestashop>`, nil, 400, 123},
		{"too long", s8, "POST", "/api/products", `<prestashop><product><price>1</price><reference>` + strings.Repeat("x", 65) + `</reference></product></prestashop>`, nil, 400, 85},
		{"json body", s8, "POST", "/api/products", `{"product":{"price":1}}`, nil, 500, 127},
		{"stock POST", s8, "POST", "/api/stock_availables", `<prestashop><stock_available/></prestashop>`, nil, 405, 101},
		{"stock DELETE", s8, "DELETE", "/api/stock_availables/1", "", nil, 405, 101},
		{"PATCH on 1.7", s17, "PATCH", "/api/products/1", `<prestashop><product><id>1</id></product></prestashop>`, nil, 405, 23},
		{"delete unknown", s8, "DELETE", "/api/products/9999", "", nil, 404, 87},
		{"put unknown", s8, "PUT", "/api/tax_rule_groups/999", `<prestashop><tax_rule_group><id>999</id><name>x</name></tax_rule_group></prestashop>`, nil, 404, 92},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.s, tc.method, tc.path, tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code == 0 {
				if tc.status == 404 && len(r.body) != 0 {
					t.Errorf("404 body %q, want empty", r.body)
				}
				if tc.status == 401 && (string(r.body) != "401 Unauthorized" || r.header.Get("WWW-Authenticate") == "") {
					t.Errorf("401 body %q header %q", r.body, r.header.Get("WWW-Authenticate"))
				}
				return
			}
			if got := errCode(t, r); got != tc.code {
				t.Errorf("code %d, want %d: %s", got, tc.code, r.body)
			}
		})
	}
}

func TestHeadersAndFormats(t *testing.T) {
	s := start(t, Options{Seed: 2})
	r := call(t, s, "GET", "/api/products/1", "")
	if r.status != 200 || r.header.Get("PSWS-Version") != Version8 || r.header.Get("Content-Sha1") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/xml") {
		t.Fatalf("status %d headers %v", r.status, r.header)
	}
	nc := call(t, s, "GET", "/api/products/1", "", "Local-Content-Sha1", r.header.Get("Content-Sha1"))
	if nc.status != http.StatusNotModified {
		t.Errorf("conditional GET status %d, want 304", nc.status)
	}
	if bad := call(t, s, "GET", "/api/products", "", "auth", ""); bad.header.Get("PSWS-Version") != "" {
		t.Errorf("PSWS-Version sent before auth")
	}
	empty := call(t, s, "GET", "/api/products?filter[reference]=[nothing-here]&output_format=JSON", "")
	if string(empty.body) != "[]" {
		t.Errorf("empty JSON list = %s, want []", empty.body)
	}
	one := call(t, s, "GET", "/api/products/1", "", "Io-Format", "JSON")
	var m map[string]map[string]any
	if err := json.Unmarshal(one.body, &m); err != nil {
		t.Fatalf("json: %v: %s", err, one.body)
	}
	if _, ok := m["product"]["id_manufacturer"]; ok {
		t.Errorf("single JSON object kept a falsy value: %s", one.body)
	}
	if _, ok := m["product"]["name"].([]any); !ok {
		t.Errorf("multilingual JSON name = %#v, want a list", m["product"]["name"])
	}
	list := call(t, s, "GET", "/api/products?limit=3", "")
	doc, err := prestashop.DecodeXML(list.body)
	if err != nil || len(doc.Objects) != 3 || len(doc.Objects[0].Fields) != 1 {
		t.Errorf("default list: %v %+v", err, doc)
	}
}

func TestFiltersSortLimit(t *testing.T) {
	s := start(t, Options{Seed: 3})
	ids := func(path string) []int64 {
		t.Helper()
		r := call(t, s, "GET", path, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		doc, err := prestashop.DecodeXML(r.body)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, o := range doc.Objects {
			n, _ := strconv.ParseInt(o.Fields["id"], 10, 64)
			out = append(out, n)
		}
		return out
	}
	eq := func(name string, got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: got %v, want %v", name, got, want)
				return
			}
		}
	}
	eq("equals", ids("/api/products?filter[id]=[3]"), 3)
	eq("bare equals", ids("/api/products?filter[id]=3"), 3)
	eq("or", ids("/api/products?filter[id]=[2|5|7]"), 2, 5, 7)
	eq("between sorted bounds", ids("/api/products?filter[id]=[6,4]"), 4, 5, 6)
	eq("greater", ids("/api/tax_rule_groups?filter[id]=>[2]"), 3, 4)
	eq("less", ids("/api/tax_rule_groups?filter[id]=<[3]"), 1, 2)
	eq("not", ids("/api/tax_rule_groups?filter[id]=![1|2]"), 3, 4)
	eq("like prefix, case-insensitive", ids("/api/tax_rule_groups?filter[name]=[no%20fr]%25"), 4)
	eq("like contains", ids("/api/tax_rule_groups?filter[name]=%25[sats]%25"), 1, 3)
	eq("multilingual", ids("/api/order_states?filter[name]=[Shipped]"), 4)
	eq("sort desc + limit", ids("/api/tax_rule_groups?sort=[id_DESC]&limit=1,2"), 3, 2)
	eq("limit n", ids("/api/tax_rule_groups?limit=2"), 1, 2)
	eq("offset past end", ids("/api/tax_rule_groups?limit=10,5"))
	all := ids("/api/products?display=[id,date_upd]&date=1&filter[date_upd]=[2000-01-01%2000:00:00,2099-01-01%2000:00:00]")
	if len(all) != 24 {
		t.Errorf("date filter matched %d products, want 24", len(all))
	}
}

func TestWritesPutPatch(t *testing.T) {
	s := start(t, Options{Seed: 4})
	r := call(t, s, "POST", "/api/products", `<prestashop><product><price>100</price><reference>NEW-1</reference>
		<name><language id="1">Ny</language><language id="2">New</language></name></product></prestashop>`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	doc, _ := prestashop.DecodeXML(r.body)
	id := doc.Objects[0].Fields["id"]
	if doc.Objects[0].Fields["quantity"] != "0" || doc.Objects[0].Fields["date_add"] == "" {
		t.Errorf("new product: %+v", doc.Objects[0].Fields)
	}
	// PATCH touches only what is sent.
	r = call(t, s, "PATCH", "/api/products/"+id, `<prestashop><product><id>`+id+`</id><name><language id="2">New name</language></name></product></prestashop>`)
	doc, _ = prestashop.DecodeXML(r.body)
	if r.status != 200 || doc.Objects[0].I18n["name"]["1"] != "Ny" || doc.Objects[0].I18n["name"]["2"] != "New name" || doc.Objects[0].Fields["reference"] != "NEW-1" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	// PUT replaces: the reference not sent is emptied.
	r = call(t, s, "PUT", "/api/products/"+id, `<prestashop><product><id>`+id+`</id><price>120</price></product></prestashop>`)
	doc, _ = prestashop.DecodeXML(r.body)
	if r.status != 200 || doc.Objects[0].Fields["reference"] != "" || doc.Objects[0].Fields["price"] != "120.000000" || doc.Objects[0].I18n["name"]["1"] != "" {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	// Stock: refused while it depends on stock.
	st := s.tables["stock_availables"]
	sid := strconv.FormatInt(st.ids()[0], 10)
	r = call(t, s, "PATCH", "/api/stock_availables/"+sid, `<prestashop><stock_available><id>`+sid+`</id><depends_on_stock>1</depends_on_stock></stock_available></prestashop>`)
	if r.status != 500 || errCode(t, r) != 133 {
		t.Errorf("depends_on_stock: %d %s", r.status, r.body)
	}
	if got := s.Stats().ByMethod["PATCH products"]; got != 1 {
		t.Errorf("stats PATCH products = %d", got)
	}
	if w := s.Writes(); len(w) != 4 || w[3].Status != 500 {
		t.Errorf("recorded writes: %+v", w)
	}
}

func TestCheckoutTotalsAndStates(t *testing.T) {
	s := start(t, Options{Seed: 5, Products: 16, Customers: 3, Orders: 1})
	before, _ := s.Stock(2, 0)
	id, err := s.PlaceOrder(OrderRequest{CustomerID: 1, Module: "ps_wirepayment", DiscountPercent: 10,
		Lines: []OrderLine{{ProductID: 2, Quantity: 2}, {ProductID: 3, Quantity: 1}, {ProductID: 4, Quantity: 1}, {ProductID: 13, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stock(2, 0)
	if before-after != 2 {
		t.Errorf("stock %d → %d, want -2", before, after)
	}
	o, _ := s.Get("orders", id)
	f := func(k string) float64 { x, _ := strconv.ParseFloat(o.Fields[k], 64); return x }
	var sumEx, sumInc float64
	for _, d := range s.IDs("order_details") {
		od, _ := s.Get("order_details", d)
		if od.Fields["id_order"] != strconv.FormatInt(id, 10) {
			continue
		}
		x, _ := strconv.ParseFloat(od.Fields["total_price_tax_excl"], 64)
		y, _ := strconv.ParseFloat(od.Fields["total_price_tax_incl"], 64)
		sumEx += x
		sumInc += y
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.005 }
	if !near(sumEx, f("total_products")) || !near(sumInc, f("total_products_wt")) {
		t.Errorf("details %.2f/%.2f vs order %.2f/%.2f", sumEx, sumInc, f("total_products"), f("total_products_wt"))
	}
	if !near(f("total_paid_tax_incl"), f("total_products_wt")+f("total_shipping_tax_incl")-f("total_discounts_tax_incl")) {
		t.Errorf("total_paid_tax_incl inconsistent: %v", o.Fields)
	}
	if len(o.Assoc["order_rows"]) != 4 || o.Fields["current_state"] != "10" {
		t.Errorf("order rows %d state %s", len(o.Assoc["order_rows"]), o.Fields["current_state"])
	}
	payments := func() int {
		n := 0
		for _, pid := range s.IDs("order_payments") {
			p, _ := s.Get("order_payments", pid)
			if p.Fields["order_reference"] == o.Fields["reference"] {
				n++
			}
		}
		return n
	}
	if payments() != 0 {
		t.Fatal("unpaid order has a payment")
	}
	hist := `<prestashop><order_history><id_order>` + strconv.FormatInt(id, 10) + `</id_order><id_order_state>2</id_order_state></order_history></prestashop>`
	if r := call(t, s, "POST", "/api/order_histories", hist); r.status != 201 {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
	if payments() != 1 {
		t.Errorf("paid state made %d payments, want 1", payments())
	}
	call(t, s, "POST", "/api/order_histories", hist)
	if payments() != 1 {
		t.Errorf("second paid state made another payment")
	}
	if _, err := s.SetOrderState(id, StateCanceled); err != nil {
		t.Fatal(err)
	}
	if back, _ := s.Stock(2, 0); back != before {
		t.Errorf("cancel restocked to %d, want %d", back, before)
	}
	var body bytes.Buffer
	json.NewEncoder(&body).Encode(map[string]any{"customer_id": 2, "module": "vipps", "lines": []map[string]int{{"product_id": 2, "quantity": 1}}})
	resp, err := http.Post(s.URL()+"/_emulator/orders", "application/json", &body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("back office order: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestDeterministicSeed(t *testing.T) {
	a, err := newShop(Options{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newShop(Options{Seed: 9})
	c, _ := newShop(Options{Seed: 10})
	ref := func(s *Server) string { o, _ := s.Get("orders", 1); return o.Fields["reference"] + s.Key() }
	if ref(a) != ref(b) || ref(a) == ref(c) {
		t.Errorf("seed not deterministic: %s %s %s", ref(a), ref(b), ref(c))
	}
	if len(a.IDs("orders")) < 15 || len(a.IDs("customers")) != 12 || len(a.IDs("products")) != 24 {
		t.Errorf("seed sizes: %d orders %d customers %d products", len(a.IDs("orders")), len(a.IDs("customers")), len(a.IDs("products")))
	}
}

func TestOrgNumbersAreMod11(t *testing.T) {
	s, _ := newShop(Options{Seed: 11, Orders: 1})
	n := 0
	for _, id := range s.IDs("addresses") {
		a, _ := s.Get("addresses", id)
		org := a.Fields["dni"]
		if org == "" {
			continue
		}
		n++
		w := []int{3, 2, 7, 6, 5, 4, 3, 2}
		sum := 0
		for i := range 8 {
			sum += int(org[i]-'0') * w[i]
		}
		check := (11 - sum%11) % 11
		if len(org) != 9 || int(org[8]-'0') != check || a.Fields["vat_number"] != "NO"+org+"MVA" {
			t.Errorf("bad org number %q / %q", org, a.Fields["vat_number"])
		}
	}
	if n == 0 {
		t.Error("no company customers seeded")
	}
}

func TestRequestCapAndResets(t *testing.T) {
	s := start(t, Options{Seed: 6, Faults: Faults{RequestsPerMinute: 3}})
	for i := range 3 {
		if r := call(t, s, "GET", "/api/taxes", ""); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := call(t, s, "GET", "/api/taxes", "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("over the cap: %d %v", r.status, r.header)
	}
	s.SetFaults(Faults{ResetRate: 1})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL()+"/api/taxes", nil)
	req.SetBasicAuth(s.Key(), "")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset fault answered %d", resp.StatusCode)
	}
	s.SetFaults(Faults{DropAfterCommitRate: 1})
	body := `<prestashop><tax_rule_group><name>Ny</name></tax_rule_group></prestashop>`
	req, _ = http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/api/tax_rule_groups", strings.NewReader(body))
	req.SetBasicAuth(s.Key(), "")
	before := len(s.IDs("tax_rule_groups"))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("dropped response answered %d", resp.StatusCode)
	}
	if after := len(s.IDs("tax_rule_groups")); after != before+1 {
		t.Errorf("write not committed: %d → %d", before, after)
	}
}
