package fikentest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/synk-etl/synk/connectors/emulator"
)

// Tenants is one HTTP server for many emulated Fiken companies, as
// api.fiken.no is: each company (by slug) has its own data, token, limits
// and faults, so one request in flight is a limit per company, not per
// server. It is what a benchmark of a thousand pipelines runs against
// without a thousand listeners.
//
// Requests under /api/v2/companies/{slug} go to that company; the other
// API paths (/user, /companies) to the company whose token the request
// bears. The back office of a company is under /_emulator/{slug}/. OAuth is
// not served: tenants use their personal API token.
type Tenants struct {
	ln *emulator.Listener

	mu      sync.RWMutex
	bySlug  map[string]*Server
	byToken map[string]*Server
}

// NewTenants starts a server with no companies on addr (default
// 127.0.0.1:0); Add adds them.
func NewTenants(addr string) (*Tenants, error) {
	t := &Tenants{bySlug: map[string]*Server{}, byToken: map[string]*Server{}}
	var err error
	if t.ln, err = emulator.Listen(addr); err != nil {
		return nil, fmt.Errorf("fikentest: %w", err)
	}
	t.ln.Serve(t)
	return t, nil
}

// Add creates a company from opts (Addr is ignored) and serves it. Its
// slug and token must be new to this server.
func (t *Tenants) Add(opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.bySlug[s.Company()]; ok {
		return nil, fmt.Errorf("fikentest: company %q is already served", s.Company())
	}
	if _, ok := t.byToken[s.Token()]; ok {
		return nil, fmt.Errorf("fikentest: token of company %q is another company's", s.Company())
	}
	t.bySlug[s.Company()] = s
	t.byToken[s.Token()] = s
	return s, nil
}

// Company returns the company with slug, or nil.
func (t *Tenants) Company(slug string) *Server {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.bySlug[slug]
}

// URL returns the API base URL every company shares, including /api/v2.
func (t *Tenants) URL() string { return t.RootURL() + APIPrefix }

// RootURL returns the server's root URL.
func (t *Tenants) RootURL() string { return t.ln.URL() }

// Close stops the server and waits for it.
func (t *Tenants) Close() error {
	return t.ln.Close()
}

// ServeHTTP hands the request to the company it is for.
func (t *Tenants) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/_emulator/"); ok {
		slug, sub, _ := strings.Cut(rest, "/")
		s := t.Company(slug)
		if s == nil {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/_emulator/"+sub, ""
		s.Handler().ServeHTTP(w, r2)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, APIPrefix+"/")
	if !ok {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	var s *Server
	if sub, ok := strings.CutPrefix(rest, "companies/"); ok {
		slug, _, _ := strings.Cut(sub, "/")
		if s = t.Company(slug); s == nil {
			writeError(w, http.StatusForbidden, "You do not have access to company "+slug)
			return
		}
	} else {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		t.mu.RLock()
		s = t.byToken[tok]
		t.mu.RUnlock()
		if s == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fiken"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
			return
		}
	}
	s.serveAPI(w, r)
}
