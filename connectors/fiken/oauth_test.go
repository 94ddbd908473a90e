package fiken

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline"
)

func TestOAuthRefreshesAndPersistsRotatedToken(t *testing.T) {
	srv := startEmulator(t, fikentest.Options{Seed: 21, Products: 3})
	id, secret := srv.ClientCredentials()
	lim, hc := newHTTP(pipeline.Limits{MaxInFlight: 1})
	stateDir := t.TempDir()
	env := pipeline.Env{Connection: "fiken", Limiter: lim, HTTP: hc, BaseDir: t.TempDir(), StateDir: stateDir}
	seedToken := srv.IssueRefreshToken()
	cfg := &Config{Company: srv.Company(), URL: srv.URL(), OAuth: &OAuthConfig{ClientID: id, ClientSecret: secret, RefreshToken: seedToken}}
	if s := cfg.String(); strings.Contains(s, secret) || strings.Contains(s, seedToken) {
		t.Fatalf("config String leaks a secret: %s", s)
	}
	conn, err := Open(t.Context(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn, ResProducts, time.Time{}); len(got.records) != 3 {
		t.Fatalf("read %d products", len(got.records))
	}
	file := filepath.Join(stateDir, "fiken-fiken.token.json")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	rotated, err := ReadTokenFile(file)
	if err != nil || rotated == seedToken {
		t.Fatalf("token file holds %q (err %v), want the rotated token", rotated, err)
	}

	// Access tokens expire: the 401 leads to one refresh and a retry.
	srv.ExpireAccessTokens()
	if got := read(t, conn, ResProducts, time.Time{}); len(got.records) != 3 {
		t.Fatalf("after expiry: read %d products", len(got.records))
	}
	rotated2, _ := ReadTokenFile(file)
	if rotated2 == rotated {
		t.Fatal("refresh after 401 did not rotate the stored token")
	}

	// A new run starts from the file: the seed token in the settings was
	// used up by the first refresh.
	conn2, err := Open(t.Context(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn2, ResContacts, time.Time{}); len(got.rejects) != 0 {
		t.Fatalf("rejects: %v", got.rejects)
	}

	// A revoked refresh token is a clear error, not a loop.
	bad := &Config{Company: srv.Company(), URL: srv.URL(), OAuth: &OAuthConfig{ClientID: id, ClientSecret: secret, RefreshToken: "revoked", TokenFile: filepath.Join(t.TempDir(), "t.json")}}
	conn3, err := Open(t.Context(), env, bad)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	err = conn3.Read(t.Context(), ResProducts, pipeline.ReadQuery{}, &col)
	if err == nil || !strings.Contains(err.Error(), "synk auth fiken") || strings.Contains(err.Error(), secret) {
		t.Fatalf("revoked token: err = %v", err)
	}
}

func TestLoopbackAuthorizationCodeFlow(t *testing.T) {
	srv := startEmulator(t, fikentest.Options{})
	id, secret := srv.ClientCredentials()
	a := LoopbackAuth{
		HTTP: http.DefaultClient, AuthorizeURL: srv.RootURL() + "/oauth/authorize", TokenURL: srv.RootURL() + "/oauth/token",
		ClientID: id, ClientSecret: secret, Listen: "127.0.0.1:0",
		// The emulator consents at once; following its redirect is what
		// the user's browser would do.
		Open: func(u string) error {
			go func() {
				resp, err := http.Get(u)
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		},
	}
	ts, err := a.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ts.AccessToken == "" || ts.RefreshToken == "" {
		t.Fatalf("tokens = %+v", ts)
	}
	o, err := NewOAuth(http.DefaultClient, srv.RootURL()+"/oauth/token", id, secret, ts.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(http.DefaultClient, srv.URL(), srv.Company(), o)
	if _, err := c.GetCompany(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.ClientSecret = "s3cret-bad"
	if _, err := a.Run(t.Context()); err == nil || strings.Contains(err.Error(), "s3cret-bad") {
		t.Fatalf("wrong secret: err = %v", err)
	}
}
