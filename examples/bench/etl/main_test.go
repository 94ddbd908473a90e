package main

import (
	"os"
	"testing"
)

// TestETLBenchSmall runs the benchmark's steps on a small file: the real
// synk binary against real files, each apply's output compared record by
// record with DuckDB's own run of the same mapping. Its times are not
// held to the targets (those need a million records and an idle machine).
func TestETLBenchSmall(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(config{N: 1500, Dir: t.TempDir(), Self: self})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []step{rep.Floor, rep.FirstApply, rep.NoopPlan, rep.Change} {
		if s.Wall <= 0 || s.MaxRSS <= 0 {
			t.Errorf("%s: not measured: %+v", s.Name, s)
		}
	}
}

// TestMain lets the test binary serve as the floor's child process, as
// the command does with -floor.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "-floor" {
		if err := runFloor(os.Args[2], os.Args[3]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
