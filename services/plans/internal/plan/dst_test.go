package plan_test

import (
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

// Days across DST changes: a 23- or 25-hour local day counts as one day,
// and day N begins at local midnight.
func TestDST_DaysAreLocalCalendarDays(t *testing.T) {
	cases := []struct {
		name   string
		zone   string
		start  [3]int // y, m, d of the plan start (at 12:00 local)
		change [3]int // the DST-change day
		hours  int    // its length
	}{
		{"New York spring forward", "America/New_York", [3]int{2026, 3, 6}, [3]int{2026, 3, 8}, 23},
		{"New York fall back", "America/New_York", [3]int{2026, 10, 30}, [3]int{2026, 11, 1}, 25},
		{"London spring forward", "Europe/London", [3]int{2026, 3, 27}, [3]int{2026, 3, 29}, 23},
		{"London fall back", "Europe/London", [3]int{2026, 10, 23}, [3]int{2026, 10, 25}, 25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			midnight := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc) }
			start := time.Date(tc.start[0], time.Month(tc.start[1]), tc.start[2], 12, 0, 0, 0, loc)
			dayStart := midnight(tc.change[0], tc.change[1], tc.change[2])
			dayEnd := midnight(tc.change[0], tc.change[1], tc.change[2]+1)
			if got := dayEnd.Sub(dayStart); got != time.Duration(tc.hours)*time.Hour {
				t.Fatalf("fixture: %s is %v long, want %dh", dayStart.Format(time.DateOnly), got, tc.hours)
			}
			// The change day is day 2 of the plan.
			p := newActive(t, baseParams(tc.zone, start), start)
			for _, c := range []struct {
				at   time.Time
				want int
			}{
				{dayStart.Add(-time.Nanosecond), 1},
				{dayStart, 2},
				{dayStart.Add(22*time.Hour + 59*time.Minute), 2},
				{dayStart.Add(24 * time.Hour), map[int]int{23: 3, 25: 2}[tc.hours]}, // 24h later: next day only if the day was 23h
				{dayEnd.Add(-time.Nanosecond), 2},
				{dayEnd, 3},
				{dayEnd.Add(4 * 24 * time.Hour), 7},
			} {
				if got := p.CurrentStreakDays(c.at); got != c.want {
					t.Errorf("at %v: streak = %d, want %d", c.at.In(loc), got, c.want)
				}
			}
			// Every milestone is due at local midnight, whatever the offset.
			p.Advance(dayEnd.AddDate(0, 0, 30))
			ms := p.Milestones(start)
			for _, m := range ms {
				if m.DueTime == nil {
					t.Fatalf("day %d has no due time", m.Day)
				}
				local := m.DueTime.In(loc)
				if local.Hour() != 0 || local.Minute() != 0 || local.Second() != 0 {
					t.Errorf("day %d due %v, want local midnight", m.Day, local)
				}
				want := time.Date(tc.start[0], time.Month(tc.start[1]), tc.start[2]+m.Day, 0, 0, 0, 0, loc)
				if !m.DueTime.Equal(want) {
					t.Errorf("day %d due %v, want %v", m.Day, local, want)
				}
			}
			for _, rec := range p.MilestoneRecords {
				if l := rec.DueTime.In(loc); l.Hour() != 0 || l.Minute() != 0 {
					t.Errorf("recorded day %d due %v, want local midnight", rec.Day, l)
				}
			}
			// Day 3 comes at the midnight after the change day, however
			// long that day was.
			if m3, _ := milestoneByDay(ms, 3); !m3.DueTime.Equal(dayEnd) {
				t.Errorf("day 3 due %v, want %v", m3.DueTime.In(loc), dayEnd)
			}
		})
	}
}

// A plan started at 23:30 local reaches day 1 at the next local midnight,
// 30 minutes later, not 24 hours later.
func TestDST_StartJustBeforeMidnight(t *testing.T) {
	for _, tc := range []struct {
		zone string
		date [3]int
	}{
		{"Pacific/Auckland", [3]int{2026, 6, 10}},    // NZST +12
		{"Pacific/Auckland", [3]int{2026, 1, 10}},    // NZDT +13
		{"Pacific/Auckland", [3]int{2026, 4, 4}},     // the evening before NZ falls back
		{"Asia/Kolkata", [3]int{2026, 6, 10}},        // +05:30
		{"Asia/Kathmandu", [3]int{2026, 6, 10}},      // +05:45
		{"America/St_Johns", [3]int{2026, 3, 7}},     // -03:30, the evening before spring forward
		{"Australia/Lord_Howe", [3]int{2026, 10, 3}}, // a 30-minute DST shift the next night
	} {
		t.Run(tc.zone+" "+time.Date(tc.date[0], time.Month(tc.date[1]), tc.date[2], 0, 0, 0, 0, time.UTC).Format(time.DateOnly), func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			start := time.Date(tc.date[0], time.Month(tc.date[1]), tc.date[2], 23, 30, 0, 0, loc)
			midnight := time.Date(tc.date[0], time.Month(tc.date[1]), tc.date[2]+1, 0, 0, 0, 0, loc)
			if midnight.Sub(start) != 30*time.Minute {
				t.Fatalf("fixture: midnight is %v after the start", midnight.Sub(start))
			}
			p := newActive(t, baseParams(tc.zone, start), start)
			if got := p.CurrentStreakDays(midnight.Add(-time.Second)); got != 0 {
				t.Errorf("at 23:59:59: %d days, want 0", got)
			}
			if got := p.CurrentStreakDays(midnight); got != 1 {
				t.Errorf("at midnight: %d days, want 1", got)
			}
			nextEvening := time.Date(tc.date[0], time.Month(tc.date[1]), tc.date[2]+1, 23, 59, 59, 0, loc)
			if got := p.CurrentStreakDays(nextEvening); got != 1 {
				t.Errorf("at %v: %d days, want 1", nextEvening, got)
			}
			if got := p.CurrentStreakDays(nextEvening.Add(time.Second)); got != 2 {
				t.Errorf("at %v: %d days, want 2", nextEvening.Add(time.Second), got)
			}
			m1, _ := milestoneByDay(p.Milestones(start), 1)
			if m1.DueTime == nil || !m1.DueTime.Equal(midnight) {
				t.Errorf("day 1 due %v, want %v", m1.DueTime, midnight)
			}
			if p.NextDueTime == nil || !p.NextDueTime.Equal(midnight) {
				t.Errorf("NextDueTime = %v, want %v", p.NextDueTime, midnight)
			}
			p.Advance(midnight)
			if r := eventsOf(p.PopEvents(), plan.EventMilestoneReached); len(r) != 1 || r[0].Milestone.Day != 1 {
				t.Errorf("at midnight: reached %+v, want day 1", r)
			}
		})
	}
}

func TestLocalDate_DependsOnTheZone(t *testing.T) {
	at := time.Date(2026, 1, 10, 23, 30, 0, 0, time.UTC)
	auck := mustLoc(t, "Pacific/Auckland")
	if got := plan.DateOf(at, time.UTC).String(); got != "2026-01-10" {
		t.Errorf("UTC date = %s", got)
	}
	if got := plan.DateOf(at, auck).String(); got != "2026-01-11" {
		t.Errorf("Auckland date = %s", got)
	}
	la := mustLoc(t, "America/Los_Angeles")
	if got := plan.DateOf(time.Date(2026, 1, 10, 5, 0, 0, 0, time.UTC), la).String(); got != "2026-01-09" {
		t.Errorf("Los Angeles date = %s", got)
	}
	// A contact keeps the plan's local date.
	start := at.Add(-48 * time.Hour)
	p := newActive(t, baseParams("Pacific/Auckland", start), at)
	ct := mustRecord(t, p, plan.ContactParams{ID: "c", Direction: plan.Inbound, OccurredAt: at}, at)
	if ct.LocalDate != "2026-01-11" || ct.TimeZone != "Pacific/Auckland" {
		t.Errorf("contact local date %s in %s, want 2026-01-11 in Pacific/Auckland", ct.LocalDate, ct.TimeZone)
	}
	if p.LocalDate(at).String() != "2026-01-11" {
		t.Errorf("plan local date = %s", p.LocalDate(at))
	}
}

// A move keeps the dates lived: the start stays on its UTC date, and the
// count goes on from the move with Auckland's midnights.
func TestTimeZoneChange_NewZoneAppliesFromTheMove(t *testing.T) {
	auck := mustLoc(t, "Pacific/Auckland")
	start := time.Date(2026, 1, 10, 23, 30, 0, 0, time.UTC) // 2026-01-11 12:30 in Auckland
	now := time.Date(2026, 1, 11, 10, 0, 0, 0, time.UTC)    // 2026-01-11 23:00 in Auckland
	p := newActive(t, baseParams("UTC", start), now)
	if got := p.CurrentStreakDays(now); got != 1 {
		t.Fatalf("in UTC: %d days, want 1", got)
	}
	err := p.Apply(plan.Patch{Fields: []string{"time_zone"}, NewPlanParams: plan.NewPlanParams{TimeZone: "Pacific/Auckland"}}, seqIDs(), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.TimeZone != "Pacific/Auckland" {
		t.Errorf("time zone = %s", p.TimeZone)
	}
	if got := p.CurrentStreakDays(now); got != 1 {
		t.Errorf("in Auckland: %d days, want still 1 (the day lived in UTC stays lived)", got)
	}
	// Day 2 comes at Auckland midnight, an hour later.
	aMid := time.Date(2026, 1, 12, 0, 0, 0, 0, auck)
	if got := p.CurrentStreakDays(aMid); got != 2 {
		t.Errorf("at Auckland midnight: %d days, want 2", got)
	}
	next, ok := p.NextMilestone(now)
	if !ok || next.Day != 3 || !next.DueTime.Equal(time.Date(2026, 1, 13, 0, 0, 0, 0, auck)) {
		t.Errorf("next milestone = %+v, want day 3 at Auckland midnight 2026-01-13", next)
	}
	if u := eventsOf(p.PopEvents(), plan.EventPlanUpdated); len(u) != 1 || len(u[0].Fields) != 1 || u[0].Fields[0] != "time_zone" {
		t.Errorf("plan_updated = %+v", u)
	}
	// Contacts logged afterwards take the new zone's date.
	ct := mustRecord(t, p, plan.ContactParams{ID: "c", Direction: plan.Inbound, OccurredAt: now}, now)
	if ct.LocalDate != "2026-01-11" || ct.TimeZone != "Pacific/Auckland" {
		t.Errorf("contact %s %s", ct.LocalDate, ct.TimeZone)
	}
	// And an invalid zone is refused, naming the field.
	err = p.Apply(plan.Patch{Fields: []string{"time_zone"}, NewPlanParams: plan.NewPlanParams{TimeZone: "Mars/Olympus"}}, seqIDs(), now)
	wantFields(t, err, "time_zone")
}
