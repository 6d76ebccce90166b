package webhook

import (
	"math"
	"net/http"
	"testing"
	"time"
)

// The retry schedule is the Standard Webhooks one, stretched to about three
// days, and every wait stays within its jitter.
func TestBackoffFollowsTheScheduleOverAboutThreeDays(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for i, w := range want {
		if got := Backoff(i+1, nil); got != w {
			t.Errorf("wait after attempt %d = %s, want %s", i+1, got, w)
		}
	}
	var total time.Duration
	for a := 1; a < MaxAttempts; a++ {
		total += Backoff(a, nil)
	}
	if total < 60*time.Hour || total > 84*time.Hour {
		t.Errorf("the last attempt comes %s after the first, want about three days", total)
	}
	if got := Backoff(0, nil); got != 5*time.Second {
		t.Errorf("Backoff(0) = %s, want the first wait", got)
	}
	if got := Backoff(math.MaxInt, nil); got != 10*time.Hour {
		t.Errorf("Backoff(MaxInt) = %s, want the last wait", got)
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	for _, j := range []func(int64) int64{
		func(int64) int64 { return 0 },
		func(n int64) int64 { return n - 1 },
		func(n int64) int64 { return n * 10 },
		func(int64) int64 { return -5 },
	} {
		for a := 1; a < MaxAttempts; a++ {
			d := Backoff(a, nil)
			got := Backoff(a, j)
			lo, hi := d-time.Duration(float64(d)*JitterFraction), d+time.Duration(float64(d)*JitterFraction)
			if got < lo || got > hi {
				t.Errorf("attempt %d: %s outside [%s, %s]", a, got, lo, hi)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{" 30 ", 30 * time.Second, true},
		{"99999999999999", MaxRetryAfter, true},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Hour, true},
		{"Wed, 10 Jun 2026 11:00:00 GMT", 0, true}, // in the past
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
