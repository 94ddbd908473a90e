package fiken

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Config is a `type: fiken` connection's settings.
type Config struct {
	// Company is the company slug (GET /companies lists them).
	Company string `yaml:"company"`
	// Token is a personal API token (for one's own company only).
	Token string `yaml:"token" secret:"true"`
	// OAuth is the OAuth2 app credentials and refresh token, for third
	// parties; exclusive with Token.
	OAuth *OAuthConfig `yaml:"oauth"`
	// URL is the API base; default https://api.fiken.no/api/v2. Plain http
	// is refused except to loopback addresses (the emulator).
	URL string `yaml:"url"`
	// FullEvery makes every Nth run a full read (the engine uses it to find
	// deletions); 0 leaves it to the engine's default.
	FullEvery int `yaml:"full_every"`
	// PageSize is the list page size, 1..100; default 100.
	PageSize int `yaml:"page_size"`
}

// OAuthConfig holds the OAuth2 settings.
type OAuthConfig struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret" secret:"true"`
	// RefreshToken seeds the token file; once the file exists, the rotated
	// token in it wins.
	RefreshToken string `yaml:"refresh_token" secret:"true"`
	// TokenFile keeps the newest refresh token (written 0600); default
	// fiken-<connection>.token.json in the state directory.
	TokenFile string `yaml:"token_file"`
	// TokenURL overrides the token endpoint; default
	// https://fiken.no/oauth/token, or <url's host>/oauth/token when url is
	// not Fiken's.
	TokenURL string `yaml:"token_url"`
}

// slugPattern is what Fiken's company slugs look like.
func slugPattern() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`) }

// Validate checks the settings offline.
func (c *Config) Validate() error {
	var errs []error
	if c.Company == "" {
		errs = append(errs, errors.New("company: required (the company slug, e.g. demo-as)"))
	} else if !slugPattern().MatchString(c.Company) {
		errs = append(errs, fmt.Errorf("company: %q is not a company slug (lower-case letters, digits and -)", c.Company))
	}
	switch {
	case c.Token == "" && c.OAuth == nil:
		errs = append(errs, errors.New("token or oauth: one is required"))
	case c.Token != "" && c.OAuth != nil:
		errs = append(errs, errors.New("token and oauth: set only one"))
	case c.OAuth != nil:
		if c.OAuth.ClientID == "" || c.OAuth.ClientSecret == "" {
			errs = append(errs, errors.New("oauth: client_id and client_secret are required"))
		}
		if c.OAuth.RefreshToken == "" && c.OAuth.TokenFile == "" {
			errs = append(errs, errors.New("oauth: refresh_token or token_file is required (run `synk auth fiken`)"))
		}
		if c.OAuth.TokenURL != "" {
			if err := checkURL(c.OAuth.TokenURL); err != nil {
				errs = append(errs, fmt.Errorf("oauth.token_url: %w", err))
			}
		}
	}
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			errs = append(errs, fmt.Errorf("url: %w", err))
		}
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("page_size: %d is outside 1..%d", c.PageSize, MaxPageSize))
	}
	if c.FullEvery < 0 {
		errs = append(errs, errors.New("full_every: must not be negative"))
	}
	return errors.Join(errs...)
}

// checkURL accepts https, and http only to loopback hosts: a token sent in
// clear text over a network is a leaked token.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("plain http is only allowed to loopback hosts, not %q; use https", u.Hostname())
		}
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// baseURL returns the API base to use.
func (c *Config) baseURL() string {
	if c.URL == "" {
		return DefaultURL
	}
	return strings.TrimRight(c.URL, "/")
}

// tokenURL returns the OAuth token endpoint.
func (c *Config) tokenURL() string {
	if c.OAuth != nil && c.OAuth.TokenURL != "" {
		return c.OAuth.TokenURL
	}
	u, err := url.Parse(c.baseURL())
	if err != nil || u.Host == "api.fiken.no" {
		return "https://fiken.no/oauth/token"
	}
	return u.Scheme + "://" + u.Host + "/oauth/token"
}

// String shows the settings with secrets redacted.
func (c Config) String() string {
	auth := "token=<redacted>"
	if c.OAuth != nil {
		auth = fmt.Sprintf("oauth={client_id=%s client_secret=<redacted> refresh_token=<redacted> token_file=%s}", c.OAuth.ClientID, c.OAuth.TokenFile)
	}
	return fmt.Sprintf("fiken{company=%s url=%s %s page_size=%d full_every=%d}", c.Company, c.baseURL(), auth, c.PageSize, c.FullEvery)
}

// LogValue keeps secrets out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
