package fiken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/synk-etl/synk/pipeline"
)

// Register adds the "fiken" connector type.
func Register(reg *pipeline.Registry) {
	reg.Register(pipeline.ConnectorType{
		Name:      "fiken",
		NewConfig: func() any { return &Config{} },
		Resources: func(any) ([]pipeline.Resource, error) { return Resources(), nil },
		Open: func(ctx context.Context, env pipeline.Env, cfg any) (pipeline.Connector, error) {
			c, ok := cfg.(*Config)
			if !ok {
				return nil, fmt.Errorf("fiken: config is %T, want *fiken.Config", cfg)
			}
			return Open(ctx, env, c)
		},
		// Fiken's documented limits: one request in flight, 4 per second.
		DefaultLimits: pipeline.Limits{MaxInFlight: 1, Rate: 4},
	})
}

// Connector is an open Fiken connection: a pipeline Source, Sink, Finder,
// Getter and Checker.
type Connector struct {
	client *Client
	log    *slog.Logger
	now    func() time.Time
}

// The capabilities the engine finds by type assertion.
var (
	_ pipeline.Source  = (*Connector)(nil)
	_ pipeline.Sink    = (*Connector)(nil)
	_ pipeline.Finder  = (*Connector)(nil)
	_ pipeline.Getter  = (*Connector)(nil)
	_ pipeline.Checker = (*Connector)(nil)
)

// Open opens a connection with env.HTTP (which limits and retries).
func Open(_ context.Context, env pipeline.Env, cfg *Config) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fiken: %w", err)
	}
	var auth Authorizer = StaticToken(cfg.Token)
	if cfg.OAuth != nil {
		file := cfg.OAuth.TokenFile
		switch {
		case file != "" && !filepath.IsAbs(file):
			file = filepath.Join(env.BaseDir, file)
		case file == "" && env.StateDir != "":
			file = filepath.Join(env.StateDir, "fiken-"+env.Connection+".token.json")
		}
		o, err := NewOAuth(env.HTTP, cfg.tokenURL(), cfg.OAuth.ClientID, cfg.OAuth.ClientSecret, cfg.OAuth.RefreshToken, file)
		if err != nil {
			return nil, fmt.Errorf("fiken: %w", err)
		}
		auth = o
	}
	client := NewClient(env.HTTP, cfg.baseURL(), cfg.Company, auth)
	if cfg.PageSize > 0 {
		client.PageSize = cfg.PageSize
	}
	return New(client, env.Logger), nil
}

// New wraps a client as a pipeline connector.
func New(client *Client, logger *slog.Logger) *Connector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Connector{client: client, log: logger, now: time.Now}
}

// Client returns the underlying REST client.
func (c *Connector) Client() *Client { return c.client }

// Read implements pipeline.Source. Incremental resources read what changed
// since q.Since minus one day: Fiken's lastModified filter has whole days.
func (c *Connector) Read(ctx context.Context, resource string, q pipeline.ReadQuery, out pipeline.Emitter) error {
	res, ok := resourceByName(resource)
	if !ok {
		return fmt.Errorf("fiken: unknown resource %q", resource)
	}
	query := url.Values{}
	if res.Incremental && !q.Since.IsZero() {
		query.Set("lastModifiedGe", q.Since.Add(-24*time.Hour).Format(time.DateOnly))
	}
	err := c.client.List(ctx, listPath(resource), query, func(raw json.RawMessage) error {
		rec, key, err := decodeRecord(res, raw)
		if err != nil {
			return out.Reject(key, raw, err)
		}
		return out.Emit(rec)
	})
	if err != nil {
		return fmt.Errorf("fiken: read %s: %w", resource, err)
	}
	return nil
}

// getRecord reads one record as the resource's record.
func (c *Connector) getRecord(ctx context.Context, resource string, id int64) (pipeline.Record, error) {
	raw, err := c.getRaw(ctx, resource, id)
	if err != nil {
		return nil, err
	}
	res, _ := resourceByName(resource)
	rec, _, err := decodeRecord(res, raw)
	return rec, err
}

// getRaw reads one record's JSON.
func (c *Connector) getRaw(ctx context.Context, resource string, id int64) ([]byte, error) {
	p := c.client.companyPath(fmt.Sprintf("/%s/%d", resource, id))
	resp, err := c.client.do(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// sentRecord is the record a write leaves, as far as the connector knows
// it without reading it back: sent (the body of the POST or PUT) as Read
// would emit it, with the key id. Fiken answers a write with no body, and
// a read-back costs a request per write, so values Fiken assigns or
// derives (the read-only fields: numbers, dates, amounts) are left out of
// the record, absent rather than nil: the engine reads the record when a
// flow back needs one of them (see pipeline.Sink), and the next read
// brings them anyway. Fields in omit are left out too (what Fiken derives
// from them differs from what was sent). Write-only fields are nil, as Read
// emits them.
func sentRecord(resource string, id int64, sent any, omit ...string) (pipeline.Record, error) {
	res, _ := resourceByName(resource)
	b, err := json.Marshal(sent)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m[res.Key] = id
	if resource == ResInvoices {
		m["invoiceDraftUuid"] = m["uuid"] // what Read's uuid comes from
	}
	if b, err = json.Marshal(m); err != nil {
		return nil, err
	}
	rec, _, err := decodeRecord(res, b)
	if err != nil {
		return nil, err
	}
	for _, f := range res.Fields {
		_, sent := m[f.Name]
		switch {
		case (f.ReadOnly && f.Name != res.Key) || contains(omit, f.Name):
			delete(rec, f.Name)
		case f.WriteOnly:
			rec[f.Name] = nil
		case f.Type == pipeline.TypeBool && !sent && rec[f.Name] == nil:
			// Left out of the body as false (omitempty); Fiken answers
			// false.
			rec[f.Name] = false
		}
	}
	return rec, nil
}

// recordErr turns a refusal of the record itself into a
// *pipeline.RecordError, so the engine rejects that change only.
func recordErr(resource, key string, err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	var re *pipeline.RecordError
	switch {
	case errors.As(err, &re):
		return err
	case errors.As(err, &ae) && ae.validation():
		return &pipeline.RecordError{Resource: resource, Key: key, Err: err}
	}
	return err
}

// invalid is a write the connector refuses before sending it.
func invalid(resource, key string, format string, args ...any) error {
	return &pipeline.RecordError{Resource: resource, Key: key, Err: fmt.Errorf(format, args...)}
}

// writable copies the fields of set that may be sent: declared, not
// read-only; anything else is an error naming the field.
func writable(resource string, set pipeline.Record, extra ...string) (map[string]any, error) {
	res, _ := resourceByName(resource)
	out := map[string]any{}
	for k, v := range set {
		f, ok := res.Field(k)
		switch {
		case contains(extra, k):
		case !ok:
			return nil, fmt.Errorf("field %q is not a %s field", k, resource)
		case f.ReadOnly:
			return nil, fmt.Errorf("field %q of %s is read-only", k, resource)
		}
		out[k] = v
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// strictInto encodes m as JSON and decodes it into v, refusing unknown
// fields and wrong types before Fiken sees them.
func strictInto(m any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// toMap is v as a JSON object.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// Create implements pipeline.Sink: one POST (an invoice sent is one more),
// and the record as sent with the id from the Location (see sentRecord).
// POSTs are never retried here; after an ambiguous failure the engine asks
// Find.
func (c *Connector) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	switch w.Resource {
	case ResProducts:
		body, err := writable(ResProducts, w.Set)
		if err != nil {
			return nil, invalid(w.Resource, w.Key, "%w", err)
		}
		if _, ok := body["active"]; !ok {
			body["active"] = true
		}
		var p Product
		if err := strictInto(body, &p); err != nil {
			return nil, invalid(w.Resource, w.Key, "product: %w", err)
		}
		id, err := c.client.CreateProduct(ctx, p)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		return sentRecord(ResProducts, id, p)
	case ResContacts:
		ct, err := contactFrom(nil, w.Set)
		if err != nil {
			return nil, invalid(w.Resource, w.Key, "contact: %w", err)
		}
		id, err := c.client.CreateContact(ctx, ct)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		return sentRecord(ResContacts, id, ct)
	case ResInvoices:
		return c.createInvoice(ctx, w)
	case ResCreditNotes:
		return c.createCreditNote(ctx, w)
	}
	return nil, fmt.Errorf("fiken: %s cannot be created", w.Resource)
}

// contactFrom builds a contact from a base record (nil on create) with set
// on top. Flattened address fields go into address; an address without a
// country gets "Norge", which Fiken requires.
func contactFrom(base map[string]any, set pipeline.Record) (Contact, error) {
	flat := []string{"streetAddress", "streetAddressLine2", "city", "postCode", "country"}
	body, err := writable(ResContacts, set)
	if err != nil {
		return Contact{}, err
	}
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range body {
		if !contains(flat, k) {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
	}
	addr, _ := m["address"].(map[string]any)
	if addr == nil {
		addr = map[string]any{}
	} else {
		cp := map[string]any{}
		for k, v := range addr {
			cp[k] = v
		}
		addr = cp
	}
	for _, k := range flat {
		if v, ok := body[k]; ok {
			if v == nil || v == "" {
				delete(addr, k)
			} else {
				addr[k] = v
			}
		}
	}
	if len(addr) > 0 {
		if c, _ := addr["country"].(string); c == "" {
			addr["country"] = "Norge"
		}
		m["address"] = addr
	}
	if _, ok := m["customer"]; !ok && base == nil {
		m["customer"] = true
	}
	var ct Contact
	if err := strictInto(m, &ct); err != nil {
		return Contact{}, err
	}
	return ct, nil
}

// Update implements pipeline.Sink. Products and contacts are PUT whole:
// the record is read fresh and Set merged on top, so edits made in Fiken
// since the last read survive (Fiken's lastModifiedDate is a date, so
// nothing cheaper can tell); that is two requests, and the record returned
// is what was sent (see sentRecord). Invoices take actions only (send,
// payment, creditNote, dueDate, sentManually): Fiken invoices are
// immutable.
func (c *Connector) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	id, err := keyID(w.Resource, w.Key)
	if err != nil {
		return nil, invalid(w.Resource, w.Key, "%w", err)
	}
	switch w.Resource {
	case ResProducts:
		if _, err := writable(ResProducts, w.Set); err != nil {
			return nil, invalid(w.Resource, w.Key, "%w", err)
		}
		cur, err := c.currentProduct(ctx, id, w)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		p, err := c.putProduct(ctx, id, cur, w.Set)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		return sentRecord(ResProducts, id, p)
	case ResContacts:
		cur, err := c.client.GetContact(ctx, id)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		cur.clearReadOnly()
		base, err := toMap(cur)
		if err != nil {
			return nil, err
		}
		if err := keepWriteOnly(w, base); err != nil {
			return nil, err
		}
		ct, err := contactFrom(base, w.Set)
		if err != nil {
			return nil, invalid(w.Resource, w.Key, "contact: %w", err)
		}
		if err := c.client.UpdateContact(ctx, id, ct); err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		return sentRecord(ResContacts, id, ct)
	case ResInvoices:
		return c.updateInvoice(ctx, id, w)
	}
	return nil, fmt.Errorf("fiken: %s cannot be updated", w.Resource)
}

// currentProduct is the product a PUT replaces, read fresh: w.Current
// when the engine read it just now (w.Fresh, a counter write), else a GET.
func (c *Connector) currentProduct(ctx context.Context, id int64, w pipeline.Write) (Product, error) {
	if w.Fresh && w.Current != nil {
		var p Product
		if err := strictInto(map[string]any(w.Current), &p); err == nil && p.ProductID == id {
			return p, nil
		}
	}
	return c.client.GetProduct(ctx, id)
}

// putProduct PUTs cur with set on top and returns what it sent.
func (c *Connector) putProduct(ctx context.Context, id int64, cur Product, set pipeline.Record) (Product, error) {
	cur.clearReadOnly()
	m, err := toMap(cur)
	if err != nil {
		return Product{}, err
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	var p Product
	if err := strictInto(m, &p); err != nil {
		return Product{}, invalid(ResProducts, fmt.Sprint(id), "product: %w", err)
	}
	return p, c.client.UpdateProduct(ctx, id, p)
}

// keepWriteOnly puts into base (a record read fresh, about to be PUT
// whole) the values synk last wrote to the fields Fiken never returns
// (w.Known), so the PUT does not erase them. A write-only field that the
// write neither sets nor knows stops it: Fiken may hold a value for it
// (a phone number typed in Fiken) that a PUT without it would erase.
func keepWriteOnly(w pipeline.Write, base map[string]any) error {
	res, _ := resourceByName(w.Resource)
	var unknown []string
	for _, f := range res.Fields {
		if !f.WriteOnly {
			continue
		}
		if _, set := w.Set[f.Name]; set {
			continue
		}
		v, known := w.Known[f.Name]
		switch {
		case !known:
			unknown = append(unknown, f.Name)
		case v == nil:
			delete(base, f.Name)
		default:
			base[f.Name] = v
		}
	}
	switch len(unknown) {
	case 0:
		return nil
	case 1:
		return invalid(w.Resource, w.Key, "field %s: Fiken never returns it and synk has never written it, so replacing the %s would erase what Fiken holds; map it in the flow to let synk own it",
			unknown[0], strings.TrimSuffix(w.Resource, "s"))
	}
	return invalid(w.Resource, w.Key, "fields %s: Fiken never returns them and synk has never written them, so replacing the %s would erase what Fiken holds; map them in the flow to let synk own them",
		strings.Join(unknown, ", "), strings.TrimSuffix(w.Resource, "s"))
}

// RefuseUpdate implements pipeline.Refuser: a contact update that would
// replace write-only fields synk never knew is refused before any request,
// as Update would refuse it after reading the contact.
func (c *Connector) RefuseUpdate(w pipeline.Write) error {
	if w.Resource != ResContacts {
		return nil
	}
	return keepWriteOnly(w, map[string]any{})
}

// Get implements pipeline.Getter: one record read fresh, as Read emits it.
func (c *Connector) Get(ctx context.Context, resource, key string) (pipeline.Record, bool, error) {
	if _, ok := resourceByName(resource); !ok {
		return nil, false, fmt.Errorf("fiken: unknown resource %q", resource)
	}
	id, err := keyID(resource, key)
	if err != nil {
		return nil, false, err
	}
	rec, err := c.getRecord(ctx, resource, id)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("fiken: get %s %s: %w", resource, key, err)
	}
	return rec, true, nil
}

// Delete implements pipeline.Sink without deleting: Fiken keeps products
// and contacts that appear on invoices, so a product is deactivated
// (active=false) and a contact made inactive.
func (c *Connector) Delete(ctx context.Context, w pipeline.Write) error {
	id, err := keyID(w.Resource, w.Key)
	if err != nil {
		return invalid(w.Resource, w.Key, "%w", err)
	}
	switch w.Resource {
	case ResProducts:
		cur, err := c.client.GetProduct(ctx, id)
		if err != nil {
			return recordErr(w.Resource, w.Key, err)
		}
		if !cur.Active {
			return nil
		}
		_, err = c.putProduct(ctx, id, cur, pipeline.Record{"active": false})
		return recordErr(w.Resource, w.Key, err)
	case ResContacts:
		cur, err := c.client.GetContact(ctx, id)
		if err != nil {
			return recordErr(w.Resource, w.Key, err)
		}
		if cur.Inactive {
			return nil
		}
		cur.clearReadOnly()
		base, err := toMap(cur)
		if err != nil {
			return err
		}
		if err := keepWriteOnly(w, base); err != nil {
			return err
		}
		base["inactive"] = true
		var ct Contact
		if err := strictInto(base, &ct); err != nil {
			return invalid(w.Resource, w.Key, "contact: %w", err)
		}
		return recordErr(w.Resource, w.Key, c.client.UpdateContact(ctx, id, ct))
	}
	return fmt.Errorf("fiken: %s cannot be deleted", w.Resource)
}

func (c *Connector) createCreditNote(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	body, err := writable(ResCreditNotes, w.Set)
	if err != nil {
		return nil, invalid(w.Resource, w.Key, "%w", err)
	}
	if body["issueDate"] == nil {
		body["issueDate"] = c.now().Format(time.DateOnly)
	}
	if body["lines"] != nil {
		return c.createPartialCreditNote(ctx, w, body)
	}
	var req FullCreditNoteRequest
	if err := strictInto(body, &req); err != nil {
		return nil, invalid(w.Resource, w.Key, "credit note: %w", err)
	}
	if req.InvoiceID == 0 {
		return nil, invalid(w.Resource, w.Key, "credit note: invoiceId (the invoice to credit in full) is required")
	}
	id, err := c.client.CreateFullCreditNote(ctx, req)
	if err != nil {
		return nil, recordErr(w.Resource, w.Key, err)
	}
	return c.getRecord(ctx, ResCreditNotes, id)
}
