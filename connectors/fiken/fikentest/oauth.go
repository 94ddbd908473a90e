package fikentest

import (
	"net/http"
	"net/url"
	"sync"
	"time"
)

// oauthState holds the authorization codes, access tokens and refresh
// tokens the emulated fiken.no/oauth endpoints have issued.
type oauthState struct {
	mu      sync.Mutex
	codes   map[string]string // code -> redirect_uri
	access  map[string]time.Time
	refresh map[string]bool
}

func newOAuthState() *oauthState {
	return &oauthState{codes: map[string]string{}, access: map[string]time.Time{}, refresh: map[string]bool{}}
}

func (o *oauthState) validAccess(tok string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.access[tok]
	return ok && now.Before(exp)
}

// IssueRefreshToken returns a new valid refresh token, as if a user had
// completed the authorization flow.
func (s *Server) IssueRefreshToken() string {
	tok := "rt-" + s.uuid()
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.refresh[tok] = true
	return tok
}

// ExpireAccessTokens makes every issued OAuth access token invalid, so the
// next request with one gets 401.
func (s *Server) ExpireAccessTokens() {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	clear(s.oauth.access)
}

// ClientCredentials returns the OAuth client id and secret the emulator
// accepts.
func (s *Server) ClientCredentials() (id, secret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// handleAuthorize stands in for the user consenting on fiken.no: it
// redirects straight back with a code.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("response_type") != "code" || q.Get("client_id") != s.opts.ClientID || err != nil || redirect.Scheme == "" || q.Get("state") == "" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	code := "code-" + s.uuid()
	s.oauth.mu.Lock()
	s.oauth.codes[code] = q.Get("redirect_uri")
	s.oauth.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// handleToken is the token endpoint: client credentials by HTTP Basic,
// grant_type authorization_code or refresh_token. Refresh tokens rotate.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Bad client credentials"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "bad form"})
		return
	}
	o := s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		redirect, ok := o.codes[r.PostForm.Get("code")]
		if !ok || redirect != r.PostForm.Get("redirect_uri") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "The authorization code is invalid or expired."})
			return
		}
		delete(o.codes, r.PostForm.Get("code"))
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !o.refresh[rt] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Invalid refresh token"})
			return
		}
		delete(o.refresh, rt)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type must be authorization_code or refresh_token"})
		return
	}
	o.mu.Unlock()
	access, refresh := "at-"+s.uuid(), "rt-"+s.uuid()
	o.mu.Lock()
	o.access[access] = s.opts.Now().Add(s.opts.AccessTokenTTL)
	o.refresh[refresh] = true
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "refresh_token": refresh, "token_type": "bearer",
		"expires_in": int(s.opts.AccessTokenTTL.Seconds()),
	})
}
