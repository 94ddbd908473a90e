package fiken

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAPIErrorShapes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		msgs   []string
		hint   string
	}{
		{"logref array", 400, `[{"logref":"x","message":"name is required"}]`, []string{"name is required"}, ""},
		{"oauth shape", 401, `{"error":"unauthorized","error_description":"Full authentication is required"}`, []string{"Full authentication is required"}, "token is invalid"},
		{"errors list", 400, `{"errors":[{"message":"a"},{"message":"b"}]}`, []string{"a", "b"}, ""},
		{"plain text", 502, `Bad gateway`, nil, ""},
		{"counter", 400, `[{"message":"Invoice counter has not been initialized"}]`, []string{"Invoice counter has not been initialized"}, "invoice counter is not initialised"},
		{"module", 403, `[{"message":"The API module is not active for this company"}]`, []string{"The API module is not active for this company"}, "API module"},
		{"vat", 400, `[{"message":"VAT type HIGH is not valid for account 3100"}]`, []string{"VAT type HIGH is not valid for account 3100"}, "not valid for the income account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPIError("POST", "/companies/demo/invoices", tt.status, []byte(tt.body))
			if diff := cmp.Diff(tt.msgs, e.Messages); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if tt.hint == "" && e.Hint != "" || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint = %q, want %q", e.Hint, tt.hint)
			}
			msg := e.Error()
			if !strings.Contains(msg, "POST /companies/demo/invoices") || !strings.Contains(msg, "fiken") {
				t.Errorf("Error() = %q lacks method and path", msg)
			}
			if got, want := e.Retryable(), tt.status >= 500 || tt.status == 429; got != want {
				t.Errorf("Retryable() = %v, want %v", got, want)
			}
		})
	}
}

func TestDecodeRecordRejectsBadTypes(t *testing.T) {
	res, _ := resourceByName(ResProducts)
	tests := []struct {
		name, raw, key string
		ok             bool
	}{
		{"good", `{"productId":5,"name":"x","unitPrice":100,"stock":1.5,"active":true}`, "5", true},
		{"string price", `{"productId":6,"unitPrice":"100"}`, "6", false},
		{"fractional id", `{"productId":6.5}`, "6.5", false},
		{"no key", `{"name":"x"}`, "", false},
		{"not an object", `[1]`, "", false},
		{"null", `null`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, key, err := decodeRecord(res, []byte(tt.raw))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if key != tt.key {
				t.Errorf("key = %q, want %q", key, tt.key)
			}
			if tt.ok && (rec["unitPrice"] != int64(100) || rec["stock"] != 1.5) {
				t.Errorf("record = %v", rec)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(ResInvoices, []byte(`{"invoiceId":1,"lines":[{"productId":2,"quantity":1.5}],"sale":{"settled":true,"saleId":3},"customer":{"contactId":4}}`))
	f.Add(ResContacts, []byte(`{"contactId":1,"address":{"postCode":"0155","country":"Norge"},"contactPerson":[{"name":"a"}]}`))
	f.Add(ResProducts, []byte(`{"productId":1e3,"stock":null}`))
	f.Add(ResSales, []byte(`{"saleId":1,"salePayments":[{"amount":5}],"customer":"x"}`))
	f.Fuzz(func(t *testing.T, resource string, raw []byte) {
		res, ok := resourceByName(resource)
		if !ok {
			res, _ = resourceByName(ResInvoices)
		}
		rec, _, err := decodeRecord(res, raw)
		if err != nil {
			return
		}
		if rec[res.Key] == nil {
			t.Fatalf("decoded record without key: %v", rec)
		}
		for _, f := range res.Fields {
			if _, ok := rec[f.Name]; !ok {
				t.Fatalf("field %s missing from %v", f.Name, rec)
			}
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Fatalf("record does not encode: %v", err)
		}
	})
}

func FuzzParseErrorMessages(f *testing.F) {
	f.Add([]byte(`[{"logref":"a","message":"b"}]`))
	f.Add([]byte(`{"errors":[{"errors":[{"message":"deep"}]}]}`))
	f.Add([]byte(`"just a string"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := newAPIError("GET", "/x", 400, body)
		if len(e.Messages) > 20 {
			t.Fatalf("%d messages", len(e.Messages))
		}
		_ = e.Error()
	})
}

func FuzzDecodeTokenSet(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":86157}`))
	f.Add([]byte(`{"access_token":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := decodeTokenSet(body)
		if err == nil && (ts.AccessToken == "" || ts.ExpiresIn <= 0) {
			t.Fatalf("accepted %+v", ts)
		}
	})
}

func FuzzLocationID(f *testing.F) {
	f.Add("https://api.fiken.no/api/v2/companies/demo/invoices/123")
	f.Add("/x/0")
	f.Fuzz(func(t *testing.T, loc string) {
		id, err := locationID(loc)
		if err == nil && id != 0 && !strings.Contains(loc, strconv.FormatInt(id%10, 10)) {
			t.Fatalf("id %d does not come from %q", id, loc)
		}
	})
}

func FuzzParseSend(f *testing.F) {
	f.Add(`["ehf","email"]`)
	f.Add(`{"method":"email","recipientEmail":"a@b.no"}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		sr, err := parseSend(v)
		if err == nil && len(sr.Method) == 0 {
			t.Fatal("accepted a send without methods")
		}
	})
}
