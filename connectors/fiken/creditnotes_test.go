package fiken

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline"
)

// refundSet is a partial credit note of one unit of product p and 79,21
// of shipping against invoice inv.
func refundSet(inv int64, p fikentest.Product, text string) pipeline.Record {
	return pipeline.Record{"invoiceId": inv, "issueDate": "2026-03-02", "creditNoteText": text, "lines": []any{
		map[string]any{"productId": p.ProductID, "quantity": 1.0, "unitPrice": *p.UnitPrice, "net": *p.UnitPrice,
			"vat": *p.UnitPrice / 4, "gross": *p.UnitPrice + *p.UnitPrice/4, "description": "Retur"},
		map[string]any{"description": "Frakt", "quantity": 1.0, "unitPrice": int64(7921), "vatType": "HIGH", "incomeAccount": "3000"},
	}}
}

func TestPartialCreditNotesFoundByTheirText(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 6, Products: 2, Contacts: 2, CountersInitialized: true})
	ctx := t.Context()
	p := te.srv.Products()[0]
	inv, err := te.srv.ManualInvoice(te.srv.Contacts()[0].ContactID, []fikentest.ManualLine{{ProductID: p.ProductID, Quantity: 3}})
	if err != nil {
		t.Fatal(err)
	}
	w1 := pipeline.Write{Resource: ResCreditNotes, Key: "1", Set: refundSet(inv.InvoiceID, p, "Kreditnota 1 for ordre ABC")}
	rec, err := te.conn.Create(ctx, w1)
	if err != nil {
		t.Fatal(err)
	}
	want := *p.UnitPrice + 7921 + (*p.UnitPrice+2)/4 + 1980 // Fiken's VAT, per line
	if rec["gross"] != want || rec["associatedInvoiceId"] != inv.InvoiceID || rec["creditNoteText"] != "Kreditnota 1 for ordre ABC" {
		t.Fatalf("partial credit note %v, want gross %d", rec, want)
	}
	if lines := rec["lines"].([]any); len(lines) != 2 {
		t.Fatalf("lines %v", lines)
	}

	// A second note whose answer is lost is found by its text, not
	// mistaken for the first; the first is still found as itself.
	w2 := pipeline.Write{Resource: ResCreditNotes, Key: "2", Set: refundSet(inv.InvoiceID, p, "Kreditnota 2 for ordre ABC")}
	te.srv.SetFaults(fikentest.Faults{DropAfterCommitRate: 1})
	if _, err := te.conn.Create(ctx, w2); err == nil {
		t.Fatal("create succeeded although the answer was dropped")
	}
	te.srv.SetFaults(fikentest.Faults{})
	if n := len(te.srv.CreditNotes()); n != 2 {
		t.Fatalf("%d credit notes, want 2 (the second was made)", n)
	}
	for _, tt := range []struct {
		w    pipeline.Write
		want int64
	}{{w1, te.srv.CreditNotes()[0].CreditNoteID}, {w2, te.srv.CreditNotes()[1].CreditNoteID}} {
		got, found, err := te.conn.Find(ctx, tt.w)
		if err != nil || !found || got["creditNoteId"] != tt.want {
			t.Errorf("find %s = %v %v %v, want note %d", tt.w.Set["creditNoteText"], got["creditNoteId"], found, err, tt.want)
		}
	}
	other := pipeline.Write{Resource: ResCreditNotes, Set: refundSet(inv.InvoiceID, p, "Kreditnota 3 for ordre ABC")}
	if _, found, err := te.conn.Find(ctx, other); found || err != nil {
		t.Errorf("find of a note never made = %v %v", found, err)
	}
	// A full credit note is not any partial one.
	full := pipeline.Write{Resource: ResCreditNotes, Set: pipeline.Record{"invoiceId": inv.InvoiceID, "creditNoteText": "Kreditnota for ordre ABC"}}
	if _, found, err := te.conn.Find(ctx, full); found || err != nil {
		t.Errorf("find of the full note = %v %v, want not found", found, err)
	}
	// Crediting the whole invoice after partial notes would credit their
	// amounts twice: Fiken refuses, and that is a reject naming why, never
	// a silent "already credited".
	credit := pipeline.Write{Resource: ResInvoices, Key: strconv.FormatInt(inv.InvoiceID, 10), Set: pipeline.Record{"creditNote": true}}
	_, err = te.conn.Update(ctx, credit)
	var re *pipeline.RecordError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "partial credit note") {
		t.Errorf("full credit after partial ones: err = %v, want a RecordError", err)
	}
	if n := len(te.srv.CreditNotes()); n != 2 {
		t.Errorf("%d credit notes after the finds", n)
	}
}

func TestPartialCreditNoteRefusedBeforeSending(t *testing.T) {
	te := newTestEnv(t, fikentest.Options{Seed: 7, Products: 1, Contacts: 1, CountersInitialized: true})
	p := te.srv.Products()[0]
	line := func(extra map[string]any) []any {
		m := map[string]any{"productId": p.ProductID, "quantity": 2.0, "unitPrice": int64(1000)}
		for k, v := range extra {
			m[k] = v
		}
		return []any{m}
	}
	tests := []struct {
		name string
		set  pipeline.Record
		want string
	}{
		{"no text", pipeline.Record{"invoiceId": int64(1), "lines": line(nil)}, "creditNoteText is required"},
		{"no invoice", pipeline.Record{"creditNoteText": "x", "lines": line(nil)}, "invoiceId"},
		{"net Fiken would not book", pipeline.Record{"invoiceId": int64(1), "creditNoteText": "x", "lines": line(map[string]any{"net": int64(2001)})}, "net 2001 is not unitPrice 1000 × quantity 2"},
		{"a field credit notes do not take", pipeline.Record{"invoiceId": int64(1), "creditNoteText": "x", "lines": line(map[string]any{"vatInPercent": 25.0})}, "vatInPercent"},
		{"empty lines", pipeline.Record{"invoiceId": int64(1), "creditNoteText": "x", "lines": []any{}}, "at least one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := te.conn.Create(t.Context(), pipeline.Write{Resource: ResCreditNotes, Key: "k", Set: tt.set})
			var re *pipeline.RecordError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a RecordError with %q", err, tt.want)
			}
		})
	}
	if w := te.srv.Stats().Writes; w != 0 {
		t.Errorf("%d writes reached Fiken", w)
	}
}
