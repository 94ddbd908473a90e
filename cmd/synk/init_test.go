package main

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipelines"
	"github.com/synk-etl/synk/transforms"
)

func TestRenderStarter(t *testing.T) {
	reg := pipeline.NewRegistry()
	registerConnectors(reg)
	fns := transforms.NewFunctions()
	registerFunctions(fns)
	tests := []struct {
		name, shopURL, company string
		wantURL, wantCompany   string
	}{
		{"both given", "https://shop.example.no", "my-shop-as", "https://shop.example.no", "my-shop-as"},
		{"none given: environment", "", "", "ps-from-env.example.no", "env-company"},
		{"only the shop", "https://butikk.example.no/nb", "", "https://butikk.example.no/nb", "env-company"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := renderStarter(pipelines.PrestashopFiken(), tt.shopURL, tt.company)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, "# yaml-language-server: $schema=./pipeline.schema.json\n# Written by `synk init`") {
				t.Errorf("header:\n%s", text[:200])
			}
			env := map[string]string{
				"PRESTASHOP_URL": "https://ps-from-env.example.no", "PRESTASHOP_KEY": strings.Repeat("K", 32),
				"FIKEN_COMPANY": "env-company", "FIKEN_TOKEN": "token",
			}
			p, err := spec.Parse(filepath.Join(t.TempDir(), "pipeline.yaml"), []byte(text), reg,
				spec.Options{Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Functions: fns})
			if err != nil {
				t.Fatalf("starter does not load: %v", err)
			}
			shop, fiken := p.Connection("shop"), p.Connection("fiken")
			if shop == nil || fiken == nil {
				t.Fatal("no shop or fiken connection")
			}
			// The settings as the connectors see them after loading.
			if got := connSetting(t, shop.Config); !strings.Contains(got, "url="+tt.wantURL) && !strings.Contains(got, tt.wantURL) {
				t.Errorf("shop config %s: want url %s", got, tt.wantURL)
			}
			if got := connSetting(t, fiken.Config); !strings.Contains(got, "company="+tt.wantCompany) {
				t.Errorf("fiken config %s: want company %s", got, tt.wantCompany)
			}
			if strings.Contains(text, strings.Repeat("K", 32)) || strings.Contains(text, "token\n") {
				t.Error("a secret was written into the file")
			}
		})
	}
	if _, err := renderStarter("version: 1\n", "https://x.example", ""); err == nil {
		t.Error("a template without the shop url reference rendered")
	}
}

// connSetting is a connector config's String (which redacts secrets).
func connSetting(t *testing.T, cfg any) string {
	t.Helper()
	s, ok := cfg.(interface{ String() string })
	if !ok {
		t.Fatalf("config %T has no String", cfg)
	}
	return s.String()
}

func TestEnvExample(t *testing.T) {
	src := `# Environment:
#   SHOP_KEY    the key
#   SHOP_URL    where
connections:
  a: {url: ${env:SHOP_URL}, key: ${env:SHOP_KEY}}
  b: {url: "${env:OTHER_URL:-https://x.example/api}", key: ${env:SHOP_KEY}}
`
	want := "# Environment for p.yaml: copy to .env, fill in, keep .env out of version control.\n" +
		"# Load it before synk runs, e.g. `set -a; . ./.env; set +a`, or systemd's EnvironmentFile=.\n" +
		"\n# where\nSHOP_URL=\n" +
		"\n# the key\nSHOP_KEY=\n" +
		"\n# OTHER_URL=https://x.example/api\n"
	if diff := cmp.Diff(want, envExample(src, "p.yaml")); diff != "" {
		t.Errorf("envExample (-want +got):\n%s", diff)
	}
}

func TestInitChecks(t *testing.T) {
	tests := []struct {
		check func(string) error
		v     string
		ok    bool
	}{
		{checkShopURL, "https://shop.example.no", true},
		{checkShopURL, "http://127.0.0.1:8082", true},
		{checkShopURL, "shop.example.no", false},
		{checkShopURL, "ftp://shop.example.no", false},
		{checkShopURL, "https://user:pw@shop.example.no", false},
		{checkShopURL, "https://${env:X}", false},
		{checkShopURL, `https://shop.example.no/"a`, false},
		{checkCompany, "my-shop-as", true},
		{checkCompany, "My Shop AS", false},
		{checkCompany, "-shop", false},
		{checkCompany, "shop\"", false},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			if err := tt.check(tt.v); (err == nil) != tt.ok {
				t.Errorf("check(%q) = %v, want ok=%v", tt.v, err, tt.ok)
			}
		})
	}
}

func TestAsk(t *testing.T) {
	tests := []struct {
		name, input, want string
		wantErr           bool
		prompts           int
	}{
		{"answer", "https://a.example\n", "https://a.example", false, 1},
		{"empty keeps the environment", "\n", "", false, 1},
		{"asks again after a bad answer", "nope\nhttps://b.example\n", "https://b.example", false, 2},
		{"end of input", "", "", false, 1},
		{"bad answer at the end of input", "nope", "", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			got, err := ask(bufio.NewReader(strings.NewReader(tt.input)), &out, "URL: ", checkShopURL)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ask = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if n := strings.Count(out.String(), "URL: "); n != tt.prompts {
				t.Errorf("%d prompts, want %d:\n%s", n, tt.prompts, out.String())
			}
		})
	}
}

// TestInitBinary runs synk init with the real binary: flags, the files it
// writes, that synk validate accepts the result, that existing files are
// kept without --force, and that a bad flag writes nothing.
func TestInitBinary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	env := []string{"PRESTASHOP_KEY=" + strings.Repeat("K", 32), "FIKEN_TOKEN=tok"}
	r := runEnv(t, env, "init", dir, "--shop-url", "https://shop.example.no", "--fiken-company", "my-shop-as")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"pipeline.yaml", "pipeline.schema.json", ".env.example"} {
		if !strings.Contains(r.stdout, filepath.Join(dir, f)) {
			t.Errorf("stdout does not name %s:\n%s", f, r.stdout)
		}
	}
	pipe, err := os.ReadFile(filepath.Join(dir, "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pipe), `url: "https://shop.example.no"`) || !strings.Contains(string(pipe), `company: "my-shop-as"`) {
		t.Errorf("settings not written:\n%s", pipe)
	}
	envEx, _ := os.ReadFile(filepath.Join(dir, ".env.example"))
	for _, want := range []string{"\nPRESTASHOP_KEY=\n", "\nFIKEN_TOKEN=\n", "\n# FIKEN_URL=https://api.fiken.no/api/v2\n"} {
		if !strings.Contains(string(envEx), want) {
			t.Errorf(".env.example lacks %q:\n%s", want, envEx)
		}
	}
	if strings.Contains(string(envEx), "PRESTASHOP_URL=") {
		t.Errorf(".env.example asks for the shop URL that was given:\n%s", envEx)
	}
	r = runEnv(t, env, "validate", filepath.Join(dir, "pipeline.yaml"))
	if r.code != 0 {
		t.Errorf("validate the starter: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Existing files are kept.
	os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte("mine\n"), 0o644)
	r = runEnv(t, env, "init", dir, "--yes")
	if b, _ := os.ReadFile(filepath.Join(dir, "pipeline.yaml")); r.code != 2 || string(b) != "mine\n" || !strings.Contains(r.stderr, "--force") {
		t.Errorf("init over an existing file: exit %d, file %q\n%s", r.code, b, r.stderr)
	}
	// --force overwrites; with --yes and no settings they stay references.
	r = runEnv(t, env, "init", dir, "--yes", "--force")
	b, _ := os.ReadFile(filepath.Join(dir, "pipeline.yaml"))
	if r.code != 0 || !strings.Contains(string(b), "url: ${env:PRESTASHOP_URL}") || !strings.Contains(r.stdout, "PRESTASHOP_URL and FIKEN_COMPANY from the environment") {
		t.Errorf("init --yes --force: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	envEx, _ = os.ReadFile(filepath.Join(dir, ".env.example"))
	if !strings.Contains(string(envEx), "\nPRESTASHOP_URL=\n") || !strings.Contains(string(envEx), "\nFIKEN_COMPANY=\n") {
		t.Errorf(".env.example without the settings left to the environment:\n%s", envEx)
	}

	// A bad flag writes nothing.
	bad := filepath.Join(t.TempDir(), "bad")
	r = runEnv(t, env, "init", bad, "--fiken-company", "My Shop AS")
	if _, err := os.Stat(bad); r.code != 2 || !errors.Is(err, os.ErrNotExist) || !strings.Contains(r.stderr, "--fiken-company") {
		t.Errorf("bad company: exit %d, dir err %v\n%s", r.code, err, r.stderr)
	}
}
