package prestashop

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // shop time zones resolve on hosts without zoneinfo
)

// Config is a `type: prestashop` connection's settings.
type Config struct {
	// URL is the shop root (https://shop.example.no); /api is added.
	URL string `yaml:"url"`
	// Key is the 32-character webservice key.
	Key string `yaml:"key" secret:"true"`
	// Auth is "basic" (default) or "query" (sends ws_key, for hosts whose
	// proxy drops the Authorization header).
	Auth string `yaml:"auth"`
	// Language is the language id written by updates and exposed under the
	// plain field name; default 1. Every language is read into name_i18n.
	Language int64 `yaml:"language"`
	// Shop is the multistore id_shop (0 = the default shop).
	Shop int64 `yaml:"shop"`
	// InsecureHTTP allows plain http to a host other than loopback.
	InsecureHTTP bool `yaml:"insecure_http"`
	// PageSize is records per list request; default 100.
	PageSize int `yaml:"page_size"`
	// FullEvery makes every Nth run a full read (the engine reads it);
	// full reads catch deletions and products whose date_upd did not move.
	FullEvery int `yaml:"full_every"`
	// SettledStateName is the order state "invoice settled in Fiken" moves
	// an order to; created when missing. Default "Oppgjort i Fiken".
	SettledStateName string `yaml:"settled_state_name"`
	// Rate caps requests per second for hosts that limit them (the engine
	// builds the limiter from it).
	Rate float64 `yaml:"rate"`
	// Concurrency is the number of requests in flight (default 4); the
	// engine builds the limiter from it.
	Concurrency int `yaml:"concurrency"`
	// Country is the ISO code whose tax rules give products' tax_rate;
	// default "NO".
	Country string `yaml:"country"`
	// Timezone is the shop's time zone, in which it writes date_upd;
	// default "Europe/Oslo".
	Timezone string `yaml:"timezone"`
	// Overlap is how far before the last sync incremental reads start, for
	// clock skew and slow commits (Go duration, default "10m").
	Overlap string `yaml:"overlap"`
}

// Defaults of the settings.
const (
	DefaultPageSize    = 100
	DefaultSettled     = "Oppgjort i Fiken"
	DefaultCountry     = "NO"
	DefaultTimezone    = "Europe/Oslo"
	DefaultOverlap     = 10 * time.Minute
	DefaultConcurrency = 4
)

// MaxPageSize is the largest page synk asks a shop for. PrestaShop sets no
// limit of its own; a page of 5,000 narrow rows (stock) is a few hundred
// kilobytes.
const MaxPageSize = 5000

// String shows the settings without the key.
func (c Config) String() string {
	key := ""
	if c.Key != "" {
		key = "<redacted>"
	}
	return fmt.Sprintf("prestashop{url=%s key=%s auth=%s language=%d shop=%d}", c.URL, key, c.Auth, c.Language, c.Shop)
}

// Validate checks the settings without I/O. The key is never quoted.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url is required"))
	} else if u, err := url.Parse(c.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("url %q is not an http(s) URL", c.URL))
	} else if u.User != nil {
		errs = append(errs, errors.New("url must not carry credentials; use key"))
	} else if u.Scheme == "http" && !c.InsecureHTTP && !isLoopback(u.Hostname()) {
		errs = append(errs, fmt.Errorf("url %s uses plain http to a non-loopback host: the key would travel unencrypted; use https or set insecure_http: true", u.Host))
	}
	switch {
	case c.Key == "":
		errs = append(errs, errors.New("key is required"))
	case len(c.Key) != 32:
		errs = append(errs, fmt.Errorf("key must be 32 characters (got %d)", len(c.Key)))
	case strings.ContainsAny(c.Key, " \t\r\n:"):
		errs = append(errs, errors.New("key contains whitespace or ':'"))
	}
	switch c.Auth {
	case "", "basic", "query":
	default:
		errs = append(errs, fmt.Errorf("auth %q: want basic or query", c.Auth))
	}
	if c.Language < 0 || c.Shop < 0 {
		errs = append(errs, errors.New("language and shop must be positive ids"))
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("page_size %d: want 1..%d", c.PageSize, MaxPageSize))
	}
	if c.FullEvery < 0 || c.Rate < 0 || c.Concurrency < 0 {
		errs = append(errs, errors.New("full_every, rate and concurrency must not be negative"))
	}
	if c.Country != "" && len(c.Country) != 2 {
		errs = append(errs, fmt.Errorf("country %q: want a two-letter ISO code", c.Country))
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("timezone %q: %w", c.Timezone, err))
		}
	}
	if c.Overlap != "" {
		if d, err := time.ParseDuration(c.Overlap); err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("overlap %q: want a duration like 10m", c.Overlap))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// settings are a config with defaults applied.
type settings struct {
	Config
	lang    string
	loc     *time.Location
	overlap time.Duration
}

func (c *Config) settings() (settings, error) {
	if err := c.Validate(); err != nil {
		return settings{}, err
	}
	s := settings{Config: *c}
	if s.Auth == "" {
		s.Auth = "basic"
	}
	if s.Language == 0 {
		s.Language = 1
	}
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	if s.SettledStateName == "" {
		s.SettledStateName = DefaultSettled
	}
	if s.Country == "" {
		s.Country = DefaultCountry
	}
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	s.lang = fmt.Sprint(s.Language)
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return settings{}, fmt.Errorf("timezone: %w", err)
	}
	s.loc = loc
	s.overlap = DefaultOverlap
	if c.Overlap != "" {
		s.overlap, _ = time.ParseDuration(c.Overlap)
	}
	return s, nil
}

// since is where an incremental read from t starts, in shop time.
func (s settings) since(t time.Time) string { return t.Add(-s.overlap).In(s.loc).Format(DateLayout) }
