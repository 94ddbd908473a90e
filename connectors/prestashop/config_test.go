package prestashop

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	key := strings.Repeat("K", 32)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"https", Config{URL: "https://shop.example.no", Key: key}, ""},
		{"loopback http", Config{URL: "http://127.0.0.1:8380", Key: key}, ""},
		{"localhost http", Config{URL: "http://localhost:8380", Key: key}, ""},
		{"remote http", Config{URL: "http://shop.example.no", Key: key}, "insecure_http"},
		{"remote http allowed", Config{URL: "http://shop.example.no", Key: key, InsecureHTTP: true}, ""},
		{"no url", Config{Key: key}, "url is required"},
		{"bad url", Config{URL: "shop.example.no", Key: key}, "not an http(s) URL"},
		{"credentials in url", Config{URL: "https://u:p@shop.example.no", Key: key}, "credentials"},
		{"no key", Config{URL: "https://shop.example.no"}, "key is required"},
		{"short key", Config{URL: "https://shop.example.no", Key: "abc"}, "32 characters"},
		{"auth", Config{URL: "https://shop.example.no", Key: key, Auth: "bearer"}, "auth"},
		{"query auth", Config{URL: "https://shop.example.no", Key: key, Auth: "query"}, ""},
		{"page size", Config{URL: "https://shop.example.no", Key: key, PageSize: -1}, "page_size"},
		{"country", Config{URL: "https://shop.example.no", Key: key, Country: "NOR"}, "country"},
		{"timezone", Config{URL: "https://shop.example.no", Key: key, Timezone: "Mars/Olympus"}, "timezone"},
		{"overlap", Config{URL: "https://shop.example.no", Key: key, Overlap: "soon"}, "overlap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one mentioning %q", err, tc.wantErr)
			}
			if err != nil && tc.cfg.Key != "" && strings.Contains(err.Error(), tc.cfg.Key) {
				t.Errorf("error shows the key")
			}
		})
	}
}

func TestConfigDefaultsAndSecrets(t *testing.T) {
	key := strings.Repeat("S", 32)
	cfg := Config{URL: "https://shop.example.no", Key: key}
	s, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.Auth != "basic" || s.Language != 1 || s.PageSize != 100 || s.SettledStateName != "Oppgjort i Fiken" || s.Country != "NO" || s.overlap != 10*time.Minute {
		t.Errorf("defaults: %+v", s)
	}
	// Incremental reads start in shop time, less the overlap.
	got := s.since(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	if got != "2026-06-01 11:50:00" {
		t.Errorf("since = %s, want 2026-06-01 11:50:00 (Oslo summer time minus 10m)", got)
	}
	for _, out := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v", &cfg), NewClient(nil, cfg.URL, key, ClientOptions{}).String()} {
		if strings.Contains(out, key) {
			t.Errorf("output shows the key: %s", out)
		}
	}
}

func TestAPIErrorNeverShowsKey(t *testing.T) {
	key := strings.Repeat("Q", 32)
	e := &APIError{Status: http.StatusUnauthorized, Method: "GET", Path: "/api/products"}
	if !strings.Contains(e.Error(), "auth: query") || e.Retryable() {
		t.Errorf("401 without errors: %v", e)
	}
	c := NewClient(nil, "http://127.0.0.1:1", key, ClientOptions{Auth: "query"})
	_, err := c.List(t.Context(), "products", ListQuery{})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("connection error shows the key or is nil: %v", err)
	}
	for _, tc := range []struct {
		e     APIError
		retry bool
	}{
		{APIError{Status: 503}, true},
		{APIError{Status: 429}, true},
		{APIError{Status: 500, Code: 133}, false},
		{APIError{Status: 400, Code: 41}, false},
		{APIError{Status: 501}, false},
	} {
		if tc.e.Retryable() != tc.retry {
			t.Errorf("%+v retryable %v", tc.e, !tc.retry)
		}
	}
	var target *APIError
	if !errors.As(fmt.Errorf("wrap: %w", &APIError{Status: 400}), &target) {
		t.Error("APIError does not unwrap")
	}
}
