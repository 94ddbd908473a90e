package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
)

// runEnv runs the real binary with extra environment variables.
func runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), synkBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// TestProductsAgainstEmulators runs check, apply and plan with the real
// binary against both emulators over TCP: check reports the missing invoice
// counter, products move from the shop to Fiken, and a rerun has nothing to
// do and writes nothing.
func TestProductsAgainstEmulators(t *testing.T) {
	fk, err := fikentest.NewServer(fikentest.Options{Company: "demo-as", Token: "fiken-test-token", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	fikentest.Check(t, fk)
	ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	prestashoptest.Check(t, ps)
	state := t.TempDir() + "/synk.duckdb"
	env := []string{"PRESTASHOP_URL=" + ps.URL(), "PRESTASHOP_KEY=" + ps.Key(),
		"FIKEN_URL=" + fk.URL(), "FIKEN_COMPANY=demo-as", "FIKEN_TOKEN=fiken-test-token"}

	r := runEnv(t, env, "check", "testdata/products.yaml", "--state", state)
	if r.code != 1 || !strings.Contains(r.stdout, "✗ fiken: fiken invoice counter") || !strings.Contains(r.stdout, "✓ shop: prestashop key") {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "fiken-test-token") || strings.Contains(r.stdout+r.stderr, ps.Key()) {
		t.Errorf("check output shows a secret")
	}
	fk.InitCounters()
	if r := runEnv(t, env, "check", "testdata/products.yaml", "--state", state); r.code != 0 {
		t.Fatalf("check after counters: exit %d\n%s", r.code, r.stdout)
	}

	r = runEnv(t, env, "apply", "testdata/products.yaml", "--state", state)
	if r.code != 0 || !strings.Contains(r.stdout, "failed 0, rejected 0") {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	before := fk.Stats()
	r = runEnv(t, env, "plan", "testdata/products.yaml", "--state", state)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("plan after apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := fk.Stats(); after.Writes != before.Writes {
		t.Errorf("plan wrote to Fiken: %d writes before, %d after", before.Writes, after.Writes)
	}
	r = runEnv(t, env, "sql", "--state", state, "--format", "csv", "SELECT count(*) AS n FROM synk.links WHERE entity = 'products'")
	if r.code != 0 || r.stdout == "n\n0\n" {
		t.Errorf("no product links stored: %q %s", r.stdout, r.stderr)
	}
}
