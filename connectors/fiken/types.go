package fiken

// Types follow Fiken's spec (JSON names, money as integer øre, dates
// "yyyy-MM-dd"). Read-only fields use omitempty so a value read and written
// back does not send them; the client clears them before a write.

// Address is a postal address; Country is required by Fiken.
type Address struct {
	StreetAddress      string `json:"streetAddress,omitempty"`
	StreetAddressLine2 string `json:"streetAddressLine2,omitempty"`
	City               string `json:"city,omitempty"`
	PostCode           string `json:"postCode,omitempty"`
	Country            string `json:"country"`
}

// Product is a product (vare).
type Product struct {
	ProductID        int64    `json:"productId,omitempty"`
	CreatedDate      string   `json:"createdDate,omitempty"`
	LastModifiedDate string   `json:"lastModifiedDate,omitempty"`
	Name             string   `json:"name"`
	UnitPrice        *int64   `json:"unitPrice,omitempty"`
	IncomeAccount    string   `json:"incomeAccount"`
	VatType          string   `json:"vatType"`
	Active           bool     `json:"active"`
	ProductNumber    string   `json:"productNumber,omitempty"`
	Stock            *float64 `json:"stock,omitempty"`
	Note             string   `json:"note,omitempty"`
}

func (p *Product) clearReadOnly() { p.ProductID, p.CreatedDate, p.LastModifiedDate = 0, "", "" }

// ContactPerson is a contact person of a contact.
type ContactPerson struct {
	ContactPersonID int64    `json:"contactPersonId,omitempty"`
	Name            string   `json:"name"`
	Email           string   `json:"email"`
	PhoneNumber     string   `json:"phoneNumber,omitempty"`
	Address         *Address `json:"address,omitempty"`
}

// Contact is a customer and/or supplier.
type Contact struct {
	ContactID                 int64           `json:"contactId,omitempty"`
	CreatedDate               string          `json:"createdDate,omitempty"`
	LastModifiedDate          string          `json:"lastModifiedDate,omitempty"`
	Name                      string          `json:"name"`
	Email                     string          `json:"email,omitempty"`
	OrganizationNumber        string          `json:"organizationNumber,omitempty"`
	CustomerNumber            int64           `json:"customerNumber,omitempty"`
	CustomerAccountCode       string          `json:"customerAccountCode,omitempty"`
	PhoneNumber               string          `json:"phoneNumber,omitempty"`
	MemberNumber              *float64        `json:"memberNumber,omitempty"`
	MemberNumberString        string          `json:"memberNumberString,omitempty"`
	SupplierNumber            int64           `json:"supplierNumber,omitempty"`
	SupplierAccountCode       string          `json:"supplierAccountCode,omitempty"`
	Customer                  bool            `json:"customer,omitempty"`
	Supplier                  bool            `json:"supplier,omitempty"`
	BankAccountNumber         string          `json:"bankAccountNumber,omitempty"`
	ContactPerson             []ContactPerson `json:"contactPerson,omitempty"`
	Currency                  string          `json:"currency,omitempty"`
	Language                  string          `json:"language,omitempty"`
	Inactive                  bool            `json:"inactive,omitempty"`
	DaysUntilInvoicingDueDate *int64          `json:"daysUntilInvoicingDueDate,omitempty"`
	Discount                  *float64        `json:"discount,omitempty"`
	Address                   *Address        `json:"address,omitempty"`
	Groups                    []string        `json:"groups,omitempty"`
	Notes                     []any           `json:"notes,omitempty"`
	Documents                 []any           `json:"documents,omitempty"`
}

func (c *Contact) clearReadOnly() {
	c.ContactID, c.CreatedDate, c.LastModifiedDate = 0, "", ""
	c.CustomerNumber, c.CustomerAccountCode, c.SupplierNumber, c.SupplierAccountCode = 0, "", 0, ""
	c.Notes, c.Documents = nil, nil
	for i := range c.ContactPerson {
		c.ContactPerson[i].ContactPersonID = 0
	}
}

// InvoiceLine is a line of an invoice or credit note as Fiken returns it.
type InvoiceLine struct {
	Net           int64   `json:"net"`
	Vat           int64   `json:"vat"`
	VatType       string  `json:"vatType,omitempty"`
	Gross         int64   `json:"gross"`
	NetInNok      int64   `json:"netInNok,omitempty"`
	VatInNok      int64   `json:"vatInNok,omitempty"`
	GrossInNok    int64   `json:"grossInNok,omitempty"`
	VatInPercent  float64 `json:"vatInPercent,omitempty"`
	UnitPrice     int64   `json:"unitPrice"`
	Quantity      float64 `json:"quantity"`
	Discount      float64 `json:"discount,omitempty"`
	ProductID     int64   `json:"productId,omitempty"`
	ProductName   string  `json:"productName,omitempty"`
	Description   string  `json:"description,omitempty"`
	Comment       string  `json:"comment,omitempty"`
	IncomeAccount string  `json:"incomeAccount,omitempty"`
}

// Dispatch is one sending of an invoice.
type Dispatch struct {
	Date         string `json:"date,omitempty"`
	DispatchType string `json:"dispatchType,omitempty"`
}

// Invoice is an invoice as Fiken returns it, with its sale.
type Invoice struct {
	InvoiceID             int64         `json:"invoiceId"`
	CreatedDate           string        `json:"createdDate,omitempty"`
	LastModifiedDate      string        `json:"lastModifiedDate,omitempty"`
	InvoiceNumber         int64         `json:"invoiceNumber"`
	Kid                   string        `json:"kid,omitempty"`
	IssueDate             string        `json:"issueDate,omitempty"`
	DueDate               string        `json:"dueDate,omitempty"`
	OriginalDueDate       string        `json:"originalDueDate,omitempty"`
	Net                   int64         `json:"net"`
	Vat                   int64         `json:"vat"`
	Gross                 int64         `json:"gross"`
	Cash                  bool          `json:"cash"`
	InvoiceText           string        `json:"invoiceText,omitempty"`
	YourReference         string        `json:"yourReference,omitempty"`
	OurReference          string        `json:"ourReference,omitempty"`
	OrderReference        string        `json:"orderReference,omitempty"`
	InvoiceDraftUUID      string        `json:"invoiceDraftUuid,omitempty"`
	Lines                 []InvoiceLine `json:"lines,omitempty"`
	Currency              string        `json:"currency,omitempty"`
	BankAccountNumber     string        `json:"bankAccountNumber,omitempty"`
	SentManually          bool          `json:"sentManually"`
	AssociatedCreditNotes []int64       `json:"associatedCreditNotes,omitempty"`
	Customer              *Contact      `json:"customer,omitempty"`
	Sale                  *Sale         `json:"sale,omitempty"`
	Dispatches            []Dispatch    `json:"dispatches,omitempty"`
}

// InvoiceLineRequest is a line of a new invoice: a product line (ProductID,
// Quantity; price, VAT and account from the product unless given) or a free
// text line (VatType, UnitPrice, IncomeAccount, Description).
type InvoiceLineRequest struct {
	Net           *int64   `json:"net,omitempty"`
	Vat           *int64   `json:"vat,omitempty"`
	VatType       string   `json:"vatType,omitempty"`
	Gross         *int64   `json:"gross,omitempty"`
	VatInPercent  *float64 `json:"vatInPercent,omitempty"`
	UnitPrice     *int64   `json:"unitPrice,omitempty"`
	Quantity      float64  `json:"quantity"`
	Discount      *float64 `json:"discount,omitempty"`
	ProductName   string   `json:"productName,omitempty"`
	ProductID     int64    `json:"productId,omitempty"`
	Description   string   `json:"description,omitempty"`
	Comment       string   `json:"comment,omitempty"`
	IncomeAccount string   `json:"incomeAccount,omitempty"`
}

// InvoiceRequest is the body of POST /invoices.
type InvoiceRequest struct {
	UUID            string               `json:"uuid,omitempty"`
	IssueDate       string               `json:"issueDate"`
	DueDate         string               `json:"dueDate"`
	Lines           []InvoiceLineRequest `json:"lines"`
	OurReference    string               `json:"ourReference,omitempty"`
	YourReference   string               `json:"yourReference,omitempty"`
	OrderReference  string               `json:"orderReference,omitempty"`
	CustomerID      int64                `json:"customerId"`
	ContactPersonID int64                `json:"contactPersonId,omitempty"`
	BankAccountCode string               `json:"bankAccountCode"`
	Currency        string               `json:"currency,omitempty"`
	InvoiceText     string               `json:"invoiceText,omitempty"`
	Cash            bool                 `json:"cash"`
	PaymentAccount  string               `json:"paymentAccount,omitempty"`
	ProjectID       int64                `json:"projectId,omitempty"`
	RoundingType    string               `json:"roundingType,omitempty"`
}

// SendInvoiceRequest is the body of POST /invoices/send. Method is a
// priority list: Fiken uses the first that reaches the customer.
type SendInvoiceRequest struct {
	InvoiceID                  int64    `json:"invoiceId"`
	Method                     []string `json:"method"`
	IncludeDocumentAttachments bool     `json:"includeDocumentAttachments"`
	RecipientName              string   `json:"recipientName,omitempty"`
	RecipientEmail             string   `json:"recipientEmail,omitempty"`
	Message                    string   `json:"message,omitempty"`
	EmailSendOption            string   `json:"emailSendOption,omitempty"`
	OrganizationNumber         string   `json:"organizationNumber,omitempty"`
	MobileNumber               string   `json:"mobileNumber,omitempty"`
}

// Payment is a payment on a sale.
type Payment struct {
	PaymentID   int64  `json:"paymentId,omitempty"`
	Date        string `json:"date"`
	Account     string `json:"account"`
	Amount      int64  `json:"amount"`
	AmountInNok int64  `json:"amountInNok,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Fee         int64  `json:"fee,omitempty"`
}

// OrderLine is a line of a sale.
type OrderLine struct {
	Description string `json:"description"`
	NetPrice    int64  `json:"netPrice"`
	Vat         int64  `json:"vat"`
	Account     string `json:"account,omitempty"`
	VatType     string `json:"vatType"`
}

// Sale is the receivable behind an invoice; Settled is its paid state.
type Sale struct {
	SaleID             int64       `json:"saleId"`
	LastModifiedDate   string      `json:"lastModifiedDate,omitempty"`
	TransactionID      int64       `json:"transactionId,omitempty"`
	SaleNumber         string      `json:"saleNumber,omitempty"`
	Date               string      `json:"date,omitempty"`
	Kind               string      `json:"kind,omitempty"`
	NetAmount          int64       `json:"netAmount"`
	VatAmount          int64       `json:"vatAmount"`
	Settled            bool        `json:"settled"`
	SettledDate        string      `json:"settledDate,omitempty"`
	WriteOff           bool        `json:"writeOff"`
	TotalPaid          int64       `json:"totalPaid"`
	OutstandingBalance int64       `json:"outstandingBalance"`
	Lines              []OrderLine `json:"lines,omitempty"`
	Customer           *Contact    `json:"customer,omitempty"`
	Currency           string      `json:"currency,omitempty"`
	DueDate            string      `json:"dueDate,omitempty"`
	Kid                string      `json:"kid,omitempty"`
	SalePayments       []Payment   `json:"salePayments,omitempty"`
	Deleted            bool        `json:"deleted"`
}

// CreditNote is a credit note.
type CreditNote struct {
	CreditNoteID        int64         `json:"creditNoteId"`
	CreditNoteNumber    int64         `json:"creditNoteNumber"`
	Kid                 string        `json:"kid,omitempty"`
	Customer            *Contact      `json:"customer,omitempty"`
	Net                 int64         `json:"net"`
	Vat                 int64         `json:"vat"`
	Gross               int64         `json:"gross"`
	CreditNoteText      string        `json:"creditNoteText,omitempty"`
	OurReference        string        `json:"ourReference,omitempty"`
	OrderReference      string        `json:"orderReference,omitempty"`
	Lines               []InvoiceLine `json:"lines,omitempty"`
	Currency            string        `json:"currency,omitempty"`
	IssueDate           string        `json:"issueDate,omitempty"`
	LastModifiedDate    string        `json:"lastModifiedDate,omitempty"`
	Settled             bool          `json:"settled"`
	AssociatedInvoiceID int64         `json:"associatedInvoiceId,omitempty"`
}

// FullCreditNoteRequest is the body of POST /creditNotes/full.
type FullCreditNoteRequest struct {
	IssueDate      string `json:"issueDate"`
	InvoiceID      int64  `json:"invoiceId"`
	CreditNoteText string `json:"creditNoteText,omitempty"`
}

// PartialCreditNoteRequest is the body of POST /creditNotes/partial: lines
// credited against an invoice (Fiken's partialCreditNoteRequest; a note
// without an invoice would need contactId, which synk does not make).
type PartialCreditNoteRequest struct {
	IssueDate      string           `json:"issueDate"`
	InvoiceID      int64            `json:"invoiceId"`
	CreditNoteText string           `json:"creditNoteText,omitempty"`
	Lines          []CreditNoteLine `json:"lines"`
}

// CreditNoteLine is a line of a partial credit note (Fiken's
// creditNoteLineResult): a net unit price and a quantity, no amounts;
// Fiken computes net and VAT from them and the vatType (the product's
// when the line has none).
type CreditNoteLine struct {
	UnitPrice     int64   `json:"unitPrice"`
	Quantity      float64 `json:"quantity"`
	ProductID     int64   `json:"productId,omitempty"`
	Description   string  `json:"description,omitempty"`
	Comment       string  `json:"comment,omitempty"`
	VatType       string  `json:"vatType,omitempty"`
	IncomeAccount string  `json:"incomeAccount,omitempty"`
	Discount      float64 `json:"discount,omitempty"`
}

// BankAccount is a bank account of the company.
type BankAccount struct {
	BankAccountID     int64  `json:"bankAccountId"`
	Name              string `json:"name"`
	AccountCode       string `json:"accountCode"`
	BankAccountNumber string `json:"bankAccountNumber,omitempty"`
	IBAN              string `json:"iban,omitempty"`
	BIC               string `json:"bic,omitempty"`
	Type              string `json:"type,omitempty"`
	Inactive          bool   `json:"inactive"`
}

// Account is a bookkeeping account ("3000", "1920:10001").
type Account struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Company is a company the token can use.
type Company struct {
	Name               string `json:"name"`
	Slug               string `json:"slug"`
	OrganizationNumber string `json:"organizationNumber,omitempty"`
	HasAPIAccess       bool   `json:"hasApiAccess"`
	TestCompany        bool   `json:"testCompany"`
}

// Counter is an invoice or credit note counter.
type Counter struct {
	Value int64 `json:"value"`
}
