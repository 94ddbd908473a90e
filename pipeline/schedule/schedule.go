// Package schedule decides when `synk serve` runs each pipeline: it parses a
// pipeline's schedule (5-field cron or @every/@hourly descriptors), adds a
// small bounded jitter so many pipelines against one API do not all start
// on the same second, never runs two runs of one pipeline at once, and
// coalesces triggers that arrive during a run into one follow-up run. Time
// comes from a Clock, so tests drive it with a FakeClock and never sleep.
package schedule

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed pipeline schedule.
type Schedule struct {
	expr string
	s    cron.Schedule
}

// Parse reads a 5-field cron expression ("*/5 * * * *", optionally prefixed
// with CRON_TZ=Europe/Oslo; the process's local zone otherwise), "@every
// 30s", or a descriptor (@hourly, @daily, ...). An expression that never
// fires (30 February) is an error.
func Parse(expr string) (*Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, errors.New("empty schedule")
	}
	s, err := parseCron(expr)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (use 5 cron fields such as \"*/5 * * * *\", or \"@every 30s\")", expr, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", expr)
	}
	return &Schedule{expr: expr, s: s}, nil
}

// parseCron guards against robfig/cron panicking on some malformed time
// zone prefixes ("TZ=" with nothing after it slices out of range).
func parseCron(expr string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, errors.New("malformed time zone prefix")
		}
	}()
	return cron.ParseStandard(expr)
}

// String is the expression as written.
func (s *Schedule) String() string { return s.expr }

// Next is the first activation after t. For @every it is exactly t plus
// the interval (robfig/cron would round t down to the second): the gap is
// measured from the end of the last run.
func (s *Schedule) Next(t time.Time) time.Time {
	if d, ok := s.s.(cron.ConstantDelaySchedule); ok {
		return t.Add(d.Delay)
	}
	return s.s.Next(t)
}

// NextSpread is Next for a schedule whose activations are moved by a fixed
// fraction (0 ≤ frac < 1) of the interval: the first activation after t of
// the shifted sequence. Many pipelines on one cron schedule, each with its
// own fraction, are spread over the interval instead of starting together,
// and each still runs once per interval at the same place in it. An @every
// schedule already runs at its own pace (from the end of its last run) and
// is not moved.
func (s *Schedule) NextSpread(t time.Time, frac float64) time.Time {
	if _, ok := s.s.(cron.ConstantDelaySchedule); ok || frac <= 0 || frac >= 1 {
		return s.Next(t)
	}
	off := time.Duration(frac * float64(s.Interval(t)))
	return s.Next(t.Add(-off)).Add(off)
}

// SpreadFraction is a pipeline's place in its interval under spreading:
// the first 53 bits of the SHA-256 of its name as a fraction of 1 (a
// hash whose high bits differ for names that differ in one character, as
// shop-0001 and shop-0002 do). It depends on the name alone, so it is the
// same in every process and after every restart.
func SpreadFraction(name string) float64 {
	sum := sha256.Sum256([]byte(name))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// Nth is the n-th activation after t (Nth(t, 1) == Next(t)).
func (s *Schedule) Nth(t time.Time, n int) time.Time {
	for range n {
		t = s.Next(t)
	}
	return t
}

// Interval is the gap between the two activations that follow t; for a
// cron expression it varies (a weekday schedule has a long weekend gap).
func (s *Schedule) Interval(t time.Time) time.Duration {
	a := s.Next(t)
	return s.Next(a).Sub(a)
}

// JitterBound is the largest jitter added to an activation: a tenth of
// the interval, capped at maxJitter, so a 10 s schedule moves by at most
// 1 s and an hourly one by at most maxJitter.
func JitterBound(interval, maxJitter time.Duration) time.Duration {
	b := interval / 10
	if b > maxJitter {
		b = maxJitter
	}
	if b < 0 {
		return 0
	}
	return b
}
