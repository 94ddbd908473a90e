package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/synk-etl/synk/pipeline"
)

// exported returns every metric synk exports (histograms also under their
// _bucket, _sum and _count names) with its label names. Each metric of
// pipeline.Metrics is exercised once so that it shows up in Gather.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := pipeline.NewMetrics(reg)
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if !exercise(v.Field(i).Interface()) {
			t.Fatalf("pipeline.Metrics.%s: unknown metric type %T; teach exercise() about it", name, v.Field(i).Interface())
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		var labels []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		out[mf.GetName()] = labels
		if mf.GetType().String() == "HISTOGRAM" {
			out[mf.GetName()+"_sum"] = labels
			out[mf.GetName()+"_count"] = labels
			out[mf.GetName()+"_bucket"] = append(slices.Clone(labels), "le")
		}
	}
	if len(out) < v.NumField() {
		t.Fatalf("gathered %d metrics from %d fields", len(out), v.NumField())
	}
	return out
}

// exercise adds one observation with as many label values as the vector
// takes (tried from 0 up: the vectors say how many only by refusing).
func exercise(c any) bool {
	for n := 0; n <= 8; n++ {
		lvs := make([]string, n)
		for i := range lvs {
			lvs[i] = "x"
		}
		switch v := c.(type) {
		case *prometheus.CounterVec:
			if m, err := v.GetMetricWithLabelValues(lvs...); err == nil {
				m.Inc()
				return true
			}
		case *prometheus.GaugeVec:
			if m, err := v.GetMetricWithLabelValues(lvs...); err == nil {
				m.Set(1)
				return true
			}
		case *prometheus.HistogramVec:
			if m, err := v.GetMetricWithLabelValues(lvs...); err == nil {
				m.Observe(1)
				return true
			}
		default:
			return false
		}
	}
	return false
}

// query is one PromQL expression and where it comes from.
type query struct{ where, expr string }

var (
	metricRe  = regexp.MustCompile(`\bsynk_[a-z0-9_]+`)
	matcherRe = regexp.MustCompile(`\b(synk_[a-z0-9_]+)\s*\{([^}]*)\}`)
	labelRe   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	byRe      = regexp.MustCompile(`\b(?:by|on|ignoring|without)\s*\(([^)]*)\)`)
	lvRe      = regexp.MustCompile(`label_values\(\s*(synk_[a-z0-9_]+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// labels every series has once scraped or pushed.
var targetLabels = []string{"job", "instance"}

// checkQuery reports metric names synk does not export and label names
// the metrics it uses do not have.
func checkQuery(t *testing.T, metrics map[string][]string, q query) {
	t.Helper()
	used := metricRe.FindAllString(q.expr, -1)
	if len(used) == 0 && !strings.Contains(q.expr, "label_values") {
		t.Errorf("%s: no synk metric in %q", q.where, q.expr)
	}
	var have []string // labels of every metric used
	for _, name := range used {
		labels, ok := metrics[name]
		if !ok {
			t.Errorf("%s: %s is not a metric synk exports", q.where, name)
			continue
		}
		have = append(have, labels...)
	}
	have = append(have, targetLabels...)
	for _, m := range matcherRe.FindAllStringSubmatch(q.expr, -1) {
		for _, l := range labelRe.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(append(metrics[m[1]], targetLabels...), l[1]) {
				t.Errorf("%s: %s has no label %q (it has %v)", q.where, m[1], l[1], metrics[m[1]])
			}
		}
	}
	for _, m := range byRe.FindAllStringSubmatch(q.expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(have, l) {
				t.Errorf("%s: grouping by %q, which none of %v has", q.where, l, used)
			}
		}
	}
	for _, m := range lvRe.FindAllStringSubmatch(q.expr, -1) {
		if !slices.Contains(metrics[m[1]], m[2]) {
			t.Errorf("%s: label_values(%s, %s): no such metric or label", q.where, m[1], m[2])
		}
	}
}

// rules is the part of a Prometheus rule file the test reads.
type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestAlertRules(t *testing.T) {
	metrics := exported(t)
	b, err := os.ReadFile("prometheus/synk-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf rules
	if err := yaml.UnmarshalWithOptions(b, &rf, yaml.Strict()); err != nil {
		t.Fatalf("synk-alerts.yaml: %v", err)
	}
	var exprs []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: wants alert, expr and a summary", r)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			checkQuery(t, metrics, query{"alert " + r.Alert, r.Expr})
			exprs = append(exprs, r.Expr)
		}
	}
	// The alerts the issue asks for, by what they must look at.
	for _, want := range []string{
		"synk_last_success_timestamp_seconds",
		"synk_rejects_total",
		`synk_http_requests_total{code="429"}`,
		`synk_runs_total{status="failed"}`,
	} {
		if !slices.ContainsFunc(exprs, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("no alert uses %s", want)
		}
	}
}

// TestAlertRulesWithPromtool checks the rules with Prometheus's own tool and
// runs their unit tests (prometheus/synk-alerts.test.yaml). .ci/run installs
// promtool (Debian's prometheus package); elsewhere the test skips, saying
// so, unless CI is set.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed; .ci/run installs it (apt-get install prometheus)")
		}
		t.Skip("promtool not installed (apt-get install prometheus); the rules are only checked by the Go test above")
	}
	for _, args := range [][]string{{"check", "rules", "synk-alerts.yaml"}, {"test", "rules", "synk-alerts.test.yaml"}} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func TestDashboard(t *testing.T) {
	metrics := exported(t)
	b, err := os.ReadFile("grafana/synk-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("synk-dashboard.json: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid or panels")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkQuery(t, metrics, query{"panel " + p.Title, tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue // the data source picker
		}
		s, _ := q["query"].(string)
		if !lvRe.MatchString(s) {
			t.Errorf("variable %s: query %q is not label_values(synk_…, label)", v.Name, s)
		}
		checkQuery(t, metrics, query{"variable " + v.Name, s})
	}
}

// decodeAll parses every document of a YAML stream.
func decodeAll[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
}

// k8sObject is the part of a manifest the test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Template    podTemplate `yaml:"template"`
		JobTemplate struct {
			Spec struct {
				Template podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Containers []struct {
			Args  []string `yaml:"args"`
			Ports []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			EnvFrom []struct {
				SecretRef struct {
					Name string `yaml:"name"`
				} `yaml:"secretRef"`
			} `yaml:"envFrom"`
			LivenessProbe  probe `yaml:"livenessProbe"`
			ReadinessProbe probe `yaml:"readinessProbe"`
			VolumeMounts   []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name                  string `yaml:"name"`
			PersistentVolumeClaim struct {
				ClaimName string `yaml:"claimName"`
			} `yaml:"persistentVolumeClaim"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// argAfter is the value after flag in args.
func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func TestKubernetes(t *testing.T) {
	byKind := map[string]k8sObject{}
	for _, f := range []string{"kubernetes/serve.yaml", "kubernetes/cronjob.yaml"} {
		for _, o := range decodeAll[k8sObject](t, f) {
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: object without apiVersion, kind or name: %+v", f, o)
			}
			byKind[o.Kind] = o
		}
	}
	for _, k := range []string{"Secret", "PersistentVolumeClaim", "Deployment", "Service", "CronJob"} {
		if _, ok := byKind[k]; !ok {
			t.Errorf("no %s", k)
		}
	}

	dep := byKind["Deployment"].Spec.Template
	if len(dep.Spec.Containers) != 1 {
		t.Fatalf("deployment: %d containers", len(dep.Spec.Containers))
	}
	c := dep.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("deployment args %v: want serve", c.Args)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %q, readiness %q", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	// --addr, the container port the probes use and the scrape annotation
	// must agree.
	addr := argAfter(c.Args, "--addr")
	if len(c.Ports) != 1 || c.Ports[0].Name != c.LivenessProbe.HTTPGet.Port || c.Ports[0].Name != c.ReadinessProbe.HTTPGet.Port {
		t.Errorf("ports %+v do not match the probes' port", c.Ports)
	} else if port := dep.Metadata.Annotations["prometheus.io/port"]; !strings.HasSuffix(addr, ":"+port) ||
		!strings.HasSuffix(addr, ":"+itoa(c.Ports[0].ContainerPort)) || strings.HasPrefix(addr, "127.") {
		t.Errorf("--addr %q, containerPort %d, prometheus.io/port %q disagree (or listen on loopback only)", addr, c.Ports[0].ContainerPort, port)
	}
	if dep.Metadata.Annotations["prometheus.io/scrape"] != "true" {
		t.Error("deployment not annotated for scraping")
	}
	if !mountsClaim(dep, "/var/lib/synk") || len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef.Name == "" {
		t.Error("deployment: want the state PVC at /var/lib/synk and env from a Secret")
	}

	job := byKind["CronJob"].Spec.JobTemplate.Spec.Template
	if len(job.Spec.Containers) != 1 {
		t.Fatalf("cronjob: %d containers", len(job.Spec.Containers))
	}
	args := job.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "apply" || !strings.HasPrefix(argAfter(args, "--push-gateway"), "http") {
		t.Errorf("cronjob args %v: want apply --push-gateway URL", args)
	}
	if !mountsClaim(job, "/var/lib/synk") {
		t.Error("cronjob: want a PVC at /var/lib/synk")
	}
}

func mountsClaim(p podTemplate, path string) bool {
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		for _, v := range p.Spec.Volumes {
			if m.MountPath == path && m.Name == v.Name && v.PersistentVolumeClaim.ClaimName != "" {
				return true
			}
		}
	}
	return false
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// unit parses a systemd unit file into section → key → values.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemd(t *testing.T) {
	u := unit(t, "systemd/synk.service")
	svc := u["Service"]
	if exec := svc["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], " serve ") {
		t.Errorf("ExecStart %v: want synk serve", exec)
	}
	for _, k := range []string{"User", "StateDirectory", "EnvironmentFile", "NoNewPrivileges", "ProtectSystem", "ExecReload"} {
		if len(svc[k]) == 0 {
			t.Errorf("synk.service: no %s=", k)
		}
	}
	if u["Install"]["WantedBy"] == nil {
		t.Error("synk.service: no [Install] WantedBy=")
	}
	one := unit(t, "systemd/synk-apply.service")
	if exec := one["Service"]["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], " apply --push-gateway http") {
		t.Errorf("synk-apply.service ExecStart %v: want apply --push-gateway", exec)
	}
	if unit(t, "systemd/synk-apply.timer")["Timer"]["OnCalendar"] == nil {
		t.Error("synk-apply.timer: no OnCalendar=")
	}
}

// TestEveryFileChecked keeps new files from slipping past the tests above.
func TestEveryFileChecked(t *testing.T) {
	checked := []string{
		"doc.go", "deploy_test.go", "README.md",
		"prometheus/synk-alerts.yaml", "prometheus/synk-alerts.test.yaml", "grafana/synk-dashboard.json",
		"kubernetes/serve.yaml", "kubernetes/cronjob.yaml",
		"systemd/synk.service", "systemd/synk-apply.service", "systemd/synk-apply.timer", "systemd/synk.env.example",
	}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !slices.Contains(checked, filepath.ToSlash(p)) {
			t.Errorf("%s is not checked by any test here", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
