package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

var update = flag.Bool("update", false, "rewrite golden files and pipelines/pipeline.schema.json")

// synkBin is the real binary, built once for the CLI tests.
var synkBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "synk-cli")
	if err != nil {
		panic(err)
	}
	synkBin = filepath.Join(dir, "synk")
	build := exec.Command("go", "build", "-o", synkBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build synk: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), synkBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run synk %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// TestSchemaCurrent keeps the committed schema equal to `synk schema`.
func TestSchemaCurrent(t *testing.T) {
	reg := pipeline.NewRegistry()
	registerConnectors(reg)
	want, err := spec.Schema(reg)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	path := filepath.Join("..", "..", "pipelines", "pipeline.schema.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read committed schema (go test ./cmd/synk -run TestSchemaCurrent -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("pipelines/pipeline.schema.json is stale; run go test ./cmd/synk -run TestSchemaCurrent -update\n%s", diff)
	}
	if r := run(t, ".", "schema"); r.code != 0 || r.stdout != string(want) {
		t.Errorf("synk schema: exit %d, output differs from spec.Schema: %s", r.code, r.stderr)
	}
}

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nname: x\nconnections:\n  a: {type: file, resources: {r: {path: r.csv, key: id, fields: {id: int, price: float}}}}\n"+
		"entities:\n  e:\n    flows:\n      - {from: a.r, to: a.r, map: {price: prise}}\n"), 0o644)
	r := run(t, dir, "validate", "bad.yaml")
	if r.code != 2 {
		t.Fatalf("validate bad: exit %d, want 2; stderr %s", r.code, r.stderr)
	}
	want := "bad.yaml:8:43: unknown name prise; did you mean price?\n" +
		"          - {from: a.r, to: a.r, map: {price: prise}}\n" +
		strings.Repeat(" ", 4+42) + "^\n"
	if !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr:\n%s\nwant prefix:\n%s", r.stderr, want)
	}
	r = run(t, "../../examples/two-way-csv", "validate", "pipeline.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Errorf("validate example: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestTwoWayCSVExample runs the README's example end to end with the real
// binary: apply, then plan must be empty, then an edit on one side moves
// across exactly once, and sql reads the state file.
func TestTwoWayCSVExample(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "../../examples/two-way-csv", dir)
	r := run(t, dir, "apply", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, dir, "plan", "pipeline.yaml", "--format", "json")
	var pl struct {
		Changes []pipeline.Change
		Rejects []pipeline.Reject
	}
	if err := json.Unmarshal([]byte(r.stdout), &pl); err != nil || r.code != 0 {
		t.Fatalf("plan json: exit %d %v\n%s", r.code, err, r.stderr)
	}
	if len(pl.Changes) != 0 || len(pl.Rejects) != 0 {
		t.Fatalf("plan after apply not empty: %+v", pl)
	}
	crm := filepath.Join(dir, "crm", "customers.csv")
	b, err := os.ReadFile(crm)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "Kari Nordmann", "Kari Nordmann-Berg", 1)
	if edited == string(b) {
		t.Fatalf("seed data changed: %s", b)
	}
	os.WriteFile(crm, []byte(edited), 0o644)
	r = run(t, dir, "apply", "pipeline.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "applied 1,") {
		t.Fatalf("apply after edit: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mail, _ := os.ReadFile(filepath.Join(dir, "mail", "subscribers.csv"))
	if !strings.Contains(string(mail), "Kari Nordmann-Berg") {
		t.Errorf("edit did not reach the other side:\n%s", mail)
	}
	r = run(t, dir, "apply", "pipeline.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "applied 0,") {
		t.Errorf("third apply should do nothing: %s %s", r.stdout, r.stderr)
	}
	r = run(t, dir, "sql", "--state", "synk.duckdb", "--format", "csv", "SELECT count(*) AS links FROM synk.links")
	if r.code != 0 || r.stdout != "links\n3\n" {
		t.Errorf("sql: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "synk.duckdb")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if strings.HasPrefix(filepath.Base(rel), "synk.duckdb") {
			return nil
		}
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
