package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func TestHardDates_Validation(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	many := make([]plan.HardDate, 21)
	for i := range many {
		many[i] = plan.HardDate{Label: "a day", Month: 5, Day: 1}
	}
	cases := []struct {
		name   string
		hds    []plan.HardDate
		fields []string
	}{
		{"February 30", []plan.HardDate{{Label: "ok", Month: 3, Day: 1}, {Label: "x", Month: 2, Day: 30}}, []string{"hard_dates[1].day"}},
		{"April 31", []plan.HardDate{{Label: "x", Month: 4, Day: 31}}, []string{"hard_dates[0].day"}},
		{"day 0", []plan.HardDate{{Label: "x", Month: 4, Day: 0}}, []string{"hard_dates[0].day"}},
		{"month 13", []plan.HardDate{{Label: "x", Month: 13, Day: 1}}, []string{"hard_dates[0].month"}},
		{"month 0", []plan.HardDate{{Label: "x", Day: 1}}, []string{"hard_dates[0].month"}},
		{"empty label", []plan.HardDate{{Label: "  ", Month: 1, Day: 1}}, []string{"hard_dates[0].label"}},
		{"label of 81", []plan.HardDate{{Label: strings.Repeat("ü", 81), Month: 1, Day: 1}}, []string{"hard_dates[0].label"}},
		{"repeated id", []plan.HardDate{{ID: "h", Label: "a", Month: 1, Day: 1}, {ID: "h", Label: "b", Month: 2, Day: 2}}, []string{"hard_dates[1].id"}},
		{"21 dates", many, []string{"hard_dates"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := baseParams("Europe/Berlin", now)
			p.HardDates = tc.hds
			_, err := plan.NewPlan(p, seqIDs(), now)
			wantFields(t, err, tc.fields...)
		})
	}
	// Valid edges: February 29, December 31, 80 characters, ids assigned.
	p := baseParams("Europe/Berlin", now)
	p.HardDates = []plan.HardDate{{Label: "leap", Month: 2, Day: 29}, {Label: strings.Repeat("é", 80), Month: 12, Day: 31}}
	pl, err := plan.NewPlan(p, seqIDs(), now)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	if pl.HardDates[0].ID == "" || pl.HardDates[1].ID == "" || pl.HardDates[0].ID == pl.HardDates[1].ID {
		t.Errorf("ids = %q, %q: want two distinct ids", pl.HardDates[0].ID, pl.HardDates[1].ID)
	}
}

func TestHardDates_UpdateMask(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	pl := newActive(t, baseParams("Europe/Berlin", now), now)
	err := pl.Apply(plan.Patch{Fields: []string{"hard_dates"}, NewPlanParams: plan.NewPlanParams{
		HardDates: []plan.HardDate{{Label: "ok", Month: 1, Day: 1}, {Label: "bad", Month: 6, Day: 31}},
	}}, seqIDs(), now)
	wantFields(t, err, "hard_dates[1].day")
	if err := pl.Apply(plan.Patch{Fields: []string{"hard_dates"}, NewPlanParams: plan.NewPlanParams{
		HardDates: []plan.HardDate{{ID: "h1", Label: "our anniversary", Month: 9, Day: 14}},
	}}, seqIDs(), now); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(pl.HardDates) != 1 || pl.HardDates[0] != (plan.HardDate{ID: "h1", Label: "our anniversary", Month: 9, Day: 14}) {
		t.Errorf("hard dates = %+v", pl.HardDates)
	}
}

func TestNextHardDate(t *testing.T) {
	berlin := "Europe/Berlin"
	cases := []struct {
		name      string
		tz        string
		now       time.Time
		hds       []plan.HardDate
		want      string
		wantLabel string
	}{
		{"later this year", berlin, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "b", Month: 12, Day: 24}, {Label: "a", Month: 9, Day: 14}}, "2026-09-14", "a"},
		{"across the year end", berlin, time.Date(2026, 12, 28, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "march", Month: 3, Day: 3}, {Label: "new year", Month: 1, Day: 1}}, "2027-01-01", "new year"},
		{"today counts", berlin, time.Date(2026, 9, 14, 20, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "today", Month: 9, Day: 14}}, "2026-09-14", "today"},
		// 23:30 UTC on Sept 14 is already Sept 15 in Berlin: the local
		// calendar decides, so this year's date is past.
		{"local date, not UTC", berlin, time.Date(2026, 9, 14, 23, 30, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "x", Month: 9, Day: 14}}, "2027-09-14", "x"},
		{"Feb 29 in a common year is Feb 28", berlin, time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "leap", Month: 2, Day: 29}}, "2026-02-28", "leap"},
		{"Feb 29 in a leap year", berlin, time.Date(2028, 2, 1, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "leap", Month: 2, Day: 29}}, "2028-02-29", "leap"},
		{"Feb 29 after Feb 28 of a common year is next year's", berlin, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "leap", Month: 2, Day: 29}}, "2028-02-29", "leap"},
		// Auckland is UTC+13 in January: noon UTC on Dec 31 is already New
		// Year's Day there.
		{"ahead of UTC at the year end", "Pacific/Auckland", time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC),
			[]plan.HardDate{{Label: "nye", Month: 12, Day: 31}}, "2027-12-31", "nye"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := baseParams(tc.tz, tc.now)
			p.HardDates = tc.hds
			pl := newActive(t, p, tc.now)
			d, label, ok := plan.NextHardDate(pl, tc.now)
			if !ok || d.String() != tc.want || label != tc.wantLabel {
				t.Errorf("NextHardDate = %s %q %v, want %s %q", d, label, ok, tc.want, tc.wantLabel)
			}
		})
	}
	pl := newActive(t, baseParams(berlin, cases[0].now), cases[0].now)
	if _, _, ok := plan.NextHardDate(pl, cases[0].now); ok {
		t.Error("a plan without hard dates has a next hard date")
	}
}

func hardNotes(es []plan.Event) []plan.HardDateNote {
	var out []plan.HardDateNote
	for _, e := range eventsOf(es, plan.EventHardDateUpcoming) {
		out = append(out, *e.HardDate)
	}
	return out
}

// The note is due at 09:00 local the day before, once per occurrence, and
// again the next year.
func TestAdvance_HardDateNote(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 9, 1, 12, 0, 0, 0, loc)
	p := baseParams("Europe/Berlin", start)
	p.HardDates = []plan.HardDate{{ID: "h1", Label: "anniversary", Month: 9, Day: 14}}
	pl := newActive(t, p, start)
	noteAt := time.Date(2026, 9, 13, 9, 0, 0, 0, loc)
	if pl.NextDueTime == nil || pl.NextDueTime.After(noteAt) {
		t.Fatalf("NextDueTime = %v, want at latest %v", pl.NextDueTime, noteAt)
	}

	pl.Advance(noteAt.Add(-time.Minute))
	if n := hardNotes(pl.PopEvents()); len(n) != 0 {
		t.Fatalf("note at 08:59 the day before: %+v", n)
	}
	if !pl.NextDueTime.Equal(noteAt) {
		t.Errorf("NextDueTime at 08:59 = %v, want %v", pl.NextDueTime, noteAt)
	}
	pl.Advance(noteAt)
	notes := hardNotes(pl.PopEvents())
	want := plan.HardDateNote{ID: "hd-p1-h1-2026-09-14", HardDateID: "h1", Date: notes0(notes).Date}
	if len(notes) != 1 || notes[0] != want || notes[0].Date.String() != "2026-09-14" {
		t.Fatalf("notes at 09:00 = %+v, want one for 2026-09-14", notes)
	}
	pl.Advance(noteAt.Add(2 * time.Hour))
	if n := hardNotes(pl.PopEvents()); len(n) != 0 {
		t.Fatalf("a second note the same day: %+v", n)
	}
	nextYear := time.Date(2027, 9, 13, 9, 0, 0, 0, loc)
	if pl.NextDueTime == nil || pl.NextDueTime.After(nextYear) {
		t.Errorf("NextDueTime after the note = %v, want at latest %v", pl.NextDueTime, nextYear)
	}
	// A year on (the plan extended well past its first target).
	pl.TargetDays = plan.MaxTargetDays + 400
	pl.Advance(nextYear)
	notes = hardNotes(pl.PopEvents())
	if len(notes) != 1 || notes[0].ID != "hd-p1-h1-2027-09-14" {
		t.Fatalf("notes a year on = %+v, want one for 2027-09-14", notes)
	}
}

func notes0(ns []plan.HardDateNote) plan.HardDateNote {
	if len(ns) == 0 {
		return plan.HardDateNote{}
	}
	return ns[0]
}

// After downtime the note still goes out while it is the day before, and
// not once the hard day has begun.
func TestAdvance_HardDateNoteCatchUp(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 9, 1, 12, 0, 0, 0, loc)
	p := baseParams("Europe/Berlin", start)
	p.HardDates = []plan.HardDate{{ID: "h1", Label: "x", Month: 9, Day: 14}}

	late := newActive(t, p, start)
	late.Advance(time.Date(2026, 9, 13, 23, 59, 0, 0, loc))
	if n := hardNotes(late.PopEvents()); len(n) != 1 {
		t.Errorf("notes at 23:59 the day before = %d, want 1", len(n))
	}
	tooLate := newActive(t, p, start)
	tooLate.Advance(time.Date(2026, 9, 14, 0, 1, 0, 0, loc))
	if n := hardNotes(tooLate.PopEvents()); len(n) != 0 {
		t.Errorf("notes on the hard day itself = %+v, want none", n)
	}
}

// Across the DST change the note is at 09:00 on the local wall clock, and a
// hard date on Jan 1 is noted on Dec 31.
func TestAdvance_HardDateNoteDSTAndYearEnd(t *testing.T) {
	cases := []struct {
		name, tz string
		start    time.Time
		month    int
		day      int
		wantUTC  time.Time
	}{
		// Berlin goes to summer time on 2026-03-29: the day before
		// 2026-03-30 is the short day, 09:00 CEST = 07:00 UTC.
		{"after spring forward", "Europe/Berlin", time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), 3, 30, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		// Back to winter time on 2026-10-25: 09:00 CET = 08:00 UTC.
		{"after fall back", "Europe/Berlin", time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC), 10, 26, time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC)},
		{"New Year in New York", "America/New_York", time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC), 1, 1, time.Date(2026, 12, 31, 14, 0, 0, 0, time.UTC)},
		{"Feb 29 in a common year, noted Feb 27", "America/New_York", time.Date(2027, 2, 1, 12, 0, 0, 0, time.UTC), 2, 29, time.Date(2027, 2, 27, 14, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Started 300 days before the note: the next milestone (365)
			// is long after it.
			p := baseParams(tc.tz, tc.wantUTC.AddDate(0, 0, -300))
			p.HardDates = []plan.HardDate{{ID: "h", Label: "x", Month: tc.month, Day: tc.day}}
			pl := newActive(t, p, tc.start)
			if pl.NextDueTime == nil || !pl.NextDueTime.Equal(tc.wantUTC) {
				t.Errorf("NextDueTime = %v, want %v", pl.NextDueTime, tc.wantUTC)
			}
			pl.Advance(tc.wantUTC.Add(-time.Second))
			if n := hardNotes(pl.PopEvents()); len(n) != 0 {
				t.Errorf("note a second early: %+v", n)
			}
			pl.Advance(tc.wantUTC)
			if n := hardNotes(pl.PopEvents()); len(n) != 1 {
				t.Errorf("notes at %v = %d, want 1", tc.wantUTC, len(n))
			}
		})
	}
}

// A paused or finished plan sends no note; the milestones keep their due
// times when hard dates are later.
func TestAdvance_HardDateOnlyWhileActive(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 9, 1, 12, 0, 0, 0, loc)
	p := baseParams("Europe/Berlin", start)
	p.HardDates = []plan.HardDate{{ID: "h1", Label: "x", Month: 12, Day: 24}}
	pl := newActive(t, p, start)
	if want := time.Date(2026, 9, 2, 0, 0, 0, 0, loc); !pl.NextDueTime.Equal(want) {
		t.Errorf("NextDueTime = %v, want the day-1 milestone at %v", pl.NextDueTime, want)
	}
	if err := pl.Pause("holiday", start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pl.Advance(time.Date(2026, 12, 23, 10, 0, 0, 0, loc))
	if n := hardNotes(pl.PopEvents()); len(n) != 0 || pl.NextDueTime != nil {
		t.Errorf("paused plan: notes %+v, NextDueTime %v", n, pl.NextDueTime)
	}
}
