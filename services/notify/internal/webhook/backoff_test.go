package webhook

import (
	"math"
	"testing"
	"time"
)

func TestBackoffWithoutJitter(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 2 * time.Second}, // treated as the first attempt
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{3, 8 * time.Second},
		{5, 32 * time.Second},
		{MaxAttempts, 64 * time.Second},
		{9, 512 * time.Second},
		{10, MaxDelay}, // 1024s is past the cap
		{64, MaxDelay},
		{math.MaxInt, MaxDelay},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, nil); got != tt.want {
			t.Errorf("Backoff(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	wild := func(n int64) int64 { return n * 10 } // a broken source is clamped
	negative := func(int64) int64 { return -5 }

	tests := []struct {
		name   string
		jitter func(int64) int64
		full   bool // the full exponential delay, or half of it
	}{
		{"lowest draw is half the delay", lowest, false},
		{"highest draw is the full delay", highest, true},
		{"out-of-range draw is clamped", wild, true},
		{"negative draw is clamped", negative, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := time.Duration(0)
			for attempt := 1; attempt <= 15; attempt++ {
				base := Backoff(attempt, nil)
				got := Backoff(attempt, tt.jitter)
				want := base / 2
				if tt.full {
					want = base
				}
				if got != want {
					t.Errorf("attempt %d: Backoff = %s, want %s", attempt, got, want)
				}
				if got > MaxDelay {
					t.Errorf("attempt %d: Backoff = %s, above the %s cap", attempt, got, MaxDelay)
				}
				if got < prev {
					t.Errorf("attempt %d: Backoff = %s, shorter than the previous %s", attempt, got, prev)
				}
				prev = got
			}
		})
	}
}

func TestBackoffAsksForAPositiveRange(t *testing.T) {
	for attempt := 1; attempt <= 12; attempt++ {
		var asked int64
		got := Backoff(attempt, func(n int64) int64 { asked = n; return n / 2 })
		if asked <= 0 {
			t.Fatalf("attempt %d: jitter asked for [0, %d)", attempt, asked)
		}
		base := Backoff(attempt, nil)
		if got < base/2 || got > base {
			t.Errorf("attempt %d: Backoff = %s, outside [%s, %s]", attempt, got, base/2, base)
		}
	}
}

// The whole retry schedule of one delivery is short enough to show in the
// app and never waits longer than the cap between attempts.
func TestRetryScheduleTotal(t *testing.T) {
	var total time.Duration
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		total += Backoff(attempt, func(n int64) int64 { return n - 1 })
	}
	if want := 62 * time.Second; total != want {
		t.Errorf("worst-case wait across %d attempts = %s, want %s", MaxAttempts, total, want)
	}
}
