package prestashoptest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/synk-etl/synk/connectors/emulator"
)

// ShopsPrefix is the path under which Tenants serves each shop by name:
// URL()+ShopsPrefix+name is that shop's root (its webservice is under
// /api below it, its back office under /_emulator).
const ShopsPrefix = "/shops/"

// Tenants is one HTTP server for many emulated shops, each with its own
// data, key, faults and counters. A shop is reached by path prefix
// (/shops/{name}/api/...) or, at the server's root (/api/...), by its
// webservice key, as hosts that serve many shops behind one name do. It is
// what a benchmark of a thousand pipelines runs against without a thousand
// listeners.
type Tenants struct {
	ln  *emulator.Listener
	url string

	mu     sync.RWMutex
	byName map[string]*Server
	byKey  map[string]*Server
}

// NewTenants starts a server with no shops on addr (default
// 127.0.0.1:0); Add adds them.
func NewTenants(addr string) (*Tenants, error) {
	t := &Tenants{byName: map[string]*Server{}, byKey: map[string]*Server{}}
	var err error
	if t.ln, err = emulator.Listen(addr); err != nil {
		return nil, err
	}
	t.url = t.ln.URL()
	t.ln.Serve(t)
	return t, nil
}

// Add creates a shop from opts (Addr is ignored) served as name. The name
// (no slash) and the shop's key must be new to this server; give each
// shop its own Seed or Key, since the default key derives from Seed.
func (t *Tenants) Add(name string, opts Options) (*Server, error) {
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("shop name %q: want a path segment", name)
	}
	s, err := newShop(opts)
	if err != nil {
		return nil, err
	}
	// Links in answers point below the shop's prefix, so a client that
	// follows them stays with its shop.
	s.url = t.url + ShopsPrefix + name
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byName[name]; ok {
		return nil, fmt.Errorf("shop %q is already served", name)
	}
	if _, ok := t.byKey[s.Key()]; ok {
		return nil, fmt.Errorf("shop %q: its key is another shop's", name)
	}
	t.byName[name], t.byKey[s.Key()] = s, s
	return s, nil
}

// Shop returns the shop served as name, or nil.
func (t *Tenants) Shop(name string) *Server {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byName[name]
}

// URL is the server's root: shops by key are under URL()+"/api".
func (t *Tenants) URL() string { return t.url }

// Close stops the server.
func (t *Tenants) Close() error {
	return t.ln.Stop()
}

// ServeHTTP hands the request to the shop its path or key names.
func (t *Tenants) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, ShopsPrefix); ok {
		name, sub, _ := strings.Cut(rest, "/")
		s := t.Shop(name)
		if s == nil {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/"+sub, ""
		s.ServeHTTP(w, r2)
		return
	}
	if r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") {
		http.NotFound(w, r)
		return
	}
	key := r.URL.Query().Get("ws_key")
	if u, _, ok := r.BasicAuth(); ok {
		key = u
	}
	t.mu.RLock()
	s := t.byKey[key]
	t.mu.RUnlock()
	if s == nil {
		// No shop has this key: answer as a shop does to a wrong key.
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	s.ServeHTTP(w, r)
}
