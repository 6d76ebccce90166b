package outbox

import (
	"testing"
	"time"
)

// An idle relay polls less and less often, up to IdleInterval; a pass that
// finds work brings it back to Interval at once.
func TestIdlePollPeriodGrowsAndFallsBack(t *testing.T) {
	const interval, idleMax = time.Second, 15 * time.Second
	var got []time.Duration
	prev := time.Duration(0)
	for _, found := range []bool{false, false, false, false, false, false, true, false} {
		prev = idleNext(prev, found, interval, idleMax)
		got = append(got, prev)
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second, 1 * time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("poll periods %v, want %v", got, want)
		}
	}
	// Growth off: the period stays at Interval.
	for _, idle := range []time.Duration{0, interval} {
		if p := idleNext(8*time.Second, false, interval, idle); p != interval {
			t.Fatalf("IdleInterval %v: period %v, want %v", idle, p, interval)
		}
	}
}
