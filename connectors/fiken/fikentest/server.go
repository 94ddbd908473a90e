// Package fikentest is a faithful emulator of Fiken's API v2: the test
// double of the fiken connector and what `synk emulate fiken` serves. Every
// request is validated against Fiken's OpenAPI spec (a reduced copy is
// embedded); behaviour follows the spec and Fiken's documented limits.
package fikentest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/synk-etl/synk/connectors/emulator"
	"golang.org/x/time/rate"
)

// APIPrefix is the path under which the API is served, as on api.fiken.no.
const APIPrefix = "/api/v2"

// Limits are the request limits Fiken documents. The zero value turns them
// off, for fast tests; FikenLimits returns Fiken's.
type Limits struct {
	// RejectConcurrent answers 429 to a request that arrives while another
	// is in flight.
	RejectConcurrent bool
	// Rate is requests per second above which responses are slowed (held
	// back until the rate allows them); 0 = no slowing.
	Rate float64
}

// FikenLimits returns Fiken's documented limits: one request in flight, and
// slowed above 4 requests per second.
func FikenLimits() Limits { return Limits{RejectConcurrent: true, Rate: 4} }

// Faults are the injected failures of the shared emulator kit.
type Faults = emulator.Faults

// Options configure an emulator. The zero value is usable: company
// "demo-as", token "demo-token", no seed data beyond accounts and bank
// accounts, limits and faults off.
type Options struct {
	// Addr is the listen address of NewServer; default 127.0.0.1:0.
	Addr string
	// Company is the company slug; Token the personal API token.
	Company, Token string
	// ClientID and ClientSecret are the OAuth app credentials the token
	// endpoint accepts; default demo-client / demo-secret.
	ClientID, ClientSecret string
	// AccessTokenTTL is the lifetime of OAuth access tokens; default 1h.
	AccessTokenTTL time.Duration
	// Seed makes seed data, generated uuids and faults repeatable.
	Seed uint64
	// Products and Contacts are how many seed records to create.
	Products, Contacts int
	// Invoices seeds that many invoices (and initialises the counters).
	Invoices int
	// CountersInitialized starts with the invoice and credit note counters
	// created; a fresh Fiken company has neither.
	CountersInitialized bool
	// APIModuleInactive answers 403 on company resources, as Fiken does
	// when the company has not bought the API module.
	APIModuleInactive bool
	Limits            Limits
	Faults            Faults
	// Now is the clock (dates of records); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Stats are the shared kit's request counts (Concurrent: requests
// refused with 429 because another was in flight).
type Stats = emulator.Stats

// Server is a running emulator.
type Server struct {
	opts   Options
	router routers.Router
	// ln serves this company alone; nil for a company of Tenants.
	ln *emulator.Listener

	kit  *emulator.Kit
	slow *rate.Limiter

	mu sync.Mutex
	// rnd makes the seed data and generated ids (guarded by mu).
	rnd         *rand.Rand
	violations  []string
	st          *state
	oauth       *oauthState
	moduleOff   bool
	handlerOnce sync.Once
	handler     http.Handler
}

// New returns an emulator that is not listening; Handler serves it. Use
// NewServer for one on a real port.
func New(opts Options) (*Server, error) {
	if opts.Company == "" {
		opts.Company = "demo-as"
	}
	if opts.Token == "" {
		opts.Token = "demo-token"
	}
	if opts.ClientID == "" {
		opts.ClientID = "demo-client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "demo-secret"
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	router, err := specRouter()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      opts,
		router:    router,
		kit:       emulator.New(opts.Seed, opts.Faults),
		rnd:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		moduleOff: opts.APIModuleInactive,
		oauth:     newOAuthState(),
	}
	if opts.Limits.Rate > 0 {
		burst := int(opts.Limits.Rate)
		if burst < 1 {
			burst = 1
		}
		s.slow = rate.NewLimiter(rate.Limit(opts.Limits.Rate), burst)
	}
	s.st = newState(s)
	s.seed()
	return s, nil
}

// NewServer starts an emulator on opts.Addr (default 127.0.0.1:0).
func NewServer(opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if s.ln, err = emulator.Listen(opts.Addr); err != nil {
		return nil, fmt.Errorf("fikentest: %w", err)
	}
	s.ln.Serve(s.Handler())
	return s, nil
}

// specRouter is the router over the embedded spec, built once: every
// emulator in the process shares it (it is only read), so a thousand
// tenants do not each hold a parsed copy of the spec.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := loadSpec()
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("fikentest: build router: %w", err)
	}
	return router, nil
})

func loadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(specJSON)
	if err != nil {
		return nil, fmt.Errorf("fikentest: load spec: %w", err)
	}
	// Requests are routed on the path below APIPrefix, whatever host the
	// emulator listens on.
	doc.Servers = nil
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("fikentest: spec: %w", err)
	}
	return doc, nil
}

// URL returns the API base URL, including /api/v2.
func (s *Server) URL() string { return s.RootURL() + APIPrefix }

// RootURL returns the server's root URL (the OAuth endpoints live at
// /oauth/authorize and /oauth/token under it, the back office at /_emulator).
func (s *Server) RootURL() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.URL()
}

// Company returns the company slug.
func (s *Server) Company() string { return s.opts.Company }

// Token returns the personal API token.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server and waits for it.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Close()
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Shutdown(ctx)
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) { s.kit.SetFaults(f) }

// SetAPIModuleActive switches the company's API module on or off.
func (s *Server) SetAPIModuleActive(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moduleOff = !on
}

// Stats returns request counts since the start or the last ResetStats.
func (s *Server) Stats() Stats { return s.kit.Stats() }

// ResetStats zeroes the request counts.
func (s *Server) ResetStats() { s.kit.ResetStats() }

// Handler returns the emulator's HTTP handler.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
		mux.HandleFunc("POST /oauth/token", s.handleToken)
		mux.Handle("/_emulator/", s.backOfficeMux())
		mux.Handle(APIPrefix+"/", http.HandlerFunc(s.serveAPI))
		s.handler = mux
	})
	return s.handler
}

// serveAPI is the middleware chain Fiken puts in front of every API call:
// concurrency, rate, faults, auth, spec validation; then the handler, whose
// answer is buffered so it can be validated, dropped or mangled.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	// The request stops being in flight when its answer is ready, before
	// the bytes go out: a client that sees the answer (or a reset) may
	// send its next request at once.
	n, release := s.kit.Begin()
	defer release()
	write := emulator.IsWrite(r.Method)
	s.kit.Count(r.Method, "")
	if n > 1 && s.opts.Limits.RejectConcurrent {
		s.kit.Refused()
		writeError(w, http.StatusTooManyRequests, "Too many concurrent requests. Only one request at a time is allowed.")
		return
	}
	if s.slow != nil {
		res := s.slow.Reserve()
		if d := res.Delay(); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return
			}
		}
	}
	if retryAfter, limited := s.kit.Admit(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	if !s.kit.Delay(r.Context()) {
		return
	}
	f := s.kit.Faults()
	if s.kit.Draw(f.ResetRate) {
		release()
		emulator.HangUp(w)
		return
	}
	if status, ok := s.kit.DrawError(); ok {
		writeError(w, status, http.StatusText(status))
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read request body")
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fiken"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, APIPrefix)
	vr := r.Clone(r.Context())
	vr.URL.Path = path
	vr.URL.RawPath = ""
	vr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(vr)
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) && re.Reason == routers.ErrMethodNotAllowed.Error() || s.pathExists(vr) {
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	if msg := unknownQueryParams(route, r); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    vr,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			MultiError:          true,
		},
	}
	if len(body) > 0 && route.Operation.RequestBody == nil {
		writeError(w, http.StatusBadRequest, "request body not allowed")
		return
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		s.violation("request %s %s: %s", r.Method, r.URL.Path, oneLine(err.Error()))
		writeValidationError(w, err)
		return
	}
	if slug, ok := params["companySlug"]; ok {
		if slug != s.opts.Company {
			writeError(w, http.StatusForbidden, "You do not have access to company "+slug)
			return
		}
		s.mu.Lock()
		off := s.moduleOff
		s.mu.Unlock()
		if off {
			writeError(w, http.StatusForbidden, "The API module is not active for this company (API-modulen er ikke aktivert)")
			return
		}
	}

	rec := newRecorder()
	s.dispatch(rec, r, route, params, body)

	if write && rec.status < 300 && s.kit.Draw(f.DropAfterCommitRate) {
		release()
		emulator.HangUp(w)
		return
	}
	// Fiken leaves writeOnly properties out of every answer.
	out := stripWriteOnly(route, rec)
	s.validateResponse(r, in, rec.status, rec.header, out)
	if r.Method == http.MethodGet && rec.status == http.StatusOK {
		out = s.kit.Cut(out)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	release()
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

// pathExists reports whether any method is declared for the request's
// path, which makes a miss a 405 rather than a 404.
func (s *Server) pathExists(r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, _, err := s.router.FindRoute(probe); err == nil {
			return true
		}
	}
	return false
}

// validateResponse checks an answer against the spec's response schema:
// a property the spec does not declare, or one it marks writeOnly, is a
// violation (Fiken never sends either).
func (s *Server) validateResponse(r *http.Request, in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) {
	if status >= 400 {
		// Fiken's spec declares no error responses.
		return
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	rin.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), rin); err != nil {
		s.violation("response %s %s -> %d: %s", r.Method, r.URL.Path, status, oneLine(err.Error()))
	}
}

// violation records a request or an answer that breaks Fiken's spec.
func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.opts.Logger.Warn("spec violation", "violation", msg)
}

// Violations returns every request and answer since the start that broke
// Fiken's spec: a request the spec refuses (answered 400, as Fiken does)
// and an answer with a property that is undeclared or writeOnly. A client
// test that sees none has spoken the contract, not only this emulator.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Check fails t, when it ends, for every violation of Fiken's spec the
// emulator saw (see Violations). Tests that use an emulator call it once.
func Check(t testing.TB, s *Server) {
	t.Helper()
	t.Cleanup(func() {
		for _, v := range s.Violations() {
			t.Errorf("Fiken spec violation: %s", v)
		}
	})
}

// stripWriteOnly removes from a JSON answer every property its response
// schema marks writeOnly, at any depth (a contact's phoneNumber, also as an
// invoice's customer): Fiken takes them in requests and never returns them.
func stripWriteOnly(route *routers.Route, rec *recorder) []byte {
	body := rec.body.Bytes()
	if rec.status >= 300 || len(body) == 0 {
		return body
	}
	ref := route.Operation.Responses.Status(rec.status)
	if ref == nil || ref.Value == nil {
		return body
	}
	mt := ref.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return body
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return body
	}
	if !dropWriteOnly(v, mt.Schema.Value) {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// dropWriteOnly deletes v's writeOnly properties per schema; it reports
// whether it deleted any.
func dropWriteOnly(v any, schema *openapi3.Schema) bool {
	dropped := false
	switch x := v.(type) {
	case map[string]any:
		for name, prop := range schema.Properties {
			val, ok := x[name]
			if !ok || prop == nil || prop.Value == nil {
				continue
			}
			if prop.Value.WriteOnly {
				delete(x, name)
				dropped = true
				continue
			}
			dropped = dropWriteOnly(val, prop.Value) || dropped
		}
	case []any:
		if schema.Items == nil || schema.Items.Value == nil {
			return false
		}
		for _, el := range x {
			dropped = dropWriteOnly(el, schema.Items.Value) || dropped
		}
	}
	return dropped
}

// unknownQueryParams refuses query parameters the operation does not
// declare: Fiken ignores some, but a connector relying on an undeclared
// filter would silently read everything.
func unknownQueryParams(route *routers.Route, r *http.Request) string {
	known := map[string]bool{}
	for _, list := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range list {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				known[p.Value.Name] = true
			}
		}
	}
	for name := range r.URL.Query() {
		if !known[name] {
			return fmt.Sprintf("unknown query parameter %q", name)
		}
	}
	return ""
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	if tok == s.opts.Token {
		return true
	}
	return s.oauth.validAccess(tok, s.opts.Now())
}

// fikenError is the shape of Fiken's error answers.
type fikenError struct {
	Logref  string `json:"logref,omitempty"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, []fikenError{{Logref: http.StatusText(status), Message: msg}})
}

func writeValidationError(w http.ResponseWriter, err error) {
	var msgs []fikenError
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			msgs = append(msgs, fikenError{Logref: "validation", Message: oneLine(e.Error())})
		}
	} else {
		msgs = append(msgs, fikenError{Logref: "validation", Message: oneLine(err.Error())})
	}
	writeJSON(w, http.StatusBadRequest, msgs)
}

func oneLine(s string) string {
	if i := strings.Index(s, "\nSchema:"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, status: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
