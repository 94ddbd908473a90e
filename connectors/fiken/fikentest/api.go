package fikentest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/routers"
)

// dispatch runs the operation the spec router matched. The request has
// passed spec validation, so bodies decode into the write types.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, route *routers.Route, params map[string]string, body []byte) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	q := r.URL.Query()
	id := func(name string) int64 {
		v, _ := strconv.ParseInt(params[name], 10, 64)
		return v
	}
	loc := func(parts ...any) string {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		p := fmt.Sprintf("%s://%s%s/companies/%s", scheme, r.Host, APIPrefix, st.company.Slug)
		for _, x := range parts {
			p += fmt.Sprintf("/%v", x)
		}
		return p
	}
	var err error
	switch route.Operation.OperationID {
	case "getUser":
		writeJSON(w, 200, map[string]string{"name": "Demo Bruker", "email": "demo@example.no"})
	case "getCompanies":
		paginate(w, q, []Company{st.company})
	case "getCompany":
		writeJSON(w, 200, st.company)

	case "getAccounts":
		var out []Account
		for _, a := range st.accounts {
			n, _ := strconv.Atoi(a.Code[:4])
			if f := q.Get("fromAccount"); f != "" {
				if fv, _ := strconv.Atoi(f); n < fv {
					continue
				}
			}
			if t := q.Get("toAccount"); t != "" {
				if tv, _ := strconv.Atoi(t); n > tv {
					continue
				}
			}
			out = append(out, a)
		}
		paginate(w, q, out)
	case "getAccount":
		for _, a := range st.accounts {
			if a.Code == params["accountCode"] {
				writeJSON(w, 200, a)
				return
			}
		}
		err = notFound("account", params["accountCode"])
	case "getBankAccounts":
		var out []BankAccount
		for _, b := range st.bankAccounts {
			if matchBool(q, "inactive", b.Inactive) {
				out = append(out, *b)
			}
		}
		paginate(w, q, out)
	case "getBankAccount":
		for _, b := range st.bankAccounts {
			if b.BankAccountID == id("bankAccountId") {
				writeJSON(w, 200, b)
				return
			}
		}
		err = notFound("bank account", params["bankAccountId"])

	case "getProducts":
		var out []Product
		for _, k := range sortedKeys(st.products) {
			p := st.products[k]
			if matchDate(q, "createdDate", p.CreatedDate) && matchDate(q, "lastModified", p.LastModifiedDate) &&
				matchString(q, "name", p.Name) && matchString(q, "productNumber", p.ProductNumber) &&
				matchBool(q, "active", p.Active) {
				out = append(out, *p)
			}
		}
		paginate(w, q, out)
	case "getProduct":
		if p, ok := st.products[id("productId")]; ok {
			writeJSON(w, 200, p)
			return
		}
		err = notFound("product", params["productId"])
	case "createProduct", "updateProduct":
		var pw productWrite
		if err = strictDecode(body, &pw); err != nil {
			break
		}
		if err = st.checkIncome(pw.IncomeAccount, pw.VatType); err != nil {
			break
		}
		today := st.today()
		p := &Product{ProductID: id("productId"), CreatedDate: today}
		if route.Operation.OperationID == "updateProduct" {
			old, ok := st.products[p.ProductID]
			if !ok {
				err = notFound("product", p.ProductID)
				break
			}
			p.CreatedDate = old.CreatedDate
		} else {
			p.ProductID = st.id()
		}
		p.LastModifiedDate = today
		p.Name, p.UnitPrice, p.IncomeAccount, p.VatType = pw.Name, pw.UnitPrice, pw.IncomeAccount, pw.VatType
		p.Active, p.ProductNumber, p.Stock, p.Note = pw.Active, pw.ProductNumber, pw.Stock, pw.Note
		st.products[p.ProductID] = p
		w.Header().Set("Location", loc("products", p.ProductID))
		if route.Operation.OperationID == "createProduct" {
			w.WriteHeader(http.StatusCreated)
		}
	case "deleteProduct":
		pid := id("productId")
		if _, ok := st.products[pid]; !ok {
			err = notFound("product", pid)
			break
		}
		for _, inv := range st.invoices {
			for _, l := range inv.Lines {
				if l.ProductID == pid {
					err = badRequest("product %d is used on invoices and cannot be deleted; set active=false instead", pid)
				}
			}
		}
		if err == nil {
			delete(st.products, pid)
			w.WriteHeader(http.StatusNoContent)
		}

	case "getContacts":
		var out []Contact
		for _, k := range sortedKeys(st.contacts) {
			c := st.contacts[k]
			if matchDate(q, "createdDate", c.CreatedDate) && matchDate(q, "lastModified", c.LastModifiedDate) &&
				matchString(q, "name", c.Name) && matchString(q, "email", c.Email) &&
				matchString(q, "organizationNumber", c.OrganizationNumber) &&
				matchString(q, "memberNumberString", c.MemberNumberString) &&
				matchString(q, "phoneNumber", c.PhoneNumber) &&
				matchBool(q, "inactive", c.Inactive) &&
				(q.Get("customer") != "true" || c.Customer) && (q.Get("supplier") != "true" || c.Supplier) &&
				matchNumber(q, "customerNumber", c.CustomerNumber) && matchNumber(q, "supplierNumber", c.SupplierNumber) &&
				matchMember(q, c.MemberNumber) {
				out = append(out, *c)
			}
		}
		paginate(w, q, out)
	case "getContact":
		if c, ok := st.contacts[id("contactId")]; ok {
			writeJSON(w, 200, c)
			return
		}
		err = notFound("contact", params["contactId"])
	case "createContact", "updateContact":
		var cw contactWrite
		if err = strictDecode(body, &cw); err != nil {
			break
		}
		today := st.today()
		c := &Contact{ContactID: id("contactId"), CreatedDate: today}
		var old *Contact
		if route.Operation.OperationID == "updateContact" {
			var ok bool
			if old, ok = st.contacts[c.ContactID]; !ok {
				err = notFound("contact", c.ContactID)
				break
			}
			*c = *old
		} else {
			c.ContactID = st.id()
		}
		c.LastModifiedDate = today
		c.Name, c.Email, c.OrganizationNumber, c.PhoneNumber = cw.Name, cw.Email, cw.OrganizationNumber, cw.PhoneNumber
		c.MemberNumber, c.MemberNumberString, c.Customer, c.Supplier = cw.MemberNumber, cw.MemberNumberString, cw.Customer, cw.Supplier
		c.BankAccountNumber, c.Currency, c.Language, c.Inactive = cw.BankAccountNumber, cw.Currency, cw.Language, cw.Inactive
		c.DaysUntilInvoicingDueDate, c.Discount, c.Address, c.Groups = cw.DaysUntilInvoicingDueDate, cw.Discount, cw.Address, cw.Groups
		c.ContactPerson = make([]ContactPerson, 0, len(cw.ContactPerson))
		for i, cp := range cw.ContactPerson {
			if old != nil && i < len(old.ContactPerson) {
				cp.ContactPersonID = old.ContactPerson[i].ContactPersonID
			} else {
				cp.ContactPersonID = st.id()
			}
			c.ContactPerson = append(c.ContactPerson, cp)
		}
		st.numberContact(c)
		st.contacts[c.ContactID] = c
		w.Header().Set("Location", loc("contacts", c.ContactID))
		if route.Operation.OperationID == "createContact" {
			w.WriteHeader(http.StatusCreated)
		}
	case "deleteContact":
		cid := id("contactId")
		c, ok := st.contacts[cid]
		if !ok {
			err = notFound("contact", cid)
			break
		}
		for _, inv := range st.invoices {
			if inv.customerID == cid {
				c.Inactive = true
				c.LastModifiedDate = st.today()
				writeJSON(w, 200, c)
				return
			}
		}
		delete(st.contacts, cid)
		w.WriteHeader(http.StatusNoContent)

	case "getInvoices":
		var out []Invoice
		for _, k := range sortedKeys(st.invoices) {
			inv := st.invoices[k]
			sale := st.sales[inv.saleID]
			if matchDate(q, "issueDate", inv.IssueDate) && matchDate(q, "lastModified", inv.LastModifiedDate) &&
				matchDate(q, "dueDate", inv.DueDate) && matchBool(q, "settled", sale.Settled) &&
				matchString(q, "orderReference", inv.OrderReference) &&
				matchString(q, "invoiceDraftUuid", inv.InvoiceDraftUUID) &&
				matchString(q, "invoiceNumber", strconv.FormatInt(inv.InvoiceNumber, 10)) &&
				matchString(q, "customerId", strconv.FormatInt(inv.customerID, 10)) {
				out = append(out, st.renderInvoice(inv))
			}
		}
		paginate(w, q, out)
	case "getInvoice":
		if inv, ok := st.invoices[id("invoiceId")]; ok {
			writeJSON(w, 200, st.renderInvoice(inv))
			return
		}
		err = notFound("invoice", params["invoiceId"])
	case "createInvoice":
		var req invoiceRequest
		if err = strictDecode(body, &req); err != nil {
			break
		}
		var inv *Invoice
		if inv, err = st.createInvoice(req); err != nil {
			break
		}
		w.Header().Set("Location", loc("invoices", inv.InvoiceID))
		w.WriteHeader(http.StatusCreated)
	case "updateInvoice":
		var req struct {
			NewDueDate   string `json:"newDueDate"`
			SentManually *bool  `json:"sentManually"`
		}
		if err = strictDecode(body, &req); err != nil {
			break
		}
		inv, ok := st.invoices[id("invoiceId")]
		if !ok {
			err = notFound("invoice", params["invoiceId"])
			break
		}
		if req.NewDueDate != "" {
			if inv.OriginalDueDate == "" {
				inv.OriginalDueDate = inv.DueDate
			}
			inv.DueDate = req.NewDueDate
			st.sales[inv.saleID].DueDate = req.NewDueDate
		}
		if req.SentManually != nil {
			inv.SentManually = *req.SentManually
		}
		inv.LastModifiedDate = st.today()
		w.Header().Set("Location", loc("invoices", inv.InvoiceID))
	case "sendInvoice":
		var req struct {
			InvoiceID                  int64    `json:"invoiceId"`
			Method                     []string `json:"method"`
			IncludeDocumentAttachments bool     `json:"includeDocumentAttachments"`
			RecipientName              string   `json:"recipientName"`
			RecipientEmail             string   `json:"recipientEmail"`
			Message                    string   `json:"message"`
			EmailSendOption            string   `json:"emailSendOption"`
			MergeInvoiceAndAttachments bool     `json:"mergeInvoiceAndAttachments"`
			OrganizationNumber         string   `json:"organizationNumber"`
			MobileNumber               string   `json:"mobileNumber"`
		}
		if err = strictDecode(body, &req); err != nil {
			break
		}
		inv, ok := st.invoices[req.InvoiceID]
		if !ok {
			err = badRequest("invoiceId %d: invoice not found", req.InvoiceID)
			break
		}
		cust := st.contacts[inv.customerID]
		if req.OrganizationNumber != "" {
			c := *cust
			c.OrganizationNumber = req.OrganizationNumber
			cust = &c
		}
		m, ok := sendMethod(req.Method, cust, req.RecipientEmail, req.MobileNumber)
		if !ok {
			err = badRequest("The invoice could not be sent with any of the methods %s: the customer lacks the details they need", strings.Join(req.Method, ", "))
			break
		}
		inv.Dispatches = append(inv.Dispatches, Dispatch{Date: st.today(), DispatchType: m})
		inv.LastModifiedDate = st.today()
		w.WriteHeader(http.StatusOK)
	case "getInvoiceCounter", "getCreditNoteCounter":
		c := st.invoiceCounter
		if route.Operation.OperationID == "getCreditNoteCounter" {
			c = st.creditCounter
		}
		if c == nil {
			err = &apiError{status: 404, msg: "Counter has not been initialized"}
			break
		}
		writeJSON(w, 200, map[string]int64{"value": *c})
	case "createInvoiceCounter", "createCreditNoteCounter":
		var req struct {
			Value *int64 `json:"value"`
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err = strictDecode(body, &req); err != nil {
				break
			}
		}
		target := &st.invoiceCounter
		if route.Operation.OperationID == "createCreditNoteCounter" {
			target = &st.creditCounter
		}
		if *target != nil {
			err = badRequest("Counter already exists")
			break
		}
		v := int64(10000)
		if req.Value != nil {
			v = *req.Value
		}
		*target = &v
		w.WriteHeader(http.StatusCreated)

	case "getCreditNotes":
		var out []CreditNote
		for _, k := range sortedKeys(st.creditNotes) {
			cn := st.creditNotes[k]
			if matchDate(q, "issueDate", cn.IssueDate) && matchDate(q, "lastModified", cn.LastModifiedDate) &&
				matchBool(q, "settled", cn.Settled) && matchString(q, "customerId", strconv.FormatInt(cn.customerID, 10)) &&
				q.Get("creditNoteDraftUuid") == "" {
				out = append(out, st.renderCreditNote(cn))
			}
		}
		paginate(w, q, out)
	case "getCreditNote":
		cid, _ := strconv.ParseInt(params["creditNoteId"], 10, 64)
		if cn, ok := st.creditNotes[cid]; ok {
			writeJSON(w, 200, st.renderCreditNote(cn))
			return
		}
		err = notFound("credit note", params["creditNoteId"])
	case "createFullCreditNote":
		var req struct {
			IssueDate      string `json:"issueDate"`
			InvoiceID      int64  `json:"invoiceId"`
			CreditNoteText string `json:"creditNoteText"`
		}
		if err = strictDecode(body, &req); err != nil {
			break
		}
		var cn *CreditNote
		if cn, err = st.fullCreditNote(req.InvoiceID, req.IssueDate, req.CreditNoteText); err != nil {
			break
		}
		w.Header().Set("Location", loc("creditNotes", cn.CreditNoteID))
		w.WriteHeader(http.StatusCreated)
	case "createPartialCreditNote":
		var req partialCreditNoteRequest
		if err = strictDecode(body, &req); err != nil {
			break
		}
		var cn *CreditNote
		if cn, err = st.partialCreditNote(req); err != nil {
			break
		}
		w.Header().Set("Location", loc("creditNotes", cn.CreditNoteID))
		w.WriteHeader(http.StatusCreated)

	case "getSales":
		var out []Sale
		for _, k := range sortedKeys(st.sales) {
			sale := st.sales[k]
			if matchDate(q, "date", sale.Date) && matchDate(q, "lastModified", sale.LastModifiedDate) &&
				matchString(q, "saleNumber", sale.SaleNumber) && matchBool(q, "settled", sale.Settled) &&
				matchString(q, "contactId", strconv.FormatInt(sale.customerID, 10)) {
				out = append(out, st.renderSale(sale))
			}
		}
		paginate(w, q, out)
	case "getSale":
		if sale, ok := st.sales[id("saleId")]; ok {
			writeJSON(w, 200, st.renderSale(sale))
			return
		}
		err = notFound("sale", params["saleId"])
	case "getSalePayments":
		sale, ok := st.sales[id("saleId")]
		if !ok {
			err = notFound("sale", params["saleId"])
			break
		}
		writeJSON(w, 200, sale.SalePayments)
	case "getSalePayment":
		sale, ok := st.sales[id("saleId")]
		if !ok {
			err = notFound("sale", params["saleId"])
			break
		}
		for _, p := range sale.SalePayments {
			if p.PaymentID == id("paymentId") {
				writeJSON(w, 200, p)
				return
			}
		}
		err = notFound("payment", params["paymentId"])
	case "createSalePayment":
		var p Payment
		if err = strictDecode(body, &p); err != nil {
			break
		}
		sale, ok := st.sales[id("saleId")]
		if !ok {
			err = notFound("sale", params["saleId"])
			break
		}
		if p.Amount <= 0 {
			err = badRequest("amount must be positive")
			break
		}
		if st.bankAccountByCode(p.Account) == nil {
			err = badRequest("account %s: no bank account with that code", p.Account)
			break
		}
		if sale.Settled {
			err = badRequest("sale %d is already settled", sale.SaleID)
			break
		}
		p = st.addPayment(sale, p)
		w.Header().Set("Location", loc("sales", sale.SaleID, "payments", p.PaymentID))
		w.WriteHeader(http.StatusCreated)
	default:
		err = &apiError{status: http.StatusNotImplemented, msg: "the emulator does not implement " + route.Operation.OperationID}
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			writeError(w, ae.status, ae.msg)
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
	}
}

// numberContact gives customers and suppliers their numbers and ledger
// sub-accounts, once.
func (st *state) numberContact(c *Contact) {
	if c.Customer && c.CustomerNumber == nil {
		st.customerNumber++
		n := 10000 + st.customerNumber
		c.CustomerNumber = &n
		c.CustomerAccountCode = fmt.Sprintf("1500:%d", n)
	}
	if c.Supplier && c.SupplierNumber == nil {
		n := 20000 + c.ContactID%10000
		c.SupplierNumber = &n
		c.SupplierAccountCode = fmt.Sprintf("2400:%d", n)
	}
}

func matchNumber(q url.Values, param string, v *int64) bool {
	s := q.Get(param)
	return s == "" || (v != nil && strconv.FormatInt(*v, 10) == s)
}

func matchMember(q url.Values, v *float64) bool {
	s := q.Get("memberNumber")
	if s == "" {
		return true
	}
	n, err := strconv.ParseFloat(s, 64)
	return err == nil && v != nil && *v == n
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid request body: %v", err)
	}
	return nil
}

// paginate answers a list the way Fiken does: a bare JSON array and the
// Fiken-Api-* headers, page 0-based, 25 per page unless pageSize says.
func paginate[T any](w http.ResponseWriter, q url.Values, items []T) {
	page, size := 0, 25
	if v, err := strconv.Atoi(q.Get("page")); err == nil {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("pageSize")); err == nil && v > 0 {
		size = v
	}
	total := len(items)
	pages := (total + size - 1) / size
	h := w.Header()
	h.Set("Fiken-Api-Page", strconv.Itoa(page))
	h.Set("Fiken-Api-Page-Size", strconv.Itoa(size))
	h.Set("Fiken-Api-Page-Count", strconv.Itoa(pages))
	h.Set("Fiken-Api-Result-Count", strconv.Itoa(total))
	start := min(page*size, total)
	end := min(start+size, total)
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	writeJSON(w, http.StatusOK, out)
}
