package pipelines_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/connectors/prestashop"
	"github.com/synk-etl/synk/connectors/prestashop/prestashoptest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// TestTwoShopsShareOneFikenCompanysLimit runs the flagship for two shops
// that book into one Fiken company, at the same time in one process (as
// synk serve does): with the process's shared limiters the company sees at
// most one request in flight, so Fiken never answers 429.
func TestTwoShopsShareOneFikenCompanysLimit(t *testing.T) {
	t.Parallel()
	fk, err := fikentest.NewServer(fikentest.Options{Seed: 21, Products: 4, Contacts: 3, CountersInitialized: true,
		Limits: fikentest.Limits{RejectConcurrent: true}, Faults: fikentest.Faults{Latency: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fk.Close() })
	fikentest.Check(t, fk)
	src, err := os.ReadFile(flagship)
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	file.Register(reg)
	prestashop.Register(reg)
	fiken.Register(reg)
	limiters := pipeline.NewLimiters()
	type shop struct {
		p  *spec.Pipeline
		st *state.Store
	}
	var shops []shop
	for i, seed := range []uint64{22, 23} {
		ps, err := prestashoptest.NewServer(prestashoptest.Options{Seed: seed, Products: 5, Customers: 4, Orders: 6})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ps.Close() })
		prestashoptest.Check(t, ps)
		dir := t.TempDir()
		text := strings.Replace(string(src), "    # Fiken's limits (1 request in flight, 4/s) are the default.", "    rate: 0", 1)
		text = strings.Replace(text, "name: prestashop-fiken", "name: shop"+string(rune('a'+i)), 1)
		path := filepath.Join(dir, "pipeline.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"PRESTASHOP_URL": ps.URL(), "PRESTASHOP_KEY": ps.Key(), "FIKEN_URL": fk.URL(),
			"FIKEN_COMPANY": fk.Company(), "FIKEN_TOKEN": fk.Token()}
		p, err := spec.Load(path, reg, spec.Options{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Functions: functions()})
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		st, err := state.Open(t.Context(), filepath.Join(dir, "synk.duckdb"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		shops = append(shops, shop{p, st})
	}
	var wg sync.WaitGroup
	for _, s := range shops {
		wg.Go(func() {
			r, err := engine.New(t.Context(), s.p, s.st, engine.Options{Retry: fastRetry, Limiters: limiters})
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			res, err := r.Apply(t.Context(), nil)
			if err != nil {
				t.Errorf("%s: apply: %v", s.p.Name, err)
				return
			}
			// Each shop's first run has contacts, products and invoices
			// to make (how many depends on which shop makes a shared
			// product first), and none may fail.
			t.Logf("%s: applied %d, Fiken requests so far %d", s.p.Name, res.Applied, fk.Stats().Requests)
			if res.Applied < 10 || res.Failed != 0 {
				t.Errorf("%s: applied %d, failed %d: the run did not do its work", s.p.Name, res.Applied, res.Failed)
			}
		})
	}
	wg.Wait()
	st := fk.Stats()
	if st.Concurrent != 0 {
		t.Fatalf("Fiken answered 429 to %d of %d requests: a second request was in flight", st.Concurrent, st.Requests)
	}
}
