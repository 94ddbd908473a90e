package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// progressLineEvery is how often a long entity logs a progress line when
// stderr is not a terminal (cron mail and journald want a heartbeat, not
// a line per change).
const progressLineEvery = 10 * time.Second

// entityProgress is one entity's apply progress.
type entityProgress struct {
	total, done int
	start, end  time.Time // end is set when the last change is done
	lastLine    time.Time
	finished    bool
}

// progressView is what a renderer shows for an entity at one instant.
type progressView struct {
	Done, Total int
	Elapsed     time.Duration
	// Rate is the changes per second seen so far (0 before the first).
	Rate float64
	// Cap is the most changes per second the target connections' rate
	// limits allow this entity now (0 = no limit).
	Cap float64
	// ETA is the time left; Known is false when there is nothing to go on
	// (no change done yet and no rate limit).
	ETA   time.Duration
	Known bool
}

// progressState counts applied changes per entity and estimates the time
// left. An entity cannot go faster than the rate limits of the connections
// it writes to, shared with the other entities writing to them at the same
// time, so the ETA is never shorter than remaining/cap.
type progressState struct {
	mu  sync.Mutex
	now func() time.Time
	// rates is changes/s per connection (0 = unlimited): its requests/s,
	// times its batch size for a connection that takes batches.
	rates map[string]float64
	// targets are the connections each entity writes to.
	targets map[string][]string
	ents    map[string]*entityProgress
}

func newProgressState(p *spec.Pipeline, now func() time.Time) *progressState {
	st := &progressState{now: now, rates: map[string]float64{}, targets: map[string][]string{}, ents: map[string]*entityProgress{}}
	if p == nil {
		return st
	}
	for _, c := range p.Connections {
		st.rates[c.Name] = c.Limits.Rate
	}
	for _, e := range p.Entities {
		seen := map[string]bool{}
		for _, f := range e.Flows {
			if n := f.To.Conn.Name; !seen[n] {
				seen[n] = true
				st.targets[e.Name] = append(st.targets[e.Name], n)
			}
		}
		sort.Strings(st.targets[e.Name])
	}
	return st
}

func (st *progressState) start(entity string, total int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.ents[entity] = &entityProgress{total: total, start: now, lastLine: now, finished: total <= 0}
}

// done counts n changes and reports whether this finished the entity.
func (st *progressState) done(entity string, n int) (finished bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.ents[entity]
	if e == nil || e.finished {
		return false
	}
	e.done += n
	if e.done >= e.total {
		e.finished = true
		e.end = st.now()
		return true
	}
	return false
}

// view returns an entity's progress now.
func (st *progressState) view(entity string) progressView {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.viewLocked(entity, st.now())
}

func (st *progressState) viewLocked(entity string, now time.Time) progressView {
	e := st.ents[entity]
	if e == nil {
		return progressView{}
	}
	if e.finished && !e.end.IsZero() {
		now = e.end
	}
	v := progressView{Done: e.done, Total: e.total, Elapsed: now.Sub(e.start), Cap: st.capLocked(entity)}
	if v.Elapsed > 0 && e.done > 0 {
		v.Rate = float64(e.done) / v.Elapsed.Seconds()
	}
	v.ETA, v.Known = eta(e.total-e.done, v.Rate, v.Cap)
	return v
}

// capLocked is the entity's share of its target connections' rate limits:
// each connection's rate is split between the unfinished entities writing
// to it now. Any unlimited target means no cap.
func (st *progressState) capLocked(entity string) float64 {
	var sum float64
	for _, c := range st.targets[entity] {
		r := st.rates[c]
		if r <= 0 {
			return 0
		}
		active := 0
		for name, e := range st.ents {
			if e.finished && name != entity {
				continue
			}
			for _, t := range st.targets[name] {
				if t == c {
					active++
					break
				}
			}
		}
		sum += r / float64(max(active, 1))
	}
	return sum
}

// eta is the time the remaining changes take at the observed rate, but
// never less than at the rate cap (a burst at the start is faster than
// the limiter lets the rest go).
func eta(remaining int, rate, capRate float64) (time.Duration, bool) {
	if remaining <= 0 {
		return 0, true
	}
	r := rate
	if capRate > 0 && (r == 0 || r > capRate) {
		r = capRate
	}
	if r <= 0 {
		return 0, false
	}
	return time.Duration(float64(remaining) / r * float64(time.Second)), true
}

// due returns the unfinished entities whose last progress line is at least
// every old, and marks them as logged now.
func (st *progressState) due(every time.Duration) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	var out []string
	for name, e := range st.ents {
		if !e.finished && now.Sub(e.lastLine) >= every {
			e.lastLine = now
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// formatETA is a short human duration: "41s", "3m05s", "1h02m".
func formatETA(d time.Duration, known bool) string {
	if !known {
		return "?"
	}
	if d > 0 && d < time.Second {
		return "<1s"
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// statusText is the part of a bar after the bar itself.
func statusText(v progressView) string {
	s := fmt.Sprintf("%d/%d  %.1f/s  ETA %s", v.Done, v.Total, v.Rate, formatETA(v.ETA, v.Known))
	if v.Cap > 0 {
		s += fmt.Sprintf(" (limit %.3g/s)", v.Cap)
	}
	return s
}

// applyProgress implements engine.Progress for synk apply: live bars on a
// terminal, else one log line per entity when it finishes and one every
// progressLineEvery while it runs. It is bound to the loaded pipeline
// after the session opens; the engine calls Start only during Apply.
type applyProgress struct {
	tty   *os.File // nil when stderr is not a terminal
	every time.Duration
	now   func() time.Time
	// autoTick starts a goroutine that logs due progress lines; tests
	// call logDue themselves with a fake clock.
	autoTick bool

	// set by bind
	st    *progressState
	log   *slog.Logger
	runID func() string
	width int
	order map[string]int // bars stay in pipeline order

	mu     sync.Mutex
	bars   *mpb.Progress
	bar    map[string]*mpb.Bar
	stop   chan struct{}
	ticker sync.WaitGroup
	closed bool
}

// newApplyProgress shows bars on stderr when it is a terminal.
func newApplyProgress(stderr io.Writer) *applyProgress {
	pr := &applyProgress{every: progressLineEvery, now: time.Now, autoTick: true, bar: map[string]*mpb.Bar{}}
	// A terminal that reports no size (script(1) without a parent
	// terminal, some CI consoles) gets log lines: mpb draws nothing there.
	if f, ok := stderr.(*os.File); ok && isTTY(f) {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil && w > 0 && h > 0 {
			pr.tty = f
		}
	}
	return pr
}

// bind gives the progress the pipeline (for names and rate limits), the
// session's logger, the run id and the opened connections: a connection
// that takes batches makes up to its batch size of changes per request,
// so its rate limit caps changes at rate × batch size.
func (pr *applyProgress) bind(p *spec.Pipeline, log *slog.Logger, runID func() string, connector func(name string) pipeline.Connector) {
	pr.st = newProgressState(p, pr.now)
	if connector != nil {
		for name := range pr.st.rates {
			if b, ok := connector(name).(pipeline.BatchSink); ok && b.MaxBatch() > 1 {
				pr.st.rates[name] *= float64(b.MaxBatch())
			}
		}
	}
	pr.log = log.With("pipeline", p.Name)
	pr.runID = runID
	pr.order = map[string]int{}
	for i, e := range p.Entities {
		pr.width = max(pr.width, len(e.Name))
		pr.order[e.Name] = i
	}
}

// Writer is where the session should log: on a terminal, lines written
// while bars are drawn go above them instead of through them.
func (pr *applyProgress) Writer(stderr io.Writer) io.Writer {
	if pr.tty == nil {
		return stderr
	}
	return &barWriter{pr: pr}
}

// Start implements engine.Progress.
func (pr *applyProgress) Start(entity string, total int) {
	if pr.st == nil {
		return
	}
	pr.st.start(entity, total)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return
	}
	if pr.tty != nil {
		if pr.bars == nil {
			pr.bars = mpb.New(mpb.WithOutput(pr.tty), mpb.WithRefreshRate(150*time.Millisecond))
		}
		pr.bar[entity] = pr.bars.New(int64(total),
			mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
			mpb.BarWidth(30),
			mpb.BarPriority(pr.order[entity]),
			mpb.PrependDecorators(decor.Name(entity, decor.WC{W: pr.width + 1, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				v := pr.st.view(entity)
				if v.Done >= v.Total {
					return fmt.Sprintf("%d/%d  done in %s", v.Done, v.Total, formatETA(v.Elapsed, true))
				}
				return statusText(v)
			})),
		)
		return
	}
	if pr.stop == nil && pr.autoTick {
		pr.stop = make(chan struct{})
		pr.ticker.Add(1)
		go pr.tick()
	}
}

// Done implements engine.Progress.
func (pr *applyProgress) Done(entity string, n int) {
	if pr.st == nil {
		return
	}
	finished := pr.st.done(entity, n)
	if pr.tty != nil {
		pr.mu.Lock()
		b := pr.bar[entity]
		pr.mu.Unlock()
		if b != nil {
			b.IncrBy(n)
		}
		return
	}
	if finished {
		v := pr.st.view(entity)
		pr.log.Info("entity applied", "entity", entity, "run_id", pr.runID(), "changes", v.Total,
			"took", v.Elapsed.Round(time.Millisecond).String(), "rate", round1(v.Rate))
	}
}

// logDue writes a progress line for each long-running entity.
func (pr *applyProgress) logDue() {
	for _, e := range pr.st.due(pr.every) {
		v := pr.st.view(e)
		attrs := []any{"entity", e, "run_id", pr.runID(), "done", v.Done, "total", v.Total, "rate", round1(v.Rate), "eta", formatETA(v.ETA, v.Known)}
		if v.Cap > 0 {
			attrs = append(attrs, "limit", round1(v.Cap))
		}
		pr.log.Info("applying", attrs...)
	}
}

func (pr *applyProgress) tick() {
	defer pr.ticker.Done()
	t := time.NewTicker(pr.every / 4)
	defer t.Stop()
	for {
		select {
		case <-pr.stop:
			return
		case <-t.C:
			pr.logDue()
		}
	}
}

// Close stops the ticker or finishes the bars (an interrupted apply leaves
// unfinished bars, which are shown as aborted). It is safe to call twice.
func (pr *applyProgress) Close() {
	pr.mu.Lock()
	if pr.closed {
		pr.mu.Unlock()
		return
	}
	pr.closed = true
	bars := pr.bars
	for _, b := range pr.bar {
		b.Abort(false)
	}
	if pr.stop != nil {
		close(pr.stop)
	}
	pr.mu.Unlock()
	pr.ticker.Wait()
	if bars != nil {
		bars.Wait()
	}
	pr.mu.Lock()
	pr.bars = nil
	pr.mu.Unlock()
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// barWriter sends log lines above the bars while they are drawn. It keeps
// the terminal's Fd so the logger still sees a terminal.
type barWriter struct{ pr *applyProgress }

func (w *barWriter) Fd() uintptr { return w.pr.tty.Fd() }

func (w *barWriter) Write(b []byte) (int, error) {
	w.pr.mu.Lock()
	bars := w.pr.bars
	w.pr.mu.Unlock()
	if bars != nil {
		if n, err := bars.Write(b); !errors.As(err, new(mpb.ErrDone[*mpb.Progress])) {
			return n, err
		}
	}
	return w.pr.tty.Write(b)
}
