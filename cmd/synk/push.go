package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
)

// pushTimeout bounds the push at the end of a run: a slow gateway must not
// hold a cron job.
const pushTimeout = 10 * time.Second

// pushMetrics pushes the metrics in reg to the pipeline's group (job
// "synk", pipeline=NAME) on a Prometheus Pushgateway. It POSTs, which
// replaces only the metric families this run has: a failed run has no
// synk_last_success_timestamp_seconds series, so the last successful run's
// time stays on the gateway for the "no success for too long" alert.
// Credentials in the URL are sent as basic auth and never appear in the
// returned error.
func pushMetrics(ctx context.Context, gateway string, reg prometheus.Gatherer, pipelineName string) error {
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("--push-gateway: want an http(s) URL")
	}
	var user, pass string
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	p := push.New(u.String(), "synk").
		Gatherer(withoutLabel(reg, "pipeline", pipelineName)).
		Grouping("pipeline", pipelineName).
		Client(&http.Client{Timeout: pushTimeout})
	if user != "" {
		p = p.BasicAuth(user, pass)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
	defer cancel()
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", u.Redacted(), err)
	}
	return nil
}

// withoutLabel drops label=value from every gathered series. The
// Pushgateway puts its grouping labels on every series of the group, and
// the client refuses series that carry a grouping label themselves; synk's
// per-pipeline series carry the same pipeline name, so after the push they
// read exactly as they would when scraped.
func withoutLabel(g prometheus.Gatherer, label, value string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			for _, m := range mf.Metric {
				m.Label = slices.DeleteFunc(m.Label, func(l *dto.LabelPair) bool {
					return l.GetName() == label && l.GetValue() == value
				})
			}
		}
		return mfs, err
	})
}

// pushSession pushes a session's metrics when --push-gateway is set. It
// runs at the end of plan and apply, whatever their outcome (a failed run
// is what the gateway most needs to hear about); a failed push is logged
// and never changes the exit code.
func pushSession(ctx context.Context, g *globals, s *session) {
	if g.pushGateway == "" || s == nil || s.metrics == nil {
		return
	}
	if err := pushMetrics(ctx, g.pushGateway, s.metrics, s.p.Name); err != nil {
		s.log.Warn("metrics not pushed", "pipeline", s.p.Name, "err", s.p.Redact(err.Error()))
		return
	}
	s.log.Debug("metrics pushed", "pipeline", s.p.Name)
}
