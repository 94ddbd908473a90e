package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/transforms"
)

// pushed is one request a fake Pushgateway received.
type pushed struct {
	method, path string
	user, pass   string
	families     map[string]*dto.MetricFamily
}

// fakeGateway records pushes and answers with status.
type fakeGateway struct {
	*httptest.Server
	mu     sync.Mutex
	pushes []pushed
}

func newFakeGateway(t *testing.T, status int) *fakeGateway {
	t.Helper()
	g := &fakeGateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
		p.user, p.pass, _ = r.BasicAuth()
		grouping := map[string]string{}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/metrics/"), "/")
		for i := 0; i+1 < len(parts); i += 2 {
			grouping[parts[i]] = parts[i+1]
		}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("gateway: decode pushed body: %v", err)
				}
				break
			}
			// Like the real Pushgateway, put the grouping labels on
			// every series, so the test sees what Prometheus scrapes.
			for _, m := range mf.Metric {
				for k, v := range grouping {
					m.Label = append(m.Label, &dto.LabelPair{Name: &k, Value: &v})
				}
			}
			p.families[mf.GetName()] = mf
		}
		g.mu.Lock()
		g.pushes = append(g.pushes, p)
		g.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGateway) received() []pushed {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]pushed(nil), g.pushes...)
}

// counterValue is the value of the family's series with the given labels,
// or -1 when there is none.
func counterValue(mf *dto.MetricFamily, labels map[string]string) float64 {
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

func TestPushMetrics(t *testing.T) {
	gw := newFakeGateway(t, http.StatusOK)
	reg := prometheus.NewRegistry()
	m := pipeline.NewMetrics(reg)
	m.RunsTotal.WithLabelValues("shop-books", "success").Inc()

	if err := pushMetrics(t.Context(), gw.URL, reg, "shop-books"); err != nil {
		t.Fatal(err)
	}
	got := gw.received()
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	p := got[0]
	// POST, not PUT: families this run lacks (the last success of an
	// earlier run) stay on the gateway.
	if p.method != http.MethodPost || p.path != "/metrics/job/synk/pipeline/shop-books" {
		t.Errorf("pushed %s %s, want POST /metrics/job/synk/pipeline/shop-books", p.method, p.path)
	}
	if _, ok := p.families["synk_last_success_timestamp_seconds"]; ok {
		t.Error("a gauge vector without series was pushed")
	}
	if v := counterValue(p.families["synk_runs_total"], map[string]string{"pipeline": "shop-books", "status": "success"}); v != 1 {
		t.Errorf("synk_runs_total{pipeline=shop-books,status=success} = %v, want 1", v)
	}
}

func TestPushMetricsErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	pipeline.NewMetrics(reg)
	t.Run("credentials go as basic auth and stay out of errors", func(t *testing.T) {
		gw := newFakeGateway(t, http.StatusInternalServerError)
		u := strings.Replace(gw.URL, "http://", "http://ops:hunter2@", 1)
		err := pushMetrics(t.Context(), u, reg, "p")
		if err == nil {
			t.Fatal("no error from a gateway answering 500")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("password in error: %v", err)
		}
		if got := gw.received(); len(got) != 1 || got[0].user != "ops" || got[0].pass != "hunter2" {
			t.Errorf("basic auth not sent: %+v", got)
		}
	})
	for _, bad := range []string{"", "localhost:9091", "ftp://gw", "http://"} {
		t.Run("bad URL "+bad, func(t *testing.T) {
			if err := pushMetrics(t.Context(), bad, reg, "p"); err == nil {
				t.Errorf("pushMetrics(%q): no error", bad)
			}
		})
	}
}

// TestPushGatewayFlag runs the real binary: apply and plan push at the
// end, and a gateway that fails is logged without failing the run.
func TestPushGatewayFlag(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "../../examples/two-way-csv", dir)
	gw := newFakeGateway(t, http.StatusOK)

	r := run(t, dir, "apply", "pipeline.yaml", "--push-gateway", gw.URL)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := gw.received()
	if len(got) != 1 {
		t.Fatalf("%d pushes after apply, want 1", len(got))
	}
	if got[0].path != "/metrics/job/synk/pipeline/two-way-csv" {
		t.Errorf("pushed to %s", got[0].path)
	}
	if v := counterValue(got[0].families["synk_runs_total"], map[string]string{"pipeline": "two-way-csv", "status": "success"}); v != 1 {
		t.Errorf("synk_runs_total{pipeline=two-way-csv,status=success} = %v, want 1", v)
	}
	if v := counterValue(got[0].families["synk_changes_applied_total"], map[string]string{"entity": "customers", "result": "applied"}); v <= 0 {
		t.Errorf("synk_changes_applied_total for customers = %v, want > 0", v)
	}

	r = run(t, dir, "plan", "pipeline.yaml", "--push-gateway", gw.URL)
	if r.code != 0 || len(gw.received()) != 2 {
		t.Errorf("plan: exit %d, %d pushes in all, want 2\n%s", r.code, len(gw.received()), r.stderr)
	}

	down := newFakeGateway(t, http.StatusServiceUnavailable)
	r = run(t, dir, "apply", "pipeline.yaml", "--push-gateway", down.URL)
	if r.code != 0 {
		t.Errorf("apply with a failing gateway: exit %d, want 0\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "metrics not pushed") {
		t.Errorf("failed push not logged:\n%s", r.stderr)
	}
}

// TestDeployCommandLines parses every synk command line in examples/deploy
// (systemd ExecStart, Kubernetes args) with the real command tree, so a
// renamed flag or command breaks here and not in someone's cluster.
func TestDeployCommandLines(t *testing.T) {
	var lines [][]string
	for _, f := range []string{"synk.service", "synk-apply.service"} {
		b, err := os.ReadFile(filepath.Join("../../examples/deploy/systemd", f))
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "ExecStart=/usr/local/bin/synk "); ok {
				lines = append(lines, strings.Fields(rest))
			}
		}
	}
	for _, f := range []string{"serve.yaml", "cronjob.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples/deploy/kubernetes", f))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			lines = append(lines, findArgs(doc)...)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("found %d command lines, want 4 (two systemd units, the Deployment, the CronJob): %q", len(lines), lines)
	}
	reg := pipeline.NewRegistry()
	registerConnectors(reg)
	fns := transforms.NewFunctions()
	registerFunctions(fns)
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			root := newRootCmd(reg, fns)
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Fatalf("no such command: %v", err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("flags: %v", err)
			}
			if cmd.Args != nil {
				if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
					t.Errorf("arguments: %v", err)
				}
			}
		})
	}
}

// findArgs returns every container's args in a decoded manifest.
func findArgs(v any) [][]string {
	var out [][]string
	switch x := v.(type) {
	case map[string]any:
		if c, ok := x["args"].([]any); ok && x["image"] != nil {
			var args []string
			for _, a := range c {
				args = append(args, fmt.Sprint(a))
			}
			out = append(out, args)
		}
		for _, e := range x {
			out = append(out, findArgs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, findArgs(e)...)
		}
	}
	return out
}
