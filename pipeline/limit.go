package pipeline

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter bounds a connection's requests: at most MaxInFlight at once and at
// most Rate per second. One Limiter is shared by every entity and every read
// and write on its connection.
type Limiter struct {
	slots  chan struct{}
	rate   *rate.Limiter
	onWait func(time.Duration)
	limits Limits
}

// NewLimiter returns a limiter for l. onWait, if not nil, is told how long
// each acquisition waited (for synk_ratelimit_wait_seconds_total).
func NewLimiter(l Limits, onWait func(time.Duration)) *Limiter {
	lim := &Limiter{limits: l, onWait: onWait}
	if l.MaxInFlight > 0 {
		lim.slots = make(chan struct{}, l.MaxInFlight)
	}
	if l.Rate > 0 {
		burst := l.Burst
		if burst < 1 {
			burst = 1
		}
		lim.rate = rate.NewLimiter(rate.Limit(l.Rate), burst)
	}
	return lim
}

// Limits returns the limits the limiter enforces.
func (l *Limiter) Limits() Limits { return l.limits }

// Acquire waits for a slot and a rate token. The caller must call the
// returned release exactly once, when its request has finished. Under a
// write's context (WithStop) whose run is stopping it returns ErrStopping
// instead of waiting on.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	start := time.Now()
	if stop := stopOf(ctx); stop != nil {
		if stop.Err() != nil {
			return nil, ErrStopping
		}
		waitCtx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		defer context.AfterFunc(stop, func() { cancel(ErrStopping) })()
		release, err = l.acquire(waitCtx, start)
		if err != nil && context.Cause(waitCtx) == ErrStopping && ctx.Err() == nil {
			return nil, ErrStopping
		}
	} else {
		release, err = l.acquire(ctx, start)
	}
	if err == nil {
		markSent(ctx)
	}
	return release, err
}

func (l *Limiter) acquire(ctx context.Context, start time.Time) (release func(), err error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if l.rate != nil {
		if err := l.rate.Wait(ctx); err != nil {
			if l.slots != nil {
				<-l.slots
			}
			return nil, err
		}
	}
	if l.onWait != nil {
		l.onWait(time.Since(start))
	}
	return func() {
		if l.slots != nil {
			<-l.slots
		}
	}, nil
}

// Do runs fn inside one acquisition.
func (l *Limiter) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	release, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(ctx)
}

// Limiters shares limiters between connections that reach the same
// account: two pipelines on one Fiken company, in one process, together
// keep Fiken's one request in flight. A connector names the account by an
// `Account() string` method on its config; connections without one get a
// limiter of their own. The zero value is not usable; use NewLimiters.
type Limiters struct {
	mu       sync.Mutex
	accounts map[string]*Limiter
}

// NewLimiters returns an empty set of shared limiters.
func NewLimiters() *Limiters { return &Limiters{accounts: map[string]*Limiter{}} }

// For returns a limiter for a connection to account with limits l; onWait
// is this connection's (its pipeline's metrics). A limiter is shared with
// every earlier connection to the same account, whose limits it keeps: the
// first connection to an account sets them for the process.
func (ls *Limiters) For(account string, l Limits, onWait func(time.Duration)) *Limiter {
	if account == "" {
		return NewLimiter(l, onWait)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	shared, ok := ls.accounts[account]
	if !ok {
		shared = NewLimiter(l, nil)
		ls.accounts[account] = shared
	}
	return &Limiter{slots: shared.slots, rate: shared.rate, limits: shared.limits, onWait: onWait}
}

// Account returns the account a connection config reaches, or "" when its
// connector does not say.
func Account(config any) string {
	if a, ok := config.(interface{ Account() string }); ok {
		return a.Account()
	}
	return ""
}
