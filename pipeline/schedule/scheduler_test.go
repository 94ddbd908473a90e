package schedule

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// harness runs a Scheduler on a FakeClock; its job reports each run on
// runs and, when hold is set, waits for release before returning.
type harness struct {
	t       *testing.T
	clock   *FakeClock
	s       *Scheduler
	runs    chan Run
	release chan struct{}
	hold    atomic.Bool
	// inFlight and maxInFlight count runs of any name at once.
	inFlight, maxInFlight atomic.Int32
	cancel                context.CancelFunc
	done                  chan struct{}
}

func newHarness(t *testing.T, opts Options) *harness {
	h := &harness{t: t, clock: NewFakeClock(t0.Truncate(time.Minute)), runs: make(chan Run, 16), release: make(chan struct{})}
	opts.Clock = h.clock
	h.s = New(func(ctx context.Context, r Run) {
		n := h.inFlight.Add(1)
		for {
			m := h.maxInFlight.Load()
			if n <= m || h.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		h.runs <- r
		if h.hold.Load() {
			select {
			case <-h.release:
			case <-ctx.Done():
			}
		}
		h.inFlight.Add(-1)
	}, opts)
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(h.t.Context())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.s.Run(ctx, h.t.Context())
	}()
	h.t.Cleanup(func() {
		cancel()
		close(h.release)
		<-h.done
	})
}

// waitTimers waits until n timers are armed (the scheduler is idle and
// waiting), failing the test after a generous deadline.
func (h *harness) waitTimers(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
	defer cancel()
	if err := h.clock.BlockUntil(ctx, n); err != nil {
		h.t.Fatalf("waiting for %d timers: %v (have %d)", n, err, h.clock.Waiters())
	}
}

// waitDeadlines waits until the armed timers are exactly at.
func (h *harness) waitDeadlines(at ...time.Time) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c := h.clock
		c.mu.Lock()
		ch := c.changed
		var got []time.Time
		for _, tm := range c.timers {
			got = append(got, tm.at)
		}
		c.mu.Unlock()
		slices.SortFunc(got, time.Time.Compare)
		if slices.EqualFunc(got, at, time.Time.Equal) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			h.t.Fatalf("timers at %v, want %v", got, at)
		}
	}
}

func (h *harness) nextRun() Run {
	h.t.Helper()
	select {
	case r := <-h.runs:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no run within 10s")
	}
	return Run{}
}

func (h *harness) noRun() {
	h.t.Helper()
	select {
	case r := <-h.runs:
		h.t.Fatalf("unexpected run %+v", r)
	default:
	}
}

func mustParse(t *testing.T, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchedulerEvery(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.Set("a", mustParse(t, "@every 10s"))
	h.start()
	start := h.clock.Now()
	for i := 1; i <= 3; i++ {
		h.waitTimers(1)
		info, _ := h.s.Info("a")
		if want := start.Add(time.Duration(i) * 10 * time.Second); !info.Next.Equal(want) {
			t.Fatalf("run %d: next %v, want %v", i, info.Next, want)
		}
		h.clock.Advance(9 * time.Second)
		h.noRun()
		h.clock.Advance(time.Second)
		r := h.nextRun()
		if diff := cmp.Diff(Run{Name: "a", Reason: BySchedule, Due: info.Next}, r); diff != "" {
			t.Fatalf("run %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestSchedulerCron(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.Set("c", mustParse(t, "*/5 * * * *"))
	h.start()
	h.waitTimers(1)
	// t0 is 10:02:30 truncated to 10:02:00; the next slot is 10:05.
	want := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	if got := h.clock.NextDeadline(); !got.Equal(want) {
		t.Fatalf("first activation %v, want %v", got, want)
	}
	h.clock.Advance(want.Sub(h.clock.Now()))
	if r := h.nextRun(); !r.Due.Equal(want) {
		t.Fatalf("due %v", r.Due)
	}
	h.waitTimers(1)
	if got := h.clock.NextDeadline(); !got.Equal(want.Add(5 * time.Minute)) {
		t.Fatalf("second activation %v", got)
	}
}

// TestSchedulerSpread: with Spread, two pipelines on */5 are due at their
// own places in the five minutes (nominal slot plus their share of it),
// and each comes back to its place every five minutes.
func TestSchedulerSpread(t *testing.T) {
	h := newHarness(t, Options{Spread: true})
	names := []string{"shop-0001", "shop-0002"}
	for _, n := range names {
		h.s.Set(n, mustParse(t, "*/5 * * * *"))
	}
	h.start()
	h.waitTimers(2)
	// t0 truncated is 10:02:00; the slots are 10:00 (if its share is past
	// 2 min) or 10:05, plus the share.
	var want []time.Time
	for _, n := range names {
		off := time.Duration(SpreadFraction(n) * float64(5*time.Minute))
		at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Add(off)
		if !at.After(h.clock.Now()) {
			at = at.Add(5 * time.Minute)
		}
		want = append(want, at)
	}
	if want[0].Equal(want[1]) {
		t.Fatalf("both due at %v", want[0])
	}
	slices.SortFunc(want, time.Time.Compare)
	h.waitDeadlines(want...)
	for round := range 2 {
		for i := range want {
			h.clock.Advance(want[i].Sub(h.clock.Now()))
			if r := h.nextRun(); !r.Due.Equal(want[i]) {
				t.Fatalf("round %d: run %+v, want due %v", round, r, want[i])
			}
			h.waitTimers(len(names)) // its next activation is armed
			want[i] = want[i].Add(5 * time.Minute)
		}
		slices.SortFunc(want, time.Time.Compare)
		h.waitDeadlines(want...)
	}
}

// TestSchedulerJitter: each activation lands in [nominal, nominal + a
// tenth of the interval], the jitter is not constant, and one seed gives
// one sequence.
func TestSchedulerJitter(t *testing.T) {
	sequence := func(seed uint64) []time.Duration {
		h := newHarness(t, Options{MaxJitter: 5 * time.Second, Seed: seed})
		h.s.Set("j", mustParse(t, "@every 10s"))
		h.start()
		var out []time.Duration
		for range 40 {
			h.waitTimers(1)
			now := h.clock.Now()
			d := h.clock.NextDeadline().Sub(now)
			if d < 10*time.Second || d > 11*time.Second {
				t.Fatalf("activation %v after the last run, want within [10s, 11s]", d)
			}
			out = append(out, d-10*time.Second)
			h.clock.Advance(d)
			h.nextRun()
		}
		return out
	}
	a, b := sequence(1), sequence(1)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different jitter:\n%s", diff)
	}
	distinct := map[time.Duration]bool{}
	for _, d := range a {
		distinct[d] = true
	}
	if len(distinct) < 10 {
		t.Errorf("jitter takes only %d values in 40 runs: %v", len(distinct), a)
	}
	if diff := cmp.Diff(a, sequence(2)); diff == "" {
		t.Errorf("seeds 1 and 2 give the same jitter")
	}
}

// TestSchedulerNoOverlap: while a run is going, neither its schedule nor
// triggers start another; triggers coalesce into one follow-up run.
func TestSchedulerNoOverlap(t *testing.T) {
	h := newHarness(t, Options{})
	h.hold.Store(true)
	h.s.Set("p", mustParse(t, "@every 10s"))
	h.start()
	h.waitTimers(1)
	h.clock.Advance(10 * time.Second)
	if r := h.nextRun(); r.Reason != BySchedule {
		t.Fatalf("first run %+v", r)
	}
	// The run is held: no timer is armed, time passing starts nothing.
	h.clock.Advance(time.Minute)
	for range 3 {
		got, err := h.s.Trigger("p")
		if err != nil || got != Queued {
			t.Fatalf("trigger during a run: %v %v, want queued", got, err)
		}
	}
	if info, _ := h.s.Info("p"); !info.Running || !info.Queued || !info.Next.IsZero() {
		t.Errorf("info during run: %+v", info)
	}
	h.noRun()
	h.release <- struct{}{}
	r := h.nextRun()
	if r.Reason != FollowUp || !r.Due.Equal(h.clock.Now()) {
		t.Fatalf("follow-up %+v", r)
	}
	h.release <- struct{}{}
	// Back to the schedule: exactly one timer, nothing else queued.
	h.waitTimers(1)
	h.noRun()
	if info, _ := h.s.Info("p"); info.Running || info.Queued {
		t.Errorf("info after: %+v", info)
	}
	if m := h.maxInFlight.Load(); m != 1 {
		t.Errorf("%d runs at once", m)
	}
}

func TestSchedulerTrigger(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.Set("manual", nil) // trigger only
	h.s.Set("p", mustParse(t, "@hourly"))
	if _, err := h.s.Trigger("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown: %v", err)
	}
	h.start()
	h.waitTimers(1) // only p has a timer
	if info, _ := h.s.Info("manual"); !info.Next.IsZero() {
		t.Errorf("trigger-only next = %v", info.Next)
	}
	got, err := h.s.Trigger("manual")
	if err != nil || got != Started {
		t.Fatalf("trigger idle: %v %v", got, err)
	}
	if r := h.nextRun(); r.Name != "manual" || r.Reason != ByTrigger || !r.Due.Equal(h.clock.Now()) {
		t.Fatalf("run %+v", r)
	}
	if _, err := h.s.Trigger("p"); err != nil {
		t.Fatal(err)
	}
	if r := h.nextRun(); r.Name != "p" || r.Reason != ByTrigger {
		t.Fatalf("run %+v", r)
	}
	h.waitTimers(1) // p re-armed from now
	h.cancel()
	<-h.done
	if _, err := h.s.Trigger("p"); !errors.Is(err, ErrStopped) {
		t.Errorf("after stop: %v", err)
	}
	h.done = make(chan struct{})
	close(h.done)
}

func TestSchedulerSetRemove(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.Set("a", mustParse(t, "@every 1h"))
	h.start()
	h.waitTimers(1)
	now := h.clock.Now()
	h.s.Set("b", mustParse(t, "@every 20s")) // added while running
	h.waitDeadlines(now.Add(20*time.Second), now.Add(time.Hour))
	h.s.Set("a", mustParse(t, "@every 10s")) // schedule changed
	h.waitDeadlines(now.Add(10*time.Second), now.Add(20*time.Second))
	h.s.Remove("b")
	h.waitDeadlines(now.Add(10 * time.Second))
	h.clock.Advance(30 * time.Second)
	if r := h.nextRun(); r.Name != "a" {
		t.Fatalf("run %+v", r)
	}
	h.waitTimers(1)
	h.noRun()
	if diff := cmp.Diff([]string{"a"}, h.s.Names()); diff != "" {
		t.Errorf("names: %s", diff)
	}
	if _, err := h.s.Trigger("b"); !errors.Is(err, ErrUnknown) {
		t.Errorf("removed b: %v", err)
	}
}

// TestSchedulerStopWaitsForRuns: Run returns only after the runs going
// when scheduling stopped have returned, and runs see runCtx, not ctx.
func TestSchedulerStopWaitsForRuns(t *testing.T) {
	clock := NewFakeClock(t0)
	started := make(chan struct{})
	release := make(chan struct{})
	var sawCancel atomic.Bool
	s := New(func(ctx context.Context, r Run) {
		close(started)
		<-release
		sawCancel.Store(ctx.Err() != nil)
	}, Options{Clock: clock})
	s.Set("p", nil)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	returned := make(chan struct{})
	wg.Go(func() {
		s.Run(ctx, t.Context())
		close(returned)
	})
	if _, err := s.Trigger("p"); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	select {
	case <-returned:
		t.Fatal("Run returned while a run was going")
	default:
	}
	close(release)
	wg.Wait()
	if sawCancel.Load() {
		t.Error("the run saw the scheduling context's cancellation")
	}
}
