package main

import (
	"testing"
	"time"
)

// A plan seeded "7 days ago" is on its day 7 in the demo's time zone at any
// hour, the hour after Berlin's midnight (23:xx UTC) included.
func TestSeededPlanStartIsWholeLocalDaysAgo(t *testing.T) {
	loc, err := time.LoadLocation(demoTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{
		time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC), // 00:30 in Berlin, the next day
		time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 4, 22, 10, 0, 0, time.UTC), // 00:10 in Berlin (summer time)
	} {
		s := &seeder{now: now}
		for _, days := range []float64{0, 7.05, 15} {
			start, err := time.Parse(time.RFC3339, s.startAt(days))
			if err != nil {
				t.Fatal(err)
			}
			today := now.In(loc)
			want := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -int(days))
			got := start.In(loc)
			if got.Year() != want.Year() || got.YearDay() != want.YearDay() {
				t.Errorf("now %v, %v days ago: the plan starts on %v in Berlin, want %v", now, days, got.Format(time.DateOnly), want.Format(time.DateOnly))
			}
			if start.After(now) {
				t.Errorf("now %v, %v days ago: the start %v is in the future", now, days, start)
			}
		}
	}
}
