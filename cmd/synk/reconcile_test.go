package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/pipelines"
	"github.com/synk-etl/synk/transforms"
)

// TestReconViewKinds checks the rule that tells helpers from reports: a
// recon view a counter's offset query reads is a helper.
func TestReconViewKinds(t *testing.T) {
	env := map[string]string{}
	for _, kv := range flagshipEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	reg := pipeline.NewRegistry()
	registerConnectors(reg)
	fns := transforms.NewFunctions()
	registerFunctions(fns)
	p, err := spec.Parse("prestashop-fiken.yaml", []byte(pipelines.PrestashopFiken()), reg,
		spec.Options{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Functions: fns})
	if err != nil {
		t.Fatal(err)
	}
	var helpers []string
	for _, v := range reconNames(p) {
		if offsetReads(p, v) {
			helpers = append(helpers, v)
		}
	}
	if diff := cmp.Diff([]string{"recon.fiken_units_invoiced"}, helpers); diff != "" {
		t.Errorf("flagship helpers (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		offset string
		want   bool
	}{
		{"SELECT key, units FROM recon.used", true},
		{`SELECT key, units FROM "recon"."used"`, true},
		{"select key, units from RECON.USED where units > 0", true},
		{"SELECT key, units FROM recon.used_more", false},
		{"SELECT key, units FROM other.used", false},
		{"", false},
	} {
		t.Run(tc.offset, func(t *testing.T) {
			p := &spec.Pipeline{Entities: []*spec.Entity{{Name: "stock", Counter: &spec.Counter{RightOffset: tc.offset}}}}
			if got := offsetReads(p, "recon.used"); got != tc.want {
				t.Errorf("offsetReads(%q) = %v, want %v", tc.offset, got, tc.want)
			}
		})
	}
}

// TestReconcileCSV runs reconcile on the two-way CSV example with views
// added: only schema recon is printed, a snapshot that plan refreshed shows
// what is pending, and a state file without the tables is exit 2.
func TestReconcileCSV(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "../../examples/two-way-csv", dir)
	pipe := filepath.Join(dir, "pipeline.yaml")
	b, err := os.ReadFile(pipe)
	if err != nil {
		t.Fatal(err)
	}
	views := "\nviews:\n" +
		"  crm_not_in_mail: |\n" +
		"    SELECT c.id, c.email FROM crm.customers c\n" +
		"    WHERE NOT EXISTS (SELECT 1 FROM synk.links k WHERE k.entity = 'customers' AND k.left_key = c._key)\n" +
		"  analytics.vips: SELECT count(*) AS n FROM crm.customers WHERE vip\n"
	if err := os.WriteFile(pipe, append(b, views...), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, "reconcile", "pipeline.yaml"); r.code != 2 || !strings.Contains(r.stderr, "run synk apply first") {
		t.Errorf("reconcile before any run: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, dir, "apply", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, dir, "reconcile", "pipeline.yaml")
	if r.code != 0 || r.stdout != "recon.crm_not_in_mail: ok (0 rows)\nreconcile: clean (1 reports, no rows)\n" {
		t.Errorf("reconcile after apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	crm := filepath.Join(dir, "crm", "customers.csv")
	f, err := os.OpenFile(crm, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("99,Nina Ny,nina@example.no,,false,2026-01-02T10:00:00Z\n")
	f.Close()
	if r := run(t, dir, "plan", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, dir, "reconcile", "pipeline.yaml", "--format", "csv")
	if r.code != 1 || r.stdout != "# recon.crm_not_in_mail report: 1 rows\nid,email\n99,nina@example.no\n" {
		t.Errorf("reconcile after a new CRM row: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"reconcile", "pipeline.yaml", "--format", "xml"}, "use table, csv or json"},
		{"no such state file", []string{"reconcile", "pipeline.yaml", "--state", "nope.duckdb"}, "run synk apply first"},
		{"state file without the tables", []string{"reconcile", "pipeline.yaml", "--state", emptyState(t)}, "view recon.crm_not_in_mail"},
		{"broken pipeline", []string{"reconcile", "missing.yaml"}, "read pipeline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, dir, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func emptyState(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "empty.duckdb")
	s, err := state.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return path
}

// TestReconcileAgainstEmulators applies the flagship pipeline with the
// real binary against both emulators until in step, then changes an
// invoiced order's total in the shop: invoices are never rewritten, so
// the next run leaves it and reconcile reports it. Reconcile itself makes
// no request to either system.
func TestReconcileAgainstEmulators(t *testing.T) {
	fk, err := fikentest.NewServer(fikentest.Options{Seed: 5, Products: 4, Contacts: 3, CountersInitialized: true,
		Limits: fikentest.Limits{RejectConcurrent: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	fikentest.Check(t, fk)
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 5, Products: 5, Customers: 4, Orders: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	prestashoptest.Check(t, ps)
	dir := t.TempDir()
	src, err := os.ReadFile(flagshipFile)
	if err != nil {
		t.Fatal(err)
	}
	// Fiken's 4 requests/s would only slow the test; the emulator still
	// refuses a second request in flight.
	text := strings.Replace(string(src), "    # Fiken's limits (1 request in flight, 4/s) are the default.", "    rate: 0", 1)
	pipe := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(pipe, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "state.duckdb")
	env := []string{"PRESTASHOP_URL=" + ps.URL(), "PRESTASHOP_KEY=" + ps.Key(),
		"FIKEN_URL=" + fk.URL(), "FIKEN_COMPANY=" + fk.Company(), "FIKEN_TOKEN=" + fk.Token()}
	converge := func() {
		t.Helper()
		for range 4 {
			r := runEnv(t, env, "apply", pipe, "--state", st)
			if r.code != 0 {
				t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "No changes") {
				return
			}
		}
		t.Fatal("not in step after 4 runs")
	}
	converge()
	fkBefore, psBefore := fk.Stats().Requests, ps.Stats().Requests
	// An analyst runs it without any of the connections' secrets.
	if r := runEnv(t, nil, "reconcile", pipe, "--state", st); r.code != 0 {
		t.Fatalf("reconcile after convergence, without the connections' environment: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if fk.Stats().Requests != fkBefore || ps.Stats().Requests != psBefore {
		t.Errorf("reconcile made requests: Fiken %d, shop %d", fk.Stats().Requests-fkBefore, ps.Stats().Requests-psBefore)
	}

	ref := ""
	for _, inv := range fk.Invoices() {
		if inv.OrderReference != "" {
			ref = inv.OrderReference
			break
		}
	}
	if ref == "" {
		t.Fatal("no invoice made from a shop order")
	}
	var id int64
	var total float64
	for _, oid := range ps.IDs("orders") {
		if o, ok := ps.Get("orders", oid); ok && o.Fields["reference"] == ref {
			id = oid
			total, _ = strconv.ParseFloat(o.Fields["total_paid_tax_incl"], 64)
		}
	}
	newTotal := strconv.FormatFloat(total+10, 'f', 2, 64)
	if err := ps.Edit("orders", id, map[string]string{"total_paid_tax_incl": newTotal}); err != nil {
		t.Fatal(err)
	}
	// The next run reads the edited order; it may reject re-mapping it
	// (its rows no longer add up), but never rewrites the invoice.
	r := runEnv(t, env, "apply", pipe, "--state", st)
	if r.code != 0 && !strings.Contains(r.stdout, "reject orders shop.orders "+strconv.FormatInt(id, 10)+":") {
		t.Fatalf("apply after the edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep, r := reconcileJSON(t, env, pipe, st)
	if r.code != 1 {
		t.Fatalf("reconcile after the edit: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if diff := cmp.Diff([]string{"recon.invoice_vs_order_totals"}, rep.dirty()); diff != "" {
		t.Errorf("dirty reports (-want +got):\n%s", diff)
	}
	for _, v := range rep.Views {
		if v.View == "recon.invoice_vs_order_totals" && (len(v.Rows) != 1 || v.Rows[0]["reference"] != ref) {
			t.Errorf("invoice_vs_order_totals rows %v, want order %s", v.Rows, ref)
		}
	}
	r = runEnv(t, env, "reconcile", pipe, "--state", st)
	if r.code != 1 || !strings.Contains(r.stdout, "recon.invoice_vs_order_totals: 1 rows") || !strings.Contains(r.stdout, ref) {
		t.Errorf("reconcile table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
