package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitAsksOnTerminal runs synk init with stdin and stdout on a
// pseudo-terminal: it asks for both settings, asks again after a bad
// answer, and writes the answers.
func TestInitAsksOnTerminal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	ptm, tty := openPTY(t, 120, 30)
	defer ptm.Close()
	cmd := exec.CommandContext(t.Context(), synkBin, "init", dir)
	cmd.Env = append(os.Environ(), "PRESTASHOP_KEY="+strings.Repeat("K", 32), "FIKEN_TOKEN=tok")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	// The terminal keeps typed lines until the program reads them.
	if _, err := io.WriteString(ptm, "https://shop.example.no\nMy Shop\nmy-shop-as\n"); err != nil {
		t.Fatal(err)
	}
	screen := make(chan string)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, ptm)
		screen <- b.String()
	}()
	err := cmd.Wait()
	out := <-screen
	if err != nil {
		t.Fatalf("init: %v\n%s\n%s", err, out, stderr.String())
	}
	if n := strings.Count(out, "Fiken company slug (e.g."); n != 2 {
		t.Errorf("asked for the company %d times, want 2 (once more after the bad answer):\n%s", n, out)
	}
	if !strings.Contains(out, `"My Shop" is not a Fiken company slug`) {
		t.Errorf("bad answer not explained:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `url: "https://shop.example.no"`) || !strings.Contains(string(b), `company: "my-shop-as"`) {
		t.Errorf("answers not written")
	}
}
