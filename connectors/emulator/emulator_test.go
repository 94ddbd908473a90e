package emulator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrorRates(t *testing.T) {
	got, err := ParseErrorRates("429=0.05, 500=0.01", "503=1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int]float64{429: 0.05, 500: 0.01, 503: 1}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"200=0.1", "500=2", "x=0.1", "500"} {
		if _, err := ParseErrorRates(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFaultsAreSeeded: the same seed draws the same faults, so a failing
// run can be replayed.
func TestFaultsAreSeeded(t *testing.T) {
	draws := func() []bool {
		k := New(7, Faults{ResetRate: 0.5})
		var out []bool
		for range 64 {
			out = append(out, k.Draw(k.Faults().ResetRate))
		}
		return out
	}
	a, b := draws(), draws()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different draws:\n%s", diff)
	}
	n := 0
	for _, x := range a {
		if x {
			n++
		}
	}
	if n < 16 || n > 48 {
		t.Errorf("%d of 64 draws at rate 0.5", n)
	}
}

func TestRequestsPerMinuteAndCounts(t *testing.T) {
	k := New(1, Faults{RequestsPerMinute: 3})
	for i := range 3 {
		if _, limited := k.Admit(); limited {
			t.Fatalf("request %d limited under the cap", i+1)
		}
	}
	if wait, limited := k.Admit(); !limited || wait < 1 || wait > 60 {
		t.Fatalf("4th request in a minute: limited %v, retry after %d s", limited, wait)
	}
	k.Count("GET", "products")
	k.Count("POST", "products")
	n, done := k.Begin()
	m, done2 := k.Begin()
	done()
	done()
	done2()
	want := Stats{Requests: 2, Reads: 1, Writes: 1, ByMethod: map[string]int{"GET products": 1, "POST products": 1},
		ReadsBy: map[string]int{"products": 1}, MaxInFlight: 2}
	if diff := cmp.Diff(want, k.Stats()); diff != "" || n != 1 || m != 2 {
		t.Errorf("in flight %d, %d; stats (-want +got):\n%s", n, m, diff)
	}
}

// TestHangUpAndCut: a reset answer reaches the client as an error, a cut
// one as half a body.
func TestHangUpAndCut(t *testing.T) {
	k := New(3, Faults{MalformedRate: 1, Latency: time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !k.Delay(r.Context()) {
			return
		}
		if r.URL.Path == "/reset" {
			HangUp(w)
			return
		}
		w.Write(k.Cut([]byte(`{"id":1234567}`)))
	}))
	defer srv.Close()
	if _, err := http.Get(srv.URL + "/reset"); err == nil {
		t.Error("a hung-up request answered")
	}
	resp, err := http.Get(srv.URL + "/cut")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"id":1` {
		t.Errorf("cut body %q", b)
	}
}
