package pipeline

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RetryPolicy says how the connector HTTP transport retries.
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// BaseDelay doubles per attempt, with full jitter, up to MaxDelay.
	BaseDelay, MaxDelay time.Duration
}

// DefaultRetryPolicy is what connections use unless a test overrides it.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 6, BaseDelay: 250 * time.Millisecond, MaxDelay: 30 * time.Second}

// NewHTTPClient returns the client given to connectors in Env.HTTP. Each
// attempt waits on lim. Retries: 429 for every method (the server did not
// act on it), 5xx and network errors for idempotent methods only. A POST
// that failed ambiguously is never resent here: the engine asks the sink's
// Finder first, so a lost response cannot create a second record.
func NewHTTPClient(connection string, lim *Limiter, m *Metrics, policy RetryPolicy, timeout time.Duration) *http.Client {
	if m == nil {
		m = NewMetrics(nil).ForPipeline("")
	}
	if policy.MaxAttempts < 1 {
		policy.MaxAttempts = 1
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &transport{
			base:       http.DefaultTransport.(*http.Transport).Clone(),
			connection: connection,
			lim:        lim,
			m:          m,
			policy:     policy,
		},
	}
}

type transport struct {
	base       http.RoundTripper
	connection string
	lim        *Limiter
	m          *Metrics
	policy     RetryPolicy
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		resp, err := t.once(ctx, req, attempt)
		wait, retry := t.shouldRetry(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		t.m.HTTPRetries.WithLabelValues(t.connection).Inc()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func (t *transport) once(ctx context.Context, req *http.Request, attempt int) (*http.Response, error) {
	r := req
	if attempt > 1 {
		r = req.Clone(ctx)
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
	}
	release := func() {}
	if t.lim != nil {
		var err error
		if release, err = t.lim.Acquire(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.Body == nil {
		release()
	} else {
		// The slot is held until the body is read or closed: Fiken counts
		// a request in flight until its response is done.
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	}
	t.m.HTTPDuration.WithLabelValues(t.connection).Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.m.HTTPRequests.WithLabelValues(t.connection, req.Method, code).Inc()
	return resp, err
}

func (t *transport) shouldRetry(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= t.policy.MaxAttempts || req.Context().Err() != nil {
		return 0, false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return 0, false
	}
	idempotent := req.Method != http.MethodPost
	switch {
	case err != nil:
		if !idempotent && !neverSent(err) {
			return 0, false
		}
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		if !idempotent {
			return 0, false
		}
	default:
		return 0, false
	}
	wait := backoff(t.policy, attempt)
	if resp != nil {
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			wait = ra
		}
	}
	return wait, true
}

// neverSent reports errors that prove the request did not reach the server.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}

func backoff(p RetryPolicy, attempt int) time.Duration {
	d := p.BaseDelay << (attempt - 1)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := time.Until(at); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// releasingBody releases a limiter slot once, at EOF or Close.
type releasingBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.release)
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
