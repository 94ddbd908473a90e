package fiken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultAuthorizeURL and DefaultTokenURL are Fiken's OAuth2 endpoints.
const (
	DefaultAuthorizeURL = "https://fiken.no/oauth/authorize"
	DefaultTokenURL     = "https://fiken.no/oauth/token"
)

// OAuth is an Authorizer for a third-party app: it trades the refresh
// token for access tokens when they expire or are refused, and keeps the
// rotated refresh token in a 0600 file so the next run can use it.
type OAuth struct {
	http         *http.Client
	tokenURL     string
	clientID     string
	clientSecret string
	tokenFile    string
	now          func() time.Time

	mu      sync.Mutex
	refresh string
	access  string
	expires time.Time
}

// TokenSet is the token endpoint's answer.
type TokenSet struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// tokenFileContent is what the token file holds.
type tokenFileContent struct {
	RefreshToken string    `json:"refresh_token"`
	SavedAt      time.Time `json:"saved_at"`
}

// NewOAuth returns an OAuth authorizer. The refresh token in tokenFile,
// when the file exists, wins over refreshToken: it is the newer one.
func NewOAuth(httpClient *http.Client, tokenURL, clientID, clientSecret, refreshToken, tokenFile string) (*OAuth, error) {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	o := &OAuth{http: httpClient, tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret,
		tokenFile: tokenFile, refresh: refreshToken, now: time.Now}
	if tokenFile != "" {
		rt, err := ReadTokenFile(tokenFile)
		switch {
		case err == nil:
			o.refresh = rt
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, err
		}
	}
	if o.refresh == "" {
		return nil, errors.New("oauth: no refresh token (set oauth.refresh_token or run `synk auth fiken`)")
	}
	return o, nil
}

// String never shows a token.
func (o *OAuth) String() string { return fmt.Sprintf("OAuth(client_id=%s)", o.clientID) }

// Token implements Authorizer: the current access token, refreshed first
// when it is missing or about to expire.
func (o *OAuth) Token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.access != "" && o.now().Add(30*time.Second).Before(o.expires) {
		return o.access, nil
	}
	if err := o.refreshLocked(ctx); err != nil {
		return "", err
	}
	return o.access, nil
}

// Refresh implements Authorizer: after a 401 with failed, get a new access
// token unless another request already did.
func (o *OAuth) Refresh(ctx context.Context, failed string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.access != failed && o.access != "" {
		return true, nil
	}
	if err := o.refreshLocked(ctx); err != nil {
		return false, err
	}
	return true, nil
}

func (o *OAuth) refreshLocked(ctx context.Context) error {
	ts, err := requestToken(ctx, o.http, o.tokenURL, o.clientID, o.clientSecret, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {o.refresh},
	})
	if err != nil {
		return fmt.Errorf("refresh access token: %w", err)
	}
	o.access = ts.AccessToken
	o.expires = o.now().Add(time.Duration(ts.ExpiresIn) * time.Second)
	if ts.RefreshToken != "" && ts.RefreshToken != o.refresh {
		o.refresh = ts.RefreshToken
		if o.tokenFile != "" {
			if err := WriteTokenFile(o.tokenFile, ts.RefreshToken); err != nil {
				return fmt.Errorf("save rotated refresh token: %w", err)
			}
		}
	}
	return nil
}

// requestToken posts a grant to the token endpoint with the client
// credentials as HTTP Basic, as Fiken documents.
func requestToken(ctx context.Context, hc *http.Client, tokenURL, clientID, clientSecret string, form url.Values) (TokenSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return TokenSet{}, err
	}
	req.SetBasicAuth(clientID, clientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return TokenSet{}, scrubURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return TokenSet{}, err
	}
	if resp.StatusCode != http.StatusOK {
		e := newAPIError(http.MethodPost, pathOf(tokenURL), resp.StatusCode, body)
		e.Hint = "the refresh token is invalid or revoked, or the client id/secret is wrong: run `synk auth fiken` again"
		return TokenSet{}, e
	}
	ts, err := decodeTokenSet(body)
	if err != nil {
		return TokenSet{}, err
	}
	return ts, nil
}

// decodeTokenSet parses a token answer; it must carry an access token.
func decodeTokenSet(body []byte) (TokenSet, error) {
	var ts TokenSet
	if err := json.Unmarshal(body, &ts); err != nil {
		return TokenSet{}, fmt.Errorf("decode token answer: %w", err)
	}
	if ts.AccessToken == "" {
		return TokenSet{}, errors.New("token answer has no access_token")
	}
	if ts.ExpiresIn <= 0 {
		ts.ExpiresIn = 3600
	}
	return ts, nil
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// ReadTokenFile returns the refresh token kept in path.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var c tokenFileContent
	if err := json.Unmarshal(b, &c); err != nil || c.RefreshToken == "" {
		return "", fmt.Errorf("token file %s: not a synk token file", path)
	}
	return c.RefreshToken, nil
}

// WriteTokenFile stores a refresh token in path, mode 0600, replacing it
// atomically so a crash never leaves half a token.
func WriteTokenFile(path, refreshToken string) error {
	b, err := json.Marshal(tokenFileContent{RefreshToken: refreshToken, SavedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fiken-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoopbackAuth is the authorization-code flow with a loopback redirect,
// behind `synk auth fiken`.
type LoopbackAuth struct {
	HTTP         *http.Client
	AuthorizeURL string
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Listen is the loopback address of the redirect listener, e.g.
	// 127.0.0.1:8976; it must match a redirect URL registered for the app.
	Listen string
	// Open is shown the URL the user must visit (print it, or open a
	// browser).
	Open func(authURL string) error
}

// Run waits for the redirect, checks the state, and trades the code for
// tokens.
func (a LoopbackAuth) Run(ctx context.Context) (TokenSet, error) {
	if a.HTTP == nil {
		a.HTTP = http.DefaultClient
	}
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return TokenSet{}, fmt.Errorf("listen for the redirect on %s: %w", a.Listen, err)
	}
	defer ln.Close()
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if !isLoopback(host) {
		return TokenSet{}, fmt.Errorf("redirect listener %s is not a loopback address", ln.Addr())
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	stateBytes := make([]byte, 24)
	if _, err := rand.Read(stateBytes); err != nil {
		return TokenSet{}, err
	}
	state := base64.RawURLEncoding.EncodeToString(stateBytes)
	authURL, err := url.Parse(a.AuthorizeURL)
	if err != nil {
		return TokenSet{}, fmt.Errorf("authorize url: %w", err)
	}
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", a.ClientID)
	q.Set("redirect_uri", redirect)
	q.Set("state", state)
	authURL.RawQuery = q.Encode()

	type result struct {
		code string
		err  error
	}
	results := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		p := r.URL.Query()
		var res result
		switch {
		case p.Get("error") != "":
			res.err = fmt.Errorf("authorization refused: %s %s", p.Get("error"), p.Get("error_description"))
		case p.Get("state") != state:
			res.err = errors.New("authorization answer has the wrong state (possible CSRF); try again")
		case p.Get("code") == "":
			res.err = errors.New("authorization answer has no code")
		default:
			res.code = p.Get("code")
		}
		if res.err != nil {
			http.Error(w, res.err.Error(), http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "synk is authorised for Fiken. You can close this window.")
		}
		select {
		case results <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	if a.Open != nil {
		if err := a.Open(authURL.String()); err != nil {
			return TokenSet{}, err
		}
	}
	var res result
	select {
	case <-ctx.Done():
		return TokenSet{}, ctx.Err()
	case res = <-results:
	}
	if res.err != nil {
		return TokenSet{}, res.err
	}
	return requestToken(ctx, a.HTTP, a.TokenURL, a.ClientID, a.ClientSecret, url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {res.code},
		"redirect_uri": {redirect},
		"state":        {state},
	})
}
