package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 2, 30, 0, time.UTC) // a Monday

func TestParseNext(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		expr     string
		from     time.Time
		next     time.Time
		interval time.Duration
	}{
		{"*/5 * * * *", t0, time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC), 5 * time.Minute},
		{"@every 30s", t0, t0.Add(30 * time.Second), 30 * time.Second},
		{"@every 1m30s", t0.Add(400 * time.Millisecond), t0.Add(90*time.Second + 400*time.Millisecond), 90 * time.Second},
		{"@hourly", t0, time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), time.Hour},
		{"  0 3 * * *  ", t0, time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC), 24 * time.Hour},
		// 09:00 in Oslo is 08:00 UTC in March (CET); Friday to Monday is three days.
		{"CRON_TZ=Europe/Oslo 0 9 * * 1-5", time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 9, 0, 0, 0, oslo), 72 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tt.from); !got.Equal(tt.next) {
				t.Errorf("Next(%v) = %v, want %v", tt.from, got, tt.next)
			}
			if got := s.Interval(tt.from); got != tt.interval {
				t.Errorf("Interval = %v, want %v", got, tt.interval)
			}
			if got, want := s.Nth(tt.from, 2), s.Next(s.Next(tt.from)); !got.Equal(want) {
				t.Errorf("Nth(2) = %v, want %v", got, want)
			}
			if s.String() != strings.TrimSpace(tt.expr) {
				t.Errorf("String = %q", s.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty schedule"},
		{"61 * * * *", "end of range (61) above maximum (59)"},
		{"every 5m", "use 5 cron fields"},
		{"* * * *", "expected exactly 5 fields"},
		{"@every soon", "failed to parse duration"},
		{"0 0 30 2 *", "never fires"},
		{"TZ=", "malformed time zone prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestJitterBound(t *testing.T) {
	tests := []struct {
		interval, max, want time.Duration
	}{
		{10 * time.Second, 5 * time.Second, time.Second},
		{time.Hour, 5 * time.Second, 5 * time.Second},
		{time.Hour, 0, 0},
		{time.Second, time.Minute, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := JitterBound(tt.interval, tt.max); got != tt.want {
			t.Errorf("JitterBound(%v, %v) = %v, want %v", tt.interval, tt.max, got, tt.want)
		}
	}
}

func TestNextSpread(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2026, 3, 2, h, m, s, 0, time.UTC) }
	tests := []struct {
		expr string
		from time.Time
		frac float64
		want time.Time
	}{
		{"*/5 * * * *", at(10, 2, 29), 0.5, at(10, 2, 30)},
		{"*/5 * * * *", at(10, 2, 30), 0.5, at(10, 7, 30)},
		// 0.99 of 5 min is 4m57s: 10:04:57 has passed at 10:04:59.
		{"*/5 * * * *", at(10, 4, 59), 0.99, at(10, 9, 57)},
		{"*/5 * * * *", at(10, 0, 0), 0, at(10, 5, 0)},
		{"0 * * * *", at(10, 2, 30), 0.25, at(10, 15, 0)},
		{"0 * * * *", at(10, 20, 0), 0.25, at(11, 15, 0)},
		// @every runs from the end of the last run: not moved.
		{"@every 30s", at(10, 2, 30), 0.5, at(10, 3, 0)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.expr, " ", tt.from.Format("15:04:05"), " ", tt.frac), func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := s.NextSpread(tt.from, tt.frac)
			if !got.Equal(tt.want) {
				t.Errorf("NextSpread = %v, want %v", got.Format("15:04:05"), tt.want.Format("15:04:05"))
			}
		})
	}
}

// TestSpreadFraction: a name's place is fixed, and a thousand shops'
// places cover the interval evenly (each tenth holds 100 ± 40).
func TestSpreadFraction(t *testing.T) {
	if a, b := SpreadFraction("shop-0001"), SpreadFraction("shop-0001"); a != b {
		t.Fatalf("one name, two places: %v %v", a, b)
	}
	var tenths [10]int
	for i := range 1000 {
		f := SpreadFraction(fmt.Sprintf("shop-%04d", i))
		if f < 0 || f >= 1 {
			t.Fatalf("fraction %v out of [0, 1)", f)
		}
		tenths[int(f*10)]++
	}
	for i, n := range tenths {
		if n < 60 || n > 140 {
			t.Errorf("tenth %d holds %d of 1000 names: %v", i, n, tenths)
		}
	}
}

// FuzzParse: whatever parses has activations strictly in the future and
// a positive interval.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "@every 30s", "@daily", "0 9 * * 1-5", "CRON_TZ=UTC 1 2 3 4 5", "0 0 29 2 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		n := s.Next(t0)
		if !n.After(t0) {
			t.Fatalf("%q: Next(%v) = %v, not after", expr, t0, n)
		}
		if iv := s.Interval(t0); iv <= 0 && !s.Nth(t0, 2).IsZero() {
			t.Fatalf("%q: interval %v", expr, iv)
		}
	})
}
