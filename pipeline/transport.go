package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
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
//
// A successful GET is read whole before it is handed over: an answer cut
// short (a connection reset mid-body, fewer bytes than Content-Length) or
// one that is not well-formed in the format it announces (JSON, XML) is
// retried like a 5xx, so a flaky host costs a retry, not a failed run.
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

// CloseIdleConnections closes the keep-alive connections of the client's
// transport; http.Client.CloseIdleConnections finds it by type assertion.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		resp, err := t.once(ctx, req, attempt)
		if err == nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) && resp.StatusCode/100 == 2 {
			err = readWhole(req, resp)
		}
		wait, reason, retry := t.shouldRetry(req, resp, err, attempt)
		if !retry {
			if err != nil && resp != nil {
				resp.Body.Close() // a bad answer: the caller gets the error alone
				resp = nil
			}
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		t.m.HTTPRetries.WithLabelValues(t.connection, reason).Inc()
		var stopped <-chan struct{}
		if stop := stopOf(ctx); stop != nil {
			stopped = stop.Done()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-stopped:
			// A write that was sent: its outcome stays as unsure as the
			// answer that asked for the retry, for the caller to settle.
			timer.Stop()
			return nil, fmt.Errorf("%s %s: not retried after %s: the run is stopping", req.Method, req.URL.Redacted(), reason)
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
			if attempt > 1 && errors.Is(err, ErrStopping) {
				return nil, fmt.Errorf("%s %s: not retried: the run is stopping", req.Method, req.URL.Redacted())
			}
			return nil, err
		}
	} else if stop := stopOf(ctx); stop != nil && stop.Err() != nil {
		return nil, ErrStopping
	} else {
		markSent(ctx)
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

func (t *transport) shouldRetry(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, string, bool) {
	if attempt >= t.policy.MaxAttempts || req.Context().Err() != nil || errors.Is(err, ErrStopping) {
		return 0, "", false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return 0, "", false
	}
	idempotent := req.Method != http.MethodPost
	var reason string
	var bad *badAnswerError
	switch {
	case errors.As(err, &bad):
		reason = bad.reason
	case err != nil:
		if !idempotent && !neverSent(err) {
			return 0, "", false
		}
		reason = "network"
	case resp.StatusCode == http.StatusTooManyRequests:
		reason = "status_429"
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		if !idempotent {
			return 0, "", false
		}
		reason = "status_5xx"
	default:
		return 0, "", false
	}
	wait := backoff(t.policy, attempt)
	if resp != nil {
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			wait = ra
		}
	}
	return wait, reason, true
}

// badAnswerError is a successful status whose body was cut short or is not
// what its Content-Type says; a read (GET) is retried on it.
type badAnswerError struct {
	reason string // truncated or malformed
	method string
	url    string
	err    error
}

func (e *badAnswerError) Error() string {
	what := "answer cut short"
	if e.reason == "malformed" {
		what = "answer not well-formed"
	}
	return fmt.Sprintf("%s %s: %s: %v", e.method, e.url, what, e.err)
}

func (e *badAnswerError) Unwrap() error { return e.err }

// readWhole reads resp's body into memory and checks that it is complete
// and well-formed in the format its Content-Type announces. The body is
// replaced by the bytes read, so the caller reads it as usual; the
// limiter's slot is released by the read.
func readWhole(req *http.Request, resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	u := req.URL.Redacted()
	if err != nil {
		return &badAnswerError{reason: "truncated", method: req.Method, url: u, err: err}
	}
	if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength && req.Method != http.MethodHead {
		return &badAnswerError{reason: "truncated", method: req.Method, url: u,
			err: fmt.Errorf("%d of %d bytes", len(body), resp.ContentLength)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := wellFormed(resp.Header.Get("Content-Type"), body); err != nil {
		return &badAnswerError{reason: "malformed", method: req.Method, url: u, err: err}
	}
	return nil
}

// wellFormed checks body against the media type: JSON must be one valid
// value, XML a complete document. Other types are taken as they are.
func wellFormed(contentType string, body []byte) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if !json.Valid(body) {
			var v any
			return fmt.Errorf("json: %w", json.Unmarshal(body, &v))
		}
	case mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml"):
		dec := xml.NewDecoder(bytes.NewReader(body))
		dec.Strict = true
		depth, seenRoot := 0, false
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("xml: %w", err)
			}
			switch tok.(type) {
			case xml.StartElement:
				depth++
				seenRoot = true
			case xml.EndElement:
				depth--
			}
		}
		if !seenRoot || depth != 0 {
			return errors.New("xml: document ends before its root element closes")
		}
	}
	return nil
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
