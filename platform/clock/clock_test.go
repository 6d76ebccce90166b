package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/clock"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		move func(f *clock.Fake)
		want time.Time
	}{
		{"starts where it was set", func(*clock.Fake) {}, start},
		{"advance moves forward", func(f *clock.Fake) { f.Advance(90 * time.Minute) }, start.Add(90 * time.Minute)},
		{"negative advance moves back", func(f *clock.Fake) { f.Advance(-time.Hour) }, start.Add(-time.Hour)},
		{"set jumps anywhere", func(f *clock.Fake) { f.Set(start.AddDate(1, 0, 0)) }, start.AddDate(1, 0, 0)},
		{"advances accumulate", func(f *clock.Fake) {
			f.Advance(time.Hour)
			f.Advance(24 * time.Hour)
		}, start.Add(25 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(start)
			tt.move(f)
			if got := f.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFakeConcurrentUse(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				f.Advance(time.Second)
				_ = f.Now()
			}
		})
	}
	wg.Wait()
	if got, want := f.Now(), start.Add(800*time.Second); !got.Equal(want) {
		t.Errorf("after 800 concurrent one-second advances Now() = %v, want %v", got, want)
	}
}

func TestRealMovesForward(t *testing.T) {
	c := clock.Real()
	a := c.Now()
	b := c.Now()
	if b.Before(a) {
		t.Errorf("real clock went backwards: %v then %v", a, b)
	}
}
