package spec_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/file"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/accounting"
)

var update = flag.Bool("update", false, "rewrite golden files")

func registry() *pipeline.Registry {
	reg := pipeline.NewRegistry()
	file.Register(reg)
	return reg
}

// env is the options the CLI loads with: vals for the environment and the
// functions main registers, the core and the accounting set.
func env(vals map[string]string) spec.Options {
	fns := transforms.NewFunctions()
	accounting.Register(fns)
	return spec.Options{Getenv: func(k string) (string, bool) { v, ok := vals[k]; return v, ok }, Functions: fns}
}

// TestLoadErrors checks the exact, positioned messages for broken files
// against golden files (refresh with -update).
func TestLoadErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := spec.Load(f, registry(), env(nil))
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) = %v, want spec.Errors", f, err)
			}
			got := errs.Pretty() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	p, err := spec.Load("testdata/valid.yaml", registry(), env(map[string]string{"SYNK_TEST_MAIL_DIR": "mail"}))
	if err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			t.Fatal(errs.Pretty())
		}
		t.Fatal(err)
	}
	var order []string
	for _, e := range p.Entities {
		order = append(order, e.Name)
	}
	// orders links to customers, so customers must come first even though
	// the file lists orders first.
	if diff := cmp.Diff([]string{"customers", "orders"}, order); diff != "" {
		t.Errorf("entity order (-want +got):\n%s", diff)
	}
	crm := p.Connection("crm")
	if crm.Limits.MaxInFlight != 2 || crm.Limits.Rate != 10 {
		t.Errorf("crm limits = %+v, want 2 in flight at 10/s", crm.Limits)
	}
	cust := p.Entity("customers")
	if len(cust.Match) != 2 || cust.Conflict != "crm" {
		t.Errorf("customers: %d match rules, conflict %q; want 2 and crm", len(cust.Match), cust.Conflict)
	}
	f := cust.Flows[0]
	got := map[string]string{}
	for _, m := range f.Map {
		got[m.Field] = m.Overwrite
	}
	if diff := cmp.Diff(map[string]string{"full_name": spec.OverwriteWhen, "email": spec.OverwriteNever}, got); diff != "" {
		t.Errorf("overwrite rules (-want +got):\n%s", diff)
	}
	if !cust.Flows[1].Reverse || cust.Flows[1].Create {
		t.Errorf("second flow: reverse=%v create=%v, want true false", cust.Flows[1].Reverse, cust.Flows[1].Create)
	}
}

// TestSecretsComeFromEnv makes a connector type with a secret setting and
// checks that a literal is refused and an env value is redacted.
func TestSecretsComeFromEnv(t *testing.T) {
	type cfg struct {
		Token string `yaml:"token" secret:"true"`
		URL   string `yaml:"url"`
	}
	reg := pipeline.NewRegistry()
	reg.Register(pipeline.ConnectorType{
		Name:      "vault",
		NewConfig: func() any { return &cfg{} },
		Resources: func(any) ([]pipeline.Resource, error) {
			return []pipeline.Resource{{Name: "items", Key: "id", Fields: []pipeline.Field{{Name: "id", Type: pipeline.TypeInt}}, Update: true}}, nil
		},
	})
	src := func(token string) []byte {
		return []byte("version: 1\nname: s\nconnections:\n  v:\n    type: vault\n    url: http://127.0.0.1\n    token: " + token +
			"\nentities:\n  e:\n    flows:\n      - {from: v.items, to: v.items, map: {id: id}}\n")
	}
	_, err := spec.Parse("lit.yaml", src("hunter2-literal"), reg, env(nil))
	if err == nil || !strings.Contains(err.Error(), "lit.yaml:7:12: token is a secret") {
		t.Fatalf("literal secret: err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the secret: %v", err)
	}
	p, err := spec.Parse("env.yaml", src("${env:VAULT_TOKEN}"), reg, env(map[string]string{"VAULT_TOKEN": "s3cr3t-token-value"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Redact("calling with s3cr3t-token-value now"); got != "calling with [redacted] now" {
		t.Errorf("Redact = %q", got)
	}
}

func TestFileInterpolation(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dir.txt"), []byte("data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := []byte("version: 1\nname: f\nconnections:\n  a:\n    type: file\n    dir: ${file:dir.txt}\n    resources: {r: {path: r.csv, key: id, fields: {id: int}}}\n" +
		"entities:\n  e:\n    flows:\n      - {from: a.r, to: a.r, map: {id: id}}\n")
	p, err := spec.Parse(filepath.Join(dir, "p.yaml"), src, registry(), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Connection("a").Config.(*file.Config).Dir; got != "data" {
		t.Errorf("dir = %q, want data (file content, newline trimmed)", got)
	}
	_, err = spec.Parse(filepath.Join(dir, "p.yaml"), []byte(strings.Replace(string(src), "dir.txt", "nope.txt", 1)), registry(), env(nil))
	if err == nil || !strings.Contains(err.Error(), "read nope.txt: no such file or directory") {
		t.Errorf("missing file: err = %v", err)
	}
}

// FuzzParse: arbitrary input never panics; it loads or gives positioned errors.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.yaml", "testdata/errors/expr_typo.yaml", "testdata/errors/bad_indent.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	reg := registry()
	f.Fuzz(func(t *testing.T, src []byte) {
		_, err := spec.Parse("fuzz.yaml", src, reg, env(nil))
		var errs spec.Errors
		if err != nil && !errors.As(err, &errs) {
			t.Fatalf("error is %T, want spec.Errors: %v", err, err)
		}
	})
}

// TestFunctionsNotRegistered loads a pipeline that calls an accounting
// function with only the core set: validation names the call's position.
func TestFunctionsNotRegistered(t *testing.T) {
	opts := env(map[string]string{"SYNK_TEST_MAIL_DIR": "mail"})
	opts.Functions = nil
	_, err := spec.Load("testdata/valid.yaml", registry(), opts)
	var errs spec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v, want spec.Errors", err)
	}
	if got, want := err.Error(), "testdata/valid.yaml:30:19: unknown name ore"; !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want it to start with %q", got, want)
	}
}
