package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
)

// TestCheckVars runs `synk check` with the real binary against both
// emulators over TCP and a pipeline whose vars name shop settings: an
// existing and a missing order state fail the run, an unused payment
// module only warns, and once the missing state exists the run passes.
func TestCheckVars(t *testing.T) {
	fk, err := fikentest.NewServer(fikentest.Options{Company: "demo-as", Token: "fiken-test-token", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	fikentest.Check(t, fk)
	fk.InitCounters()
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	prestashoptest.Check(t, ps)
	state := t.TempDir() + "/synk.duckdb"
	env := []string{"PRESTASHOP_URL=" + ps.URL(), "PRESTASHOP_KEY=" + ps.Key(),
		"FIKEN_URL=" + fk.URL(), "FIKEN_COMPANY=demo-as", "FIKEN_TOKEN=fiken-test-token"}
	check := func(t *testing.T, file string, wantCode int, want, notWant []string) string {
		t.Helper()
		r := runEnv(t, env, "check", file, "--state", state)
		if r.code != wantCode {
			t.Errorf("exit %d, want %d", r.code, wantCode)
		}
		for _, w := range want {
			if !hasLinePrefix(r.stdout, w) {
				t.Errorf("no line starting %q", w)
			}
		}
		for _, w := range notWant {
			if strings.Contains(r.stdout, w) {
				t.Errorf("output has %q", w)
			}
		}
		if strings.Contains(r.stdout+r.stderr, ps.Key()) || strings.Contains(r.stdout+r.stderr, "fiken-test-token") {
			t.Error("check output shows a secret")
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		return r.stderr
	}
	pipelineFile := filepath.Join("testdata", "check_vars.yaml")

	t.Run("missing state fails, unused module warns", func(t *testing.T) {
		stderr := check(t, pipelineFile, 1, []string{
			"✓ shop: prestashop order state 2 (vars.order_states) — ",
			"✗ shop: prestashop order state 14 (vars.order_states) — no such order state in the shop",
			"✓ shop: prestashop order state 6 (vars.credit_states) — ",
			`✓ shop: prestashop settled order state "Oppgjort i Fiken" (vars.settled_state) — missing; will be created on the first settlement`,
			`✓ shop: prestashop payment module "vipps" (vars.payments) — used in recent orders`,
			`! shop: prestashop payment module "klarna" (vars.payments) — not seen in the last 500 orders (seen: `,
			"✓ fiken: fiken invoice counter",
			"✓ shop: currencies — NOK, EUR, SEK",
			"✓ fiken: invoices in EUR, NOK, SEK",
		}, nil)
		if !strings.Contains(stderr, "1 check(s) failed") {
			t.Errorf("stderr %q: want exactly one failed check counted", stderr)
		}
	})

	// The shop gets the settled state; the emulator gives it the next id, 14.
	conn, err := prestashop.Open(t.Context(), pipeline.Env{Connection: "shop", HTTP: http.DefaultClient},
		&prestashop.Config{URL: ps.URL(), Key: ps.Key()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := conn.EnsureOrderState(t.Context(), "Oppgjort i Fiken")
	if err != nil || id != 14 {
		t.Fatalf("created settled state %d, %v; the test expects id 14", id, err)
	}
	t.Run("existing states pass despite the warning", func(t *testing.T) {
		check(t, pipelineFile, 0, []string{
			"✓ shop: prestashop order state 14 (vars.order_states) — Oppgjort i Fiken",
			`✓ shop: prestashop settled order state "Oppgjort i Fiken" (vars.settled_state) — id 14`,
			`! shop: prestashop payment module "klarna" (vars.payments) — not seen`,
		}, []string{"✗"})
	})

	src, err := os.ReadFile(pipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, content string) string {
		t.Helper()
		// The pipeline names no files, so a copy elsewhere behaves the same.
		p := filepath.Join(t.TempDir(), "check_vars.yaml")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	variant := func(t *testing.T, from, to string) string {
		t.Helper()
		if !strings.Contains(string(src), from) {
			t.Fatalf("%s lacks %q", pipelineFile, from)
		}
		return write(t, strings.Replace(string(src), from, to, 1))
	}
	t.Run("credit states only with credit notes on", func(t *testing.T) {
		check(t, variant(t, "credit_notes: true", "credit_notes: false"), 0,
			[]string{"- shop: vars.credit_states not checked: vars.credit_notes is not true"}, []string{"(vars.credit_states)"})
	})
	t.Run("malformed vars fail", func(t *testing.T) {
		check(t, variant(t, "order_states: [2, 14]", "order_states: paid"), 1,
			[]string{"✗ shop: vars.order_states — want a list of order state ids"}, nil)
	})
	t.Run("no vars, no vars checks", func(t *testing.T) {
		i, j := strings.Index(string(src), "vars:\n"), strings.Index(string(src), "entities:")
		if i < 0 || j < i {
			t.Fatalf("%s: vars: not before entities:", pipelineFile)
		}
		check(t, write(t, string(src[:i])+string(src[j:])), 0, []string{"✓ shop: prestashop key"}, []string{"vars."})
	})
	t.Run("a shop currency Fiken does not invoice in fails", func(t *testing.T) {
		if err := ps.Edit("currencies", 3, map[string]string{"iso_code": "XAU"}); err != nil {
			t.Fatal(err)
		}
		check(t, pipelineFile, 1, []string{
			"✓ shop: currencies — NOK, EUR, XAU",
			"✗ fiken: invoices in XAU — not a currency it invoices in: orders in it are rejected",
		}, nil)
	})
}

func hasLinePrefix(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// The PrestaShop connector is what checks the flagship pipeline's vars.
var _ varsChecker = (*prestashop.Connector)(nil)
