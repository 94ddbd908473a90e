package fikentest

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func startTenants(t *testing.T) *Tenants {
	t.Helper()
	ts, err := NewTenants("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	return ts
}

func addCompany(t *testing.T, ts *Tenants, opts Options) *Server {
	t.Helper()
	s, err := ts.Add(opts)
	if err != nil {
		t.Fatal(err)
	}
	Check(t, s)
	return s
}

func tenantCall(ctx context.Context, t *testing.T, ts *Tenants, token, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, ts.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// Two companies on one server: a contact made in one is not in the other,
// a token opens only its own company, and one request in flight is a limit
// per company.
func TestTenantsAreIndependent(t *testing.T) {
	ts := startTenants(t)
	a := addCompany(t, ts, Options{Company: "a-as", Token: "tok-a", Seed: 1, Limits: FikenLimits()})
	b := addCompany(t, ts, Options{Company: "b-as", Token: "tok-b", Seed: 2, Limits: FikenLimits()})
	if _, err := ts.Add(Options{Company: "a-as", Token: "tok-c"}); err == nil {
		t.Error("a second company a-as was added")
	}

	ctx := t.Context()
	before := len(b.Contacts())
	if r := tenantCall(ctx, t, ts, "tok-a", "POST", "/companies/a-as/contacts", `{"name":"Kari","email":"kari@example.no","customer":true}`); r.status != http.StatusCreated {
		t.Fatalf("create in a = %d %s", r.status, r.body)
	}
	if len(b.Contacts()) != before || !hasContact(a, "kari@example.no") {
		t.Errorf("contact made in a: a has it %v, b went from %d to %d contacts", hasContact(a, "kari@example.no"), before, len(b.Contacts()))
	}
	if r := tenantCall(ctx, t, ts, "tok-b", "GET", "/companies/a-as/contacts", ""); r.status != http.StatusUnauthorized {
		t.Errorf("b's token on a = %d, want 401", r.status)
	}
	if r := tenantCall(ctx, t, ts, "tok-b", "GET", "/companies", ""); r.status != 200 || !strings.Contains(r.body, `"b-as"`) || strings.Contains(r.body, `"a-as"`) {
		t.Errorf("b's companies = %d %s", r.status, r.body)
	}

	// Hold a request in a's flight until the end of the test.
	a.SetFaults(Faults{Latency: time.Hour})
	seen := a.Stats().Requests
	held, release := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tenantCall(held, t, ts, "tok-a", "GET", "/companies/a-as", "")
	}()
	defer func() { release(); <-done }()
	for a.Stats().Requests == seen {
		runtime.Gosched() // the held request has not reached a yet (counted once in flight)
	}
	if r := tenantCall(ctx, t, ts, "tok-a", "GET", "/companies/a-as", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("second request to a = %d, want 429", r.status)
	}
	if r := tenantCall(ctx, t, ts, "tok-b", "GET", "/companies/b-as", ""); r.status != 200 {
		t.Errorf("request to b while a is busy = %d %s", r.status, r.body)
	}
	if a.Stats().Concurrent != 1 || b.Stats().Concurrent != 0 {
		t.Errorf("refused: a %d, b %d; want 1, 0", a.Stats().Concurrent, b.Stats().Concurrent)
	}
}

func hasContact(s *Server, email string) bool {
	for _, c := range s.Contacts() {
		if c.Email == email {
			return true
		}
	}
	return false
}
