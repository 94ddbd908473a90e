package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are synk's Prometheus metrics, registered on the registry main
// passes in. Labels never carry record keys.
type Metrics struct {
	RunsTotal      *prometheus.CounterVec
	RunDuration    *prometheus.HistogramVec
	RecordsRead    *prometheus.CounterVec
	ChangesPlanned *prometheus.GaugeVec
	ChangesApplied *prometheus.CounterVec
	Rejects        *prometheus.CounterVec
	HTTPRequests   *prometheus.CounterVec
	HTTPDuration   *prometheus.HistogramVec
	HTTPRetries    *prometheus.CounterVec
	RateLimitWait  *prometheus.CounterVec
	LastSuccess    *prometheus.GaugeVec
}

// NewMetrics creates synk's metrics and registers them on reg. A nil reg
// gives working but unregistered metrics (for tests and one-shot tools).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RunsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_runs_total", Help: "Pipeline runs by outcome (success, partial, failed).",
		}, []string{"pipeline", "status"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "synk_run_duration_seconds", Help: "Wall time of a pipeline run.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"pipeline"}),
		RecordsRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_records_read_total", Help: "Records read from a connection's resource.",
		}, []string{"pipeline", "connection", "resource"}),
		ChangesPlanned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "synk_changes_planned", Help: "Changes in the latest plan, by entity and action.",
		}, []string{"pipeline", "entity", "action"}),
		ChangesApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_changes_applied_total", Help: "Changes applied, by entity, action and result (ok, failed, rejected).",
		}, []string{"pipeline", "entity", "action", "result"}),
		Rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_rejects_total", Help: "Records rejected (bad data, failed mapping, refused write), by entity.",
		}, []string{"pipeline", "entity"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_http_requests_total", Help: "HTTP requests made by connectors, by status code (or \"error\").",
		}, []string{"pipeline", "connection", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "synk_http_request_duration_seconds", Help: "Duration of connector HTTP requests.",
			Buckets: prometheus.DefBuckets,
		}, []string{"pipeline", "connection"}),
		HTTPRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_http_retries_total", Help: "HTTP requests retried, by reason (status_429, status_5xx, network, truncated, malformed).",
		}, []string{"pipeline", "connection", "reason"}),
		RateLimitWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synk_ratelimit_wait_seconds_total", Help: "Time spent waiting on a connection's limiter.",
		}, []string{"pipeline", "connection"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "synk_last_success_timestamp_seconds", Help: "Unix time of the pipeline's last successful run.",
		}, []string{"pipeline"}),
	}
	if reg != nil {
		reg.MustRegister(m.RunsTotal, m.RunDuration, m.RecordsRead, m.ChangesPlanned, m.ChangesApplied,
			m.Rejects, m.HTTPRequests, m.HTTPDuration, m.HTTPRetries, m.RateLimitWait, m.LastSuccess)
	}
	return m
}

// ForPipeline returns m with the pipeline label of every per-entity and
// per-connection metric set to name, so one process can carry many
// pipelines (synk serve) without their series mixing. The run metrics
// (runs, duration, last success) take the pipeline per call.
func (m *Metrics) ForPipeline(name string) *Metrics {
	l := prometheus.Labels{"pipeline": name}
	out := *m
	out.RecordsRead = m.RecordsRead.MustCurryWith(l)
	out.ChangesPlanned = m.ChangesPlanned.MustCurryWith(l)
	out.ChangesApplied = m.ChangesApplied.MustCurryWith(l)
	out.Rejects = m.Rejects.MustCurryWith(l)
	out.HTTPRequests = m.HTTPRequests.MustCurryWith(l)
	out.HTTPDuration = m.HTTPDuration.MustCurryWith(l).(*prometheus.HistogramVec)
	out.HTTPRetries = m.HTTPRetries.MustCurryWith(l)
	out.RateLimitWait = m.RateLimitWait.MustCurryWith(l)
	return &out
}
