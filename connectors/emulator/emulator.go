// Package emulator is the kit both test-double emulators (fikentest for
// Fiken, prestashoptest for PrestaShop) are built on: seeded faults
// (error answers, latency, connection resets, cut answers, writes whose
// answer is dropped after the commit), a requests-per-minute cap, and
// request counts. What each API does with a request is the emulator's own;
// how a flaky host treats it is shared here, so both behave alike.
package emulator

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are injected failures. Rates are probabilities per request (0..1),
// drawn from the kit's seeded source so a run is repeatable.
type Faults struct {
	// ErrorRate maps a status (429, 500, 502, 503, ...) to the probability
	// of answering it instead of handling the request.
	ErrorRate map[int]float64 `json:"errorRate,omitempty"`
	// Latency is added to every request, plus up to Jitter more.
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	// ResetRate closes the connection without an answer, before the
	// request is handled.
	ResetRate float64 `json:"resetRate,omitempty"`
	// MalformedRate cuts a successful answer's body in half.
	MalformedRate float64 `json:"malformedRate,omitempty"`
	// DropAfterCommitRate handles a write, then closes the connection
	// instead of answering: the write happened, the client sees an error.
	DropAfterCommitRate float64 `json:"dropAfterCommitRate,omitempty"`
	// RequestsPerMinute caps requests (429 with Retry-After above it), as
	// shared hosts do; 0 = no cap.
	RequestsPerMinute int `json:"requestsPerMinute,omitempty"`
}

// Stats counts the requests that reached the API.
type Stats struct {
	Requests int `json:"requests"`
	Reads    int `json:"reads"`
	Writes   int `json:"writes"`
	// ByMethod counts by method, or by "METHOD resource" when the
	// emulator names resources.
	ByMethod map[string]int `json:"byMethod"`
	// ReadsBy counts reads per resource, for tests that bound how many
	// requests a read makes.
	ReadsBy map[string]int `json:"readsBy,omitempty"`
	// MaxInFlight is the most requests seen at once; Concurrent counts
	// requests refused because another was in flight.
	MaxInFlight int `json:"maxInFlight"`
	Concurrent  int `json:"concurrent"`
}

func (s Stats) clone() Stats {
	s.ByMethod = maps.Clone(s.ByMethod)
	s.ReadsBy = maps.Clone(s.ReadsBy)
	if s.ByMethod == nil {
		s.ByMethod = map[string]int{}
	}
	return s
}

// Kit holds one emulator's faults, counts and limits. It is safe for
// concurrent use.
type Kit struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	stats    Stats
	window   []time.Time
	inFlight int
}

// New returns a kit drawing its faults from seed.
func New(seed uint64, f Faults) *Kit {
	return &Kit{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), faults: f}
}

// SetFaults replaces the faults (and restarts the per-minute window).
func (k *Kit) SetFaults(f Faults) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults, k.window = f, nil
}

// Faults returns the faults in force.
func (k *Kit) Faults() Faults {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.faults
}

// Draw reports true with probability p.
func (k *Kit) Draw(p float64) bool {
	if p <= 0 {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rng.Float64() < p
}

// DrawError draws an error answer from Faults.ErrorRate, statuses in
// ascending order.
func (k *Kit) DrawError() (int, bool) {
	f := k.Faults()
	for _, st := range slices.Sorted(maps.Keys(f.ErrorRate)) {
		if k.Draw(f.ErrorRate[st]) {
			return st, true
		}
	}
	return 0, false
}

// Delay waits the latency (plus jitter); false when ctx ended first.
func (k *Kit) Delay(ctx context.Context) bool {
	f := k.Faults()
	d := f.Latency
	if f.Jitter > 0 {
		k.mu.Lock()
		d += time.Duration(k.rng.Int64N(int64(f.Jitter)))
		k.mu.Unlock()
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Admit applies Faults.RequestsPerMinute: limited is true, with the
// seconds to wait, when the request is over the cap.
func (k *Kit) Admit() (retryAfter int, limited bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	limit := k.faults.RequestsPerMinute
	if limit <= 0 {
		return 0, false
	}
	now := time.Now()
	cut := now.Add(-time.Minute)
	i, _ := slices.BinarySearchFunc(k.window, cut, func(t, c time.Time) int { return t.Compare(c) })
	k.window = k.window[i:]
	if len(k.window) >= limit {
		return int(k.window[0].Add(time.Minute).Sub(now).Seconds()) + 1, true
	}
	k.window = append(k.window, now)
	return 0, false
}

// Begin marks a request in flight and returns how many are in flight with
// it; done ends it (call it once, when the answer is ready).
func (k *Kit) Begin() (n int, done func()) {
	k.mu.Lock()
	k.inFlight++
	n = k.inFlight
	k.stats.MaxInFlight = max(k.stats.MaxInFlight, n)
	k.mu.Unlock()
	return n, sync.OnceFunc(func() {
		k.mu.Lock()
		k.inFlight--
		k.mu.Unlock()
	})
}

// Count records one request: by method (and resource, when given).
func (k *Kit) Count(method, resource string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stats.ByMethod == nil {
		k.stats.ByMethod = map[string]int{}
	}
	k.stats.Requests++
	key := method
	if resource != "" {
		key += " " + resource
	}
	k.stats.ByMethod[key]++
	if IsWrite(method) {
		k.stats.Writes++
		return
	}
	k.stats.Reads++
	if resource != "" {
		if k.stats.ReadsBy == nil {
			k.stats.ReadsBy = map[string]int{}
		}
		k.stats.ReadsBy[resource]++
	}
}

// Refused counts a request refused because another was in flight.
func (k *Kit) Refused() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stats.Concurrent++
}

// Stats returns a copy of the counts.
func (k *Kit) Stats() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats.clone()
}

// ResetStats zeroes the counts.
func (k *Kit) ResetStats() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stats = Stats{ByMethod: map[string]int{}}
}

// Cut returns body, or its first half when Faults.MalformedRate draws it:
// an answer cut short by a flaky host.
func (k *Kit) Cut(body []byte) []byte {
	if len(body) > 2 && k.Draw(k.Faults().MalformedRate) {
		return body[:len(body)/2]
	}
	return body
}

// IsWrite reports whether a method changes data.
func IsWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// HangUp closes the client's connection without an answer (a reset), as a
// crashed proxy or a cut line does.
func HangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// ParseErrorRates reads error-answer rates written "429=0.05,503=0.01" (in
// one or several strings): a 4xx or 5xx status and a probability in 0..1.
func ParseErrorRates(specs ...string) (map[int]float64, error) {
	rates := map[int]float64{}
	for _, spec := range specs {
		for _, part := range strings.Split(spec, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			st, r, ok := strings.Cut(part, "=")
			status, err1 := strconv.Atoi(strings.TrimSpace(st))
			rate, err2 := strconv.ParseFloat(strings.TrimSpace(r), 64)
			if !ok || err1 != nil || err2 != nil || status < 400 || status > 599 || rate < 0 || rate > 1 {
				return nil, fmt.Errorf("error rate %q: want STATUS=RATE with a 4xx/5xx status and a rate in 0..1", part)
			}
			rates[status] = rate
		}
	}
	return rates, nil
}
