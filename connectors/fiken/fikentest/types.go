package fikentest

// The emulator keeps its own record types rather than sharing the
// connector's: a test double that reused the client's structs would agree
// with the client's mistakes. JSON names follow Fiken's spec.

// Address is Fiken's address object; country is required by the spec.
type Address struct {
	StreetAddress      string `json:"streetAddress,omitempty"`
	StreetAddressLine2 string `json:"streetAddressLine2,omitempty"`
	City               string `json:"city,omitempty"`
	PostCode           string `json:"postCode,omitempty"`
	Country            string `json:"country"`
}

// Product is a product (vare) as Fiken returns it.
type Product struct {
	ProductID        int64    `json:"productId"`
	CreatedDate      string   `json:"createdDate"`
	LastModifiedDate string   `json:"lastModifiedDate"`
	Name             string   `json:"name"`
	UnitPrice        *int64   `json:"unitPrice,omitempty"`
	IncomeAccount    string   `json:"incomeAccount"`
	VatType          string   `json:"vatType"`
	Active           bool     `json:"active"`
	ProductNumber    string   `json:"productNumber,omitempty"`
	Stock            *float64 `json:"stock,omitempty"`
	Note             string   `json:"note,omitempty"`
}

// productWrite is the body of POST and PUT /products: the spec marks the
// id and dates readOnly, so they are absent here and a request carrying them
// is refused by spec validation.
type productWrite struct {
	Name          string   `json:"name"`
	UnitPrice     *int64   `json:"unitPrice"`
	IncomeAccount string   `json:"incomeAccount"`
	VatType       string   `json:"vatType"`
	Active        bool     `json:"active"`
	ProductNumber string   `json:"productNumber"`
	Stock         *float64 `json:"stock"`
	Note          string   `json:"note"`
}

// ContactPerson is one contact person of a contact.
type ContactPerson struct {
	ContactPersonID int64    `json:"contactPersonId,omitempty"`
	Name            string   `json:"name"`
	Email           string   `json:"email"`
	PhoneNumber     string   `json:"phoneNumber,omitempty"`
	Address         *Address `json:"address,omitempty"`
}

// Contact is a customer and/or supplier, as the emulator holds it. The
// spec marks phoneNumber, memberNumber(String) and currency writeOnly: the
// API's answers leave them out (stripWriteOnly), the back office shows them.
type Contact struct {
	ContactID                 int64           `json:"contactId"`
	CreatedDate               string          `json:"createdDate"`
	LastModifiedDate          string          `json:"lastModifiedDate"`
	Name                      string          `json:"name"`
	Email                     string          `json:"email,omitempty"`
	OrganizationNumber        string          `json:"organizationNumber,omitempty"`
	CustomerNumber            *int64          `json:"customerNumber,omitempty"`
	CustomerAccountCode       string          `json:"customerAccountCode,omitempty"`
	PhoneNumber               string          `json:"phoneNumber,omitempty"`
	MemberNumber              *float64        `json:"memberNumber,omitempty"`
	MemberNumberString        string          `json:"memberNumberString,omitempty"`
	SupplierNumber            *int64          `json:"supplierNumber,omitempty"`
	SupplierAccountCode       string          `json:"supplierAccountCode,omitempty"`
	Customer                  bool            `json:"customer"`
	Supplier                  bool            `json:"supplier"`
	BankAccountNumber         string          `json:"bankAccountNumber,omitempty"`
	ContactPerson             []ContactPerson `json:"contactPerson"`
	Currency                  string          `json:"currency,omitempty"`
	Language                  *string         `json:"language,omitempty"`
	Inactive                  bool            `json:"inactive"`
	DaysUntilInvoicingDueDate *int64          `json:"daysUntilInvoicingDueDate,omitempty"`
	Discount                  *float64        `json:"discount,omitempty"`
	Address                   *Address        `json:"address,omitempty"`
	Groups                    []string        `json:"groups,omitempty"`
}

// contactWrite is the body of POST and PUT /contacts.
type contactWrite struct {
	Name                      string          `json:"name"`
	Email                     string          `json:"email"`
	OrganizationNumber        string          `json:"organizationNumber"`
	PhoneNumber               string          `json:"phoneNumber"`
	MemberNumber              *float64        `json:"memberNumber"`
	MemberNumberString        string          `json:"memberNumberString"`
	Customer                  bool            `json:"customer"`
	Supplier                  bool            `json:"supplier"`
	BankAccountNumber         string          `json:"bankAccountNumber"`
	ContactPerson             []ContactPerson `json:"contactPerson"`
	Currency                  string          `json:"currency"`
	Language                  *string         `json:"language"`
	Inactive                  bool            `json:"inactive"`
	DaysUntilInvoicingDueDate *int64          `json:"daysUntilInvoicingDueDate"`
	Discount                  *float64        `json:"discount"`
	Address                   *Address        `json:"address"`
	Groups                    []string        `json:"groups"`
}

// InvoiceLine is one line of an invoice or credit note.
type InvoiceLine struct {
	Net           int64   `json:"net"`
	Vat           int64   `json:"vat"`
	VatType       string  `json:"vatType"`
	Gross         int64   `json:"gross"`
	NetInNok      int64   `json:"netInNok"`
	VatInNok      int64   `json:"vatInNok"`
	GrossInNok    int64   `json:"grossInNok"`
	VatInPercent  float64 `json:"vatInPercent"`
	UnitPrice     int64   `json:"unitPrice"`
	Quantity      float64 `json:"quantity"`
	Discount      float64 `json:"discount,omitempty"`
	ProductID     int64   `json:"productId,omitempty"`
	ProductName   string  `json:"productName,omitempty"`
	Description   string  `json:"description,omitempty"`
	Comment       string  `json:"comment,omitempty"`
	IncomeAccount string  `json:"incomeAccount"`
}

// Dispatch records one sending of an invoice.
type Dispatch struct {
	Date         string `json:"date"`
	DispatchType string `json:"dispatchType"`
}

// Invoice is an invoice as stored; its sale and customer are rendered from
// their current state when it is returned.
type Invoice struct {
	InvoiceID             int64         `json:"invoiceId"`
	CreatedDate           string        `json:"createdDate"`
	LastModifiedDate      string        `json:"lastModifiedDate"`
	InvoiceNumber         int64         `json:"invoiceNumber"`
	Kid                   string        `json:"kid"`
	IssueDate             string        `json:"issueDate"`
	DueDate               string        `json:"dueDate"`
	OriginalDueDate       string        `json:"originalDueDate,omitempty"`
	Net                   int64         `json:"net"`
	Vat                   int64         `json:"vat"`
	Gross                 int64         `json:"gross"`
	NetInNok              int64         `json:"netInNok"`
	VatInNok              int64         `json:"vatInNok"`
	GrossInNok            int64         `json:"grossInNok"`
	Cash                  bool          `json:"cash"`
	InvoiceText           string        `json:"invoiceText,omitempty"`
	YourReference         string        `json:"yourReference,omitempty"`
	OurReference          string        `json:"ourReference,omitempty"`
	OrderReference        string        `json:"orderReference,omitempty"`
	InvoiceDraftUUID      string        `json:"invoiceDraftUuid"`
	Address               *Address      `json:"address,omitempty"`
	Lines                 []InvoiceLine `json:"lines"`
	Currency              string        `json:"currency"`
	BankAccountNumber     string        `json:"bankAccountNumber,omitempty"`
	SentManually          bool          `json:"sentManually"`
	AssociatedCreditNotes []int64       `json:"associatedCreditNotes"`
	Customer              *Contact      `json:"customer,omitempty"`
	Sale                  *Sale         `json:"sale,omitempty"`
	Dispatches            []Dispatch    `json:"dispatches"`

	saleID     int64
	customerID int64
}

// OrderLine is a line of a sale.
type OrderLine struct {
	Description string `json:"description"`
	NetPrice    int64  `json:"netPrice"`
	Vat         int64  `json:"vat"`
	Account     string `json:"account,omitempty"`
	VatType     string `json:"vatType"`
}

// Payment is a payment registered on a sale.
type Payment struct {
	PaymentID int64  `json:"paymentId,omitempty"`
	Date      string `json:"date"`
	Account   string `json:"account"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency,omitempty"`
	Fee       *int64 `json:"fee,omitempty"`
}

// Sale is the receivable behind an invoice; settled is the paid state.
type Sale struct {
	SaleID             int64       `json:"saleId"`
	LastModifiedDate   string      `json:"lastModifiedDate"`
	TransactionID      int64       `json:"transactionId"`
	SaleNumber         string      `json:"saleNumber"`
	Date               string      `json:"date"`
	Kind               string      `json:"kind"`
	NetAmount          int64       `json:"netAmount"`
	VatAmount          int64       `json:"vatAmount"`
	Settled            bool        `json:"settled"`
	SettledDate        string      `json:"settledDate,omitempty"`
	WriteOff           bool        `json:"writeOff"`
	TotalPaid          int64       `json:"totalPaid"`
	OutstandingBalance int64       `json:"outstandingBalance"`
	Lines              []OrderLine `json:"lines"`
	Customer           *Contact    `json:"customer,omitempty"`
	Currency           string      `json:"currency"`
	DueDate            string      `json:"dueDate,omitempty"`
	Kid                string      `json:"kid,omitempty"`
	SalePayments       []Payment   `json:"salePayments"`
	Deleted            bool        `json:"deleted"`

	customerID int64
	gross      int64
	// credited is what partial credit notes took off an unpaid sale.
	credited int64
}

// CreditNote is a credit note: full (a copy of its invoice) or partial
// (lines of its own).
type CreditNote struct {
	CreditNoteID        int64         `json:"creditNoteId"`
	CreditNoteNumber    int64         `json:"creditNoteNumber"`
	Kid                 string        `json:"kid,omitempty"`
	Customer            *Contact      `json:"customer"`
	Net                 int64         `json:"net"`
	Vat                 int64         `json:"vat"`
	Gross               int64         `json:"gross"`
	NetInNok            int64         `json:"netInNok"`
	VatInNok            int64         `json:"vatInNok"`
	GrossInNok          int64         `json:"grossInNok"`
	CreditNoteText      string        `json:"creditNoteText,omitempty"`
	YourReference       string        `json:"yourReference,omitempty"`
	OurReference        string        `json:"ourReference,omitempty"`
	OrderReference      string        `json:"orderReference,omitempty"`
	Address             Address       `json:"address"`
	Lines               []InvoiceLine `json:"lines"`
	Currency            string        `json:"currency"`
	IssueDate           string        `json:"issueDate"`
	LastModifiedDate    string        `json:"lastModifiedDate"`
	Settled             bool          `json:"settled"`
	AssociatedInvoiceID int64         `json:"associatedInvoiceId"`

	customerID int64
}

// BankAccount is a bank account of the company.
type BankAccount struct {
	BankAccountID     int64  `json:"bankAccountId"`
	Name              string `json:"name"`
	AccountCode       string `json:"accountCode"`
	BankAccountNumber string `json:"bankAccountNumber"`
	Type              string `json:"type"`
	Inactive          bool   `json:"inactive"`
}

// Account is a bookkeeping account.
type Account struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Company is the emulated company.
type Company struct {
	Name                string   `json:"name"`
	Slug                string   `json:"slug"`
	OrganizationNumber  string   `json:"organizationNumber"`
	VatType             string   `json:"vatType"`
	Address             *Address `json:"address,omitempty"`
	Email               string   `json:"email"`
	CreationDate        string   `json:"creationDate"`
	HasAPIAccess        bool     `json:"hasApiAccess"`
	TestCompany         bool     `json:"testCompany"`
	AccountingStartDate string   `json:"accountingStartDate"`
}
