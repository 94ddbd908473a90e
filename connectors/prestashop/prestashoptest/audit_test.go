package prestashoptest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuditCatchesWhatPrestaShopNeverOutputs feeds the audit an answer
// with a hidden and an undeclared field, and a refused request.
func TestAuditCatchesWhatPrestaShopNeverOutputs(t *testing.T) {
	s := start(t, Options{Seed: 1})
	xmlAnswer := func(body string) response {
		return response{status: 200, header: http.Header{"Content-Type": {"text/xml;charset=utf-8"}}, body: []byte(body)}
	}
	r := httptest.NewRequest("GET", "/api/order_details/1", nil)
	s.audit(r, "GET", xmlAnswer(`<prestashop><order_detail><id>1</id><product_name>x</product_name></order_detail></prestashop>`))
	if v := s.Violations(); len(v) != 0 {
		t.Fatalf("a declared answer: violations %q", v)
	}
	s.audit(r, "GET", xmlAnswer(`<prestashop><order_detail><id>1</id><tax_rate>25</tax_rate><shoe_size>44</shoe_size></order_detail></prestashop>`))
	v := strings.Join(s.TakeViolations(), "\n")
	if !strings.Contains(v, "order_details.tax_rate is hidden") || !strings.Contains(v, `no field "shoe_size"`) {
		t.Fatalf("violations %q: want the hidden tax_rate and the undeclared shoe_size", v)
	}
	// A request the shop refuses is the client's violation.
	post := httptest.NewRequest("POST", "/api/products", strings.NewReader(`<prestashop><product><quantity>5</quantity></product></prestashop>`))
	post.SetBasicAuth(s.Key(), "")
	resp := s.handle(post, "POST")
	s.audit(post, "POST", resp)
	if v := s.TakeViolations(); len(v) != 1 || !strings.Contains(v[0], "93") {
		t.Fatalf("violations %q: want the refused read-only quantity (code 93)", v)
	}
}
