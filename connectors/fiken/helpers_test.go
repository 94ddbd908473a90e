package fiken

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline"
)

// testEnv is an emulator on real TCP and a connector opened against it the
// way the engine opens it: env.HTTP from pipeline.NewHTTPClient.
type testEnv struct {
	srv  *fikentest.Server
	conn *Connector
	env  pipeline.Env
	cfg  *Config
}

func fastRetries() pipeline.RetryPolicy {
	return pipeline.RetryPolicy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}
}

func newHTTP(limits pipeline.Limits) (*pipeline.Limiter, *http.Client) {
	lim := pipeline.NewLimiter(limits, nil)
	return lim, pipeline.NewHTTPClient("fiken", lim, nil, fastRetries(), 10*time.Second)
}

func startEmulator(t *testing.T, opts fikentest.Options) *fikentest.Server {
	t.Helper()
	srv, err := fikentest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	fikentest.Check(t, srv)
	return srv
}

func newTestEnv(t *testing.T, opts fikentest.Options) *testEnv {
	t.Helper()
	srv := startEmulator(t, opts)
	lim, hc := newHTTP(pipeline.Limits{MaxInFlight: 1})
	env := pipeline.Env{Connection: "fiken", Limiter: lim, HTTP: hc, Logger: slog.New(slog.DiscardHandler),
		BaseDir: t.TempDir(), StateDir: t.TempDir()}
	cfg := &Config{Company: srv.Company(), Token: srv.Token(), URL: srv.URL()}
	conn, err := Open(t.Context(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{srv: srv, conn: conn, env: env, cfg: cfg}
}

// collector is an Emitter that keeps what it is given.
type collector struct {
	mu      sync.Mutex
	records []pipeline.Record
	rejects []string
}

func (c *collector) Emit(rec pipeline.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rec)
	return nil
}

func (c *collector) Reject(key string, _ []byte, reason error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejects = append(c.rejects, key+": "+reason.Error())
	return nil
}

func read(t *testing.T, conn *Connector, resource string, since time.Time) *collector {
	t.Helper()
	var col collector
	if err := conn.Read(t.Context(), resource, pipeline.ReadQuery{Since: since}, &col); err != nil {
		t.Fatalf("read %s: %v", resource, err)
	}
	return &col
}

func ctxT(t *testing.T) context.Context { return t.Context() }

// requests runs fn and returns the requests it made to the emulator, by
// method.
func (te *testEnv) requests(t *testing.T, fn func()) map[string]int {
	t.Helper()
	te.srv.ResetStats()
	fn()
	return te.srv.Stats().ByMethod
}

// get reads a record the way Read emits it.
func (te *testEnv) get(t *testing.T, resource string, key any) pipeline.Record {
	t.Helper()
	rec, ok, err := te.conn.Get(t.Context(), resource, fmt.Sprint(key))
	if err != nil || !ok {
		t.Fatalf("get %s %v: %v %v", resource, key, ok, err)
	}
	return rec
}
