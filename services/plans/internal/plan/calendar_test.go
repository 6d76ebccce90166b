package plan_test

import (
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func TestDate_DaysUntil(t *testing.T) {
	cases := []struct {
		zone     string
		from, to time.Time // interpreted in zone
		want     int
	}{
		{"America/New_York", time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 0, 30, 0, 0, time.UTC), 2},
		{"America/New_York", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), 31},
		{"America/New_York", time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), 2},
		{"Europe/London", time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 23, 59, 0, 0, time.UTC), 2},
		{"Europe/London", time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 12, 0, 0, 0, time.UTC), 2},
		{"Europe/London", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 365},
		{"UTC", time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), 366},
		{"Pacific/Auckland", time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC), -7},
		{"America/Santiago", time.Date(2026, 9, 5, 12, 0, 0, 0, time.UTC), time.Date(2026, 9, 7, 12, 0, 0, 0, time.UTC), 2},
		{"UTC", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 23, 59, 59, 0, time.UTC), 0},
	}
	for _, tc := range cases {
		loc := mustLoc(t, tc.zone)
		// Wall-clock times in the zone.
		from := time.Date(tc.from.Year(), tc.from.Month(), tc.from.Day(), tc.from.Hour(), tc.from.Minute(), 0, 0, loc)
		to := time.Date(tc.to.Year(), tc.to.Month(), tc.to.Day(), tc.to.Hour(), tc.to.Minute(), 0, 0, loc)
		if got := plan.DateOf(from, loc).DaysUntil(plan.DateOf(to, loc)); got != tc.want {
			t.Errorf("%s: %v → %v: DaysUntil = %d, want %d", tc.zone, from, to, got, tc.want)
		}
		// AddDays is its inverse.
		d := plan.DateOf(from, loc)
		if d.AddDays(tc.want) != plan.DateOf(to, loc) {
			t.Errorf("%s: %s + %d = %s, want %s", tc.zone, d, tc.want, d.AddDays(tc.want), plan.DateOf(to, loc))
		}
	}
}

func TestDate_Start(t *testing.T) {
	cases := []struct {
		name  string
		zone  string
		date  [3]int
		want  time.Time // the first instant of the local date
		clock string    // its local wall clock
	}{
		{"ordinary day", "Europe/Berlin", [3]int{2026, 6, 1}, time.Date(2026, 5, 31, 22, 0, 0, 0, time.UTC), "00:00"},
		{"New York spring forward (2 am)", "America/New_York", [3]int{2026, 3, 8}, time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), "00:00"},
		{"New York fall back", "America/New_York", [3]int{2026, 11, 1}, time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), "00:00"},
		{"Kolkata half hour", "Asia/Kolkata", [3]int{2026, 6, 1}, time.Date(2026, 5, 31, 18, 30, 0, 0, time.UTC), "00:00"},
		{"Kathmandu quarter hour", "Asia/Kathmandu", [3]int{2026, 6, 1}, time.Date(2026, 5, 31, 18, 15, 0, 0, time.UTC), "00:00"},
		// Midnight does not exist: the day starts at 01:00.
		{"Santiago DST starts at 00:00", "America/Santiago", [3]int{2026, 9, 6}, time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC), "01:00"},
		{"Havana DST starts at 00:00", "America/Havana", [3]int{2026, 3, 8}, time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), "01:00"},
		{"Beirut DST starts at 00:00", "Asia/Beirut", [3]int{2026, 3, 29}, time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC), "01:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			d := plan.DateOf(time.Date(tc.date[0], time.Month(tc.date[1]), tc.date[2], 12, 0, 0, 0, loc), loc)
			got := d.Start(loc)
			if !got.Equal(tc.want) {
				t.Errorf("Start(%s) = %v (%v local), want %v", d, got, got.In(loc), tc.want)
			}
			if plan.DateOf(got, loc) != d {
				t.Errorf("Start(%s) = %v is on local date %s", d, got.In(loc), plan.DateOf(got, loc))
			}
			if plan.DateOf(got.Add(-time.Nanosecond), loc) == d {
				t.Errorf("Start(%s) = %v is not the first instant of the date", d, got.In(loc))
			}
			if c := got.In(loc).Format("15:04"); c != tc.clock {
				t.Errorf("Start(%s) local clock %s, want %s", d, c, tc.clock)
			}
			if got.Location() != time.UTC {
				t.Errorf("Start returns %v, want a UTC instant", got.Location())
			}
		})
	}
}

// In a zone whose midnight is skipped, a milestone falling on that date is
// due at the first instant of the date (01:00), and a plan still counts the
// short day as one day.
func TestDST_MidnightSkipped(t *testing.T) {
	loc := mustLoc(t, "America/Santiago")
	start := time.Date(2026, 9, 3, 12, 0, 0, 0, loc)
	p := newActive(t, baseParams("America/Santiago", start), start)
	m3, _ := milestoneByDay(p.Milestones(start), 3) // due on 2026-09-06
	if want := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC); m3.DueTime == nil || !m3.DueTime.Equal(want) {
		t.Errorf("day 3 due %v, want %v (01:00 local)", m3.DueTime, want)
	}
	if got := p.CurrentStreakDays(time.Date(2026, 9, 6, 3, 59, 0, 0, time.UTC)); got != 2 {
		t.Errorf("just before the skipped midnight: %d, want 2", got)
	}
	if got := p.CurrentStreakDays(time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)); got != 3 {
		t.Errorf("at 01:00 on the short day: %d, want 3", got)
	}
	if got := p.CurrentStreakDays(time.Date(2026, 9, 7, 0, 0, 0, 0, loc)); got != 4 {
		t.Errorf("the next midnight: %d, want 4", got)
	}
}
