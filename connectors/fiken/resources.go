package fiken

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/synk-etl/synk/pipeline"
)

// Resource names.
const (
	ResProducts     = "products"
	ResContacts     = "contacts"
	ResInvoices     = "invoices"
	ResSales        = "sales"
	ResCreditNotes  = "creditNotes"
	ResBankAccounts = "bankAccounts"
	ResAccounts     = "accounts"
)

func fld(name string, t pipeline.FieldType) pipeline.Field {
	return pipeline.Field{Name: name, Type: t}
}

func ro(name string, t pipeline.FieldType) pipeline.Field {
	return pipeline.Field{Name: name, Type: t, ReadOnly: true}
}

// wo is a field Fiken's spec marks writeOnly: it takes it, never returns it.
func wo(name string, t pipeline.FieldType) pipeline.Field {
	return pipeline.Field{Name: name, Type: t, WriteOnly: true}
}

func addressFields() []pipeline.Field {
	return []pipeline.Field{
		fld("streetAddress", pipeline.TypeString), fld("streetAddressLine2", pipeline.TypeString),
		fld("city", pipeline.TypeString), fld("postCode", pipeline.TypeString), fld("country", pipeline.TypeString),
	}
}

func invoiceLineFields(readOnly bool) []pipeline.Field {
	mk := fld
	if readOnly {
		mk = ro
	}
	return []pipeline.Field{
		mk("productId", pipeline.TypeInt), mk("productName", pipeline.TypeString), mk("description", pipeline.TypeString),
		mk("comment", pipeline.TypeString), mk("quantity", pipeline.TypeFloat), mk("unitPrice", pipeline.TypeInt),
		mk("discount", pipeline.TypeFloat), mk("vatType", pipeline.TypeString), mk("vatInPercent", pipeline.TypeFloat),
		mk("incomeAccount", pipeline.TypeString), mk("net", pipeline.TypeInt), mk("vat", pipeline.TypeInt),
		mk("gross", pipeline.TypeInt),
	}
}

// Fiken's lastModifiedDate is a date only, in Norwegian time.
const (
	day  = 24 * time.Hour
	zone = "Europe/Oslo"
)

// Resources returns the resources the connector reads and writes, with
// Fiken's field names; money is integer øre, dates "yyyy-MM-dd". Fields the
// spec marks writeOnly are declared WriteOnly: Fiken takes them and never
// returns them (TestWriteOnlyFieldsFollowTheSpec keeps the two in step).
func Resources() []pipeline.Resource {
	T := struct{ S, I, F, B, D, L, O, A pipeline.FieldType }{pipeline.TypeString, pipeline.TypeInt, pipeline.TypeFloat,
		pipeline.TypeBool, pipeline.TypeDate, pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny}
	return []pipeline.Resource{
		{
			Name: ResProducts, Key: "productId", Incremental: true, Create: true, Update: true, Delete: true, ActiveField: "active",
			ModifiedField: "lastModifiedDate", ModifiedPrecision: day, ModifiedZone: zone,
			Fields: []pipeline.Field{
				ro("productId", T.I), ro("createdDate", T.D), ro("lastModifiedDate", T.D),
				fld("productNumber", T.S), fld("name", T.S), fld("unitPrice", T.I), fld("incomeAccount", T.S),
				fld("vatType", T.S), fld("active", T.B), fld("stock", T.F), fld("note", T.S),
			},
		},
		{
			Name: ResContacts, Key: "contactId", Incremental: true, Create: true, Update: true, Delete: true,
			ModifiedField: "lastModifiedDate", ModifiedPrecision: day, ModifiedZone: zone,
			Fields: append([]pipeline.Field{
				ro("contactId", T.I), ro("createdDate", T.D), ro("lastModifiedDate", T.D),
				fld("name", T.S), fld("email", T.S), fld("organizationNumber", T.S), wo("phoneNumber", T.S),
				wo("memberNumber", T.I), wo("memberNumberString", T.S), ro("customerNumber", T.I), ro("customerAccountCode", T.S),
				ro("supplierNumber", T.I), ro("supplierAccountCode", T.S),
				fld("customer", T.B), fld("supplier", T.B), fld("bankAccountNumber", T.S), wo("currency", T.S),
				fld("language", T.S), fld("inactive", T.B), fld("daysUntilInvoicingDueDate", T.I), fld("discount", T.F),
				{Name: "address", Type: T.O, Fields: addressFields()},
				{Name: "contactPerson", Type: T.L, Fields: []pipeline.Field{
					ro("contactPersonId", T.I), fld("name", T.S), fld("email", T.S), fld("phoneNumber", T.S),
				}},
				{Name: "groups", Type: T.L},
			}, addressFields()...),
		},
		{
			Name: ResInvoices, Key: "invoiceId", Incremental: true, Create: true, Update: true,
			ModifiedField: "lastModifiedDate", ModifiedPrecision: day, ModifiedZone: zone,
			Fields: []pipeline.Field{
				ro("invoiceId", T.I), ro("invoiceNumber", T.I), ro("kid", T.S), ro("createdDate", T.D), ro("lastModifiedDate", T.D),
				fld("issueDate", T.D), fld("dueDate", T.D), ro("originalDueDate", T.D),
				fld("customerId", T.I), ro("customerName", T.S), fld("contactPersonId", T.I),
				fld("orderReference", T.S), fld("yourReference", T.S), fld("ourReference", T.S),
				fld("uuid", T.S), ro("invoiceDraftUuid", T.S),
				fld("invoiceText", T.S), fld("currency", T.S), fld("cash", T.B), fld("paymentAccount", T.S),
				fld("bankAccountCode", T.S), ro("bankAccountNumber", T.S), fld("projectId", T.I), fld("roundingType", T.S),
				ro("net", T.I), ro("vat", T.I), ro("gross", T.I), fld("sentManually", T.B),
				{Name: "lines", Type: T.L, Fields: invoiceLineFields(false)},
				ro("saleId", T.I), ro("settled", T.B), ro("settledDate", T.D), ro("outstandingBalance", T.I), ro("totalPaid", T.I),
				{Name: "associatedCreditNotes", Type: T.L, ReadOnly: true},
				{Name: "dispatches", Type: T.L, ReadOnly: true, Fields: []pipeline.Field{ro("date", T.D), ro("dispatchType", T.S)}},
				// Actions the adapter interprets; never read back.
				{Name: "send", Type: T.A},
				{Name: "creditNote", Type: T.A},
				{Name: "payment", Type: T.O, Fields: []pipeline.Field{fld("date", T.D), fld("account", T.S), fld("amount", T.I)}},
			},
		},
		{
			Name: ResSales, Key: "saleId", Incremental: true,
			ModifiedField: "lastModifiedDate", ModifiedPrecision: day, ModifiedZone: zone,
			Fields: []pipeline.Field{
				ro("saleId", T.I), ro("lastModifiedDate", T.D), ro("transactionId", T.I), ro("saleNumber", T.S),
				ro("date", T.D), ro("kind", T.S), ro("netAmount", T.I), ro("vatAmount", T.I), ro("settled", T.B),
				ro("settledDate", T.D), ro("writeOff", T.B), ro("totalPaid", T.I), ro("outstandingBalance", T.I),
				ro("customerId", T.I), ro("currency", T.S), ro("dueDate", T.D), ro("kid", T.S), ro("deleted", T.B),
				{Name: "lines", Type: T.L, ReadOnly: true, Fields: []pipeline.Field{
					ro("description", T.S), ro("netPrice", T.I), ro("vat", T.I), ro("account", T.S), ro("vatType", T.S),
				}},
				{Name: "salePayments", Type: T.L, ReadOnly: true, Fields: []pipeline.Field{
					ro("paymentId", T.I), ro("date", T.D), ro("account", T.S), ro("amount", T.I),
				}},
			},
		},
		{
			Name: ResCreditNotes, Key: "creditNoteId", Incremental: true, Create: true,
			ModifiedField: "lastModifiedDate", ModifiedPrecision: day, ModifiedZone: zone,
			Fields: []pipeline.Field{
				ro("creditNoteId", T.I), ro("creditNoteNumber", T.I), ro("kid", T.S), ro("customerId", T.I),
				ro("net", T.I), ro("vat", T.I), ro("gross", T.I), fld("creditNoteText", T.S), ro("orderReference", T.S),
				ro("currency", T.S), fld("issueDate", T.D), ro("lastModifiedDate", T.D), ro("settled", T.B),
				ro("associatedInvoiceId", T.I),
				// invoiceId names the invoice a create credits: in full, or
				// by lines (a partial credit note, which needs creditNoteText
				// to be found again after a lost answer).
				fld("invoiceId", T.I),
				{Name: "lines", Type: T.L, Fields: invoiceLineFields(false)},
			},
		},
		{
			Name: ResBankAccounts, Key: "bankAccountId",
			Fields: []pipeline.Field{
				ro("bankAccountId", T.I), ro("name", T.S), ro("accountCode", T.S), ro("bankAccountNumber", T.S),
				ro("iban", T.S), ro("bic", T.S), ro("type", T.S), ro("inactive", T.B),
			},
		},
		{
			Name: ResAccounts, Key: "code",
			Fields: []pipeline.Field{ro("code", T.S), ro("name", T.S)},
		},
	}
}

func resourceByName(name string) (pipeline.Resource, bool) {
	for _, r := range Resources() {
		if r.Name == name {
			return r, true
		}
	}
	return pipeline.Resource{}, false
}

// listPath is where a resource's list lives, below the company.
func listPath(resource string) string { return "/" + resource }

// decodeRecord turns one element of a Fiken list (or a GET answer) into a
// record of the resource's declared fields. key is the record's key when it
// could be found, for rejects.
func decodeRecord(res pipeline.Resource, raw []byte) (rec pipeline.Record, key string, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "", fmt.Errorf("decode %s record: %w", res.Name, err)
	}
	if m == nil {
		return nil, "", fmt.Errorf("decode %s record: null", res.Name)
	}
	if k, ok := m[res.Key]; ok {
		key = fmt.Sprint(k)
	}
	flatten(res.Name, m)
	rec, err = normalizeObject(res.Fields, m)
	if err != nil {
		return nil, key, fmt.Errorf("%s %s: %w", res.Name, key, err)
	}
	if rec[res.Key] == nil {
		return nil, key, fmt.Errorf("%s record has no %s", res.Name, res.Key)
	}
	return rec, fmt.Sprint(rec[res.Key]), nil
}

// flatten adds the derived fields: the customer's id, the sale's paid
// state on invoices, address fields on contacts.
func flatten(resource string, m map[string]any) {
	customerID := func() {
		if c, ok := m["customer"].(map[string]any); ok {
			m["customerId"] = c["contactId"]
			if resource == ResInvoices {
				m["customerName"] = c["name"]
			}
		}
	}
	switch resource {
	case ResContacts:
		if a, ok := m["address"].(map[string]any); ok {
			for _, k := range []string{"streetAddress", "streetAddressLine2", "city", "postCode", "country"} {
				m[k] = a[k]
			}
		}
	case ResInvoices:
		customerID()
		m["uuid"] = m["invoiceDraftUuid"]
		if s, ok := m["sale"].(map[string]any); ok {
			for _, k := range []string{"settled", "settledDate", "outstandingBalance", "totalPaid"} {
				m[k] = s[k]
			}
			m["saleId"] = s["saleId"]
		}
		// Action fields are never read back.
		delete(m, "send")
		delete(m, "creditNote")
		delete(m, "payment")
	case ResSales, ResCreditNotes:
		customerID()
	}
}

// normalizeObject keeps the declared fields, converted to the record value
// types (int64, float64, string, bool, []any, map[string]any); undeclared
// fields are dropped, declared but absent ones are nil.
func normalizeObject(fields []pipeline.Field, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		v, err := normalizeValue(f, m[f.Name])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		out[f.Name] = v
	}
	return out, nil
}

func normalizeValue(f pipeline.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case pipeline.TypeInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %T", v)
		}
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		fl, err := n.Float64()
		if err != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
			return nil, fmt.Errorf("want an integer, got %s", n)
		}
		return int64(fl), nil
	case pipeline.TypeFloat:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number, got %T", v)
		}
		fl, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("want a number, got %s", n)
		}
		return fl, nil
	case pipeline.TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want a boolean, got %T", v)
		}
		return b, nil
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	case pipeline.TypeList:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a list, got %T", v)
		}
		out := make([]any, 0, len(list))
		for i, el := range list {
			var nv any
			var err error
			if len(f.Fields) > 0 {
				obj, ok := el.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("[%d]: want an object, got %T", i, el)
				}
				nv, err = normalizeObject(f.Fields, obj)
			} else {
				nv = plainValue(el)
			}
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out = append(out, nv)
		}
		return out, nil
	case pipeline.TypeObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
		if len(f.Fields) == 0 {
			return plainValue(obj), nil
		}
		return normalizeObject(f.Fields, obj)
	}
	return plainValue(v), nil
}

// plainValue converts json.Numbers inside v to int64 or float64.
func plainValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = plainValue(el)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = plainValue(el)
		}
		return out
	}
	return v
}

// keyID parses a record key (Fiken ids are integers).
func keyID(resource, key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New(resource + ": key " + strconv.Quote(key) + " is not a Fiken id")
	}
	return id, nil
}
