package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/synk-etl/synk/pipeline"
)

// TestStopRefusesWritesNotYetSent: a write waiting for its connection's
// only slot when the run stops is refused, never sent; one that had the
// slot counts as sent; a lookup that settles a write in flight still runs.
func TestStopRefusesWritesNotYetSent(t *testing.T) {
	lim := pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 1}, nil)
	stop, stopNow := context.WithCancel(t.Context())
	defer stopNow()

	inFlight := pipeline.WithStop(context.WithoutCancel(t.Context()), stop)
	release, err := lim.Acquire(inFlight)
	if err != nil || !pipeline.Sent(inFlight) {
		t.Fatalf("the first write: %v, sent %v", err, pipeline.Sent(inFlight))
	}

	queued := pipeline.WithStop(context.WithoutCancel(t.Context()), stop)
	got := make(chan error, 1)
	go func() {
		r, err := lim.Acquire(queued)
		if err == nil {
			r()
		}
		got <- err
	}()
	stopNow()
	if err := <-got; !errors.Is(err, pipeline.ErrStopping) {
		t.Fatalf("the queued write got %v, want ErrStopping", err)
	}
	if pipeline.Sent(queued) {
		t.Error("a refused write counts as sent")
	}
	if _, err := lim.Acquire(pipeline.WithStop(context.WithoutCancel(t.Context()), stop)); !errors.Is(err, pipeline.ErrStopping) {
		t.Errorf("a write started after the stop got %v, want ErrStopping", err)
	}

	release()
	lookup := pipeline.WithStop(inFlight, nil)
	r, err := lim.Acquire(lookup)
	if err != nil {
		t.Fatalf("the lookup after the stop: %v", err)
	}
	r()
}

// TestStopEndsARetryWait: a write answered 429 with a long Retry-After is
// not waited for once the run stops.
func TestStopEndsARetryWait(t *testing.T) {
	var n atomic.Int32
	answered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		answered <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	client := newClient(prometheus.NewRegistry(), 6)
	stop, stopNow := context.WithCancel(t.Context())
	ctx := pipeline.WithStop(context.WithoutCancel(t.Context()), stop)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/x", http.NoBody)
	got := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-answered
	start := time.Now()
	stopNow()
	err := <-got
	if err == nil || errors.Is(err, pipeline.ErrStopping) {
		t.Fatalf("got %v, want the write's own failure (it was sent)", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the stopped write waited %v", took)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
	if !pipeline.Sent(ctx) {
		t.Error("the write that was answered does not count as sent")
	}
}
