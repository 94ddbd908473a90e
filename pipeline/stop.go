package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrStopping is the error of a request a connection's limiter refused to
// start because the run was stopping: it never reached the system.
var ErrStopping = errors.New("not sent: the run is stopping")

type stopKey struct{}

// stopState is what WithStop puts in a context.
type stopState struct {
	stop context.Context // nil: nothing stops this write
	sent atomic.Bool
}

// WithStop returns the context for one write of a run that stop may end.
// A request under it that has not got past its connection's limiter when
// stop ends is refused (ErrStopping) instead of sent, and a retry is not
// waited for; one already sent runs to its end, bounded by its timeout
// (ctx itself should not be cancelled by the stop, so the write is never
// left half-known). With stop nil, a stop earlier in ctx no longer
// applies: the lookups that settle a write in flight still run.
func WithStop(ctx, stop context.Context) context.Context {
	return context.WithValue(ctx, stopKey{}, &stopState{stop: stop})
}

// Sent reports whether a request under ctx (from WithStop) got past its
// limiter, that is, may have reached the system. Without WithStop it
// reports true: nothing is known, so assume it was sent.
func Sent(ctx context.Context) bool {
	s, ok := ctx.Value(stopKey{}).(*stopState)
	return !ok || s.sent.Load()
}

// stopOf returns the stop of ctx's write, or nil.
func stopOf(ctx context.Context) context.Context {
	if s, ok := ctx.Value(stopKey{}).(*stopState); ok {
		return s.stop
	}
	return nil
}

func markSent(ctx context.Context) {
	if s, ok := ctx.Value(stopKey{}).(*stopState); ok {
		s.sent.Store(true)
	}
}

// Unsent returns ctx for the next step of the same write, with Sent false
// again and the same stop: a read before a write does not make the write
// count as sent.
func Unsent(ctx context.Context) context.Context {
	return WithStop(ctx, stopOf(ctx))
}
