package fiken

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// Credit notes are full (POST /creditNotes/full: the whole invoice) or
// partial (POST /creditNotes/partial: lines against the invoice); a write
// with lines is partial. Neither request is idempotent, so after a lost
// answer Find looks among the invoice's associatedCreditNotes: for a full
// note the one that credits the whole gross, for a partial one the note
// with the write's creditNoteText, which a partial write must carry and
// which Fiken returns as sent. An invoice counts as credited (for the
// invoices' creditNote action) only by a note of its whole gross.

// createPartialCreditNote credits the lines of w against its invoice.
func (c *Connector) createPartialCreditNote(ctx context.Context, w pipeline.Write, body map[string]any) (pipeline.Record, error) {
	lines, ok := body["lines"].([]any)
	if !ok || len(lines) == 0 {
		return nil, invalid(w.Resource, w.Key, "credit note: lines must be a list of at least one line, got %T", body["lines"])
	}
	delete(body, "lines")
	var req PartialCreditNoteRequest
	if err := strictInto(body, &req); err != nil {
		return nil, invalid(w.Resource, w.Key, "credit note: %w", err)
	}
	if req.InvoiceID == 0 {
		return nil, invalid(w.Resource, w.Key, "credit note: invoiceId (the invoice the lines credit) is required")
	}
	if strings.TrimSpace(req.CreditNoteText) == "" {
		return nil, invalid(w.Resource, w.Key, "credit note: creditNoteText is required with lines: it tells the note from the invoice's other credit notes when an answer is lost")
	}
	for i, l := range lines {
		line, err := creditNoteLine(l)
		if err != nil {
			return nil, invalid(w.Resource, w.Key, "credit note: lines[%d]: %w", i, err)
		}
		req.Lines = append(req.Lines, line)
	}
	id, err := c.client.CreatePartialCreditNote(ctx, req)
	if err != nil {
		return nil, recordErr(w.Resource, w.Key, err)
	}
	return c.getRecord(ctx, ResCreditNotes, id)
}

// creditNoteLine is a written line as Fiken's creditNoteLineResult. A line
// may say the net, VAT and gross it will book (credit_note_lines does, so
// plans show them): Fiken takes no amounts on a credit note, so they are
// not sent, but a net that unitPrice × quantity does not make is refused
// rather than booked differently.
func creditNoteLine(v any) (CreditNoteLine, error) {
	m, err := toMap(v)
	if err != nil || m == nil {
		return CreditNoteLine{}, fmt.Errorf("want an object, got %T", v)
	}
	net := m["net"]
	for _, k := range []string{"net", "vat", "gross"} {
		delete(m, k)
	}
	var l CreditNoteLine
	if err := strictInto(m, &l); err != nil {
		return CreditNoteLine{}, err
	}
	if l.Quantity <= 0 {
		return CreditNoteLine{}, fmt.Errorf("quantity %v: want a positive number", l.Quantity)
	}
	if n, ok := net.(float64); ok && n != math.Round(float64(l.UnitPrice)*l.Quantity) {
		return CreditNoteLine{}, fmt.Errorf("net %v is not unitPrice %d × quantity %v: Fiken books unitPrice × quantity", n, l.UnitPrice, l.Quantity)
	}
	return l, nil
}

// findCreditNote finds the credit note a write made, through its invoice.
func (c *Connector) findCreditNote(ctx context.Context, w pipeline.Write) (pipeline.Record, bool, error) {
	invID, ok := w.Set["invoiceId"].(int64)
	if !ok {
		return nil, false, nil
	}
	inv, err := c.client.GetInvoice(ctx, invID)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("fiken: find credit note: %w", err)
	}
	text, _ := w.Set["creditNoteText"].(string)
	text = strings.TrimSpace(text)
	partial := w.Set["lines"] != nil
	if partial && text == "" {
		return nil, false, nil // never created: Create requires the text
	}
	found, err := c.creditNotesOf(ctx, inv, func(rec pipeline.Record) bool {
		if !partial {
			return creditsInFull(inv, rec)
		}
		got, _ := rec["creditNoteText"].(string)
		return strings.TrimSpace(got) == text
	})
	if err != nil {
		return nil, false, err
	}
	switch len(found) {
	case 0:
		return nil, false, nil
	case 1:
		return found[0], true, nil
	}
	return nil, false, fmt.Errorf("fiken: find credit note: %d credit notes of invoice %d match; resolve the duplicates in Fiken", len(found), invID)
}

// creditNotesOf reads the invoice's credit notes that match.
func (c *Connector) creditNotesOf(ctx context.Context, inv Invoice, match func(pipeline.Record) bool) ([]pipeline.Record, error) {
	var out []pipeline.Record
	for _, id := range inv.AssociatedCreditNotes {
		rec, err := c.getRecord(ctx, ResCreditNotes, id)
		if err != nil {
			return nil, fmt.Errorf("fiken: credit note %d of invoice %d: %w", id, inv.InvoiceID, err)
		}
		if match(rec) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// creditsInFull reports whether a credit note credits the invoice's whole
// gross, as a full credit note does; a partial note does not, so an
// invoice with partial notes only is not credited.
func creditsInFull(inv Invoice, rec pipeline.Record) bool { return rec["gross"] == any(inv.Gross) }
