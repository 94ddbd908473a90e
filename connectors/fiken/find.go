package fiken

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// Find implements pipeline.Finder: invoices by their deterministic uuid
// (invoiceDraftUuid), then orderReference; contacts by memberNumberString,
// then organizationNumber, then email; products by productNumber; credit
// notes through the invoice they credit (see findCreditNote).
func (c *Connector) Find(ctx context.Context, w pipeline.Write) (pipeline.Record, bool, error) {
	str := func(k string) string {
		s, _ := w.Set[k].(string)
		return strings.TrimSpace(s)
	}
	var tries []url.Values
	switch w.Resource {
	case ResProducts:
		if v := str("productNumber"); v != "" {
			tries = append(tries, url.Values{"productNumber": {v}})
		}
	case ResContacts:
		for _, k := range []string{"memberNumberString", "organizationNumber", "email"} {
			if v := str(k); v != "" {
				tries = append(tries, url.Values{k: {v}})
			}
		}
	case ResInvoices:
		u := str("uuid")
		if u == "" && w.IdempotencyKey != "" {
			u = InvoiceUUID(w.IdempotencyKey)
		}
		if u != "" {
			tries = append(tries, url.Values{"invoiceDraftUuid": {u}})
		}
		if v := str("orderReference"); v != "" {
			tries = append(tries, url.Values{"orderReference": {v}})
		}
	case ResCreditNotes:
		return c.findCreditNote(ctx, w)
	default:
		return nil, false, fmt.Errorf("fiken: cannot find %s", w.Resource)
	}
	res, _ := resourceByName(w.Resource)
	for _, q := range tries {
		var found []pipeline.Record
		err := c.client.List(ctx, listPath(w.Resource), q, func(raw json.RawMessage) error {
			rec, _, err := decodeRecord(res, raw)
			if err != nil {
				return err
			}
			found = append(found, rec)
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("fiken: find %s by %s: %w", w.Resource, q.Encode(), err)
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], true, nil
		default:
			return nil, false, fmt.Errorf("fiken: find %s: %d records match %s; resolve the duplicates in Fiken", w.Resource, len(found), q.Encode())
		}
	}
	return nil, false, nil
}
