package fikentest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/google/go-cmp/cmp"
)

// start starts an emulator for a test that must see no violation of
// Fiken's spec; startLenient one for a test that sends bad requests on
// purpose.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s := startLenient(t, opts)
	Check(t, s)
	return s
}

func startLenient(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, s *Server, token, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestAPIBehaviour(t *testing.T) {
	s := startLenient(t, Options{Seed: 1, Products: 7, Contacts: 4})
	tok := s.Token()
	const co = "/companies/demo-as"
	product := `{"name":"Votter","incomeAccount":"3000","vatType":"HIGH","active":true,"unitPrice":19900,"productNumber":"V-1","stock":4}`
	tests := []struct {
		name, token, method, path, body string
		status                          int
		contains                        string
	}{
		{"no token", "", "GET", co + "/products", "", 401, "unauthorized"},
		{"wrong token", "nope", "GET", co + "/products", "", 401, ""},
		{"other company", tok, "GET", "/companies/other/products", "", 403, "other"},
		{"unknown path", tok, "GET", co + "/nothing", "", 404, ""},
		{"unknown query parameter", tok, "GET", co + "/products?colour=red", "", 400, "colour"},
		{"page size above 100", tok, "GET", co + "/products?page=0&pageSize=101", "", 400, "pageSize"},
		{"bad date filter", tok, "GET", co + "/products?lastModifiedGe=yesterday", "", 400, "lastModifiedGe"},
		{"unknown field", tok, "POST", co + "/products", `{"name":"x","incomeAccount":"3000","vatType":"HIGH","active":true,"colour":"red"}`, 400, "colour"},
		{"read-only field", tok, "POST", co + "/products", `{"productId":1,"name":"x","incomeAccount":"3000","vatType":"HIGH","active":true}`, 400, "readOnly"},
		{"missing required", tok, "POST", co + "/products", `{"name":"x"}`, 400, "incomeAccount"},
		{"wrong type", tok, "POST", co + "/products", `{"name":"x","incomeAccount":"3000","vatType":"HIGH","active":"yes"}`, 400, "active"},
		{"vat not valid for account", tok, "POST", co + "/products", `{"name":"x","incomeAccount":"3200","vatType":"HIGH","active":true}`, 400, "not valid for account 3200"},
		{"create", tok, "POST", co + "/products", product, 201, ""},
		{"invoice before counter", tok, "POST", co + "/invoices", `{"issueDate":"2026-01-01","dueDate":"2026-01-15","lines":[{"quantity":1,"vatType":"HIGH","unitPrice":100,"incomeAccount":"3000","description":"x"}],"bankAccountCode":"1920:10001","cash":false,"customerId":1}`, 400, "counter"},
		{"counter missing", tok, "GET", co + "/invoices/counter", "", 404, ""},
		{"delete not allowed on accounts", tok, "DELETE", co + "/accounts", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, s, tt.token, tt.method, tt.path, tt.body)
			if a.status != tt.status || !strings.Contains(a.body, tt.contains) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, a.status, a.body, tt.status, tt.contains)
			}
			if tt.status == 201 && (a.body != "" || !strings.Contains(a.header.Get("Location"), "/api/v2"+co+"/products/")) {
				t.Fatalf("create: body %q, Location %q; want empty body and the new URL", a.body, a.header.Get("Location"))
			}
		})
	}

	a := call(t, s, tok, "GET", co+"/products?page=1&pageSize=3", "")
	want := map[string]string{"Fiken-Api-Page": "1", "Fiken-Api-Page-Size": "3", "Fiken-Api-Page-Count": "3", "Fiken-Api-Result-Count": "8"}
	for h, v := range want {
		if got := a.header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	var page []Product
	if err := json.Unmarshal([]byte(a.body), &page); err != nil || len(page) != 3 {
		t.Fatalf("page 1 = %s (%v)", a.body, err)
	}
	a = call(t, s, tok, "GET", co+"/products?productNumber=V-1", "")
	if !strings.Contains(a.body, `"name":"Votter"`) || a.header.Get("Fiken-Api-Result-Count") != "1" {
		t.Fatalf("filter by productNumber = %s", a.body)
	}
	// PUT replaces the whole record: a field left out is gone.
	id := s.Products()[7].ProductID
	a = call(t, s, tok, "PUT", co+"/products/"+itoa(id), `{"name":"Votter","incomeAccount":"3000","vatType":"HIGH","active":true}`)
	if a.status != 200 {
		t.Fatalf("put = %d %s", a.status, a.body)
	}
	if p := s.Products()[7]; p.Stock != nil || p.UnitPrice != nil || p.ProductNumber != "" {
		t.Fatalf("after PUT without stock: %+v", p)
	}
	// The requests the spec refuses were answered 400 and recorded as
	// violations; the others were not.
	v := s.Violations()
	for _, want := range []string{`"pageSize"`, `"lastModifiedGe"`, `"colour" is unsupported`, `readOnly property "productId"`, `"incomeAccount" is missing`, `"/active"`} {
		if !slices.ContainsFunc(v, func(x string) bool { return strings.Contains(x, want) }) {
			t.Errorf("no violation recorded for %s:\n%s", want, strings.Join(v, "\n"))
		}
	}
	if len(v) != 6 {
		t.Errorf("%d violations, want the 6 refused by the spec:\n%s", len(v), strings.Join(v, "\n"))
	}
}

// TestWriteOnlyFieldsAreNeverAnswered: Fiken takes a contact's phone
// number, member numbers and currency and never returns them, alone or
// inside an invoice; it holds them (the back office shows them) and its
// list filter finds contacts by them.
func TestWriteOnlyFieldsAreNeverAnswered(t *testing.T) {
	s := start(t, Options{Seed: 9, Products: 1, Contacts: 1, CountersInitialized: true})
	tok := s.Token()
	const co = "/companies/demo-as"
	a := call(t, s, tok, "POST", co+"/contacts", `{"name":"Kari","email":"kari@example.no","phoneNumber":"91234567","memberNumberString":"S-7","memberNumber":7,"currency":"NOK","customer":true}`)
	if a.status != 201 {
		t.Fatalf("create contact: %d %s", a.status, a.body)
	}
	loc := a.header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	for _, path := range []string{co + "/contacts/" + id, co + "/contacts", co + "/contacts?memberNumberString=S-7"} {
		a := call(t, s, tok, "GET", path, "")
		for _, f := range []string{"phoneNumber", "memberNumber", "currency"} {
			if strings.Contains(a.body, `"`+f) {
				t.Errorf("GET %s answers %s: %s", path, f, a.body)
			}
		}
		if !strings.Contains(a.body, `"Kari"`) {
			t.Errorf("GET %s does not find the contact: %s", path, a.body)
		}
	}
	if a := call(t, s, tok, "GET", co+"/contacts?memberNumberString=S-8", ""); a.body != "[]" {
		t.Errorf("filter on another member number = %s", a.body)
	}
	for _, path := range []string{"/_emulator/contacts/" + id, "/_emulator/contacts"} {
		resp, err := http.Get(s.RootURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"phoneNumber":"91234567"`) || !strings.Contains(string(b), `"memberNumberString":"S-7"`) {
			t.Fatalf("back office %s = %d %s", path, resp.StatusCode, b)
		}
	}
	// As an invoice's customer, too.
	p := s.Products()[0]
	a = call(t, s, tok, "POST", co+"/invoices", `{"issueDate":"2026-01-01","dueDate":"2026-01-15","lines":[{"productId":`+itoa(p.ProductID)+`,"quantity":1}],"bankAccountCode":"1920:10001","cash":false,"customerId":`+id+`}`)
	if a.status != 201 {
		t.Fatalf("create invoice: %d %s", a.status, a.body)
	}
	a = call(t, s, tok, "GET", co+"/invoices", "")
	if !strings.Contains(a.body, `"customer"`) || strings.Contains(a.body, "phoneNumber") || strings.Contains(a.body, "memberNumber") {
		t.Errorf("invoice answers its customer's write-only fields: %s", a.body)
	}
}

// TestResponseValidationCatchesWhatFikenNeverSends feeds the answer
// validator an answer with a write-only and an undeclared property.
func TestResponseValidationCatchesWhatFikenNeverSends(t *testing.T) {
	s := startLenient(t, Options{})
	r := httptest.NewRequest("GET", "/companies/demo-as/contacts/5", nil)
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route}
	const contact = `{"contactId":5,"name":"Kari","customer":true,"supplier":false,"inactive":false,"contactPerson":[]`
	for i, tc := range []struct{ extra, want string }{
		{"", ""},
		{`,"phoneNumber":"91234567"`, `writeOnly property "phoneNumber"`},
		{`,"shoeSize":44`, `"shoeSize" is unsupported`},
	} {
		s.validateResponse(r, in, 200, http.Header{"Content-Type": {"application/json"}}, []byte(contact+tc.extra+"}"))
		v := s.Violations()
		switch {
		case tc.want == "" && len(v) != i:
			t.Fatalf("a contact as the spec has it: violations %q", v)
		case tc.want != "" && (len(v) != i || !strings.Contains(v[i-1], tc.want)):
			t.Fatalf("violations %q: want one naming %s", v, tc.want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestInvoicesDrawStockKIDAndSettle(t *testing.T) {
	s := start(t, Options{Seed: 2, Products: 2, Contacts: 2, CountersInitialized: true})
	tok := s.Token()
	p := s.Products()[0]
	c := s.Contacts()[1]
	body := `{"issueDate":"2026-01-01","dueDate":"2026-01-15","lines":[{"productId":` + itoa(p.ProductID) + `,"quantity":2}],` +
		`"bankAccountCode":"1920:10001","cash":false,"customerId":` + itoa(c.ContactID) + `,"orderReference":"PS-9"}`
	a := call(t, s, tok, "POST", "/companies/demo-as/invoices", body)
	if a.status != 201 {
		t.Fatalf("create = %d %s", a.status, a.body)
	}
	inv := s.Invoices()[0]
	net := *p.UnitPrice * 2
	if inv.Net != net || inv.Vat != net/4 || inv.Gross != net+net/4 || inv.InvoiceNumber != 10001 {
		t.Fatalf("invoice amounts %+v", inv)
	}
	if got := *s.Products()[0].Stock; got != *p.Stock-2 {
		t.Errorf("stock %v, want %v", got, *p.Stock-2)
	}
	if inv.Kid != kidMod10("10001") || !strings.HasPrefix(inv.Kid, "10001") {
		t.Errorf("kid %s", inv.Kid)
	}
	a = call(t, s, tok, "GET", "/companies/demo-as/invoices?orderReference=PS-9&settled=false", "")
	if a.header.Get("Fiken-Api-Result-Count") != "1" {
		t.Fatalf("filter: %s", a.body)
	}
	pay := `{"date":"2026-01-10","account":"1920:10001","amount":` + itoa(inv.Gross-1) + `}`
	if a = call(t, s, tok, "POST", "/companies/demo-as/sales/"+itoa(inv.Sale.SaleID)+"/payments", pay); a.status != 201 {
		t.Fatalf("payment = %d %s", a.status, a.body)
	}
	if s.Invoices()[0].Sale.Settled {
		t.Fatal("settled before the payments cover the gross")
	}
	if _, err := s.RegisterPayment(inv.InvoiceID, 0, "2026-01-11"); err != nil {
		t.Fatal(err)
	}
	if sale := s.Invoices()[0].Sale; !sale.Settled || sale.SettledDate != "2026-01-11" || sale.OutstandingBalance != 0 {
		t.Fatalf("sale after full payment %+v", sale)
	}
	send := `{"invoiceId":` + itoa(inv.InvoiceID) + `,"method":["ehf","sms","email"],"includeDocumentAttachments":true}`
	if a = call(t, s, tok, "POST", "/companies/demo-as/invoices/send", send); a.status != 200 {
		t.Fatalf("send = %d %s", a.status, a.body)
	}
	// Contact 1 is a person: no EHF, but a phone for SMS.
	if d := s.Invoices()[0].Dispatches; len(d) != 1 || d[0].DispatchType != "sms" {
		t.Fatalf("dispatches %+v", d)
	}
}

func TestConcurrentRequestsGet429(t *testing.T) {
	s := start(t, Options{Limits: FikenLimits(), Faults: Faults{Latency: 150 * time.Millisecond}})
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- call(t, s, s.Token(), "GET", "/companies/demo-as", "").status
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	if counts[200] < 1 || counts[429] < 1 || s.Stats().Concurrent != counts[429] {
		t.Fatalf("statuses %v, stats %+v: want one served and the overlapping ones refused", counts, s.Stats())
	}
}

func TestBackOfficeOverHTTP(t *testing.T) {
	s := start(t, Options{Seed: 3, Products: 2, Contacts: 2})
	post := func(method, path, body string) answer {
		req, _ := http.NewRequestWithContext(t.Context(), method, s.RootURL()+path, bytes.NewBufferString(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, string(b)}
	}
	p, c := s.Products()[0], s.Contacts()[0]
	if a := post("POST", "/_emulator/invoices", `{"customerId":`+itoa(c.ContactID)+`,"lines":[{"productId":`+itoa(p.ProductID)+`,"quantity":3}]}`); a.status != 200 {
		t.Fatalf("manual invoice = %d %s", a.status, a.body)
	}
	inv := s.Invoices()[0]
	if a := post("POST", "/_emulator/invoices/"+itoa(inv.InvoiceID)+"/payments", ""); a.status != 200 || !s.Invoices()[0].Sale.Settled {
		t.Fatalf("payment = %d %s", a.status, a.body)
	}
	if a := post("PATCH", "/_emulator/products/"+itoa(p.ProductID), `{"name":"Nytt navn"}`); a.status != 200 || s.Products()[0].Name != "Nytt navn" {
		t.Fatalf("edit product = %d %s", a.status, a.body)
	}
	if a := post("POST", "/_emulator/products/"+itoa(p.ProductID)+"/stock", `{"delta":10}`); a.status != 200 || *s.Products()[0].Stock != *p.Stock-3+10 {
		t.Fatalf("adjust stock = %d %s", a.status, a.body)
	}
	if a := post("PATCH", "/_emulator/contacts/"+itoa(c.ContactID), `{"email":"ny@example.no"}`); a.status != 200 || s.Contacts()[0].Email != "ny@example.no" {
		t.Fatalf("edit contact = %d %s", a.status, a.body)
	}
	call(t, s, s.Token(), "POST", "/companies/demo-as/invoices/counter", "")
	a := post("GET", "/_emulator/stats", "")
	var st Stats
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || st.Writes != 1 || st.Requests != 1 {
		t.Fatalf("stats = %s (%v), want the one API write only", a.body, err)
	}
}

func TestSeedIsDeterministicAndNorwegian(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) }
	a, err := New(Options{Seed: 42, Products: 6, Contacts: 6, Invoices: 2, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Options{Seed: 42, Products: 6, Contacts: 6, Invoices: 2, Now: now})
	if diff := cmp.Diff(a.Contacts(), b.Contacts()); diff != "" {
		t.Fatalf("same seed, different contacts:\n%s", diff)
	}
	for _, c := range a.Contacts() {
		if c.OrganizationNumber != "" && !ValidOrgNumber(c.OrganizationNumber) {
			t.Errorf("%s: organisation number %s fails MOD11", c.Name, c.OrganizationNumber)
		}
	}
	got, err := json.MarshalIndent(map[string]any{"products": a.Products(), "contacts": a.Contacts(), "invoices": a.Invoices()}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "seed42.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("seed data changed (run with -update if intended):\n%s", diff)
	}
}

func TestOrgNumberMOD11(t *testing.T) {
	tests := []struct {
		n  string
		ok bool
	}{{"923609016", true}, {"974760673", true}, {"923609017", false}, {"12345", false}}
	for _, tt := range tests {
		if got := ValidOrgNumber(tt.n); got != tt.ok {
			t.Errorf("ValidOrgNumber(%s) = %v, want %v", tt.n, got, tt.ok)
		}
	}
}
