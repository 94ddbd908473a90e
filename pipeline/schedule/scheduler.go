package schedule

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrUnknown is returned by Trigger for a name the scheduler does not have.
var ErrUnknown = errors.New("unknown pipeline")

// ErrStopped is returned by Trigger once the scheduler has stopped.
var ErrStopped = errors.New("scheduler stopped")

// Reason says why a run started.
type Reason string

// Reasons a run starts.
const (
	BySchedule Reason = "schedule"
	ByTrigger  Reason = "trigger"
	// FollowUp is the one run that coalesces the triggers that arrived
	// while the previous run was going.
	FollowUp Reason = "follow-up"
)

// Run describes one run the scheduler starts.
type Run struct {
	Name   string
	Reason Reason
	// Due is when the run was due: the jittered activation for a
	// scheduled run, the trigger time otherwise. Start minus Due is the
	// scheduling delay.
	Due time.Time
}

// Job runs one pipeline run. It is never called twice at once for the
// same name.
type Job func(ctx context.Context, run Run)

// Triggered says what a trigger did.
type Triggered string

// Outcomes of Trigger.
const (
	// Started: the pipeline was idle and a run starts now.
	Started Triggered = "started"
	// Queued: a run is going; one follow-up run starts when it ends, however
	// many triggers arrive meanwhile.
	Queued Triggered = "queued"
)

// Options configure a Scheduler.
type Options struct {
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// MaxJitter caps the random delay added to each activation (also
	// capped at a tenth of the interval); 0 means no jitter.
	MaxJitter time.Duration
	// Seed makes the jitter repeatable; 0 picks a random seed.
	Seed uint64
	// Spread moves each name's cron activations by its own fixed share of
	// the interval (SpreadFraction), so that many pipelines on one
	// schedule take turns instead of all starting on the same second.
	Spread bool
}

// Scheduler runs named jobs on their schedules.
type Scheduler struct {
	clock     Clock
	maxJitter time.Duration
	spread    bool
	job       Job

	mu      sync.Mutex
	rng     *rand.Rand
	entries map[string]*entry
	state   int
	// toStart are entries added while Run is going; wake tells Run.
	toStart []*entry
	wake    chan struct{}
}

const (
	idle = iota
	running
	stopped
)

type entry struct {
	name string
	// Guarded by Scheduler.mu.
	sched   *Schedule // nil: runs only when triggered
	removed bool
	busy    bool
	pending bool
	pendAt  time.Time
	next    time.Time
	kickAt  time.Time
	// kick starts a run now; reset makes the loop recompute its next
	// activation (new schedule, removal). Both hold at most one signal.
	kick  chan struct{}
	reset chan struct{}
}

// New returns a Scheduler that calls job for every run.
func New(job Job, opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = SystemClock()
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Scheduler{
		clock: opts.Clock, maxJitter: opts.MaxJitter, spread: opts.Spread, job: job,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), entries: map[string]*entry{},
		wake: make(chan struct{}, 1),
	}
}

// Set adds name with sched, or changes its schedule (the next activation
// is recomputed; a run in progress is not touched). A nil sched means the
// name runs only when triggered.
func (s *Scheduler) Set(name string, sched *Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		e.sched = sched
		e.removed = false
		signal(e.reset)
		return
	}
	e := &entry{name: name, sched: sched, kick: make(chan struct{}, 1), reset: make(chan struct{}, 1)}
	s.entries[name] = e
	if s.state == running {
		s.toStart = append(s.toStart, e)
		signal(s.wake)
	}
}

// Remove stops scheduling name; a run in progress finishes first.
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		e.removed = true
		signal(e.reset)
		if s.state != running {
			delete(s.entries, name)
		}
	}
}

// Trigger asks for a run of name now: it starts if the pipeline is idle,
// else one follow-up run is queued behind the current one.
func (s *Scheduler) Trigger(name string) (Triggered, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || e.removed {
		return "", ErrUnknown
	}
	if s.state == stopped {
		return "", ErrStopped
	}
	if e.busy {
		if !e.pending {
			e.pending, e.pendAt = true, s.clock.Now()
		}
		return Queued, nil
	}
	if len(e.kick) == 0 {
		e.kickAt = s.clock.Now()
	}
	signal(e.kick)
	return Started, nil
}

// Info is what the scheduler knows about one name.
type Info struct {
	// Next is the next scheduled activation (zero while a run is going,
	// for trigger-only names, and after the scheduler stopped).
	Next time.Time
	// Running is true while a run is going; Queued while a follow-up waits.
	Running bool
	Queued  bool
}

// Info reports on name.
func (s *Scheduler) Info(name string) (Info, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || e.removed {
		return Info{}, false
	}
	return Info{Next: e.next, Running: e.busy, Queued: e.pending}, true
}

// Names are the scheduled names, sorted.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, e := range s.entries {
		if !e.removed {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Run schedules until ctx is done, then waits for the runs in progress to
// return. Jobs get runCtx, so the caller decides how long a run may go on
// after scheduling stopped (a drain timeout, then cancel). Run is called
// once.
func (s *Scheduler) Run(ctx, runCtx context.Context) error {
	var wg sync.WaitGroup
	start := func(e *entry) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, runCtx, e)
		}()
	}
	s.mu.Lock()
	if s.state != idle {
		s.mu.Unlock()
		return errors.New("scheduler: Run called twice")
	}
	s.state = running
	for _, e := range s.entries {
		start(e)
	}
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.state = stopped
			s.mu.Unlock()
			wg.Wait()
			return nil
		case <-s.wake:
			s.mu.Lock()
			for _, e := range s.toStart {
				start(e)
			}
			s.toStart = nil
			s.mu.Unlock()
		}
	}
}

// loop is one name's life: wait for its activation or a trigger, run,
// run once more if triggers arrived meanwhile, repeat. Runs happen on this
// goroutine only, which is what keeps them from overlapping.
func (s *Scheduler) loop(ctx, runCtx context.Context, e *entry) {
	for {
		s.mu.Lock()
		if e.removed {
			if s.entries[e.name] == e {
				delete(s.entries, e.name)
			}
			s.mu.Unlock()
			return
		}
		now := s.clock.Now()
		e.next = time.Time{}
		if e.sched != nil {
			next := e.sched.Next(now)
			if s.spread {
				next = e.sched.NextSpread(now, SpreadFraction(e.name))
			}
			if b := JitterBound(e.sched.Interval(now), s.maxJitter); b > 0 {
				next = next.Add(time.Duration(s.rng.Int64N(int64(b) + 1)))
			}
			e.next = next
		}
		due := e.next
		s.mu.Unlock()

		var fire <-chan time.Time
		var t Timer
		if !due.IsZero() {
			t = s.clock.NewTimer(due.Sub(now))
			fire = t.C()
		}
		reason := BySchedule
		select {
		case <-ctx.Done():
			stop(t)
			s.clearNext(e)
			return
		case <-e.reset:
			stop(t)
			continue
		case <-fire:
		case <-e.kick:
			stop(t)
			reason = ByTrigger
			s.mu.Lock()
			due = e.kickAt
			s.mu.Unlock()
		}
		s.mu.Lock()
		gone := e.removed
		s.mu.Unlock()
		if gone { // removed while the timer fired: it must not run
			continue
		}
		for {
			s.mu.Lock()
			e.busy, e.next = true, time.Time{}
			// A trigger that arrived after the wake-up but before the run
			// began is served by this run.
			select {
			case <-e.kick:
			default:
			}
			s.mu.Unlock()
			s.job(runCtx, Run{Name: e.name, Reason: reason, Due: due})
			s.mu.Lock()
			e.busy = false
			again := e.pending && ctx.Err() == nil
			due = e.pendAt
			e.pending = false
			s.mu.Unlock()
			if !again {
				break
			}
			reason = FollowUp
		}
	}
}

func (s *Scheduler) clearNext(e *entry) {
	s.mu.Lock()
	e.next = time.Time{}
	s.mu.Unlock()
}

func stop(t Timer) {
	if t != nil {
		t.Stop()
	}
}

// signal leaves one signal in a channel of capacity 1.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
