// Package fiken is synk's connector for Fiken (API v2): a plain REST
// client, the pipeline adapter (type "fiken") and OAuth2 support. Its
// emulator is fikentest.
package fiken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// DefaultURL is Fiken's API base.
const DefaultURL = "https://api.fiken.no/api/v2"

// MaxPageSize is the largest page Fiken serves.
const MaxPageSize = 100

// Authorizer supplies the bearer token for a request.
type Authorizer interface {
	// Token returns the token to send.
	Token(ctx context.Context) (string, error)
	// Refresh is called after a 401 for a request sent with failed; it
	// reports whether a different token is now available to retry with.
	Refresh(ctx context.Context, failed string) (bool, error)
}

// StaticToken is a personal API token; it never refreshes.
type StaticToken string

// Token implements Authorizer.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Refresh implements Authorizer.
func (t StaticToken) Refresh(context.Context, string) (bool, error) { return false, nil }

// String never shows the token.
func (t StaticToken) String() string { return "StaticToken(redacted)" }

// Client is a plain client of Fiken's REST API for one company. It makes
// one attempt per call: rate limiting and retries belong to the
// *http.Client it is given (pipeline.NewHTTPClient).
type Client struct {
	http    *http.Client
	base    string
	company string
	auth    Authorizer
	// PageSize is the page size of list calls (1..100; default 100).
	PageSize int
}

// NewClient returns a client for company at baseURL (DefaultURL when
// empty).
func NewClient(httpClient *http.Client, baseURL, company string, auth Authorizer) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	if baseURL == "" {
		baseURL = DefaultURL
	}
	return &Client{http: httpClient, base: strings.TrimRight(baseURL, "/"), company: company, auth: auth, PageSize: MaxPageSize}
}

// Company returns the company slug the client works on.
func (c *Client) Company() string { return c.company }

func (c *Client) companyPath(p string) string {
	return "/companies/" + url.PathEscape(c.company) + p
}

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request. A 401 is retried once after the Authorizer
// refreshed (the server did not act on it, so even a POST is safe to
// resend).
func (c *Client) do(ctx context.Context, method, p string, query url.Values, body any) (*response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, p, err)
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.auth.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s %s: token: %w", method, p, err)
		}
		u := c.base + p
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, p, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Request-ID", uuid.NewString())
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, p, scrubURLError(err))
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: read body: %w", method, p, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			again, rerr := c.auth.Refresh(ctx, tok)
			if rerr != nil {
				return nil, fmt.Errorf("%s %s: refresh token after 401: %w", method, p, rerr)
			}
			if again {
				continue
			}
		}
		if resp.StatusCode >= 400 {
			return nil, newAPIError(method, p, resp.StatusCode, data)
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
	}
}

// scrubURLError drops the URL from a *url.Error: it holds no secret here,
// but query strings can carry customer data into logs.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) getJSON(ctx context.Context, p string, query url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, p, query, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("decode GET %s: %w", p, err)
	}
	return nil
}

// create POSTs body and returns the id from the Location header.
func (c *Client) create(ctx context.Context, p string, body any) (int64, error) {
	resp, err := c.do(ctx, http.MethodPost, p, nil, body)
	if err != nil {
		return 0, err
	}
	return locationID(resp.header.Get("Location"))
}

// locationID is the last path segment of a Location header.
func locationID(loc string) (int64, error) {
	if loc == "" {
		return 0, errors.New("created, but the answer has no Location header")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return 0, fmt.Errorf("parse Location %q: %w", loc, err)
	}
	id, err := strconv.ParseInt(path.Base(u.Path), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("no id at the end of Location %q", loc)
	}
	return id, nil
}

// ErrShortRead is returned when a list ends with fewer records than Fiken
// said it holds: records would otherwise be silently lost.
var ErrShortRead = errors.New("short read")

// List reads every page of a list resource at p (below the company) and
// hands each element to each, checking the total against
// Fiken-Api-Result-Count.
func (c *Client) List(ctx context.Context, p string, query url.Values, each func(raw json.RawMessage) error) error {
	size := c.PageSize
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	full := c.companyPath(p)
	total, got := -1, 0
	for page := 0; ; page++ {
		q.Set("page", strconv.Itoa(page))
		q.Set("pageSize", strconv.Itoa(size))
		resp, err := c.do(ctx, http.MethodGet, full, q, nil)
		if err != nil {
			return fmt.Errorf("list %s page %d: %w", p, page, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(resp.body, &items); err != nil {
			return fmt.Errorf("list %s page %d: decode: %w", p, page, err)
		}
		countHeader := resp.header.Get("Fiken-Api-Result-Count")
		if countHeader == "" {
			// Unpaginated resources (accounts) may answer without the
			// headers; a full page without them cannot be verified.
			if page == 0 && len(items) < size {
				for _, raw := range items {
					if err := each(raw); err != nil {
						return err
					}
				}
				return nil
			}
			return fmt.Errorf("list %s page %d: no Fiken-Api-Result-Count header, cannot verify the read is complete", p, page)
		}
		count, err := strconv.Atoi(countHeader)
		if err != nil || count < 0 {
			return fmt.Errorf("list %s page %d: bad Fiken-Api-Result-Count %q", p, page, countHeader)
		}
		if total < 0 {
			total = count
		} else if count != total {
			return fmt.Errorf("list %s page %d: %w: result count changed from %d to %d during the read", p, page, ErrShortRead, total, count)
		}
		for _, raw := range items {
			if err := each(raw); err != nil {
				return err
			}
		}
		got += len(items)
		if got >= total || len(items) == 0 {
			break
		}
	}
	if got != total {
		return fmt.Errorf("list %s: %w: got %d of %d records", p, ErrShortRead, got, total)
	}
	return nil
}

func listAll[T any](ctx context.Context, c *Client, p string, q url.Values) ([]T, error) {
	var out []T
	err := c.List(ctx, p, q, func(raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s element: %w", p, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// User returns the token's user (name, email): a cheap token check.
func (c *Client) User(ctx context.Context) (map[string]any, error) {
	var u map[string]any
	return u, c.getJSON(ctx, "/user", nil, &u)
}

// GetCompany returns the client's company.
func (c *Client) GetCompany(ctx context.Context) (Company, error) {
	var co Company
	return co, c.getJSON(ctx, c.companyPath(""), nil, &co)
}

// ListProducts returns the products matching the filters in q (e.g.
// productNumber, lastModifiedGe).
func (c *Client) ListProducts(ctx context.Context, q url.Values) ([]Product, error) {
	return listAll[Product](ctx, c, "/products", q)
}

// GetProduct returns one product.
func (c *Client) GetProduct(ctx context.Context, id int64) (Product, error) {
	var p Product
	return p, c.getJSON(ctx, c.companyPath(fmt.Sprintf("/products/%d", id)), nil, &p)
}

// CreateProduct creates a product and returns its id.
func (c *Client) CreateProduct(ctx context.Context, p Product) (int64, error) {
	p.clearReadOnly()
	return c.create(ctx, c.companyPath("/products"), p)
}

// UpdateProduct replaces a product with p (PUT replaces the whole record).
func (c *Client) UpdateProduct(ctx context.Context, id int64, p Product) error {
	p.clearReadOnly()
	_, err := c.do(ctx, http.MethodPut, c.companyPath(fmt.Sprintf("/products/%d", id)), nil, p)
	return err
}

// GetContact returns one contact.
func (c *Client) GetContact(ctx context.Context, id int64) (Contact, error) {
	var ct Contact
	return ct, c.getJSON(ctx, c.companyPath(fmt.Sprintf("/contacts/%d", id)), nil, &ct)
}

// CreateContact creates a contact and returns its id.
func (c *Client) CreateContact(ctx context.Context, ct Contact) (int64, error) {
	ct.clearReadOnly()
	return c.create(ctx, c.companyPath("/contacts"), ct)
}

// UpdateContact replaces a contact with ct.
func (c *Client) UpdateContact(ctx context.Context, id int64, ct Contact) error {
	ct.clearReadOnly()
	_, err := c.do(ctx, http.MethodPut, c.companyPath(fmt.Sprintf("/contacts/%d", id)), nil, ct)
	return err
}

// GetInvoice returns one invoice with its sale.
func (c *Client) GetInvoice(ctx context.Context, id int64) (Invoice, error) {
	var inv Invoice
	return inv, c.getJSON(ctx, c.companyPath(fmt.Sprintf("/invoices/%d", id)), nil, &inv)
}

// CreateInvoice creates an invoice and returns its id. It is not
// idempotent: after an ambiguous failure, look the invoice up by its uuid
// (invoiceDraftUuid) or orderReference before trying again.
func (c *Client) CreateInvoice(ctx context.Context, r InvoiceRequest) (int64, error) {
	return c.create(ctx, c.companyPath("/invoices"), r)
}

// UpdateInvoice changes the due date and/or the sent-manually flag, the
// only changes Fiken allows on an invoice.
func (c *Client) UpdateInvoice(ctx context.Context, id int64, newDueDate string, sentManually *bool) error {
	body := map[string]any{}
	if newDueDate != "" {
		body["newDueDate"] = newDueDate
	}
	if sentManually != nil {
		body["sentManually"] = *sentManually
	}
	_, err := c.do(ctx, http.MethodPatch, c.companyPath(fmt.Sprintf("/invoices/%d", id)), nil, body)
	return err
}

// SendInvoice sends an invoice by the first method in r.Method that
// reaches the customer.
func (c *Client) SendInvoice(ctx context.Context, r SendInvoiceRequest) error {
	_, err := c.do(ctx, http.MethodPost, c.companyPath("/invoices/send"), nil, r)
	return err
}

// GetInvoiceCounter returns the invoice counter; Fiken refuses invoices
// until it exists.
func (c *Client) GetInvoiceCounter(ctx context.Context) (Counter, error) {
	var ct Counter
	return ct, c.getJSON(ctx, c.companyPath("/invoices/counter"), nil, &ct)
}

// CreateInvoiceCounter creates the invoice counter at value (the first
// invoice gets value+1); value 0 uses Fiken's default, 10000.
func (c *Client) CreateInvoiceCounter(ctx context.Context, value int64) error {
	var body any
	if value > 0 {
		body = Counter{Value: value}
	}
	_, err := c.do(ctx, http.MethodPost, c.companyPath("/invoices/counter"), nil, body)
	return err
}

// CreateCreditNoteCounter creates the credit note counter (0 = 10000).
func (c *Client) CreateCreditNoteCounter(ctx context.Context, value int64) error {
	var body any
	if value > 0 {
		body = Counter{Value: value}
	}
	_, err := c.do(ctx, http.MethodPost, c.companyPath("/creditNotes/counter"), nil, body)
	return err
}

// GetSale returns one sale.
func (c *Client) GetSale(ctx context.Context, id int64) (Sale, error) {
	var s Sale
	return s, c.getJSON(ctx, c.companyPath(fmt.Sprintf("/sales/%d", id)), nil, &s)
}

// AddSalePayment registers a payment on a sale and returns its id. Not
// idempotent: check the sale's payments before retrying.
func (c *Client) AddSalePayment(ctx context.Context, saleID int64, p Payment) (int64, error) {
	p.PaymentID = 0
	return c.create(ctx, c.companyPath(fmt.Sprintf("/sales/%d/payments", saleID)), p)
}

// CreateFullCreditNote credits a whole invoice (which settles its sale)
// and returns the credit note's id. Not idempotent: check the invoice's
// associatedCreditNotes before retrying.
func (c *Client) CreateFullCreditNote(ctx context.Context, r FullCreditNoteRequest) (int64, error) {
	return c.create(ctx, c.companyPath("/creditNotes/full"), r)
}

// CreatePartialCreditNote credits lines of an invoice. Not idempotent
// either: after a lost answer, look for the note among the invoice's
// associatedCreditNotes (by its creditNoteText) before retrying.
func (c *Client) CreatePartialCreditNote(ctx context.Context, r PartialCreditNoteRequest) (int64, error) {
	return c.create(ctx, c.companyPath("/creditNotes/partial"), r)
}

// ListBankAccounts returns the company's bank accounts.
func (c *Client) ListBankAccounts(ctx context.Context, q url.Values) ([]BankAccount, error) {
	return listAll[BankAccount](ctx, c, "/bankAccounts", q)
}

// ListAccounts returns the bookkeeping accounts of the current year.
func (c *Client) ListAccounts(ctx context.Context, q url.Values) ([]Account, error) {
	return listAll[Account](ctx, c, "/accounts", q)
}
