package fikentest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// The back office acts like a person using Fiken's web app: the changes a
// sync must notice without having made them. Each is a Go method and an
// HTTP call under /_emulator/ (no auth, not part of Fiken's API).

// ManualLine is one line of a manual invoice.
type ManualLine struct {
	ProductID int64   `json:"productId"`
	Quantity  float64 `json:"quantity"`
	// UnitPrice overrides the product's price (øre) when set.
	UnitPrice *int64 `json:"unitPrice,omitempty"`
}

// ManualInvoice creates an invoice as a user would in Fiken (issued today,
// due in 14 days, on bank account 1920:10001); it draws stock down. The
// invoice counter is created first if it is missing, as the web app asks
// for a start number.
func (s *Server) ManualInvoice(customerID int64, lines []ManualLine) (Invoice, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.invoiceCounter == nil {
		v := int64(10000)
		st.invoiceCounter = &v
	}
	now := s.opts.Now()
	req := invoiceRequest{IssueDate: now.Format("2006-01-02"), DueDate: now.AddDate(0, 0, 14).Format("2006-01-02"),
		CustomerID: customerID, BankAccountCode: "1920:10001"}
	for _, l := range lines {
		req.Lines = append(req.Lines, lineRequest{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	if len(req.Lines) == 0 {
		return Invoice{}, errors.New("a manual invoice needs lines")
	}
	inv, err := st.createInvoice(req)
	if err != nil {
		return Invoice{}, err
	}
	return st.renderInvoice(inv), nil
}

// RegisterPayment registers a customer payment (e.g. a KID payment matched
// from the bank) on an invoice's sale. amount 0 pays the outstanding
// balance; date "" is today.
func (s *Server) RegisterPayment(invoiceID, amount int64, date string) (Payment, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	inv, ok := st.invoices[invoiceID]
	if !ok {
		return Payment{}, notFound("invoice", invoiceID)
	}
	sale := st.sales[inv.saleID]
	if sale.Settled {
		return Payment{}, badRequest("invoice %d is already settled", invoiceID)
	}
	if amount == 0 {
		amount = sale.OutstandingBalance
	}
	if date == "" {
		date = st.today()
	}
	return st.addPayment(sale, Payment{Date: date, Account: "1920:10001", Amount: amount}), nil
}

// EditProduct changes a product as a user would; the id and created date
// are kept, the last-modified date becomes today.
func (s *Server) EditProduct(id int64, edit func(*Product)) (Product, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.products[id]
	if !ok {
		return Product{}, notFound("product", id)
	}
	cp := *p
	edit(&cp)
	cp.ProductID, cp.CreatedDate, cp.LastModifiedDate = p.ProductID, p.CreatedDate, st.today()
	*p = cp
	return cp, nil
}

// EditContact changes a contact as a user would.
func (s *Server) EditContact(id int64, edit func(*Contact)) (Contact, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.contacts[id]
	if !ok {
		return Contact{}, notFound("contact", id)
	}
	cp := *c
	edit(&cp)
	cp.ContactID, cp.CreatedDate, cp.LastModifiedDate = c.ContactID, c.CreatedDate, st.today()
	if cp.ContactPerson == nil {
		cp.ContactPerson = []ContactPerson{}
	}
	*c = cp
	return cp, nil
}

// AdjustStock adds delta (may be negative) to a product's stock, as a
// stock count in Fiken would.
func (s *Server) AdjustStock(id int64, delta float64) (Product, error) {
	return s.EditProduct(id, func(p *Product) {
		v := delta
		if p.Stock != nil {
			v += *p.Stock
		}
		p.Stock = &v
	})
}

// InitCounters creates the invoice and credit note counters if missing.
func (s *Server) InitCounters() {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.invoiceCounter == nil {
		v := int64(10000)
		st.invoiceCounter = &v
	}
	if st.creditCounter == nil {
		v := int64(10000)
		st.creditCounter = &v
	}
}

// Products returns every product in creation order.
func (s *Server) Products() []Product {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Product
	for _, k := range sortedKeys(st.products) {
		out = append(out, *st.products[k])
	}
	return out
}

// Contacts returns every contact in creation order.
func (s *Server) Contacts() []Contact {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Contact
	for _, k := range sortedKeys(st.contacts) {
		out = append(out, *st.contacts[k])
	}
	return out
}

// Contact returns one contact in full, write-only fields included: what
// Fiken holds, which its API never shows.
func (s *Server) Contact(id int64) (Contact, bool) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return *c, true
}

// City is the contact's address city, or "".
func (c Contact) City() string {
	if c.Address == nil {
		return ""
	}
	return c.Address.City
}

// Invoices returns every invoice in creation order, with sale and customer.
func (s *Server) Invoices() []Invoice {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Invoice
	for _, k := range sortedKeys(st.invoices) {
		out = append(out, st.renderInvoice(st.invoices[k]))
	}
	return out
}

// CreditNotes returns every credit note in creation order.
func (s *Server) CreditNotes() []CreditNote {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []CreditNote
	for _, k := range sortedKeys(st.creditNotes) {
		out = append(out, st.renderCreditNote(st.creditNotes[k]))
	}
	return out
}

func (s *Server) backOfficeMux() http.Handler {
	mux := http.NewServeMux()
	idOf := func(r *http.Request) (int64, error) {
		return strconv.ParseInt(r.PathValue("id"), 10, 64)
	}
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				writeError(w, ae.status, ae.msg)
				return
			}
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
	mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Stats(), nil) })
	// What Fiken holds, write-only fields included (its API never shows them).
	mux.HandleFunc("GET /_emulator/contacts", func(w http.ResponseWriter, r *http.Request) { reply(w, s.Contacts(), nil) })
	mux.HandleFunc("GET /_emulator/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := idOf(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		c, ok := s.Contact(id)
		if !ok {
			reply(w, nil, notFound("contact", id))
			return
		}
		reply(w, c, nil)
	})
	mux.HandleFunc("GET /_emulator/violations", func(w http.ResponseWriter, r *http.Request) {
		v := s.Violations()
		if v == nil {
			v = []string{}
		}
		reply(w, v, nil)
	})
	mux.HandleFunc("POST /_emulator/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			reply(w, nil, err)
			return
		}
		s.SetFaults(f)
		reply(w, f, nil)
	})
	mux.HandleFunc("POST /_emulator/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_emulator/counters", func(w http.ResponseWriter, r *http.Request) {
		s.InitCounters()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_emulator/invoices", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			CustomerID int64        `json:"customerId"`
			Lines      []ManualLine `json:"lines"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		inv, err := s.ManualInvoice(req.CustomerID, req.Lines)
		reply(w, inv, err)
	})
	mux.HandleFunc("POST /_emulator/invoices/{id}/payments", func(w http.ResponseWriter, r *http.Request) {
		id, err := idOf(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var req struct {
			Amount int64  `json:"amount"`
			Date   string `json:"date"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				reply(w, nil, err)
				return
			}
		}
		p, err := s.RegisterPayment(id, req.Amount, req.Date)
		reply(w, p, err)
	})
	mux.HandleFunc("PATCH /_emulator/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := idOf(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var patchErr error
		p, err := s.EditProduct(id, func(p *Product) { patchErr = mergePatch(r, p) })
		if patchErr != nil {
			err = patchErr
		}
		reply(w, p, err)
	})
	mux.HandleFunc("PATCH /_emulator/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := idOf(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var patchErr error
		c, err := s.EditContact(id, func(c *Contact) { patchErr = mergePatch(r, c) })
		if patchErr != nil {
			err = patchErr
		}
		reply(w, c, err)
	})
	mux.HandleFunc("POST /_emulator/products/{id}/stock", func(w http.ResponseWriter, r *http.Request) {
		id, err := idOf(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var req struct {
			Delta float64 `json:"delta"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		p, err := s.AdjustStock(id, req.Delta)
		reply(w, p, err)
	})
	mux.HandleFunc("PUT /_emulator/api-module", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Active bool `json:"active"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, err)
			return
		}
		s.SetAPIModuleActive(req.Active)
		reply(w, req, nil)
	})
	return mux
}

// mergePatch applies a JSON merge patch from the request body to v; a
// failed patch leaves v unchanged.
func mergePatch(r *http.Request, v any) error {
	var patch map[string]any
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		return fmt.Errorf("patch body: %w", err)
	}
	cur, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(cur, &m); err != nil {
		return err
	}
	for k, val := range patch {
		if val == nil {
			delete(m, k)
			continue
		}
		m[k] = val
	}
	merged, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(merged, v)
}
