package prestashop_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/emulator"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
)

// clock is a settable shop clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type fixture struct {
	srv   *prestashoptest.Server
	conn  *prestashop.Connector
	clock *clock
}

func setup(t *testing.T, version string, mod ...func(*prestashoptest.Options, *prestashop.Config)) fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}
	opts := prestashoptest.Options{Seed: 42, Version: version, Now: clk.now}
	cfg := &prestashop.Config{PageSize: 5}
	for _, m := range mod {
		m(&opts, cfg)
	}
	srv, err := prestashoptest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	prestashoptest.Check(t, srv)
	cfg.URL = srv.URL()
	if cfg.Key == "" {
		cfg.Key = srv.Key()
	}
	lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 4}, nil)
	httpc := pipeline.NewHTTPClient("shop", lim, nil, pipeline.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}, 10*time.Second)
	conn, err := prestashop.Open(t.Context(), pipeline.Env{Connection: "shop", Limiter: lim, HTTP: httpc}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, conn: conn, clock: clk}
}

type collector struct {
	recs    []pipeline.Record
	rejects []string
}

func (c *collector) Emit(r pipeline.Record) error { c.recs = append(c.recs, r); return nil }
func (c *collector) Reject(key string, raw []byte, reason error) error {
	c.rejects = append(c.rejects, key+": "+reason.Error())
	return nil
}

func read(t *testing.T, f fixture, resource string, since time.Time) []pipeline.Record {
	t.Helper()
	var c collector
	if err := f.conn.Read(t.Context(), resource, pipeline.ReadQuery{Since: since}, &c); err != nil {
		t.Fatalf("read %s: %v", resource, err)
	}
	if len(c.rejects) > 0 {
		t.Fatalf("read %s rejected: %v", resource, c.rejects)
	}
	return c.recs
}

func versions() []string { return []string{prestashoptest.Version8, prestashoptest.Version17} }

// checkBodies validates every XML body the emulator received against the
// field facts: known fields, none read-only, required ones present on POST
// and PUT, sizes within bounds.
func checkBodies(t *testing.T, srv *prestashoptest.Server) {
	t.Helper()
	facts := prestashop.Facts()
	for _, w := range srv.Writes() {
		if w.Method == http.MethodDelete {
			continue
		}
		fact := facts[w.Resource]
		doc, err := prestashop.DecodeXML(w.Body)
		if err != nil {
			t.Errorf("%s %s: body is not XML: %v", w.Method, w.Path, err)
			continue
		}
		if doc.Node != fact.Node || len(doc.Objects) != 1 {
			t.Errorf("%s %s: body node %q", w.Method, w.Path, doc.Node)
			continue
		}
		o := doc.Objects[0]
		check := func(name string, values ...string) {
			f, ok := fact.Field(name)
			switch {
			case !ok:
				t.Errorf("%s %s: unknown field %q", w.Method, w.Path, name)
			case f.ReadOnly || f.Hidden:
				t.Errorf("%s %s: read-only field %q sent", w.Method, w.Path, name)
			case f.ServerSets:
				t.Errorf("%s %s: server-set field %q sent", w.Method, w.Path, name)
			}
			for _, v := range values {
				if w.Status < 300 && f.MaxSize > 0 && utf8.RuneCountInString(v) > f.MaxSize {
					t.Errorf("%s %s: %s is %d chars, max %d", w.Method, w.Path, name, utf8.RuneCountInString(v), f.MaxSize)
				}
			}
		}
		for name, v := range o.Fields {
			if name == "id" {
				if w.Method == http.MethodPost {
					t.Errorf("POST %s: id sent", w.Path)
				}
				continue
			}
			check(name, v)
		}
		for name, langs := range o.I18n {
			var vs []string
			for _, v := range langs {
				vs = append(vs, v)
			}
			check(name, vs...)
		}
		if w.Status < 300 && (w.Method == http.MethodPost || w.Method == http.MethodPut) {
			for _, f := range fact.Fields {
				if f.Required && f.Name != "id" && !o.Has(f.Name) {
					t.Errorf("%s %s: required field %q missing", w.Method, w.Path, f.Name)
				}
			}
		}
	}
}

func TestReadEveryResource(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			for _, res := range prestashop.Resources() {
				t.Run(res.Name, func(t *testing.T) {
					recs := read(t, f, res.Name, time.Time{})
					want := f.srv.IDs(res.Name)
					var got []int64
					for _, r := range recs {
						got = append(got, r["id"].(int64))
						for _, fd := range res.Fields {
							v, ok := r[fd.Name]
							if !ok {
								t.Fatalf("record %v lacks field %q", r["id"], fd.Name)
							}
							if !typeOK(fd.Type, v) {
								t.Fatalf("record %v field %q = %#v, want %s", r["id"], fd.Name, v, fd.Type)
							}
						}
						if len(r) != len(res.Fields) {
							t.Fatalf("record %v has %d fields, schema %d", r["id"], len(r), len(res.Fields))
						}
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("ids (-shop +read):\n%s", diff)
					}
				})
			}
			if w := f.srv.Stats().Writes; w != 0 {
				t.Errorf("reading made %d writes", w)
			}
		})
	}
}

func typeOK(t pipeline.FieldType, v any) bool {
	if v == nil {
		return true
	}
	switch t {
	case pipeline.TypeInt:
		_, ok := v.(int64)
		return ok
	case pipeline.TypeFloat:
		_, ok := v.(float64)
		return ok
	case pipeline.TypeBool:
		_, ok := v.(bool)
		return ok
	case pipeline.TypeString:
		_, ok := v.(string)
		return ok
	case pipeline.TypeObject:
		_, ok := v.(map[string]any)
		return ok
	case pipeline.TypeList:
		_, ok := v.([]any)
		return ok
	}
	return true
}

func TestProductFieldsAndTaxRate(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	recs := read(t, f, "products", time.Time{})
	rates := map[int64]float64{1: 25, 2: 15, 3: 12, 4: 0}
	seen := map[float64]bool{}
	for _, r := range recs {
		g := r["id_tax_rules_group"].(int64)
		if r["tax_rate"] != rates[g] {
			t.Errorf("product %v group %d tax_rate %v, want %v", r["id"], g, r["tax_rate"], rates[g])
		}
		seen[rates[g]] = true
		want, _ := f.srv.Stock(r["id"].(int64), 0)
		if r["quantity"] != int64(want) {
			t.Errorf("product %v quantity %v, want %d", r["id"], r["quantity"], want)
		}
		i18n := r["name_i18n"].(map[string]any)
		if r["name"] != i18n["1"] || i18n["2"] == "" || i18n["2"] == nil {
			t.Errorf("product %v name %v i18n %v", r["id"], r["name"], i18n)
		}
	}
	if len(seen) != 4 {
		t.Errorf("rates seen %v, want all four", seen)
	}
	// Falsy values survive: an inactive product reads active=false, not nil.
	if recs[6]["active"] != false {
		t.Errorf("product 7 active = %#v, want false", recs[6]["active"])
	}
	orders := read(t, f, "orders", time.Time{})
	rows := orders[0]["order_rows"].([]any)
	if len(rows) == 0 {
		t.Fatal("order without rows")
	}
	row := rows[0].(map[string]any)
	if _, ok := row["unit_price_tax_incl"].(float64); !ok || row["product_reference"] == "" {
		t.Errorf("order row %#v", row)
	}
}

func TestPagingIsConcurrentAndComplete(t *testing.T) {
	f := setup(t, prestashoptest.Version8, func(o *prestashoptest.Options, c *prestashop.Config) {
		o.Products = 47
		o.Faults.Latency = 20 * time.Millisecond
		c.PageSize = 4
	})
	if _, err := f.conn.TaxRates(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.srv.ResetStats()
	recs := read(t, f, "products", time.Time{})
	if len(recs) != 47 {
		t.Fatalf("read %d products, want 47", len(recs))
	}
	for i, r := range recs {
		if r["id"] != int64(i+1) {
			t.Fatalf("record %d has id %v: order lost", i, r["id"])
		}
	}
	// 12 pages: the first alone, then waves of 1, 2 and 4 until the short
	// one, none past it.
	st := f.srv.Stats()
	if st.Reads != 12 {
		t.Errorf("%d reads for 12 pages, want 12", st.Reads)
	}
	if st.MaxInFlight < 2 || st.MaxInFlight > 4 {
		t.Errorf("%d pages in flight at most, want 2..4", st.MaxInFlight)
	}
}

func TestIncrementalRead(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			read(t, f, "products", time.Time{}) // warms the tax cache
			f.clock.set(time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC))
			if err := f.srv.Edit("products", 3, map[string]string{"price": "99.5"}); err != nil {
				t.Fatal(err)
			}
			if err := f.srv.Edit("customers", 2, map[string]string{"firstname": "Kari-Anne"}); err != nil {
				t.Fatal(err)
			}
			// Address edits move the address's date_upd, not the customer's.
			for _, id := range f.srv.IDs("addresses") {
				a, _ := f.srv.Get("addresses", id)
				var err error
				switch a.Fields["id_customer"] {
				case "2":
					err = f.srv.Edit("addresses", id, map[string]string{"phone": "+47 22 00 00 00"})
				case "5":
					err = f.srv.Edit("addresses", id, map[string]string{"city": "Moss"})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			since := time.Date(2026, 2, 1, 10, 5, 0, 0, time.UTC) // within the 10 min overlap
			f.srv.ResetStats()
			recs := read(t, f, "products", since)
			if len(recs) != 1 || recs[0]["id"] != int64(3) || recs[0]["price"] != 99.5 {
				t.Fatalf("incremental products: %v", recs)
			}
			custs := read(t, f, "customers", since)
			if len(custs) != 2 || custs[0]["firstname"] != "Kari-Anne" || custs[1]["id"] != int64(5) {
				t.Fatalf("incremental customers: %v", custs)
			}
			if a := custs[1]["address"].(map[string]any); a["city"] != "Moss" {
				t.Errorf("customer 5 address %v", a)
			}
			// Products: one list. Customers: the changed ones and their
			// addresses, the addresses changed in the window, and the
			// customer found through it with its addresses.
			if n := f.srv.Stats().Reads; n != 6 {
				t.Errorf("incremental reads made %d requests, want 6: %v", n, f.srv.Stats().ReadsBy)
			}
			f.srv.ResetStats()
			if none := read(t, f, "customers", since.Add(time.Hour)); len(none) != 0 {
				t.Errorf("read %d customers changed after the edit", len(none))
			}
			if n := f.srv.Stats().Reads; n != 2 {
				t.Errorf("an incremental read with nothing new made %d requests, want 2: %v", n, f.srv.Stats().ReadsBy)
			}
		})
	}
}

func TestProductWritesKeepOtherLanguages(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			ctx := t.Context()
			set := pipeline.Record{"reference": "FK-2001", "name": "Turstol", "price": 412.0, "id_tax_rules_group": int64(1),
				"active": true, "ean13": "7038000000017", "quantity": int64(5), "tax_rate": 25.0}
			rec, err := f.conn.Create(ctx, pipeline.Write{Resource: "products", Set: set, IdempotencyKey: "products/x"})
			if err != nil {
				t.Fatal(err)
			}
			id := rec["id"].(int64)
			if rec["name"] != "Turstol" || rec["tax_rate"] != 25.0 || rec["quantity"] != int64(0) || rec["active"] != true {
				t.Errorf("created %v", rec)
			}
			if got := rec["name_i18n"].(map[string]any); got["2"] != "Turstol" {
				t.Errorf("create did not fill language 2: %v", got)
			}
			// An editor translates it; synk then renames it in Norwegian.
			if err := f.srv.Edit("products", id, map[string]string{"name:2": "Camping chair"}); err != nil {
				t.Fatal(err)
			}
			cur := read(t, f, "products", time.Time{})
			var current pipeline.Record
			for _, r := range cur {
				if r["id"] == id {
					current = r
				}
			}
			key := strconv.FormatInt(id, 10)
			rec, err = f.conn.Update(ctx, pipeline.Write{Resource: "products", Key: key, Current: current,
				Set: pipeline.Record{"name": "Turstol lett", "price": 399.0, "quantity": int64(3)}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"1": "Turstol lett", "2": "Camping chair"}
			if diff := cmp.Diff(want, rec["name_i18n"]); diff != "" {
				t.Errorf("name_i18n after update (-want +got):\n%s", diff)
			}
			if rec["reference"] != "FK-2001" || rec["price"] != 399.0 || rec["ean13"] != "7038000000017" {
				t.Errorf("update lost fields: %v", rec)
			}
			method := http.MethodPatch
			if v == prestashoptest.Version17 {
				method = http.MethodPut
			}
			if n := f.srv.Stats().ByMethod[method+" products"]; n != 1 {
				t.Errorf("%s products = %d, stats %v", method, n, f.srv.Stats().ByMethod)
			}
			if err := f.conn.Delete(ctx, pipeline.Write{Resource: "products", Key: key}); err != nil {
				t.Fatal(err)
			}
			if err := f.conn.Delete(ctx, pipeline.Write{Resource: "products", Key: key}); err != nil {
				t.Errorf("second delete: %v", err)
			}
			checkBodies(t, f.srv)
		})
	}
}

func TestFindMakesCreatesExactlyOnce(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	ctx := t.Context()
	f.srv.SetFaults(prestashoptest.Faults{DropAfterCommitRate: 1})
	w := pipeline.Write{Resource: "customers", IdempotencyKey: "c/1", Set: pipeline.Record{
		"firstname": "Astrid", "lastname": "Lindqvist", "email": "Astrid.L@example.no",
		"address": map[string]any{"address1": "Torget 1", "postcode": "0150", "city": "Oslo", "id_country": int64(23)}}}
	if _, err := f.conn.Create(ctx, w); err == nil {
		t.Fatal("create succeeded though the response was dropped")
	}
	f.srv.SetFaults(prestashoptest.Faults{})
	rec, found, err := f.conn.Find(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"email": "astrid.l@example.no"}})
	if err != nil || !found {
		t.Fatalf("find after lost response: %v %v", found, err)
	}
	if rec["firstname"] != "Astrid" || rec["active"] != true {
		t.Errorf("found %v", rec)
	}
	if _, ok := rec["passwd"]; ok {
		t.Error("customer record exposes passwd")
	}
	if n := f.srv.Stats().ByMethod["POST customers"]; n != 1 {
		t.Errorf("POST customers = %d", n)
	}
	// With a response, the address comes along.
	w.Set["email"] = "bjorn@example.no"
	w.Set["firstname"] = "Bjørn"
	rec, err = f.conn.Create(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := rec["address"].(map[string]any)
	if !ok || addr["city"] != "Oslo" || addr["firstname"] != "Bjørn" || addr["alias"] != "Min adresse" {
		t.Fatalf("address %v", rec["address"])
	}
	// Find after a lost response brings the address along too.
	again, ok, err := f.conn.Find(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"email": "bjorn@example.no"}})
	if err != nil || !ok {
		t.Fatalf("find bjorn: %v %v", ok, err)
	}
	if diff := cmp.Diff(addr, again["address"]); diff != "" {
		t.Errorf("found address differs from the created one (-created +found):\n%s", diff)
	}
	_, found, err = f.conn.Find(ctx, pipeline.Write{Resource: "addresses", Set: pipeline.Record{"id_customer": rec["id"], "alias": "Min adresse"}})
	if err != nil || !found {
		t.Errorf("find address: %v %v", found, err)
	}
	for _, tc := range []struct {
		res   string
		set   pipeline.Record
		found bool
	}{
		{"products", pipeline.Record{"reference": "NH-1003"}, true},
		{"products", pipeline.Record{"reference": "nh-1003"}, true},
		{"products", pipeline.Record{"reference": "NH-99999"}, false},
		{"products", pipeline.Record{"reference": "A,B|[C]"}, false},
		{"products", pipeline.Record{}, false},
		{"customers", pipeline.Record{"email": "nobody@example.no"}, false},
	} {
		t.Run(fmt.Sprint(tc.res, tc.set), func(t *testing.T) {
			_, found, err := f.conn.Find(ctx, pipeline.Write{Resource: tc.res, Set: tc.set})
			if err != nil || found != tc.found {
				t.Errorf("found %v err %v, want %v", found, err, tc.found)
			}
		})
	}
	// The password went to the shop once and is nowhere else.
	var pw string
	for _, wr := range f.srv.Writes() {
		if wr.Resource == "customers" {
			doc, _ := prestashop.DecodeXML(wr.Body)
			pw = doc.Objects[0].Fields["passwd"]
		}
	}
	if len(pw) < 20 {
		t.Errorf("customer password %q is too weak", pw)
	}
	checkBodies(t, f.srv)
}

// TestFindCompletesTheAddressOverACutConnection: a customer whose create
// answer was lost before its address was made is completed by Find, and
// when the address's own create answer is lost too, Find looks again
// rather than fail or create the address twice.
func TestFindCompletesTheAddressOverACutConnection(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	ctx := t.Context()
	f.srv.SetFaults(prestashoptest.Faults{DropAfterCommitRate: 1})
	w := pipeline.Write{Resource: "customers", IdempotencyKey: "c/1", Set: pipeline.Record{
		"firstname": "Astrid", "lastname": "Lindqvist", "email": "astrid.l@example.no",
		"address": map[string]any{"address1": "Torget 1", "postcode": "0150", "city": "Oslo", "id_country": int64(23)}}}
	if _, err := f.conn.Create(ctx, w); err == nil {
		t.Fatal("create succeeded though the response was dropped")
	}
	f.srv.SetFaults(prestashoptest.Faults{})

	// A proxy that makes the first address create and then hangs up.
	target, err := url.Parse(f.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	var dropped atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/addresses") && dropped.CompareAndSwap(false, true) {
			forward.ServeHTTP(httptest.NewRecorder(), r)
			emulator.HangUp(rw)
			return
		}
		forward.ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)
	lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 4}, nil)
	httpc := pipeline.NewHTTPClient("shop", lim, nil, pipeline.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}, 10*time.Second)
	conn, err := prestashop.Open(ctx, pipeline.Env{Connection: "shop", Limiter: lim, HTTP: httpc}, &prestashop.Config{URL: proxy.URL, Key: f.srv.Key(), PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}

	rec, found, err := conn.Find(ctx, w)
	if err != nil || !found {
		t.Fatalf("find: found %v, err %v", found, err)
	}
	if !dropped.Load() {
		t.Fatal("the address create was never cut")
	}
	addr, ok := rec["address"].(map[string]any)
	if !ok || addr["city"] != "Oslo" || addr["firstname"] != "Astrid" {
		t.Fatalf("address %v", rec["address"])
	}
	if n := f.srv.Stats().ByMethod["POST addresses"]; n != 1 {
		t.Errorf("POST addresses = %d, want 1", n)
	}
	checkBodies(t, f.srv)
}

func TestStockUpdates(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			ctx := t.Context()
			var row pipeline.Record
			for _, r := range read(t, f, "stock_availables", time.Time{}) {
				if r["id_product"] == int64(2) && r["id_product_attribute"] == int64(0) {
					row = r
				}
			}
			key := strconv.FormatInt(row["id"].(int64), 10)
			rec, err := f.conn.Update(ctx, pipeline.Write{Resource: "stock_availables", Key: key, Current: row, Set: pipeline.Record{"quantity": int64(77)}})
			if err != nil {
				t.Fatal(err)
			}
			if q, _ := f.srv.Stock(2, 0); q != 77 || rec["quantity"] != int64(77) {
				t.Errorf("stock %d, record %v", q, rec["quantity"])
			}
			if err := f.srv.Edit("stock_availables", row["id"].(int64), map[string]string{"depends_on_stock": "1"}); err != nil {
				t.Fatal(err)
			}
			_, err = f.conn.Update(ctx, pipeline.Write{Resource: "stock_availables", Key: key, Set: pipeline.Record{"quantity": int64(5)}})
			var re *pipeline.RecordError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "depends_on_stock") {
				t.Errorf("depends_on_stock update: %v", err)
			}
			if _, err := f.conn.Create(ctx, pipeline.Write{Resource: "stock_availables", Set: pipeline.Record{"quantity": int64(1)}}); !errors.As(err, &re) {
				t.Errorf("stock create: %v", err)
			}
			checkBodies(t, f.srv)
		})
	}
}

func TestOrderStateChangeIsIdempotent(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			ctx := t.Context()
			var order pipeline.Record
			for _, o := range read(t, f, "orders", time.Time{}) {
				if o["module"] == "ps_wirepayment" && o["current_state"] == int64(10) {
					order = o
					break
				}
			}
			if order == nil {
				t.Fatal("no unpaid bank wire order in the seed")
			}
			key := strconv.FormatInt(order["id"].(int64), 10)
			payments := len(read(t, f, "order_payments", time.Time{}))
			for range 2 {
				rec, err := f.conn.Update(ctx, pipeline.Write{Resource: "orders", Key: key, Current: order, Set: pipeline.Record{"current_state": "Oppgjort i Fiken"}})
				if err != nil {
					t.Fatal(err)
				}
				id, err := f.conn.SettledStateID(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rec["current_state"] != id {
					t.Errorf("order state %v, want %d", rec["current_state"], id)
				}
			}
			st := f.srv.Stats().ByMethod
			if st["POST order_histories"] != 1 || st["POST order_states"] != 1 {
				t.Errorf("writes %v, want one state and one history", st)
			}
			if got := len(read(t, f, "order_payments", time.Time{})); got != payments+1 {
				t.Errorf("payments %d → %d, want one more", payments, got)
			}
			// A numeric state works too, and the same state is again a no-op.
			if _, err := f.conn.Update(ctx, pipeline.Write{Resource: "orders", Key: key, Set: pipeline.Record{"current_state": int64(prestashoptest.StateShipped)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.conn.Update(ctx, pipeline.Write{Resource: "orders", Key: key, Set: pipeline.Record{"current_state": int64(prestashoptest.StateShipped)}}); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.Stats().ByMethod["POST order_histories"]; n != 2 {
				t.Errorf("POST order_histories = %d, want 2", n)
			}
			// A second connection finds the state instead of creating it.
			g := fixture{srv: f.srv, conn: reopen(t, f)}
			if _, err := g.conn.SettledStateID(ctx); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.Stats().ByMethod["POST order_states"]; n != 1 {
				t.Errorf("POST order_states = %d after reopen", n)
			}
			checkBodies(t, f.srv)
		})
	}
}

func reopen(t *testing.T, f fixture) *prestashop.Connector {
	t.Helper()
	conn, err := prestashop.Open(t.Context(), pipeline.Env{Connection: "shop", HTTP: http.DefaultClient},
		&prestashop.Config{URL: f.srv.URL(), Key: f.srv.Key()})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestRecordErrorsAndHints(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	ctx := t.Context()
	_, err := f.conn.Create(ctx, pipeline.Write{Resource: "products", Set: pipeline.Record{"reference": "NO-PRICE", "name": "Uten pris"}})
	var re *pipeline.RecordError
	var apiErr *prestashop.APIError
	if !errors.As(err, &re) || !errors.As(err, &apiErr) || apiErr.Code != 41 || !strings.Contains(err.Error(), "required field") {
		t.Errorf("missing price: %v", err)
	}
	if apiErr != nil && (apiErr.Status != 400 || apiErr.Method != "POST" || apiErr.Path != "/api/products" || apiErr.Retryable()) {
		t.Errorf("api error %+v", apiErr)
	}
	_, err = f.conn.Update(ctx, pipeline.Write{Resource: "products", Key: "1", Set: pipeline.Record{"reference": strings.Repeat("x", 80)}})
	if !errors.As(err, &re) {
		t.Errorf("too long reference: %v", err)
	}
	_, err = f.conn.Update(ctx, pipeline.Write{Resource: "products", Key: "1", Set: pipeline.Record{"colour": "red"}})
	if !errors.As(err, &re) {
		t.Errorf("unknown field: %v", err)
	}
	// The two the shop refused are on the emulator's record; the unknown
	// field never left the connector.
	if v := f.srv.TakeViolations(); len(v) != 2 || !strings.Contains(v[0], "41") || !strings.Contains(v[1], "length > 64") {
		t.Errorf("violations %q, want the missing price and the long reference", v)
	}
	checkBodies(t, f.srv)
}

func TestAuthAndCheck(t *testing.T) {
	f := setup(t, prestashoptest.Version17, func(_ *prestashoptest.Options, c *prestashop.Config) { c.Auth = "query" })
	res := f.conn.Check(t.Context())
	if len(res) != 4 {
		t.Fatalf("check: %+v", res)
	}
	for _, r := range res {
		if !r.OK {
			t.Errorf("check %s failed: %s", r.Name, r.Detail)
		}
		if strings.Contains(r.Detail, f.srv.Key()) {
			t.Errorf("check %s shows the key", r.Name)
		}
	}
	if !strings.Contains(res[1].Detail, "1.7.8.11") || !strings.Contains(res[1].Detail, "PUT") {
		t.Errorf("version: %s", res[1].Detail)
	}
	if !strings.Contains(res[3].Detail, "ps_wirepayment") || !strings.Contains(res[3].Detail, "vipps") {
		t.Errorf("modules: %s", res[3].Detail)
	}
	states := f.conn.CheckOrderStates(t.Context(), []int64{2, 99}, []string{"Levert", "Oppgjort i Fiken", "Finnes ikke"})
	got := []bool{}
	for _, r := range states {
		got = append(got, r.OK)
	}
	if diff := cmp.Diff([]bool{true, false, true, true, false}, got); diff != "" {
		t.Errorf("order state checks (-want +got):\n%s\n%+v", diff, states)
	}
	mods := f.conn.CheckPaymentModules(t.Context(), []string{"vipps", "klarna"})
	if !mods[0].OK || mods[1].OK || mods[0].Warning || !mods[1].Warning {
		t.Errorf("module checks %+v", mods)
	}

	bad := strings.Repeat("Z", 32)
	for _, auth := range []string{"basic", "query"} {
		g := setup(t, prestashoptest.Version8, func(_ *prestashoptest.Options, c *prestashop.Config) { c.Key, c.Auth = bad, auth })
		res := g.conn.Check(t.Context())
		if len(res) != 1 || res[0].OK || strings.Contains(res[0].Detail, bad) || !strings.Contains(res[0].Detail, "401") {
			t.Errorf("%s: bad key check %+v", auth, res)
		}
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	f.srv.SetFaults(prestashoptest.Faults{ErrorRate: map[int]float64{503: 0.3}})
	recs := read(t, f, "customers", time.Time{})
	if len(recs) != 12 {
		t.Errorf("read %d customers through 503s", len(recs))
	}
	f.srv.SetFaults(prestashoptest.Faults{MalformedRate: 1})
	var c collector
	if err := f.conn.Read(t.Context(), "customers", pipeline.ReadQuery{}, &c); err == nil {
		t.Error("truncated body read without error")
	}
}

func TestResourcesDeclareWritesCorrectly(t *testing.T) {
	byName := map[string]pipeline.Resource{}
	for _, r := range prestashop.Resources() {
		byName[r.Name] = r
	}
	for _, tc := range []struct {
		res, field string
		readOnly   bool
	}{
		{"products", "quantity", true},
		{"products", "manufacturer_name", true},
		{"products", "tax_rate", true},
		{"products", "date_upd", true},
		{"products", "price", false},
		{"products", "name", false},
		{"products", "name_i18n", false},
		{"stock_availables", "quantity", false},
		{"stock_availables", "depends_on_stock", true},
		{"stock_availables", "reference", true},
		{"customers", "address", false},
		{"orders", "current_state", false},
		{"orders", "total_paid", true},
		{"orders", "order_rows", true},
		{"order_slips", "order_slip_details", true},
		{"order_slips", "order_reference", true},
		{"order_slips", "amount", true},
		{"taxes", "rate", true},
	} {
		f, ok := byName[tc.res].Field(tc.field)
		if !ok || f.ReadOnly != tc.readOnly {
			t.Errorf("%s.%s: present %v read-only %v, want %v", tc.res, tc.field, ok, f.ReadOnly, tc.readOnly)
		}
	}
	if _, ok := byName["customers"].Field("passwd"); ok {
		t.Error("customers expose passwd")
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"addresses", "combinations", "countries", "currencies", "customers", "order_details", "order_histories",
		"order_payments", "order_slips", "order_states", "orders", "products", "stock_availables", "tax_rule_groups", "tax_rules", "taxes"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
}

// TestGetReadsOneRecordFresh: the stock counter's read just before a write.
func TestGetReadsOneRecordFresh(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	ctx := t.Context()
	row := read(t, f, "stock_availables", time.Time{})[0]
	id := row["id"].(int64)
	if err := f.srv.Edit("stock_availables", id, map[string]string{"quantity": "41"}); err != nil {
		t.Fatal(err)
	}
	got, found, err := f.conn.Get(ctx, "stock_availables", strconv.FormatInt(id, 10))
	if err != nil || !found || got["quantity"] != int64(41) || got["id"] != id {
		t.Fatalf("Get = %v, %v, %v; want the row with quantity 41", got, found, err)
	}
	if _, found, err := f.conn.Get(ctx, "stock_availables", "99999"); err != nil || found {
		t.Fatalf("Get of a missing row = found %v, %v", found, err)
	}
}
