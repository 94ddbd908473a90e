package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
)

// proc is the real binary started as its own process, to be signalled.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{} // closed when it has exited
	code           int           // its exit code, once done
}

// startProc starts synk with args in dir; the test's end kills it if it
// is still running.
func startProc(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(synkBin, args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stoppable is a `synk apply` started as its own process, to be stopped.
type stoppable struct{ *proc }

func startApply(t *testing.T, dir string, env []string, args ...string) *stoppable {
	t.Helper()
	return &stoppable{startProc(t, dir, env, append([]string{"apply"}, args...)...)}
}

// stopWhen sends SIGTERM once cond holds and returns how long the process
// took to exit after it.
func (p *stoppable) stopWhen(t *testing.T, cond func() bool) time.Duration {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("apply ended (exit %d) before it could be stopped:\n%s%s", p.code, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("apply never got far enough to be stopped")
		}
	}
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("apply still running 30 s after SIGTERM:\n%s", p.stderr)
	}
	return time.Since(sent)
}

// checkStopped asserts the stopped run's exit code, final line and the
// size of its log (one line for the stop, not one per change left).
func (p *stoppable) checkStopped(t *testing.T, took, allowed time.Duration) (notAttempted int) {
	t.Helper()
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if took > allowed {
		t.Errorf("apply took %v to exit after SIGTERM, want under %v", took, allowed)
	}
	if p.code != 1 {
		t.Errorf("exit %d after SIGTERM, want 1\n%s%s", p.code, p.stdout, p.stderr)
	}
	out := strings.TrimSpace(p.stdout.String())
	last := out[strings.LastIndex(out, "\n")+1:]
	var applied int
	var run string
	if _, err := fmt.Sscanf(last, "stopped: applied %d, not attempted %d (run %s", &applied, &notAttempted, &run); err != nil || notAttempted == 0 {
		t.Fatalf("final line %q, want stopped: applied N, not attempted M (run …) with M > 0", last)
	}
	if lines := strings.Count(p.stderr.String(), "\n"); lines > 15 {
		t.Errorf("%d log lines for a stopped run, want a handful:\n%s", lines, p.stderr)
	}
	return notAttempted
}

// writeCSVRows writes a CSV file of header and n rows.
func writeCSVRows(t *testing.T, path, header string, n int, row func(i int) string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for i := range n {
		b.WriteString(row(i) + "\n")
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSIGTERMStopsAFileApply stops a large file → file apply (slowed by its
// connection's rate) mid-run; the next run makes the rest, each record once.
func TestSIGTERMStopsAFileApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 1000
	writeCSVRows(t, filepath.Join(dir, "in.csv"), "id,name", n, func(i int) string { return fmt.Sprintf("%d,name %d", i, i) })
	pipe := func(rate int) string {
		return fmt.Sprintf(`version: 1
name: stop
state: synk.duckdb
connections:
  src:
    type: file
    resources: {rows: {path: in.csv, key: id, fields: {id: int, name: string}}}
  dst:
    type: file
    rate: %d
    batch_size: 10
    resources: {rows: {path: out.csv, key: id, fields: {id: int, name: string}}}
entities:
  rows:
    key: {src: id, dst: id}
    flows:
      - {from: src.rows, to: dst.rows, create: true, map: {id: id, name: name}}
`, rate)
	}
	// 100 batches of 10 rows, 20 batches a second: about 5 s of writing.
	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(pipe(20)), 0o644); err != nil {
		t.Fatal(err)
	}
	written := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "out.csv"))
		return bytes.Count(b, []byte("\n"))
	}
	p := startApply(t, dir, nil, "pipeline.yaml")
	took := p.stopWhen(t, func() bool { return written() > 50 })
	left := p.checkStopped(t, took, 5*time.Second)
	if got := written() - 1; got+left != n {
		t.Errorf("%d written and %d not attempted, want %d in all", got, left, n)
	}

	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(pipe(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, "apply", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("the run after the stop: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if seen[r[0]] {
			t.Fatalf("id %s written twice", r[0])
		}
		seen[r[0]] = true
	}
	if len(seen) != n {
		t.Fatalf("%d rows after the next run, want %d", len(seen), n)
	}
}

// TestSIGTERMStopsAFikenApply stops an apply that creates products in a
// Fiken that answers slowly, one request at a time; the request in flight
// finishes, and the next run creates the rest, none twice.
func TestSIGTERMStopsAFikenApply(t *testing.T) {
	t.Parallel()
	fk, err := fikentest.NewServer(fikentest.Options{Company: "demo-as", Token: "stop-token", Seed: 8,
		Limits: fikentest.Limits{RejectConcurrent: true}, Faults: fikentest.Faults{Latency: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fk.Close() })
	fikentest.Check(t, fk)
	dir := t.TempDir()
	const n = 30
	writeCSVRows(t, filepath.Join(dir, "products.csv"), "ref,name", n, func(i int) string { return fmt.Sprintf("R-%03d,Vare %d", i, i) })
	const pipe = `version: 1
name: stop-fiken
state: synk.duckdb
connections:
  src:
    type: file
    resources: {products: {path: products.csv, key: ref, fields: {ref: string, name: string}}}
  fiken:
    type: fiken
    url: ${env:FIKEN_URL}
    company: ${env:FIKEN_COMPANY}
    token: ${env:FIKEN_TOKEN}
entities:
  products:
    key: {src: ref, fiken: productNumber}
    flows:
      - from: src.products
        to: fiken.products
        create: true
        map: {productNumber: ref, name: name, unitPrice: "10000", vatType: '"HIGH"', incomeAccount: '"3000"', active: "true"}
`
	if err := os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(pipe), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"FIKEN_URL=" + fk.URL(), "FIKEN_COMPANY=demo-as", "FIKEN_TOKEN=stop-token"}
	p := startApply(t, dir, env, "pipeline.yaml")
	took := p.stopWhen(t, func() bool { return fk.Stats().Writes >= 5 })
	// Within 5 s of the signal plus the request in flight (a create and its
	// read-back at 100 ms each).
	p.checkStopped(t, took, 5*time.Second+time.Second)
	if r := runEnv(t, env, "apply", filepath.Join(dir, "pipeline.yaml"), "--state", filepath.Join(dir, "synk.duckdb")); r.code != 0 {
		t.Fatalf("the run after the stop: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seen := map[string]bool{}
	for _, prod := range fk.Products() {
		if seen[prod.ProductNumber] {
			t.Fatalf("product %s created twice", prod.ProductNumber)
		}
		seen[prod.ProductNumber] = true
	}
	if len(seen) != n {
		t.Fatalf("%d products after the next run, want %d", len(seen), n)
	}
	if st := fk.Stats(); st.Concurrent != 0 {
		t.Errorf("%d requests answered 429", st.Concurrent)
	}
}
