package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "sigs.k8s.io/yaml"

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

// argAfter is the value after flag in args.
func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// manifests decodes every object of the Kubernetes manifests strictly into
// the k8s.io/api types: an unknown or misspelt field is an error, as
// `kubectl apply --validate=strict` makes it.
func manifests(t *testing.T, files ...string) map[string]any {
	t.Helper()
	byKind := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var tm metav1.TypeMeta
			if err := k8syaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "apps/v1 StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "batch/v1 CronJob":
				obj = &batchv1.CronJob{}
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i+1, tm.APIVersion, tm.Kind)
			}
			if err := k8syaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i+1, tm.Kind, err)
			}
			if name := obj.(metav1.Object).GetName(); name == "" {
				t.Errorf("%s document %d: %s without a name", f, i+1, tm.Kind)
			}
			byKind[filepath.Base(f)+" "+tm.Kind] = obj
		}
	}
	return byKind
}

func TestManifestsAreStrict(t *testing.T) {
	// A misspelt field must not pass as it would with a plain YAML parse.
	b := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  selectr: {a: b}\n")
	if err := k8syaml.UnmarshalStrict(b, &corev1.Service{}); err == nil || !strings.Contains(err.Error(), "selectr") {
		t.Fatalf("a misspelt field decoded without error: %v", err)
	}
}

func TestKubernetes(t *testing.T) {
	objs := manifests(t, "kubernetes/serve.yaml", "kubernetes/cronjob.yaml", "kubernetes/serve-sharded.yaml")
	for _, k := range []string{"serve.yaml Secret", "serve.yaml PersistentVolumeClaim", "serve.yaml Deployment", "serve.yaml Service",
		"cronjob.yaml CronJob", "serve-sharded.yaml StatefulSet", "serve-sharded.yaml Service"} {
		if objs[k] == nil {
			t.Errorf("no %s", k)
		}
	}
	dep, _ := objs["serve.yaml Deployment"].(*appsv1.Deployment)
	if dep == nil {
		t.FailNow()
	}
	checkServePod(t, "deployment", dep.Spec.Template)
	if !mountsClaim(dep.Spec.Template, "/var/lib/synk") || len(dep.Spec.Template.Spec.Containers[0].EnvFrom) == 0 {
		t.Error("deployment: want the state PVC at /var/lib/synk and env from a Secret")
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("deployment strategy %q: two pods must never hold one state file", dep.Spec.Strategy.Type)
	}

	cj, _ := objs["cronjob.yaml CronJob"].(*batchv1.CronJob)
	if cj == nil {
		t.FailNow()
	}
	job := cj.Spec.JobTemplate.Spec.Template
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

// TestShardedStatefulSet: each pod serves the shard its ordinal names, of
// as many shards as there are replicas, with a volume of its own.
func TestShardedStatefulSet(t *testing.T) {
	objs := manifests(t, "kubernetes/serve-sharded.yaml")
	sts, _ := objs["serve-sharded.yaml StatefulSet"].(*appsv1.StatefulSet)
	svc, _ := objs["serve-sharded.yaml Service"].(*corev1.Service)
	if sts == nil || svc == nil {
		t.Fatal("want a StatefulSet and its Service")
	}
	checkServePod(t, "statefulset", sts.Spec.Template)
	c := sts.Spec.Template.Spec.Containers[0]
	if got := argAfter(c.Args, "--shard"); got != "$(POD_INDEX)/$(SHARDS)" {
		t.Errorf("--shard %q: want $(POD_INDEX)/$(SHARDS)", got)
	}
	// A thousand shops a pod: runs capped, and spread over the interval.
	if argAfter(c.Args, "--max-runs") == "" || !slices.Contains(c.Args, "--spread") {
		t.Errorf("args %v: want --max-runs K and --spread", c.Args)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if f := env["POD_INDEX"].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("POD_INDEX %+v: want the pod-index label through the downward API", env["POD_INDEX"])
	}
	if sts.Spec.Replicas == nil || env["SHARDS"].Value != itoa(int(*sts.Spec.Replicas)) {
		t.Errorf("SHARDS %q and replicas %v disagree", env["SHARDS"].Value, sts.Spec.Replicas)
	}
	if sts.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q, service %q (clusterIP %q): want a headless service of that name", sts.Spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volume claim templates, want one per pod", len(sts.Spec.VolumeClaimTemplates))
	}
	claim := sts.Spec.VolumeClaimTemplates[0].Name
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || m.Name == claim && m.MountPath == "/var/lib/synk"
	}
	if !mounted {
		t.Errorf("the per-pod claim %q is not mounted at /var/lib/synk", claim)
	}
}

// checkServePod checks a pod running serve: probes, ports, the listen
// address and the scrape annotations agree.
func checkServePod(t *testing.T, what string, pt corev1.PodTemplateSpec) {
	t.Helper()
	if len(pt.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", what, len(pt.Spec.Containers))
	}
	c := pt.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("%s args %v: want serve", what, c.Args)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet == nil ||
		c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Fatalf("%s: want HTTP probes on /healthz and /readyz", what)
	}
	addr := argAfter(c.Args, "--addr")
	if len(c.Ports) != 1 || c.Ports[0].Name != c.LivenessProbe.HTTPGet.Port.StrVal || c.Ports[0].Name != c.ReadinessProbe.HTTPGet.Port.StrVal {
		t.Errorf("%s: ports %+v do not match the probes' port", what, c.Ports)
	} else if port := pt.Annotations["prometheus.io/port"]; !strings.HasSuffix(addr, ":"+port) ||
		!strings.HasSuffix(addr, ":"+itoa(int(c.Ports[0].ContainerPort))) || strings.HasPrefix(addr, "127.") {
		t.Errorf("%s: --addr %q, containerPort %d, prometheus.io/port %q disagree (or listen on loopback only)", what, addr, c.Ports[0].ContainerPort, port)
	}
	if pt.Annotations["prometheus.io/scrape"] != "true" {
		t.Errorf("%s: not annotated for scraping", what)
	}
}

func mountsClaim(p corev1.PodTemplateSpec, path string) bool {
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		for _, v := range p.Spec.Volumes {
			if m.MountPath == path && m.Name == v.Name && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != "" {
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
		"kubernetes/serve.yaml", "kubernetes/cronjob.yaml", "kubernetes/serve-sharded.yaml",
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
