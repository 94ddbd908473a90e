package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controlling side and its terminal,
// sized cols×rows.
func openPTY(t *testing.T, cols, rows uint16) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("set size: %v", err)
	}
	return ptm, tty
}

// TestApplyBarsOnTerminal runs the real binary with stderr on a
// pseudo-terminal: bars with counts and the rate limit are drawn there,
// stdout (a pipe) gets only the plain summary.
func TestApplyBarsOnTerminal(t *testing.T) {
	dir := t.TempDir()
	writeRatePipeline(t, dir, 12, 20)
	ptm, tty := openPTY(t, 120, 30)
	defer ptm.Close()

	cmd := exec.CommandContext(t.Context(), synkBin, "apply", "pipeline.yaml")
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now; reads end with EIO when it exits
	screen := make(chan string)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, ptm)
		screen <- b.String()
	}()
	err := cmd.Wait()
	out := <-screen
	if err != nil {
		t.Fatalf("apply: %v\nstdout:\n%s\nterminal:\n%s", err, stdout.String(), out)
	}
	for _, want := range []string{"items", "copies", "12/12", "done in", "(limit 20/s)", "["} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(stdout.String(), "[") || strings.Contains(stdout.String(), "12/12") {
		t.Errorf("bars in stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "applied 24, failed 0") {
		t.Errorf("stdout summary:\n%s", stdout.String())
	}
}
