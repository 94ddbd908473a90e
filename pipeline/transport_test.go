package pipeline_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/synk-etl/synk/pipeline"
)

// flaky answers its first bad requests with the fault, then with good.
func flaky(t *testing.T, bad int, fault func(w http.ResponseWriter), good func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(n.Add(1)) <= bad {
			fault(w)
			return
		}
		good(w)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// cut sends headers promising more body than it sends, then drops the
// connection, as a host that cuts answers does.
func cut(contentType, partial string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, partial)
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func answer(contentType, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}
}

func newClient(reg *prometheus.Registry, attempts int) *http.Client {
	m := pipeline.NewMetrics(reg).ForPipeline("p")
	lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 1}, nil)
	return pipeline.NewHTTPClient("shop", lim, m, pipeline.RetryPolicy{MaxAttempts: attempts, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}, 5*time.Second)
}

func TestReadsRetryBadAnswers(t *testing.T) {
	const goodJSON, goodXML = `[{"id":1},{"id":2}]`, `<prestashop><products><product id="1"/></products></prestashop>`
	tests := []struct {
		name, reason string
		fault        func(w http.ResponseWriter)
		good         func(w http.ResponseWriter)
		want         string
	}{
		{"JSON cut short", "truncated", cut("application/json", `[{"id":1},{"i`), answer("application/json", goodJSON), goodJSON},
		{"XML cut short", "truncated", cut("text/xml", `<prestashop><products><prod`), answer("text/xml", goodXML), goodXML},
		{"JSON not well-formed", "malformed", answer("application/json; charset=utf-8", `[{"id":1},{"id"`), answer("application/json", goodJSON), goodJSON},
		{"XML not closed", "malformed", answer("text/xml", `<prestashop><products><product id="1"/></products>`), answer("text/xml", goodXML), goodXML},
		{"connection reset", "network", reset, answer("application/json", goodJSON), goodJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(t, 2, tc.fault, tc.good)
			reg := prometheus.NewRegistry()
			resp, err := newClient(reg, 4).Get(srv.URL + "/api/products")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != tc.want {
				t.Fatalf("body %q (%v), want %q", body, err, tc.want)
			}
			if got := n.Load(); got != 3 {
				t.Errorf("%d requests, want 3 (two bad answers retried)", got)
			}
			c, err := testutil.GatherAndCount(reg, "synk_http_retries_total")
			if err != nil || c != 1 {
				t.Fatalf("retry series: %d, %v", c, err)
			}
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				if mf.GetName() != "synk_http_retries_total" {
					continue
				}
				for _, l := range mf.GetMetric()[0].GetLabel() {
					if l.GetName() == "reason" && l.GetValue() != tc.reason {
						t.Errorf("reason %q, want %q", l.GetValue(), tc.reason)
					}
				}
				if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 2 {
					t.Errorf("retries counted %v, want 2", v)
				}
			}
		})
	}
}

func TestReadRetriesRunOutNamingTheRequest(t *testing.T) {
	srv, n := flaky(t, 100, answer("application/json", `{"broken":`), answer("application/json", `{}`))
	_, err := newClient(prometheus.NewRegistry(), 3).Get(srv.URL + "/api/v2/companies/x/contacts?page=2")
	if err == nil {
		t.Fatal("GET of a broken answer succeeded")
	}
	if !strings.Contains(err.Error(), "/api/v2/companies/x/contacts?page=2") || !strings.Contains(err.Error(), "not well-formed") {
		t.Errorf("error %q does not name the request and what was wrong", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests, want 3 attempts", got)
	}
}

// TestWriteAnswersAreNotResent: a POST whose answer is cut short is never
// sent again by the transport (the engine looks the record up first).
func TestWriteAnswersAreNotResent(t *testing.T) {
	srv, n := flaky(t, 1, cut("application/json", `{"id":`), answer("application/json", `{"id":1}`))
	resp, err := newClient(prometheus.NewRegistry(), 4).Post(srv.URL+"/api/products", "text/xml", strings.NewReader("<prestashop/>"))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("POST with a cut answer: %v, want an unexpected EOF for the caller", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d POSTs reached the server, want 1", got)
	}
}

// TestCloseIdleConnectionsClosesKeptAliveSockets: a run's client keeps its
// connections alive between requests; closing them at the run's end
// (Runner.Close) must reach the server as a closed connection.
func TestCloseIdleConnectionsClosesKeptAliveSockets(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := pipeline.NewHTTPClient("x", pipeline.NewLimiter(pipeline.Limits{}, nil), nil, pipeline.RetryPolicy{MaxAttempts: 1}, 5*time.Second)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case <-closed:
		t.Fatal("the connection closed before CloseIdleConnections")
	default:
	}
	c.CloseIdleConnections()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the kept-alive connection is still open after CloseIdleConnections")
	}
}
