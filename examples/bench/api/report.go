package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
)

// request is one request Fiken's emulator received.
type request struct {
	at       time.Time
	method   string
	resource string
	status   int
	// listRead is a GET of a whole list (paged, perhaps by lastModified),
	// not a lookup by a filter nor a GET of one record.
	listRead    bool
	page        int
	resultCount int
}

// recorder sits in front of Fiken's emulator and notes every API request.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []request
}

// listParams are the query parameters of a plain list read.
var listParams = map[string]bool{"page": true, "pageSize": true, "lastModifiedGe": true}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, fikentest.APIPrefix+"/companies/")
	if !ok {
		rc.next.ServeHTTP(w, r)
		return
	}
	q := request{at: time.Now(), method: r.Method}
	parts := strings.Split(rest, "/")
	if len(parts) > 1 {
		q.resource = parts[1]
	}
	if r.Method == http.MethodGet && len(parts) == 2 {
		q.listRead = true
		for k := range r.URL.Query() {
			q.listRead = q.listRead && listParams[k]
		}
		q.page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rc.next.ServeHTTP(sw, r)
	q.status = sw.status
	q.resultCount, _ = strconv.Atoi(w.Header().Get("Fiken-Api-Result-Count"))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, q)
	rc.mu.Unlock()
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = nil
}

// take returns the requests since the last reset.
func (rc *recorder) take() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// row is one measured run.
type row struct {
	Name string
	// Shop counts the shop's requests, ShopStock its stock_availables
	// pages among them.
	Shop, ShopStock int
	// Fiken counts Fiken's requests, FikenWrites the writes among them.
	Fiken, FikenWrites int
	// WriteFloor is what the changes need (see writeFloor); ListFloor the
	// list pages one read of each resource needs, ListPages those read.
	WriteFloor, ListFloor, ListPages int
	Changes                          int
	// TooMany counts Fiken's 429 answers, Refused those for a second
	// request in flight.
	TooMany, Refused int
	// FikenBy counts Fiken's requests by kind ("GET products list",
	// "PUT products"), for -v.
	FikenBy map[string]int
	// ShopBy counts the shop's requests by method and resource, for -v.
	ShopBy map[string]int
}

// floor is the fewest Fiken requests the run could make.
func (r row) floor() int { return r.WriteFloor + r.ListFloor }

// limit is the target: the floor plus 5 %.
func (r row) limit() int { return int(math.Ceil(float64(r.floor()) * 1.05)) }

// maxNoOpShop is the target for a no-op run's shop requests.
const maxNoOpShop = 20

func (r row) ok() bool {
	if r.Fiken > r.limit() || r.TooMany > 0 || r.Refused > 0 {
		return false
	}
	return !strings.HasPrefix(r.Name, "no-op, incremental") || r.Shop <= maxNoOpShop
}

// rateRun is the run under Fiken's real limits.
type rateRun struct {
	// Changes is the price changes made in the shop, Writes the Fiken
	// writes they became.
	Changes, Writes int
	// Requests were made in Took, from the first write to the last.
	Requests int
	Took     time.Duration
	// Configured is the connection's rate (requests a second).
	Configured float64
	// TooMany counts 429 answers, Refused those for a request in flight.
	TooMany, Refused int
	// AllRequests were made in AllTook, from the run's first Fiken
	// request to its last (reads and planning included).
	AllRequests int
	AllTook     time.Duration
}

func (r rateRun) rate() float64 { return perSecond(r.Requests, r.Took) }

// perSecond is the rate of n requests whose first and last are took apart.
func perSecond(n int, took time.Duration) float64 {
	if took <= 0 || n < 2 {
		return 0
	}
	return float64(n-1) / took.Seconds()
}

func (r rateRun) ok() bool {
	return r.rate() >= 0.95*r.Configured && r.TooMany == 0 && r.Refused == 0
}

// report is a whole benchmark.
type report struct {
	cfg      config
	SyncTook time.Duration
	Rows     []row
	Rate     *rateRun
}

func (rep *report) ok() bool {
	for _, r := range rep.Rows {
		if !r.ok() {
			return false
		}
	}
	return rep.Rate == nil || rep.Rate.ok()
}

func (rep *report) print(out io.Writer) {
	fmt.Fprintf(out, "flagship pipeline, %d products, %d customers, %d orders (first sync took %s)\n\n",
		rep.cfg.Products, rep.cfg.Customers, rep.cfg.Orders, rep.SyncTook.Round(time.Second))
	fmt.Fprintln(out, "| run | shop requests (stock pages) | Fiken requests (writes) | Fiken floor: writes + list pages | target ≤ | ok |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, r := range rep.Rows {
		mark := "yes"
		if !r.ok() {
			mark = "NO"
		}
		fmt.Fprintf(out, "| %s | %d (%d) | %d (%d) | %d: %d + %d | %d | %s |\n",
			r.Name, r.Shop, r.ShopStock, r.Fiken, r.FikenWrites, r.floor(), r.WriteFloor, r.ListFloor, r.limit(), mark)
	}
	for _, r := range rep.Rows {
		if r.TooMany > 0 || r.Refused > 0 {
			fmt.Fprintf(out, "%s: Fiken answered 429 %d times (%d for a request in flight)\n", r.Name, r.TooMany, r.Refused)
		}
	}
	if rep.cfg.Log != nil {
		for _, r := range rep.Rows {
			fmt.Fprintf(out, "%s:\n  Fiken %v\n  shop %v\n", r.Name, r.FikenBy, r.ShopBy)
		}
	}
	if rr := rep.Rate; rr != nil {
		fmt.Fprintf(out, "\nrate: %d price changes (%d Fiken writes) under Fiken's limits (%.0f/s, 1 in flight): %d requests in %s from the first write to the last = %.2f/s, %.0f %% of the rate; 429 answers: %d\n",
			rr.Changes, rr.Writes, rr.Configured, rr.Requests, rr.Took.Round(10*time.Millisecond), rr.rate(), 100*rr.rate()/rr.Configured, rr.TooMany+rr.Refused)
		fmt.Fprintf(out, "the whole apply: %d Fiken requests in %s from the first to the last = %.2f/s (reading, planning and the shop's share included)\n",
			rr.AllRequests, rr.AllTook.Round(10*time.Millisecond), perSecond(rr.AllRequests, rr.AllTook))
	}
}

// measureRate runs a long apply under Fiken's default limits, with the
// emulator answering 429 above 240 requests a minute, and reports the
// rate Fiken saw while synk wrote.
func (w *world) measureRate(ctx context.Context) (*rateRun, error) {
	p, err := w.load(true)
	if err != nil {
		return nil, err
	}
	var conf float64
	for _, c := range p.Connections {
		if c.Name == "fiken" {
			conf = c.Limits.Rate
		}
	}
	n, err := w.raiseShopPrices(w.cfg.RateChanges, 1)
	if err != nil {
		return nil, err
	}
	w.fk.SetFaults(fikentest.Faults{RequestsPerMinute: 240})
	defer w.fk.SetFaults(fikentest.Faults{})
	w.fk.ResetStats()
	w.rec.reset()
	if _, err := w.apply(ctx, p, false); err != nil {
		return nil, fmt.Errorf("rate run: %w", err)
	}
	reqs := w.rec.take()
	rr := &rateRun{Changes: n, Configured: conf, Refused: w.fk.Stats().Concurrent}
	first, last := -1, -1
	for i, q := range reqs {
		if q.status == http.StatusTooManyRequests {
			rr.TooMany++
		}
		if q.method != http.MethodGet {
			rr.Writes++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		rr.Requests = last - first + 1
		rr.Took = reqs[last].at.Sub(reqs[first].at)
	}
	if len(reqs) > 0 {
		rr.AllRequests, rr.AllTook = len(reqs), reqs[len(reqs)-1].at.Sub(reqs[0].at)
	}
	return rr, nil
}
