package fiken

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline"
)

func TestReadEveryResourceAcrossPages(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 7, Products: 230, Contacts: 105, Invoices: 12})
	te.conn.client.PageSize = 40

	prods := read(t, te.conn, ResProducts, time.Time{})
	want := te.srv.Products()
	if len(prods.records) != len(want) || len(prods.rejects) != 0 {
		t.Fatalf("products: got %d records %d rejects, want %d", len(prods.records), len(prods.rejects), len(want))
	}
	for i, p := range want {
		rec := prods.records[i]
		got := []any{rec["productId"], rec["productNumber"], rec["name"], rec["unitPrice"], rec["vatType"], rec["active"], rec["stock"]}
		exp := []any{p.ProductID, p.ProductNumber, p.Name, *p.UnitPrice, p.VatType, p.Active, *p.Stock}
		if diff := cmp.Diff(exp, got); diff != "" {
			t.Fatalf("product %d (-want +got):\n%s", i, diff)
		}
	}

	contacts := read(t, te.conn, ResContacts, time.Time{})
	if len(contacts.records) != 105 {
		t.Fatalf("contacts: got %d", len(contacts.records))
	}
	c0 := te.srv.Contacts()[0]
	if got := contacts.records[0]; got["name"] != c0.Name || got["postCode"] != c0.Address.PostCode ||
		got["organizationNumber"] != c0.OrganizationNumber || len(got["contactPerson"].([]any)) != len(c0.ContactPerson) {
		t.Errorf("contact 0 = %v, want %+v", got, c0)
	}

	invoices := read(t, te.conn, ResInvoices, time.Time{})
	wantInv := te.srv.Invoices()
	if len(invoices.records) != len(wantInv) {
		t.Fatalf("invoices: got %d, want %d", len(invoices.records), len(wantInv))
	}
	for i, inv := range wantInv {
		rec := invoices.records[i]
		got := []any{rec["invoiceId"], rec["invoiceNumber"], rec["kid"], rec["customerId"], rec["gross"], rec["settled"], rec["outstandingBalance"], rec["saleId"], rec["uuid"]}
		exp := []any{inv.InvoiceID, inv.InvoiceNumber, inv.Kid, inv.Customer.ContactID, inv.Gross, inv.Sale.Settled, inv.Sale.OutstandingBalance, inv.Sale.SaleID, inv.InvoiceDraftUUID}
		if diff := cmp.Diff(exp, got); diff != "" {
			t.Fatalf("invoice %d (-want +got):\n%s", i, diff)
		}
		lines := rec["lines"].([]any)
		l0 := lines[0].(map[string]any)
		if l0["productId"] != inv.Lines[0].ProductID || l0["quantity"] != inv.Lines[0].Quantity {
			t.Errorf("invoice %d line 0 = %v", i, l0)
		}
	}
	for _, res := range []string{ResSales, ResBankAccounts, ResAccounts, ResCreditNotes} {
		col := read(t, te.conn, res, time.Time{})
		if len(col.rejects) > 0 {
			t.Errorf("%s rejects: %v", res, col.rejects)
		}
		min := map[string]int{ResSales: 12, ResBankAccounts: 2, ResAccounts: 5, ResCreditNotes: 0}[res]
		if len(col.records) < min {
			t.Errorf("%s: %d records, want at least %d", res, len(col.records), min)
		}
	}
}

func TestIncrementalReadSeesOnlyRecentChanges(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	te := newTestEnv(t, fikentest.Options{Seed: 3, Products: 20, Contacts: 6, Invoices: 4, Now: func() time.Time { return now }})
	since := now.Add(-time.Hour)
	if got := read(t, te.conn, ResProducts, since); len(got.records) != 0 {
		t.Fatalf("nothing changed, incremental read got %d products", len(got.records))
	}
	p := te.srv.Products()[5]
	if _, err := te.srv.EditProduct(p.ProductID, func(p *fikentest.Product) { p.Name = "Endret i Fiken" }); err != nil {
		t.Fatal(err)
	}
	inv := te.srv.Invoices()[1]
	if !inv.Sale.Settled {
		if _, err := te.srv.RegisterPayment(inv.InvoiceID, 0, ""); err != nil {
			t.Fatal(err)
		}
	} else {
		inv = te.srv.Invoices()[0]
		if _, err := te.srv.RegisterPayment(inv.InvoiceID, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, te.conn, ResProducts, since)
	if len(got.records) != 1 || got.records[0]["name"] != "Endret i Fiken" {
		t.Fatalf("incremental products = %v", got.records)
	}
	invs := read(t, te.conn, ResInvoices, since)
	if len(invs.records) != 1 || invs.records[0]["invoiceId"] != inv.InvoiceID || invs.records[0]["settled"] != true {
		t.Fatalf("incremental invoices = %v", invs.records)
	}
	if full := read(t, te.conn, ResProducts, time.Time{}); len(full.records) != 20 {
		t.Fatalf("full read got %d products", len(full.records))
	}
}

func TestProductWrites(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 1})
	ctx := t.Context()
	var rec pipeline.Record
	var err error
	// One POST, no read-back: the record is what was sent, with the id
	// from the Location.
	n := te.requests(t, func() {
		rec, err = te.conn.Create(ctx, pipeline.Write{Resource: ResProducts, IdempotencyKey: "products/shop/ABC-1", Set: pipeline.Record{
			"productNumber": "ABC-1", "name": "Ullgenser", "unitPrice": int64(79920), "vatType": "HIGH", "incomeAccount": "3000", "stock": 10.0,
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"POST": 1}, n); diff != "" {
		t.Errorf("requests of a create (-want +got):\n%s", diff)
	}
	id, _ := rec["productId"].(int64)
	if id == 0 || rec["active"] != true || rec["stock"] != 10.0 {
		t.Fatalf("created = %v", rec)
	}
	// What Fiken assigns is unknown, so absent (not nil): the engine reads
	// the record when a flow back needs it.
	if _, ok := rec["createdDate"]; ok {
		t.Errorf("created record has createdDate %v, which Fiken assigns", rec["createdDate"])
	}
	// The rest is what Read emits.
	got := te.get(t, ResProducts, id)
	for k, v := range rec {
		if !cmp.Equal(v, got[k]) {
			t.Errorf("created record's %s = %v, Fiken holds %v", k, v, got[k])
		}
	}
	key := strconv.FormatInt(id, 10)
	// Someone edits the note in Fiken; a price update from the shop must
	// not wipe it (PUT replaces the whole record): a fresh read, a PUT.
	if _, err := te.srv.EditProduct(id, func(p *fikentest.Product) { p.Note = "Hylle 3" }); err != nil {
		t.Fatal(err)
	}
	n = te.requests(t, func() {
		rec, err = te.conn.Update(ctx, pipeline.Write{Resource: ResProducts, Key: key, Current: rec, Set: pipeline.Record{"unitPrice": int64(69900)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"GET": 1, "PUT": 1}, n); diff != "" {
		t.Errorf("requests of an update (-want +got):\n%s", diff)
	}
	if rec["unitPrice"] != int64(69900) || rec["note"] != "Hylle 3" || rec["stock"] != 10.0 || rec["name"] != "Ullgenser" {
		t.Fatalf("updated = %v", rec)
	}
	if got := te.get(t, ResProducts, id); got["unitPrice"] != int64(69900) || got["note"] != "Hylle 3" {
		t.Fatalf("Fiken holds %v after the update", got)
	}
	// A counter write hands over the record the engine just read (Fresh):
	// the PUT is made from it, without a read of its own.
	fresh := te.get(t, ResProducts, id)
	n = te.requests(t, func() {
		_, err = te.conn.Update(ctx, pipeline.Write{Resource: ResProducts, Key: key, Current: fresh, Fresh: true, Set: pipeline.Record{"stock": 7.0}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"PUT": 1}, n); diff != "" {
		t.Errorf("requests of an update from a fresh record (-want +got):\n%s", diff)
	}
	if got := te.get(t, ResProducts, id); got["stock"] != 7.0 || got["note"] != "Hylle 3" || got["unitPrice"] != int64(69900) {
		t.Fatalf("Fiken holds %v after the update from a fresh record", got)
	}
	rec = got
	if err := te.conn.Delete(ctx, pipeline.Write{Resource: ResProducts, Key: key, Current: rec}); err != nil {
		t.Fatal(err)
	}
	if p := te.srv.Products()[0]; p.Active || p.ProductID != id {
		t.Fatalf("after delete: %+v, want deactivated, not deleted", p)
	}
	found, ok, err := te.conn.Find(ctx, pipeline.Write{Resource: ResProducts, Set: pipeline.Record{"productNumber": "ABC-1"}})
	if err != nil || !ok || found["productId"] != id {
		t.Fatalf("find = %v %v %v", found, ok, err)
	}
	if _, ok, err := te.conn.Find(ctx, pipeline.Write{Resource: ResProducts, Set: pipeline.Record{"productNumber": "NOPE"}}); ok || err != nil {
		t.Fatalf("find missing = %v %v", ok, err)
	}

	tests := []struct {
		name string
		set  pipeline.Record
		want string
	}{
		{"read-only field", pipeline.Record{"productId": int64(5), "name": "x", "vatType": "HIGH", "incomeAccount": "3000"}, "read-only"},
		{"unknown field", pipeline.Record{"colour": "red", "name": "x", "vatType": "HIGH", "incomeAccount": "3000"}, "not a products field"},
		{"fractional øre", pipeline.Record{"name": "x", "vatType": "HIGH", "incomeAccount": "3000", "unitPrice": 12.5}, "unitPrice"},
		{"vat not valid for account", pipeline.Record{"name": "x", "vatType": "HIGH", "incomeAccount": "3100"}, "VAT type is not valid for the income account"},
		{"missing vat type", pipeline.Record{"name": "x", "incomeAccount": "3000"}, "vatType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := te.conn.Create(ctx, pipeline.Write{Resource: ResProducts, Set: tt.set})
			var re *pipeline.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RecordError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestContactWritesAndFind(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 2, Contacts: 5})
	ctx := t.Context()
	rec, err := te.conn.Create(ctx, pipeline.Write{Resource: ResContacts, Set: pipeline.Record{
		"name": "Kari Nordmann", "email": "kari@example.no", "memberNumberString": "shop-42", "phoneNumber": "91234567",
		"streetAddress": "Storgata 5", "postCode": "0155", "city": "Oslo",
		"contactPerson": []any{map[string]any{"name": "Kari Nordmann", "email": "kari@example.no"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rec["customer"] != true || rec["country"] != "Norge" {
		t.Fatalf("created = %v", rec)
	}
	// Fiken never returns the write-only fields (it holds them): nil, as
	// Read emits them. The customer number Fiken assigns is unknown
	// without a read: absent.
	if rec["phoneNumber"] != nil || rec["memberNumberString"] != nil {
		t.Fatalf("created record with write-only fields: %v", rec)
	}
	if _, ok := rec["customerNumber"]; ok {
		t.Fatalf("created record has customerNumber %v, which Fiken assigns", rec["customerNumber"])
	}
	id := rec["contactId"].(int64)
	got := te.get(t, ResContacts, id)
	if got["customerNumber"] == nil {
		t.Fatalf("Fiken assigned no customer number: %v", got)
	}
	for k, v := range rec {
		if !cmp.Equal(v, got[k]) && k != "contactPerson" { // Fiken numbers contact persons
			t.Errorf("created record's %s = %v, Fiken holds %v", k, v, got[k])
		}
	}
	key := strconv.FormatInt(id, 10)
	held := func() fikentest.Contact {
		t.Helper()
		c, ok := te.srv.Contact(id)
		if !ok {
			t.Fatalf("contact %d gone", id)
		}
		return c
	}
	if c := held(); c.PhoneNumber != "91234567" || c.MemberNumberString != "shop-42" {
		t.Fatalf("Fiken holds %+v", c)
	}

	// Without what synk wrote to them, a PUT would erase them: refused,
	// and said so before any request (RefuseUpdate, asked at plan time).
	unknown := pipeline.Write{Resource: ResContacts, Key: key, Set: pipeline.Record{"city": "Bergen"}}
	before := te.srv.Stats().Requests
	refusal := te.conn.RefuseUpdate(unknown)
	if n := te.srv.Stats().Requests - before; n != 0 {
		t.Errorf("RefuseUpdate made %d requests", n)
	}
	_, err = te.conn.Update(ctx, unknown)
	var re *pipeline.RecordError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "fields phoneNumber, memberNumber, memberNumberString, currency") {
		t.Fatalf("update without the known write-only values: %v, want a RecordError naming the field", err)
	}
	if !errors.As(refusal, &re) || refusal.Error() != err.Error() {
		t.Errorf("RefuseUpdate = %v, want what Update returns: %v", refusal, err)
	}
	if c := held(); c.City() != "Oslo" || c.PhoneNumber != "91234567" {
		t.Fatalf("a refused update changed the contact: %+v", c)
	}
	known := pipeline.Record{"phoneNumber": "91234567", "memberNumberString": "shop-42", "memberNumber": nil, "currency": nil}
	if err := te.conn.RefuseUpdate(pipeline.Write{Resource: ResContacts, Key: key, Set: pipeline.Record{"city": "Bergen"}, Known: known}); err != nil {
		t.Errorf("RefuseUpdate with every write-only value known: %v", err)
	}
	if err := te.conn.RefuseUpdate(pipeline.Write{Resource: ResProducts, Key: "1", Set: pipeline.Record{"name": "x"}}); err != nil {
		t.Errorf("RefuseUpdate of a product: %v", err)
	}
	rec, err = te.conn.Update(ctx, pipeline.Write{Resource: ResContacts, Key: key, Set: pipeline.Record{"city": "Bergen", "postCode": "5003"}, Known: known})
	if err != nil {
		t.Fatal(err)
	}
	if rec["city"] != "Bergen" || rec["streetAddress"] != "Storgata 5" || rec["email"] != "kari@example.no" || len(rec["contactPerson"].([]any)) != 1 {
		t.Fatalf("updated = %v", rec)
	}
	if c := held(); c.PhoneNumber != "91234567" || c.MemberNumberString != "shop-42" {
		t.Fatalf("after an update with the known values Fiken holds %+v", c)
	}
	// A value in Set wins over the known one.
	if _, err := te.conn.Update(ctx, pipeline.Write{Resource: ResContacts, Key: key, Set: pipeline.Record{"phoneNumber": "40000000"}, Known: known}); err != nil {
		t.Fatal(err)
	}
	if c := held(); c.PhoneNumber != "40000000" {
		t.Fatalf("phone after setting it: %q", c.PhoneNumber)
	}
	known["phoneNumber"] = "40000000"
	seeded := te.srv.Contacts()[0]
	tests := []struct {
		name string
		set  pipeline.Record
		want int64
		ok   bool
	}{
		{"member number wins", pipeline.Record{"memberNumberString": "shop-42", "email": seeded.Email}, id, true},
		{"organisation number", pipeline.Record{"memberNumberString": "shop-0", "organizationNumber": seeded.OrganizationNumber}, seeded.ContactID, true},
		{"email", pipeline.Record{"memberNumberString": "shop-0", "email": "kari@example.no"}, id, true},
		{"none", pipeline.Record{"memberNumberString": "shop-0", "email": "nobody@example.no"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := te.conn.Find(ctx, pipeline.Write{Resource: ResContacts, Set: tt.set})
			if err != nil || ok != tt.ok {
				t.Fatalf("find = %v %v %v", got, ok, err)
			}
			if ok && got["contactId"] != tt.want {
				t.Fatalf("found %v, want %d", got["contactId"], tt.want)
			}
		})
	}
	if err := te.conn.Delete(ctx, pipeline.Write{Resource: ResContacts, Key: key}); err == nil {
		t.Fatal("deactivating without the known write-only values was not refused")
	}
	if err := te.conn.Delete(ctx, pipeline.Write{Resource: ResContacts, Key: key, Known: known}); err != nil {
		t.Fatal(err)
	}
	if c := held(); !c.Inactive || c.PhoneNumber != "40000000" || c.MemberNumberString != "shop-42" {
		t.Fatalf("after deactivating Fiken holds %+v", c)
	}
}

func invoiceSet(customerID int64, productIDs ...int64) pipeline.Record {
	var lines []any
	for i, p := range productIDs {
		lines = append(lines, map[string]any{"productId": p, "quantity": float64(i + 1)})
	}
	return pipeline.Record{
		"issueDate": "2026-03-01", "dueDate": "2026-03-15", "customerId": customerID, "bankAccountCode": "1920:10001",
		"cash": false, "orderReference": "PS-1001", "lines": lines,
	}
}

func TestInvoiceLifecycle(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 4, Products: 3, Contacts: 3})
	ctx := t.Context()
	cust := te.srv.Contacts()[0] // a company: EHF reaches it
	prods := te.srv.Products()
	w := pipeline.Write{Resource: ResInvoices, IdempotencyKey: "orders/shop/1001", Set: invoiceSet(cust.ContactID, prods[0].ProductID, prods[1].ProductID)}
	w.Set["send"] = map[string]any{"method": []any{"ehf", "email"}}

	_, err := te.conn.Create(ctx, w)
	var re *pipeline.RecordError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "invoice counter") || !strings.Contains(err.Error(), "hint") {
		t.Fatalf("first invoice before the counter: err = %v, want a RecordError with the counter hint", err)
	}
	if err := te.conn.Client().CreateInvoiceCounter(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	n := te.requests(t, func() { rec, err = te.conn.Create(ctx, w) })
	if err != nil {
		t.Fatal(err)
	}
	// The invoice and its sending; no read-back.
	if diff := cmp.Diff(map[string]int{"POST": 2}, n); diff != "" {
		t.Errorf("requests of an invoice created and sent (-want +got):\n%s", diff)
	}
	if rec["uuid"] != InvoiceUUID("orders/shop/1001") || rec["orderReference"] != "PS-1001" || rec["customerId"] != cust.ContactID {
		t.Fatalf("created invoice = %v", rec)
	}
	for _, k := range []string{"invoiceNumber", "gross", "kid", "lines", "dispatches"} {
		if _, ok := rec[k]; ok {
			t.Errorf("created invoice has %s %v, which Fiken assigns", k, rec[k])
		}
	}
	rec = te.get(t, ResInvoices, rec["invoiceId"])
	wantGross := int64(0)
	for i, p := range prods[:2] {
		net := *p.UnitPrice * int64(i+1)
		wantGross += net + net*25/100
	}
	if rec["invoiceNumber"] != int64(10001) || rec["gross"] != wantGross || rec["uuid"] != InvoiceUUID("orders/shop/1001") || rec["settled"] != false {
		t.Fatalf("invoice = %v (want gross %d)", rec, wantGross)
	}
	if d := rec["dispatches"].([]any); len(d) != 1 || d[0].(map[string]any)["dispatchType"] != "ehf" {
		t.Fatalf("dispatches = %v", rec["dispatches"])
	}
	if !validMod10(rec["kid"].(string)) {
		t.Fatalf("kid %v fails MOD10", rec["kid"])
	}
	after := te.srv.Products()
	for i := range 2 {
		if *after[i].Stock != *prods[i].Stock-float64(i+1) {
			t.Errorf("product %d stock %v, want %v", i, *after[i].Stock, *prods[i].Stock-float64(i+1))
		}
	}
	found, ok, err := te.conn.Find(ctx, pipeline.Write{Resource: ResInvoices, IdempotencyKey: "orders/shop/1001"})
	if err != nil || !ok || found["invoiceId"] != rec["invoiceId"] {
		t.Fatalf("find by uuid = %v %v %v", found, ok, err)
	}
	found, ok, err = te.conn.Find(ctx, pipeline.Write{Resource: ResInvoices, IdempotencyKey: "other", Set: pipeline.Record{"orderReference": "PS-1001"}})
	if err != nil || !ok || found["invoiceId"] != rec["invoiceId"] {
		t.Fatalf("find by orderReference = %v %v %v", found, ok, err)
	}

	key := strconv.FormatInt(rec["invoiceId"].(int64), 10)
	pay := pipeline.Write{Resource: ResInvoices, Key: key, Set: pipeline.Record{"payment": map[string]any{"account": "1920:10001", "amount": int64(1000), "date": "2026-03-05"}}}
	for range 2 { // the second is a retry and must not pay twice
		if rec, err = te.conn.Update(ctx, pay); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := rec["outstandingBalance"]; ok {
		t.Errorf("paid invoice's record has outstandingBalance %v, which Fiken works out", rec["outstandingBalance"])
	}
	if rec = te.get(t, ResInvoices, key); rec["outstandingBalance"] != wantGross-1000 || rec["settled"] != false {
		t.Fatalf("after partial payment: %v", rec)
	}
	_, err = te.conn.Update(ctx, pipeline.Write{Resource: ResInvoices, Key: key, Set: pipeline.Record{"payment": map[string]any{"account": "1920:10001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec = te.get(t, ResInvoices, key); rec["settled"] != true || rec["outstandingBalance"] != int64(0) {
		t.Fatalf("after full payment: %v", rec)
	}
	if _, err := te.conn.Update(ctx, pipeline.Write{Resource: ResInvoices, Key: key, Set: pipeline.Record{"gross": int64(5)}}); !errors.As(err, &re) {
		t.Fatalf("changing an invoice field: err = %v, want RecordError", err)
	}

	// A second invoice, credited in full.
	w2 := pipeline.Write{Resource: ResInvoices, IdempotencyKey: "orders/shop/1002", Set: invoiceSet(cust.ContactID, prods[2].ProductID)}
	w2.Set["orderReference"] = "PS-1002"
	rec2, err := te.conn.Create(ctx, w2)
	if err != nil {
		t.Fatal(err)
	}
	key2 := strconv.FormatInt(rec2["invoiceId"].(int64), 10)
	credit := pipeline.Write{Resource: ResInvoices, Key: key2, Set: pipeline.Record{"creditNote": true}}
	if _, err := te.conn.Update(ctx, credit); err == nil || !strings.Contains(err.Error(), "credit note counter") {
		t.Fatalf("credit before the counter: err = %v", err)
	}
	if err := te.conn.Client().CreateCreditNoteCounter(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err = te.conn.Update(ctx, credit); err != nil {
			t.Fatal(err)
		}
	}
	rec2 = te.get(t, ResInvoices, key2)
	if cns := rec2["associatedCreditNotes"].([]any); len(cns) != 1 || rec2["settled"] != true {
		t.Fatalf("credited invoice = %v", rec2)
	}
	notes := read(t, te.conn, ResCreditNotes, time.Time{})
	if len(notes.records) != 1 || notes.records[0]["associatedInvoiceId"] != rec2["invoiceId"] || notes.records[0]["gross"] != rec2["gross"] {
		t.Fatalf("credit notes = %v", notes.records)
	}
	cn, ok, err := te.conn.Find(ctx, pipeline.Write{Resource: ResCreditNotes, Set: pipeline.Record{"invoiceId": rec2["invoiceId"]}})
	if err != nil || !ok || cn["creditNoteId"] != notes.records[0]["creditNoteId"] {
		t.Fatalf("find credit note = %v %v %v", cn, ok, err)
	}
}

func validMod10(kid string) bool {
	sum := 0
	for i := range len(kid) {
		d := int(kid[len(kid)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return len(kid) >= 2 && sum%10 == 0
}

func TestCommitThenDropNeverDuplicatesAnInvoice(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 5, Products: 2, Contacts: 2, CountersInitialized: true})
	ctx := t.Context()
	cust := te.srv.Contacts()[1]
	w := pipeline.Write{Resource: ResInvoices, IdempotencyKey: "orders/shop/77", Set: invoiceSet(cust.ContactID, te.srv.Products()[0].ProductID)}

	te.srv.SetFaults(fikentest.Faults{DropAfterCommitRate: 1})
	_, err := te.conn.Create(ctx, w)
	if err == nil {
		t.Fatal("create succeeded although the answer was dropped")
	}
	var re *pipeline.RecordError
	if errors.As(err, &re) {
		t.Fatalf("a lost answer is not a record error: %v", err)
	}
	te.srv.SetFaults(fikentest.Faults{})
	if n := len(te.srv.Invoices()); n != 1 {
		t.Fatalf("%d invoices after the dropped create, want 1 (the write happened)", n)
	}
	// What the engine does with the unresolved journal intent:
	rec, found, err := te.conn.Find(ctx, w)
	if err != nil || !found {
		t.Fatalf("find = %v %v", found, err)
	}
	if rec["invoiceId"] != te.srv.Invoices()[0].InvoiceID {
		t.Fatalf("found %v", rec["invoiceId"])
	}
	if n := len(te.srv.Invoices()); n != 1 {
		t.Fatalf("%d invoices, want 1", n)
	}
}

func TestRetriesStayWithinFikenLimits(t *testing.T) {
	srv := startEmulator(t, fikentest.Options{Seed: 11, Products: 150, Contacts: 20,
		Limits: fikentest.Limits{RejectConcurrent: true, Rate: 200},
		Faults: fikentest.Faults{ErrorRate: map[int]float64{429: 0.1, 500: 0.1, 502: 0.05, 503: 0.05}, ResetRate: 0.05}})
	_, hc := newHTTP(pipeline.Limits{MaxInFlight: 1, Rate: 200})
	conn := New(NewClient(hc, srv.URL(), srv.Company(), StaticToken(srv.Token())), nil)
	conn.client.PageSize = 10

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, res := range []string{ResProducts, ResContacts, ResProducts, ResAccounts} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var col collector
			if err := conn.Read(t.Context(), res, pipeline.ReadQuery{}, &col); err != nil {
				errs <- err
				return
			}
			want := map[string]int{ResProducts: 150, ResContacts: 20, ResAccounts: 11}[res]
			if len(col.records) != want {
				errs <- fmt.Errorf("%s: %d records, want %d", res, len(col.records), want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := srv.Stats()
	if st.Concurrent != 0 {
		t.Errorf("%d requests overlapped: the client broke Fiken's one-in-flight rule", st.Concurrent)
	}
	if st.Requests <= 15+2+2+1 {
		t.Errorf("%d requests: the faults did not cause retries", st.Requests)
	}
}

func TestNoOpRunMakesNoWrites(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 9, Products: 5, Contacts: 5, Invoices: 3})
	te.srv.ResetStats()
	for _, res := range []string{ResProducts, ResContacts, ResInvoices} {
		read(t, te.conn, res, time.Now())
	}
	if st := te.srv.Stats(); st.Writes != 0 || st.Requests != 3 {
		t.Fatalf("stats = %+v, want 3 reads and no writes", st)
	}
}

func TestCheck(t *testing.T) {
	names := func(rs []pipeline.CheckResult) string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s=%v", r.Name, r.OK))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	te := newTestEnv(t, fikentest.Options{})
	got := te.conn.Check(t.Context())
	if want := "fiken accounts=true fiken bank account=true fiken company=true fiken invoice counter=false fiken token=true"; names(got) != want {
		t.Fatalf("fresh company: %s, want %s", names(got), want)
	}
	if d := got[len(got)-1].Detail; !strings.Contains(d, "POST /companies/{slug}/invoices/counter") {
		t.Errorf("counter detail lacks the fix: %s", d)
	}
	te.srv.InitCounters()
	if got := names(te.conn.Check(t.Context())); strings.Contains(got, "false") {
		t.Fatalf("after init: %s", got)
	}
	te.srv.SetAPIModuleActive(false)
	got = te.conn.Check(t.Context())
	if names(got) != "fiken company=false fiken token=true" || !strings.Contains(got[1].Detail, "API module") {
		t.Fatalf("module off: %v", got)
	}
	te.srv.SetAPIModuleActive(true)

	bad := New(NewClient(te.env.HTTP, te.srv.URL(), te.srv.Company(), StaticToken("wrong-secret-token")), nil)
	got = bad.Check(t.Context())
	if names(got) != "fiken token=false" || strings.Contains(got[0].Detail, "wrong-secret-token") {
		t.Fatalf("bad token: %v", got)
	}
	other := New(NewClient(te.env.HTTP, te.srv.URL(), "other-company", StaticToken(te.srv.Token())), nil)
	if got := names(other.Check(t.Context())); got != "fiken company=false fiken token=true" {
		t.Fatalf("wrong company: %s", got)
	}
}

func TestClientRefusesShortAndMalformedReads(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 12, Products: 30})
	te.conn.client.PageSize = 10
	te.srv.SetFaults(fikentest.Faults{MalformedRate: 1})
	var col collector
	err := te.conn.Read(t.Context(), ResProducts, pipeline.ReadQuery{}, &col)
	// Every answer is cut: the transport retries each, then the read
	// fails naming the request.
	if err == nil || !strings.Contains(err.Error(), "not well-formed") || !strings.Contains(err.Error(), "/products?page=0") {
		t.Fatalf("malformed page: err = %v", err)
	}
	te.srv.SetFaults(fikentest.Faults{})
	_, err = te.conn.client.ListProducts(t.Context(), url.Values{"name": {"does not exist"}})
	if err != nil {
		t.Fatalf("empty filtered list: %v", err)
	}
}

// TestGetReadsOneRecordFresh: the stock counter's read just before a write.
func TestGetReadsOneRecordFresh(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 6, Products: 2})
	p := te.srv.Products()[0]
	if _, err := te.srv.AdjustStock(p.ProductID, 5); err != nil {
		t.Fatal(err)
	}
	got, found, err := te.conn.Get(t.Context(), ResProducts, strconv.FormatInt(p.ProductID, 10))
	if err != nil || !found || got["stock"] != *p.Stock+5 {
		t.Fatalf("Get = %v, %v, %v; want stock %v", got, found, err, *p.Stock+5)
	}
	if _, found, err := te.conn.Get(t.Context(), ResProducts, "424242"); err != nil || found {
		t.Fatalf("Get of a missing product = found %v, %v", found, err)
	}
}
