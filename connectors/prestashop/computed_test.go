package prestashop_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
)

// wantStockReference is what a stock row's reference should be, from the
// emulator's own tables: the combination's for a combination row, else the
// product's, nil when empty or gone.
func wantStockReference(t *testing.T, srv *prestashoptest.Server, row pipeline.Record) any {
	t.Helper()
	res, id := "products", row["id_product"].(int64)
	if a := row["id_product_attribute"].(int64); a != 0 {
		res, id = "combinations", a
	}
	o, ok := srv.Get(res, id)
	if !ok || strings.TrimSpace(o.Fields["reference"]) == "" {
		return nil
	}
	return o.Fields["reference"]
}

func TestStockReference(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			combos := f.srv.IDs("combinations")
			if len(combos) < 2 {
				t.Fatalf("seed has %d combinations", len(combos))
			}
			// Shops that never set references: one product, one combination.
			if err := f.srv.Edit("products", 1, map[string]string{"reference": ""}); err != nil {
				t.Fatal(err)
			}
			if err := f.srv.Edit("combinations", combos[1], map[string]string{"reference": ""}); err != nil {
				t.Fatal(err)
			}
			f.srv.ResetStats()
			rows := read(t, f, "stock_availables", time.Time{})
			st := f.srv.Stats()
			if st.ReadsBy["products"] != 1 || st.ReadsBy["combinations"] != 1 {
				t.Errorf("reads per resource %v, want one list of products and one of combinations", st.ReadsBy)
			}
			if want := (len(rows) + 4) / 5; st.ReadsBy["stock_availables"] > want+4 {
				t.Errorf("%d stock requests for %d rows in pages of 5", st.ReadsBy["stock_availables"], len(rows))
			}
			var nils, combRefs int
			for _, r := range rows {
				want := wantStockReference(t, f.srv, r)
				if r["reference"] != want {
					t.Errorf("stock %v (product %v/%v) reference %#v, want %#v", r["id"], r["id_product"], r["id_product_attribute"], r["reference"], want)
				}
				if r["reference"] == nil {
					nils++
				}
				if r["id_product_attribute"] != int64(0) && r["reference"] != nil {
					combRefs++
				}
			}
			if nils < 2 || combRefs == 0 {
				t.Errorf("%d rows without reference, %d combination rows with one; want both edits seen and combinations resolved", nils, combRefs)
			}
			// Writing the reference is not possible: it is not the stock row's.
			var row pipeline.Record
			for _, r := range rows {
				if r["id_product_attribute"] == int64(0) && r["reference"] != nil {
					row = r
					break
				}
			}
			key := strconv.FormatInt(row["id"].(int64), 10)
			rec, err := f.conn.Update(t.Context(), pipeline.Write{Resource: "stock_availables", Key: key, Current: row,
				Set: pipeline.Record{"quantity": int64(9), "reference": "X-1"}})
			if err != nil {
				t.Fatal(err)
			}
			if rec["quantity"] != int64(9) || rec["reference"] != row["reference"] {
				t.Errorf("updated stock row %v, want quantity 9 and reference %v", rec, row["reference"])
			}
			if p, _ := f.srv.Get("products", row["id_product"].(int64)); p.Fields["reference"] != row["reference"] {
				t.Errorf("stock update changed the product's reference to %q", p.Fields["reference"])
			}
			checkBodies(t, f.srv)
		})
	}
}

// TestStockReferenceManyProducts reads references over more than one page
// of the narrow lists (50 times page_size: 50 here).
func TestStockReferenceManyProducts(t *testing.T) {
	f := setup(t, prestashoptest.Version8, func(o *prestashoptest.Options, c *prestashop.Config) {
		o.Products, o.Customers, o.Orders = 130, 2, 2
		c.PageSize = 1
	})
	f.srv.ResetStats()
	rows := read(t, f, "stock_availables", time.Time{})
	if st := f.srv.Stats(); st.ReadsBy["products"] < 3 || st.ReadsBy["combinations"] < 2 {
		t.Errorf("reads %v: want the reference lists paged", st.ReadsBy)
	}
	seen := map[int64]bool{}
	for _, r := range rows {
		if want := wantStockReference(t, f.srv, r); r["reference"] != want || want == nil {
			t.Fatalf("stock %v (product %v/%v) reference %#v, want %#v", r["id"], r["id_product"], r["id_product_attribute"], r["reference"], want)
		}
		seen[r["id_product"].(int64)] = true
	}
	if len(seen) != 130 {
		t.Errorf("stock of %d products, want 130", len(seen))
	}
}

// wantAddresses computes every customer's newest non-deleted address from
// the addresses resource, shaped like customers.address.
func wantAddresses(t *testing.T, f fixture) map[int64]map[string]any {
	t.Helper()
	var shape []string
	for _, r := range prestashop.Resources() {
		if r.Name == "customers" {
			fd, _ := r.Field("address")
			for _, sub := range fd.Fields {
				shape = append(shape, sub.Name)
			}
		}
	}
	out := map[int64]map[string]any{}
	newest := map[int64]int64{}
	for _, a := range read(t, f, "addresses", time.Time{}) {
		cust, id := a["id_customer"].(int64), a["id"].(int64)
		if a["deleted"] == true || id < newest[cust] {
			continue
		}
		m := map[string]any{}
		for _, k := range shape {
			m[k] = a[k]
		}
		out[cust], newest[cust] = m, id
	}
	return out
}

func customerByID(t *testing.T, f fixture, id int64) pipeline.Record {
	t.Helper()
	for _, c := range read(t, f, "customers", time.Time{}) {
		if c["id"] == id {
			return c
		}
	}
	t.Fatalf("no customer %d", id)
	return nil
}

func TestCustomerAddressRead(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			ctx := t.Context()
			create := func(cust int64, alias, city string) int64 {
				t.Helper()
				rec, err := f.conn.Create(ctx, pipeline.Write{Resource: "addresses", Set: pipeline.Record{"id_customer": cust, "alias": alias,
					"firstname": "Kari", "lastname": "Hansen", "address1": "Fjellveien 9", "postcode": "3580", "city": city, "id_country": int64(23)}})
				if err != nil {
					t.Fatal(err)
				}
				return rec["id"].(int64)
			}
			create(2, "Hytta", "Geilo")          // newer than the seed's: wins
			gone := create(3, "Gammel", "Hamar") // newer, but deleted: does not
			if err := f.srv.Edit("addresses", gone, map[string]string{"deleted": "1"}); err != nil {
				t.Fatal(err)
			}
			lone, err := f.conn.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"firstname": "Uten", "lastname": "Adresse", "email": "uten@example.no"}})
			if err != nil {
				t.Fatal(err)
			}

			f.srv.ResetStats()
			custs := read(t, f, "customers", time.Time{})
			pages := (len(custs) + 4) / 5
			if got := f.srv.Stats().ReadsBy["addresses"]; got != pages {
				t.Errorf("%d addresses requests for %d pages of customers, want one per page", got, pages)
			}
			want := wantAddresses(t, f)
			for _, c := range custs {
				id := c["id"].(int64)
				var w any
				if a, ok := want[id]; ok {
					w = a
				}
				if diff := cmp.Diff(w, c["address"]); diff != "" {
					t.Errorf("customer %d address (-want +got):\n%s", id, diff)
				}
				switch {
				case id == 2 && c["address"].(map[string]any)["city"] != "Geilo":
					t.Errorf("customer 2 address is not the newest: %v", c["address"])
				case id == 3 && c["address"].(map[string]any)["city"] == "Hamar":
					t.Errorf("customer 3 address is the deleted one: %v", c["address"])
				case id == lone["id"] && c["address"] != nil:
					t.Errorf("customer without address reads %v", c["address"])
				}
			}
		})
	}
}

func TestCustomerAddressUpdate(t *testing.T) {
	for _, v := range versions() {
		t.Run(v, func(t *testing.T) {
			f := setup(t, v)
			ctx := t.Context()
			method := http.MethodPatch
			if v == prestashoptest.Version17 {
				method = http.MethodPut
			}
			cur := customerByID(t, f, 1)
			before := cur["address"].(map[string]any)
			moved := map[string]any{"address1": before["address1"], "postcode": "3015", "city": "Drammen", "id_country": 23.0}
			w := pipeline.Write{Resource: "customers", Key: "1", Current: cur, Set: pipeline.Record{"firstname": "Ola-Martin", "address": moved}}
			rec, err := f.conn.Update(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			after := customerByID(t, f, 1)
			got := after["address"].(map[string]any)
			wantAddr := map[string]any{}
			for k, x := range before {
				wantAddr[k] = x
			}
			wantAddr["postcode"], wantAddr["city"] = "3015", "Drammen"
			if diff := cmp.Diff(wantAddr, got); diff != "" {
				t.Errorf("address after update (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, rec["address"]); diff != "" {
				t.Errorf("Update returned another address than the shop has (-read +returned):\n%s", diff)
			}
			if after["firstname"] != "Ola-Martin" {
				t.Errorf("firstname %v", after["firstname"])
			}
			st := f.srv.Stats().ByMethod
			if st[method+" addresses"] != 1 || st["POST addresses"] != 0 || st[method+" customers"] != 1 {
				t.Errorf("writes %v, want one %s of the customer and one of its address", st, method)
			}

			// The same address again writes nothing, and costs one request:
			// the customer's addresses.
			f.srv.ResetStats()
			if _, err := f.conn.Update(ctx, pipeline.Write{Resource: "customers", Key: "1", Current: after, Set: pipeline.Record{"address": moved}}); err != nil {
				t.Fatal(err)
			}
			if st := f.srv.Stats(); st.Requests != 1 || st.ReadsBy["addresses"] != 1 {
				t.Errorf("an address-only update without changes made %d requests: %v", st.Requests, st.ReadsBy)
			}
			f.srv.ResetStats()
			writes := 0 // from here on
			// nil leaves the shop's address alone.
			if _, err := f.conn.Update(ctx, pipeline.Write{Resource: "customers", Key: "1", Current: after, Set: pipeline.Record{"address": nil}}); err != nil {
				t.Fatal(err)
			}
			if n := f.srv.Stats().Writes; n != writes {
				t.Errorf("an unchanged address made %d writes", n-writes)
			}
			if diff := cmp.Diff(got, customerByID(t, f, 1)["address"]); diff != "" {
				t.Errorf("address changed by a no-op update:\n%s", diff)
			}

			// A field addresses lack is refused before any request.
			_, err = f.conn.Update(ctx, pipeline.Write{Resource: "customers", Key: "1", Set: pipeline.Record{"firstname": "X", "address": map[string]any{"street": "Storgata 1"}}})
			var re *pipeline.RecordError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "street") {
				t.Errorf("unknown address field: %v", err)
			}
			if n := f.srv.Stats().Writes; n != writes {
				t.Errorf("a refused address made %d writes", n-writes)
			}

			// A customer without an address gets one, named after them.
			lone, err := f.conn.Create(ctx, pipeline.Write{Resource: "customers", Set: pipeline.Record{"firstname": "Siri", "lastname": "Moe", "email": "siri@example.no"}})
			if err != nil {
				t.Fatal(err)
			}
			key := strconv.FormatInt(lone["id"].(int64), 10)
			rec, err = f.conn.Update(ctx, pipeline.Write{Resource: "customers", Key: key, Current: lone,
				Set: pipeline.Record{"address": map[string]any{"address1": "Brugata 2", "postcode": "2000", "city": "Lillestrøm", "id_country": int64(23)}}})
			if err != nil {
				t.Fatal(err)
			}
			read := customerByID(t, f, lone["id"].(int64))["address"]
			a, ok := read.(map[string]any)
			if !ok || a["city"] != "Lillestrøm" || a["firstname"] != "Siri" || a["lastname"] != "Moe" {
				t.Fatalf("new address %v", read)
			}
			if diff := cmp.Diff(read, rec["address"]); diff != "" {
				t.Errorf("Update returned another address than the shop has (-read +returned):\n%s", diff)
			}
			if n := f.srv.Stats().ByMethod["POST addresses"]; n != 1 {
				t.Errorf("POST addresses = %d, want 1", n)
			}
			checkBodies(t, f.srv)
		})
	}
}

func TestOrderStateName(t *testing.T) {
	f := setup(t, prestashoptest.Version8)
	orders := read(t, f, "orders", time.Time{})
	for _, o := range orders {
		st, ok := f.srv.Get("order_states", o["current_state"].(int64))
		if !ok || o["state_name"] != st.I18n["name"]["1"] {
			t.Errorf("order %v state %v state_name %v, want %q", o["id"], o["current_state"], o["state_name"], st.I18n["name"]["1"])
		}
	}
	// Writing a name moves the order, creating the state once.
	key := strconv.FormatInt(orders[0]["id"].(int64), 10)
	for range 2 {
		if _, err := f.conn.Update(t.Context(), pipeline.Write{Resource: "orders", Key: key, Current: orders[0],
			Set: pipeline.Record{"state_name": "Oppgjort i Fiken"}}); err != nil {
			t.Fatal(err)
		}
	}
	id, err := f.conn.SettledStateID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.srv.Get("orders", orders[0]["id"].(int64))
	if got.Fields["current_state"] != strconv.FormatInt(id, 10) {
		t.Errorf("order state %s, want %d", got.Fields["current_state"], id)
	}
	if st := f.srv.Stats().ByMethod; st["POST order_states"] != 1 || st["POST order_histories"] != 1 {
		t.Errorf("writes %v, want one new state and one history row", st)
	}
	for _, o := range read(t, f, "orders", time.Time{}) {
		if o["id"] == orders[0]["id"] && o["state_name"] != "Oppgjort i Fiken" {
			t.Errorf("state_name after the move: %v", o["state_name"])
		}
	}
	checkBodies(t, f.srv)
}

// TestStockReadIsAFewRequests: stock has no modification date, so it is
// read in full every run; with the default page size a shop's thousands of
// stock rows, and the two reference lists behind them, are a request each
// (a list that fills its last page exactly needs one more, empty).
func TestStockReadIsAFewRequests(t *testing.T) {
	f := setup(t, prestashoptest.Version8, func(o *prestashoptest.Options, c *prestashop.Config) {
		o.Products, o.Customers, o.Orders = 4000, 2, 2
		c.PageSize = 0 // the default
	})
	f.srv.ResetStats()
	rows := read(t, f, "stock_availables", time.Time{})
	if n := len(f.srv.IDs("stock_availables")); len(rows) != n || n <= prestashop.MaxPageSize {
		t.Fatalf("read %d stock rows of %d; want more than a page (%d)", len(rows), n, prestashop.MaxPageSize)
	}
	want := map[string]int{}
	for _, res := range []string{"stock_availables", "products", "combinations"} {
		want[res] = len(f.srv.IDs(res))/prestashop.MaxPageSize + 1
	}
	if diff := cmp.Diff(want, f.srv.Stats().ReadsBy); diff != "" {
		t.Errorf("reads of a full stock read (-want +got):\n%s", diff)
	}
	for _, q := range f.srv.Writes() {
		t.Errorf("a read wrote %s %s", q.Method, q.Path)
	}
}
