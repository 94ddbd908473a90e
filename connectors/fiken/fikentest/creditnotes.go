package fikentest

// creditLineRequest is a line of POST /creditNotes/partial
// (creditNoteLineResult in Fiken's spec): a net unit price and a quantity,
// never amounts; Fiken computes the VAT from the line's vatType.
type creditLineRequest struct {
	IncomeAccount string  `json:"incomeAccount"`
	VatType       string  `json:"vatType"`
	UnitPrice     *int64  `json:"unitPrice"`
	Quantity      float64 `json:"quantity"`
	Discount      float64 `json:"discount"`
	ProductID     int64   `json:"productId"`
	Description   string  `json:"description"`
	Comment       string  `json:"comment"`
}

// partialCreditNoteRequest is the body of POST /creditNotes/partial.
type partialCreditNoteRequest struct {
	OurReference    string              `json:"ourReference"`
	YourReference   string              `json:"yourReference"`
	OrderReference  string              `json:"orderReference"`
	Project         int64               `json:"project"`
	Currency        string              `json:"currency"`
	IssueDate       string              `json:"issueDate"`
	InvoiceID       int64               `json:"invoiceId"`
	ContactID       int64               `json:"contactId"`
	ContactPersonID int64               `json:"contactPersonId"`
	CreditNoteText  string              `json:"creditNoteText"`
	Lines           []creditLineRequest `json:"lines"`
	RoundingType    string              `json:"roundingType"`
}

// partialCreditNote books a credit note of the given lines, against an
// invoice (its customer, its sale) or, without one, a customer contact.
// Lines are priced like invoice lines from unitPrice × quantity, VAT
// computed per line. An invoice cannot be credited beyond its gross: the
// notes already made count (a full one covers it all). On an unpaid
// invoice the note settles that much of its sale; on a paid one it is
// money owed back, unsettled.
func (st *state) partialCreditNote(req partialCreditNoteRequest) (*CreditNote, error) {
	if st.creditCounter == nil {
		return nil, badRequest("Credit note counter has not been initialized. Create it with POST /companies/%s/creditNotes/counter (kreditnotanummer-teller mangler)", st.company.Slug)
	}
	if len(req.Lines) == 0 {
		return nil, badRequest("lines: a partial credit note needs at least one line")
	}
	var inv *Invoice
	customer := req.ContactID
	if req.InvoiceID != 0 {
		var ok bool
		if inv, ok = st.invoices[req.InvoiceID]; !ok {
			return nil, badRequest("invoiceId %d: invoice not found", req.InvoiceID)
		}
		if customer != 0 && customer != inv.customerID {
			return nil, badRequest("contactId %d is not the customer of invoice %d", customer, inv.InvoiceID)
		}
		customer = inv.customerID
	}
	// A note against an invoice is in the invoice's currency.
	currency := req.Currency
	if inv != nil && currency == "" {
		currency = inv.Currency
	}
	if currency == "" {
		currency = "NOK"
	}
	if inv != nil && currency != inv.Currency {
		return nil, badRequest("currency %s: invoice %d is in %s", currency, inv.InvoiceID, inv.Currency)
	}
	nokPer, ok := exchangeRates[currency]
	if !ok {
		return nil, badRequest("currency %s: not a currency Fiken credits in", currency)
	}
	cust, ok := st.contacts[customer]
	if !ok {
		return nil, badRequest("contactId %d: contact not found (give invoiceId or contactId)", customer)
	}
	lines := make([]InvoiceLine, 0, len(req.Lines))
	var net, vat int64
	for i, lr := range req.Lines {
		l, err := st.buildLine(i, lineRequest{UnitPrice: lr.UnitPrice, Quantity: lr.Quantity, Discount: lr.Discount,
			VatType: lr.VatType, IncomeAccount: lr.IncomeAccount, ProductID: lr.ProductID, Description: lr.Description, Comment: lr.Comment})
		if err != nil {
			return nil, err
		}
		l.NetInNok, l.VatInNok, l.GrossInNok = inNok(l.Net, nokPer), inNok(l.Vat, nokPer), inNok(l.Gross, nokPer)
		lines = append(lines, l)
		net, vat = net+l.Net, vat+l.Vat
	}
	gross := net + vat
	if inv != nil {
		credited := int64(0)
		for _, id := range inv.AssociatedCreditNotes {
			credited += st.creditNotes[id].Gross
		}
		if credited+gross > inv.Gross {
			return nil, badRequest("invoice %d: a credit note of %d would credit %d of its %d (%d credited already)", inv.InvoiceID, gross, credited+gross, inv.Gross, credited)
		}
	}
	*st.creditCounter++
	cn := &CreditNote{
		CreditNoteID: st.id(), CreditNoteNumber: *st.creditCounter, Net: net, Vat: vat, Gross: gross,
		NetInNok: inNok(net, nokPer), VatInNok: inNok(vat, nokPer), GrossInNok: inNok(gross, nokPer), CreditNoteText: req.CreditNoteText,
		OurReference: req.OurReference, YourReference: req.YourReference, OrderReference: req.OrderReference,
		Address: Address{Country: "Norge"}, Lines: lines, Currency: currency, IssueDate: req.IssueDate,
		LastModifiedDate: st.today(), customerID: cust.ContactID,
	}
	if cust.Address != nil {
		cn.Address = *cust.Address
	}
	if inv != nil {
		cn.AssociatedInvoiceID = inv.InvoiceID
		if inv.Address != nil {
			cn.Address = *inv.Address
		}
		inv.AssociatedCreditNotes = append(inv.AssociatedCreditNotes, cn.CreditNoteID)
		sale := st.sales[inv.saleID]
		if !sale.Settled {
			sale.credited += gross
			sale.OutstandingBalance -= gross
			cn.Settled = true
			if sale.OutstandingBalance <= 0 {
				sale.Settled, sale.SettledDate = true, req.IssueDate
			}
		}
		st.touchSale(sale)
	}
	st.creditNotes[cn.CreditNoteID] = cn
	return cn, nil
}
