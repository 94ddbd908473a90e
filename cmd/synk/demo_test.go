package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline/state"
)

// flagshipEnv satisfies the flagship pipeline's ${env:…}: reconcile reads
// only the state file, so the systems need not exist.
var flagshipEnv = []string{"PRESTASHOP_URL=http://127.0.0.1:9", "PRESTASHOP_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
	"FIKEN_URL=http://127.0.0.1:9/api/v2", "FIKEN_COMPANY=demo-as", "FIKEN_TOKEN=demo-token"}

const flagshipFile = "../../pipelines/prestashop-fiken.yaml"

// reconJSON is `synk reconcile --format json`.
type reconJSON struct {
	Clean bool `json:"clean"`
	Views []struct {
		View   string           `json:"view"`
		Helper bool             `json:"helper"`
		Count  int              `json:"count"`
		Rows   []map[string]any `json:"rows"`
	} `json:"views"`
}

func reconcileJSON(t *testing.T, env []string, pipe, state string) (reconJSON, result) {
	t.Helper()
	r := runEnv(t, env, "reconcile", pipe, "--state", state, "--format", "json")
	var rep reconJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("reconcile --format json: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// dirty lists the reports that have rows.
func (r reconJSON) dirty() []string {
	var out []string
	for _, v := range r.Views {
		if !v.Helper && v.Count > 0 {
			out = append(out, v.View)
		}
	}
	return out
}

// TestDemo runs `synk demo` with the real binary: it exits 0 in well under
// a minute, tells of invoices and a settlement that the state file holds,
// and leaves a state file that reconcile finds clean; edits of that state
// file (the engine-free path) each make the one report they should dirty.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "demo.duckdb")
	start := time.Now()
	r := run(t, dir, "demo", "--state", st)
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if took > 50*time.Second {
		t.Errorf("demo took %v, want well under a minute", took)
	}
	card := regexp.MustCompile(`order ([A-Z]{9}) → Fiken invoice (\d+): [0-9.]+ NOK, paid by card`).FindStringSubmatch(r.stdout)
	sent := regexp.MustCompile(`order ([A-Z]{9}) → Fiken invoice (\d+): [0-9.]+ NOK, unpaid, sent by \w+, KID (\d+), due [0-9-]+, incl\. 49\.00 NOK invoice fee`).FindStringSubmatch(r.stdout)
	settled := regexp.MustCompile(`invoice (\d+) paid → shop order ([A-Z]{9}) moves to "Oppgjort i Fiken"`).FindStringSubmatch(r.stdout)
	refund := regexp.MustCompile(`credit slip (\d+) → Fiken credit note (\d+): ([0-9.]+) NOK against invoice (\d+)`).FindStringSubmatch(r.stdout)
	if refund == nil || !strings.Contains(r.stdout, "credit slip "+refund[1]+", "+refund[3]+" NOK refunded") {
		t.Errorf("demo story lacks the refund and its credit note of the refunded amount:\n%s", r.stdout)
	}
	euro := regexp.MustCompile(`order ([A-Z]{9}) → Fiken invoice (\d+): [0-9.]+ EUR, paid by card`).FindStringSubmatch(r.stdout)
	if card == nil || sent == nil || settled == nil || euro == nil {
		t.Fatalf("demo story lacks the card order, the euro order, the sent invoice or the settlement:\n%s", r.stdout)
	}
	cur := run(t, dir, "sql", "--state", st, "--format", "csv", "SELECT o.currency AS shop, i.currency AS fiken, i.gross = CAST(round(o.total_paid_tax_incl * 100) AS BIGINT) AS same "+
		"FROM synk.links k JOIN shop.orders o ON o._key = k.left_key JOIN fiken.invoices i ON i._key = k.right_key WHERE o.reference = '"+euro[1]+"'")
	if cur.stdout != "shop,fiken,same\nEUR,EUR,true\n" {
		t.Errorf("the euro order in the state file: %q %s", cur.stdout, cur.stderr)
	}
	for _, want := range []string{"stays in Fiken", "sold in Fiken", "stock count in the shop", "reconcile: clean", "synk sql --state " + st} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The queries it suggests run on its state file and find rows.
	queries := regexp.MustCompile(`(?m)^   synk sql --state (\S+) (".*")$`).FindAllStringSubmatch(r.stdout, -1)
	if len(queries) < 3 {
		t.Errorf("demo suggests %d synk sql queries, want several:\n%s", len(queries), r.stdout)
	}
	for _, q := range queries {
		sql, err := strconv.Unquote(q[2])
		if err != nil || q[1] != st {
			t.Errorf("suggested query %s: state %s, %v", q[0], q[1], err)
			continue
		}
		if r := run(t, dir, "sql", "--state", st, "--format", "csv", sql); r.code != 0 || strings.Count(r.stdout, "\n") < 2 &&
			!strings.Contains(sql, "recon.") {
			t.Errorf("suggested query %s: exit %d\n%s%s", sql, r.code, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "✗") {
		t.Errorf("demo output shows a failed expectation:\n%s", r.stdout)
	}

	// The story is what the state file holds.
	q := "SELECT o.reference, i.invoiceNumber, coalesce(i.kid, ''), i.cash, i.settled, o.state_name FROM synk.links k " +
		"JOIN shop.orders o ON o._key = k.left_key JOIN fiken.invoices i ON i._key = k.right_key WHERE k.entity = 'orders' ORDER BY 1"
	r2 := run(t, dir, "sql", "--state", st, "--format", "csv", q)
	if r2.code != 0 {
		t.Fatalf("sql: exit %d %s", r2.code, r2.stderr)
	}
	// reference → invoiceNumber, kid, cash, settled, state_name
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(r2.stdout), "\n")[1:] {
		f := strings.Split(l, ",")
		rows[f[0]] = f[1:]
	}
	check := func(what, ref string, want []string) {
		t.Helper()
		got := rows[ref]
		if len(got) != 5 {
			t.Errorf("%s order %s not linked to an invoice in the state file: %q", what, ref, got)
			return
		}
		for i, w := range want {
			if w != "*" && got[i] != w {
				t.Errorf("%s order %s in the state file: %q, want %q", what, ref, got, want)
				return
			}
		}
	}
	check("card", card[1], []string{card[2], "*", "true", "true", "*"})
	check("invoice", sent[1], []string{sent[2], sent[3], "false", "false", "*"})
	check("settled", settled[2], []string{settled[1], "*", "false", "true", "Oppgjort i Fiken"})

	rep, rr := reconcileJSON(t, flagshipEnv, flagshipFile, st)
	if rr.code != 0 || !rep.Clean {
		t.Fatalf("reconcile after the demo: exit %d, dirty %v\n%s", rr.code, rep.dirty(), rr.stderr)
	}
	var names []string
	for _, v := range rep.Views {
		names = append(names, v.View)
		if v.View == "recon.fiken_units_invoiced" && (!v.Helper || v.Count == 0) {
			t.Errorf("recon.fiken_units_invoiced: helper %v with %d rows, want a helper with rows (shop orders were invoiced)", v.Helper, v.Count)
		}
	}
	wantNames := []string{"recon.fiken_units_invoiced", "recon.orders_without_invoice", "recon.invoice_vs_order_totals",
		"recon.stock_differences", "recon.unmatched_customers", "recon.settled_not_marked"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("recon views (-want +got):\n%s", diff)
	}
	if r := runEnv(t, flagshipEnv, "reconcile", flagshipFile, "--state", st); r.code != 0 || !strings.Contains(r.stdout, "reconcile: clean (5 reports, no rows)") {
		t.Errorf("reconcile table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := run(t, dir, "demo", "--state", st); r.code != 2 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("demo over an existing --state: exit %d, want 2 and a refusal\n%s", r.code, r.stderr)
	}

	// Discrepancies: each edit of a copy of the state file dirties exactly
	// its report, and the table output names it.
	for _, tc := range []struct {
		name, sql, view string
	}{
		{"order link lost", `DELETE FROM synk.links WHERE entity = 'orders' AND left_key = (SELECT min(k.left_key) FROM synk.links k JOIN shop.orders o ON o._key = k.left_key WHERE k.entity = 'orders' AND o.current_state IN (2, 3, 4, 5, 10))`,
			"recon.orders_without_invoice"},
		{"invoice total off by one øre", `UPDATE fiken.invoices SET gross = gross + 1 WHERE _key = (SELECT min(right_key) FROM synk.links WHERE entity = 'orders')`,
			"recon.invoice_vs_order_totals"},
		{"shop stock differs", `UPDATE shop.stock_availables SET quantity = quantity + 3 WHERE _key = (SELECT min(left_key) FROM synk.links WHERE entity = 'stock')`,
			"recon.stock_differences"},
		{"customer link lost", `DELETE FROM synk.links WHERE entity = 'customers' AND left_key = (SELECT min(left_key) FROM synk.links WHERE entity = 'customers')`,
			"recon.unmatched_customers"},
		{"settled order not marked", `UPDATE shop.orders SET state_name = 'Levert' WHERE _key IN (SELECT k.left_key FROM synk.links k JOIN fiken.invoices i ON i._key = k.right_key WHERE k.entity = 'orders' AND i.settled AND NOT i.cash)`,
			"recon.settled_not_marked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "state.duckdb")
			copyFile(t, st, cp)
			s, err := state.Open(t.Context(), cp)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.DB.ExecContext(t.Context(), tc.sql)
			if err != nil {
				s.Close()
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				s.Close()
				t.Fatalf("%s changed no row", tc.sql)
			}
			s.Close()
			rep, r := reconcileJSON(t, flagshipEnv, flagshipFile, cp)
			if r.code != 1 || rep.Clean {
				t.Errorf("reconcile: exit %d clean %v, want 1", r.code, rep.Clean)
			}
			if diff := cmp.Diff([]string{tc.view}, rep.dirty()); diff != "" {
				t.Errorf("dirty reports (-want +got):\n%s", diff)
			}
			r = runEnv(t, flagshipEnv, "reconcile", flagshipFile, "--state", cp)
			if r.code != 1 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(tc.view)+`: \d+ rows$`).MatchString(r.stdout) ||
				!strings.Contains(r.stdout, "discrepancies in 1 of 5 reports: "+tc.view) {
				t.Errorf("reconcile table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !slices.ContainsFunc(strings.Split(r.stdout, "\n"), func(l string) bool { return strings.HasPrefix(l, "recon.") && strings.HasSuffix(l, ": ok (0 rows)") }) {
				t.Errorf("clean reports not listed as ok:\n%s", r.stdout)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", ".wal"} {
		src, err := os.Open(from + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(to + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDemoKeep runs `synk demo --keep`: the emulators stay up, the printed
// exports point `synk plan` at them (nothing to do, the demo left both
// sides in step), and Ctrl-C ends the demo with exit 0.
func TestDemoKeep(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "keep.duckdb")
	cmd := exec.CommandContext(t.Context(), synkBin, "demo", "--keep", "--state", st)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var env []string
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export "); ok {
			env = append(env, strings.Fields(rest)...)
		}
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "back offices:") {
			break
		}
	}
	if len(env) != 5 {
		t.Fatalf("demo --keep printed no exports (%v):\n%s\n%s", env, out.String(), stderr.String())
	}
	copied := make(chan struct{})
	go func() { io.Copy(io.Discard, stdout); close(copied) }()
	r := runEnv(t, env, "plan", flagshipFile, "--state", st)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Errorf("plan against the kept emulators: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-copied // Wait closes the pipe: read it to the end first
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo --keep after Ctrl-C: %v\n%s", err, stderr.String())
	}
}
