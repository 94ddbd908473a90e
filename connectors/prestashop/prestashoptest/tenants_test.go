package prestashoptest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Two shops on one server, one reached by path and both by key: a write
// to one is not in the other, each answers with its own links, and one
// shop's request cap does not slow the other.
func TestTenantsAreIndependent(t *testing.T) {
	ts, err := NewTenants("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	a, err := ts.Add("a", Options{Seed: 1, Faults: Faults{RequestsPerMinute: 2}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.Add("b", Options{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Add("c", Options{Seed: 1}); err == nil {
		t.Error("a shop with a's key was added")
	}
	if a.URL() != ts.URL()+"/shops/a" {
		t.Errorf("a's URL = %s", a.URL())
	}

	before := len(b.IDs("tax_rule_groups"))
	body := `<prestashop><tax_rule_group><name>Ny</name></tax_rule_group></prestashop>`
	if r := call(t, a, "POST", "/api/tax_rule_groups", body); r.status != http.StatusCreated {
		t.Fatalf("create in a by path = %d %s", r.status, r.body)
	}
	if n := len(b.IDs("tax_rule_groups")); n != before {
		t.Errorf("b's tax rule groups went from %d to %d", before, n)
	}

	// At the root, the key picks the shop.
	byKey := func(key, path string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(key, "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	status, out := byKey(b.Key(), "/api/tax_rule_groups")
	if status != 200 || !strings.Contains(out, ts.URL()+"/shops/b/api/tax_rule_groups/") || strings.Count(out, "<tax_rule_group ") != before {
		t.Errorf("b by key = %d %s", status, out)
	}
	if status, _ := byKey(strings.Repeat("X", 32), "/api/taxes"); status != http.StatusUnauthorized {
		t.Errorf("unknown key = %d, want 401", status)
	}

	// a's cap is two requests a minute and it has had one.
	if status, _ := byKey(a.Key(), "/api/taxes"); status != 200 {
		t.Errorf("a's second request = %d", status)
	}
	if status, _ := byKey(a.Key(), "/api/taxes"); status != http.StatusTooManyRequests {
		t.Errorf("a over its cap = %d, want 429", status)
	}
	if r := call(t, b, "GET", "/api/taxes", ""); r.status != 200 {
		t.Errorf("b while a is capped = %d", r.status)
	}
}
