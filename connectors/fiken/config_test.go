package fiken

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	oauth := &OAuthConfig{ClientID: "id", ClientSecret: "s", RefreshToken: "r"}
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"token", Config{Company: "demo-as", Token: "t"}, ""},
		{"oauth", Config{Company: "demo-as", OAuth: oauth}, ""},
		{"loopback http", Config{Company: "demo-as", Token: "t", URL: "http://127.0.0.1:8080/api/v2"}, ""},
		{"localhost http", Config{Company: "demo-as", Token: "t", URL: "http://localhost:8080/api/v2"}, ""},
		{"remote http", Config{Company: "demo-as", Token: "t", URL: "http://api.example.com/api/v2"}, "plain http"},
		{"no company", Config{Token: "t"}, "company: required"},
		{"bad slug", Config{Company: "Demo AS", Token: "t"}, "not a company slug"},
		{"no auth", Config{Company: "demo-as"}, "token or oauth"},
		{"both auth", Config{Company: "demo-as", Token: "t", OAuth: oauth}, "only one"},
		{"oauth without refresh", Config{Company: "demo-as", OAuth: &OAuthConfig{ClientID: "id", ClientSecret: "s"}}, "synk auth fiken"},
		{"page size", Config{Company: "demo-as", Token: "t", PageSize: 500}, "page_size"},
		{"full every", Config{Company: "demo-as", Token: "t", FullEvery: -1}, "full_every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestTokenURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"", DefaultTokenURL},
		{"https://api.fiken.no/api/v2", DefaultTokenURL},
		{"http://127.0.0.1:9000/api/v2", "http://127.0.0.1:9000/oauth/token"},
	}
	for _, tt := range tests {
		c := Config{URL: tt.url}
		if got := c.tokenURL(); got != tt.want {
			t.Errorf("tokenURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}
