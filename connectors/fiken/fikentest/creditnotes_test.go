package fikentest

import (
	"strings"
	"testing"
)

// TestPartialCreditNotes: lines against an invoice, priced from unitPrice
// × quantity with Fiken's VAT; never more than the invoice; a full credit
// note after a partial one is refused.
func TestPartialCreditNotes(t *testing.T) {
	s := startLenient(t, Options{Seed: 3, Products: 2, Contacts: 2, CountersInitialized: true})
	tok := s.Token()
	const co = "/companies/demo-as"
	p := s.Products()[0]
	c := s.Contacts()[0]
	inv, err := s.ManualInvoice(c.ContactID, []ManualLine{{ProductID: p.ProductID, Quantity: 3}})
	if err != nil {
		t.Fatal(err)
	}
	unit := *p.UnitPrice
	partial := func(lines string) answer {
		return call(t, s, tok, "POST", co+"/creditNotes/partial", `{"issueDate":"2026-02-01","invoiceId":`+itoa(inv.InvoiceID)+
			`,"creditNoteText":"Kreditnota 1 for ordre X","lines":[`+lines+`]}`)
	}
	a := partial(`{"productId":` + itoa(p.ProductID) + `,"quantity":1,"unitPrice":` + itoa(unit) + `},` +
		`{"description":"Frakt","quantity":1,"unitPrice":7921,"vatType":"HIGH","incomeAccount":"3000"}`)
	if a.status != 201 || !strings.Contains(a.header.Get("Location"), "/creditNotes/") {
		t.Fatalf("partial = %d %s", a.status, a.body)
	}
	cns := s.CreditNotes()
	if len(cns) != 1 {
		t.Fatalf("%d credit notes", len(cns))
	}
	cn := cns[0]
	// 7921 × 25 % = 1980.25: Fiken rounds each line's VAT.
	wantNet, wantVat := unit+7921, round(float64(unit)*0.25)+1980
	if cn.Net != wantNet || cn.Vat != wantVat || cn.Gross != wantNet+wantVat || cn.AssociatedInvoiceID != inv.InvoiceID ||
		cn.CreditNoteText != "Kreditnota 1 for ordre X" || cn.OrderReference != "" || cn.Customer == nil || cn.Customer.ContactID != c.ContactID {
		t.Fatalf("credit note %+v, want net %d vat %d", cn, wantNet, wantVat)
	}
	if got := s.Invoices()[0]; len(got.AssociatedCreditNotes) != 1 || got.Sale.OutstandingBalance != inv.Gross-cn.Gross {
		t.Errorf("invoice after the note: credit notes %v, outstanding %d", got.AssociatedCreditNotes, got.Sale.OutstandingBalance)
	}
	if a := call(t, s, tok, "GET", co+"/creditNotes/"+itoa(cn.CreditNoteID), ""); a.status != 200 || !strings.Contains(a.body, `"creditNoteText":"Kreditnota 1 for ordre X"`) {
		t.Errorf("GET credit note = %d %s", a.status, a.body)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Fatalf("spec violations: %v", v)
	}

	refused := []struct {
		name, body, want string
	}{
		{"more than the invoice", `{"productId":` + itoa(p.ProductID) + `,"quantity":3,"unitPrice":` + itoa(unit) + `}`, "would credit"},
		{"amounts are not part of a credit note line", `{"quantity":1,"unitPrice":100,"net":100,"vatType":"HIGH","incomeAccount":"3000"}`, "net"},
		{"no vat type without a product", `{"quantity":1,"unitPrice":100,"incomeAccount":"3000"}`, "vatType"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if a := partial(tt.body); a.status != 400 || !strings.Contains(a.body, tt.want) {
				t.Errorf("= %d %s, want 400 with %q", a.status, a.body, tt.want)
			}
		})
	}
	if a := call(t, s, tok, "POST", co+"/creditNotes/full", `{"issueDate":"2026-02-02","invoiceId":`+itoa(inv.InvoiceID)+`}`); a.status != 400 || !strings.Contains(a.body, "partial credit note") {
		t.Errorf("full after partial = %d %s, want 400", a.status, a.body)
	}
	if n := len(s.CreditNotes()); n != 1 {
		t.Errorf("refusals made %d credit notes", n-1)
	}
}
