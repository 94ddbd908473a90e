// Package prestashoptest is a PrestaShop webservice emulator: the /api
// protocol of PrestaShop 8.x and 1.7 (XML in, XML or JSON out, filters,
// paging, PUT/PATCH semantics, error codes), a small Norwegian shop behind
// it (checkout, stock, order states with their payment and cancel flags),
// injectable faults, and back-office hooks for tests. It serves on
// 127.0.0.1 for Go tests and behind `synk emulate prestashop`.
package prestashoptest

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the shop clock is Europe/Oslo on every host

	"github.com/synk-etl/synk/connectors/emulator"
	"github.com/synk-etl/synk/connectors/prestashop"
)

// Versions the emulator speaks.
const (
	Version8  = "8.2.4"
	Version17 = "1.7.8.11"
)

// Options configure a Server. The zero value is a seeded 8.2.4 shop on a
// random loopback port.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Key is the webservice key (32 characters); default derived from Seed.
	Key string
	// Version is Version8 (default) or Version17.
	Version string
	// Seed makes the seed data, references and faults reproducible.
	Seed uint64
	// Products, Customers and Orders size the seed data (defaults 24, 12
	// and 20). Empty seeds reference data only (languages, countries,
	// currencies, taxes, order states).
	Products, Customers, Orders int
	Empty                       bool
	// Faults start active; SetFaults changes them later.
	Faults Faults
	// Now is the shop clock; default time.Now. Dates are written in
	// Location (default Europe/Oslo), as a shop's MySQL does.
	Now      func() time.Time
	Location *time.Location
	// Logger gets one line per request at debug level; default discards.
	Logger *slog.Logger
}

// Faults make the emulator misbehave like a real host (the shared
// emulator kit's faults).
type Faults = emulator.Faults

// RecordedWrite is one write request the webservice received.
type RecordedWrite struct {
	Method   string
	Resource string
	Path     string
	Body     []byte
	Status   int
}

// Stats are the shared kit's request counts: ByMethod by "METHOD
// resource", ReadsBy per resource, MaxInFlight of /api requests.
type Stats = emulator.Stats

// Server is a running emulator.
type Server struct {
	opts  Options
	facts map[string]prestashop.ResourceFact
	// ln serves this shop alone; nil for a shop of Tenants.
	ln     *emulator.Listener
	url    string
	closed sync.Once

	mu     sync.Mutex
	tables map[string]*table
	rng    *rand.Rand // seed data and references
	kit    *emulator.Kit
	writes []RecordedWrite
	// violations are exchanges that broke the webservice's contract.
	violations []string
}

// NewServer starts an emulator listening on opts.Addr.
func NewServer(opts Options) (*Server, error) {
	s, err := newShop(opts)
	if err != nil {
		return nil, err
	}
	if s.ln, err = emulator.Listen(s.opts.Addr); err != nil {
		return nil, err
	}
	s.url = s.ln.URL() // before serving: answers carry it
	s.ln.Serve(s)
	return s, nil
}

// newShop builds the emulator's state without a listener.
func newShop(opts Options) (*Server, error) {
	if opts.Version == "" {
		opts.Version = Version8
	}
	if opts.Version != Version8 && opts.Version != Version17 {
		return nil, fmt.Errorf("unsupported version %q (want %s or %s)", opts.Version, Version8, Version17)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		loc, err := time.LoadLocation("Europe/Oslo")
		if err != nil {
			return nil, fmt.Errorf("load shop time zone: %w", err)
		}
		opts.Location = loc
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Products == 0 {
		opts.Products = 24
	}
	if opts.Customers == 0 {
		opts.Customers = 12
	}
	if opts.Orders == 0 {
		opts.Orders = 20
	}
	if opts.Empty {
		opts.Products, opts.Customers, opts.Orders = 0, 0, 0
	}
	keyRng := rand.New(rand.NewPCG(opts.Seed, 0x6b6579))
	if opts.Key == "" {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		var b strings.Builder
		for range 32 {
			b.WriteByte(alphabet[keyRng.IntN(len(alphabet))])
		}
		opts.Key = b.String()
	}
	if len(opts.Key) != 32 {
		return nil, fmt.Errorf("webservice key must be 32 characters, got %d", len(opts.Key))
	}
	s := &Server{
		opts:   opts,
		facts:  prestashop.Facts(),
		tables: map[string]*table{},
		rng:    rand.New(rand.NewPCG(opts.Seed, 0x73686f70)),
		kit:    emulator.New(opts.Seed^0x6661756c, opts.Faults),
	}
	for name := range s.facts {
		s.tables[name] = &table{rows: map[int64]prestashop.Object{}}
	}
	if err := s.seed(); err != nil {
		return nil, fmt.Errorf("seed shop: %w", err)
	}
	return s, nil
}

// URL is the shop root; the webservice is under URL()+"/api".
func (s *Server) URL() string { return s.url }

// Key is the webservice key.
func (s *Server) Key() string { return s.opts.Key }

// Version is the PrestaShop version the emulator reports.
func (s *Server) Version() string { return s.opts.Version }

// Close stops the server.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		if s.ln != nil { // nil for a tenant: its Tenants server listens
			err = s.ln.Stop()
		}
	})
	return err
}

// SetFaults replaces the active faults.
func (s *Server) SetFaults(f Faults) { s.kit.SetFaults(f) }

// Stats returns the request counters.
func (s *Server) Stats() Stats { return s.kit.Stats() }

// Writes returns every write request received since the last reset, with
// its body and the status the shop answered.
func (s *Server) Writes() []RecordedWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RecordedWrite(nil), s.writes...)
}

// ResetStats clears the request counters and recorded writes.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kit.ResetStats()
	s.writes = nil
}

func (s *Server) now() time.Time { return s.opts.Now().In(s.opts.Location) }

func (s *Server) nowString() string { return s.now().Format(prestashop.DateLayout) }

// ServeHTTP routes /api to the webservice and /_emulator to the back office.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, "/_emulator/"):
		s.serveBackOffice(w, r)
	default:
		http.NotFound(w, r)
	}
}

// response is a webservice answer built before it is written, so faults
// can drop or damage it after the shop committed.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, done := s.kit.Begin()
	defer done()
	if !s.kit.Delay(r.Context()) {
		return
	}
	if retryAfter, limited := s.kit.Admit(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		http.Error(w, "429 Too Many Requests", http.StatusTooManyRequests)
		return
	}
	if status, ok := s.kit.DrawError(); ok {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	}
	f := s.kit.Faults()
	if s.kit.Draw(f.ResetRate) {
		emulator.HangUp(w)
		return
	}
	method := r.Method
	if m := r.URL.Query().Get("ps_method"); m != "" {
		method = strings.ToUpper(m)
	}
	resp := s.handle(r, method)
	s.audit(r, method, resp)
	if emulator.IsWrite(method) && resp.status < 300 && s.kit.Draw(f.DropAfterCommitRate) {
		emulator.HangUp(w)
		return
	}
	body := resp.body
	if resp.status < 300 {
		body = s.kit.Cut(body)
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Set("Access-Time", strconv.FormatInt(time.Now().Unix(), 10))
	h.Set("X-Powered-By", "PrestaShop Webservice")
	h.Set("Execution-Time", strconv.FormatFloat(time.Since(start).Seconds(), 'f', 3, 64))
	if len(resp.body) > 0 {
		sum := sha1.Sum(resp.body)
		h.Set("Content-Sha1", hex.EncodeToString(sum[:]))
		if local := r.Header.Get("Local-Content-Sha1"); local != "" && local == hex.EncodeToString(sum[:]) && resp.status == http.StatusOK {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(resp.status)
	if method != http.MethodHead {
		_, _ = w.Write(body)
	}
	s.opts.Logger.Debug("webservice request", "method", method, "path", r.URL.Path, "status", resp.status)
}

// apiError is a webservice error: status plus <errors> items.
type apiError struct {
	status int
	items  []prestashop.ErrorItem
}

func (e *apiError) Error() string {
	var b strings.Builder
	for i, it := range e.items {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "[%d] %s", it.Code, it.Message)
	}
	return b.String()
}

func wsErr(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, items: []prestashop.ErrorItem{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func errorResponse(e *apiError, jsonOut bool) response {
	if jsonOut {
		var b bytes.Buffer
		b.WriteString(`{"errors":[`)
		for i, it := range e.items {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"code":%d,"message":%s}`, it.Code, jsonString(it.Message))
		}
		b.WriteString("]}")
		return response{status: e.status, header: http.Header{"Content-Type": {"application/json"}}, body: b.Bytes()}
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader + "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n")
	for _, it := range e.items {
		fmt.Fprintf(&b, "<error>\n<code>%s</code>\n<message>%s</message>\n</error>\n", cdata(strconv.Itoa(it.Code)), cdata(it.Message))
	}
	b.WriteString("</errors>\n</prestashop>\n")
	return response{status: e.status, header: http.Header{"Content-Type": {"text/xml;charset=utf-8"}}, body: b.Bytes()}
}
