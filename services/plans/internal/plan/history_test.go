package plan_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

// permutations returns every order of xs.
func permutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{append([]T(nil), xs...)}
	}
	var out [][]T
	for i := range xs {
		rest := append(append([]T(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// describe renders what a client sees of a plan's history.
func describe(p *plan.Plan, now time.Time) string {
	var b strings.Builder
	for _, a := range p.Attempts(now) {
		fmt.Fprintf(&b, "attempt %d %s..%s %s %s %d\n", a.Number, a.Start.UTC().Format(time.RFC3339), fmtTime(a.End), a.EndReason, a.SlipContactID, a.Days)
	}
	for _, m := range p.MilestoneHistory(now) {
		fmt.Fprintf(&b, "history a%d d%d %s %s %s due=%s reach=%s\n", m.AttemptNumber, m.Day, m.Kind, m.Status, m.ID, fmtTime(m.DueTime), fmtTime(m.ReachTime))
	}
	for _, m := range p.Milestones(now) {
		fmt.Fprintf(&b, "current a%d d%d %s %s %s due=%s reach=%s\n", m.AttemptNumber, m.Day, m.Kind, m.Status, m.ID, fmtTime(m.DueTime), fmtTime(m.ReachTime))
	}
	fmt.Fprintf(&b, "streaks %+v\n", p.Streaks(now))
	return b.String()
}

// The same contact log gives the same attempts and milestones whatever the
// order in which its slips were recorded.
func TestHistory_SameLogAnyOrderSameHistory(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 3, 2+n, h, 0, 0, 0, loc) }
	for _, tc := range []struct {
		name  string
		slips []time.Time
	}{
		{"two slips", []time.Time{day(10, 12), day(20, 9)}},
		{"three slips", []time.Time{day(5, 12), day(15, 9), day(40, 20)}},
		{"two slips on one day", []time.Time{day(8, 9), day(8, 21), day(30, 7)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := day(50, 12)
			var first string
			for i, order := range permutations(tc.slips) {
				p := newActive(t, baseParams("Europe/Berlin", day(0, 10)), now)
				for _, at := range order {
					id := "slip-" + at.UTC().Format("0102T15")
					mustRecord(t, p, plan.ContactParams{ID: id, Direction: plan.Outbound, OccurredAt: at}, now)
				}
				got := describe(p, now)
				if i == 0 {
					first = got
					continue
				}
				if got != first {
					t.Errorf("order %v gives\n%s\nwant (oldest first)\n%s", order, got, first)
				}
			}
		})
	}
	// The case reported: newest first, attempt 2 keeps the 1, 3, 7 it lived.
	now := day(30, 12)
	p := newActive(t, baseParams("Europe/Berlin", day(0, 10)), now)
	mustRecord(t, p, plan.ContactParams{ID: "late", Direction: plan.Outbound, OccurredAt: day(20, 12)}, now)
	mustRecord(t, p, plan.ContactParams{ID: "early", Direction: plan.Outbound, OccurredAt: day(10, 12)}, now)
	var a2 []string
	for _, m := range p.MilestoneHistory(now) {
		if m.AttemptNumber == 2 {
			a2 = append(a2, fmt.Sprintf("%d %s", m.Day, m.Status))
		}
	}
	if want := "1 reached,3 reached,7 reached,14 superseded"; strings.Join(a2, ",") != want {
		t.Errorf("attempt 2 history = %v, want %s", a2, want)
	}
}

// Voiding a slip gives back the unbroken attempt: nothing is shown on an
// attempt 0, and nothing is superseded that no slip ended.
func TestHistory_VoidLeavesNoAttemptZero(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 5, 1+n, h, 0, 0, 0, loc) }
	start, now := day(0, 10), day(12, 12)
	for _, tc := range []struct {
		name  string
		slips []time.Time
		void  string
	}{
		{"only slip voided", []time.Time{day(5, 12)}, "s0"},
		{"first of two voided", []time.Time{day(4, 12), day(9, 12)}, "s0"},
		{"second of two voided", []time.Time{day(4, 12), day(9, 12)}, "s1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newActive(t, baseParams("Europe/Berlin", start), now)
			for i, at := range tc.slips {
				mustRecord(t, p, plan.ContactParams{ID: fmt.Sprintf("s%d", i), Direction: plan.Outbound, OccurredAt: at}, now)
			}
			p.PopEvents()
			if _, err := p.VoidContact(tc.void, now); err != nil {
				t.Fatal(err)
			}
			for _, e := range eventsOf(p.PopEvents(), plan.EventMilestoneSuperseded) {
				t.Errorf("void superseded %+v: no slip ended its attempt", e.Milestone)
			}
			ended := map[int]bool{}
			for _, a := range p.Attempts(now) {
				ended[a.Number] = a.EndReason == plan.EndSlip
			}
			for _, m := range p.MilestoneHistory(now) {
				if m.AttemptNumber < 1 {
					t.Errorf("history shows %+v on attempt %d", m, m.AttemptNumber)
				}
				if m.Status == plan.MilestoneSuperseded && !ended[m.AttemptNumber] {
					t.Errorf("history: %+v superseded, but its attempt was not ended by a slip", m)
				}
			}
			// Same as a plan on which the voided slip was never logged.
			q := newActive(t, baseParams("Europe/Berlin", start), now)
			for i, at := range tc.slips {
				if id := fmt.Sprintf("s%d", i); id != tc.void {
					mustRecord(t, q, plan.ContactParams{ID: id, Direction: plan.Outbound, OccurredAt: at}, now)
				}
			}
			if got, want := describe(p, now), describe(q, now); got != want {
				t.Errorf("after the void:\n%s\nwant as if never logged:\n%s", got, want)
			}
		})
	}
}

// Slip, void, the same slip again: each supersession is a distinct event.
func TestHistory_SupersededAgainIsANewEvent(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 5, 1+n, h, 0, 0, 0, loc) }
	start, now := day(0, 10), day(10, 12)
	p := newActive(t, baseParams("Europe/Berlin", start), now)
	var sup []plan.Event
	mustRecord(t, p, plan.ContactParams{ID: "a", Direction: plan.Outbound, OccurredAt: day(5, 12)}, now)
	sup = append(sup, eventsOf(p.PopEvents(), plan.EventMilestoneSuperseded)...)
	if _, err := p.VoidContact("a", now); err != nil {
		t.Fatal(err)
	}
	p.PopEvents()
	mustRecord(t, p, plan.ContactParams{ID: "b", Direction: plan.Outbound, OccurredAt: day(5, 12)}, now)
	sup = append(sup, eventsOf(p.PopEvents(), plan.EventMilestoneSuperseded)...)
	if len(sup) != 2 {
		t.Fatalf("superseded events = %d, want 2 (day 7, twice)", len(sup))
	}
	a, b := sup[0].Milestone, sup[1].Milestone
	if a.ID != b.ID || a.Supersession == b.Supersession || a.Supersession < 1 || b.Supersession < 1 {
		t.Errorf("supersessions %d and %d of %s: want two distinct, numbered from 1", a.Supersession, b.Supersession, a.ID)
	}
	if a.AttemptNumber != 1 || b.AttemptNumber != 1 {
		t.Errorf("superseded on attempts %d, %d, want 1", a.AttemptNumber, b.AttemptNumber)
	}
}

// A move of time zone keeps the local dates already lived; the new zone
// applies from the move on.
func TestHistory_TimeZoneMoveKeepsPastDates(t *testing.T) {
	berlin, pago := mustLoc(t, "Europe/Berlin"), mustLoc(t, "Pacific/Pago_Pago")
	start := time.Date(2026, 12, 1, 0, 30, 0, 0, berlin) // Nov 30 in Pago Pago
	p := newActive(t, baseParams("Europe/Berlin", start), start)
	early := mustRecord(t, p, plan.ContactParams{ID: "in", Direction: plan.Inbound, OccurredAt: time.Date(2026, 12, 3, 0, 30, 0, 0, berlin)},
		time.Date(2026, 12, 3, 1, 0, 0, 0, berlin))
	move := time.Date(2026, 12, 5, 12, 0, 0, 0, berlin)
	p.Advance(move)
	if err := p.Apply(plan.Patch{Fields: []string{"time_zone"}, NewPlanParams: plan.NewPlanParams{TimeZone: "Pacific/Pago_Pago"}}, seqIDs(), move); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 10, 4, 0, 0, 0, pago)
	if got := p.CurrentStreakDays(now); got != 9 {
		t.Errorf("streak on Dec 10 (Pago Pago) of a plan started Dec 1 (Berlin) = %d, want 9", got)
	}
	if got := p.LocalDate(start).String(); got != "2026-12-01" {
		t.Errorf("start's local date = %s, want 2026-12-01 as lived in Berlin", got)
	}
	if got := p.LocalDate(now).String(); got != "2026-12-10" {
		t.Errorf("today's local date = %s, want 2026-12-10 in Pago Pago", got)
	}
	// Correcting a contact from before the move keeps its Berlin date.
	c, err := p.CorrectContact(early.ID, plan.ContactPatch{Fields: []string{"channel"}, ContactParams: plan.ContactParams{Channel: plan.ChannelText}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.LocalDate != "2026-12-03" || c.TimeZone != "Europe/Berlin" {
		t.Errorf("corrected contact: local date %s in %s, want 2026-12-03 in Europe/Berlin", c.LocalDate, c.TimeZone)
	}
	ms := p.Milestones(now)
	for _, want := range []struct {
		day int
		due time.Time
	}{
		{1, time.Date(2026, 12, 2, 0, 0, 0, 0, berlin)},
		{3, time.Date(2026, 12, 4, 0, 0, 0, 0, berlin)},
		{7, time.Date(2026, 12, 8, 0, 0, 0, 0, pago)},
		{14, time.Date(2026, 12, 15, 0, 0, 0, 0, pago)},
	} {
		m, ok := milestoneByDay(ms, want.day)
		if !ok || m.DueTime == nil || !m.DueTime.Equal(want.due) {
			t.Errorf("day %d due %v, want %v", want.day, fmtTime(m.DueTime), want.due)
		}
	}
}

// A correction on a completed plan that would break its streak is refused:
// the plan stays completed and unchanged.
func TestHistory_CorrectionOnCompletedPlanIsRefused(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 5, 1+n, h, 0, 0, 0, loc) }
	params := baseParams("Europe/Berlin", day(0, 10))
	params.TargetDays = 5
	params.Mode = plan.ModeWithExceptions
	params.Exceptions = []plan.Exception{{ID: "kids", Kind: "co_parenting"}}
	p := newActive(t, params, day(0, 10))
	ct := mustRecord(t, p, plan.ContactParams{ID: "pickup", Direction: plan.Outbound, ExceptionID: "kids", OccurredAt: day(4, 12)}, day(4, 13))
	p.Advance(day(6, 12))
	if p.Status != plan.StatusCompleted {
		t.Fatalf("status %s, want completed", p.Status)
	}
	p.PopEvents()
	for _, tc := range []struct {
		name  string
		patch plan.ContactPatch
		ok    bool
	}{
		{"exception corrected into a slip", plan.ContactPatch{Fields: []string{"exception_id"}}, false},
		{"channel noted", plan.ContactPatch{Fields: []string{"channel"}, ContactParams: plan.ContactParams{Channel: plan.ChannelText}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.CorrectContact(ct.ID, tc.patch, day(6, 13))
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, plan.ErrIllegalTransition) {
				t.Fatalf("err = %v, want ErrIllegalTransition (FailedPrecondition)", err)
			}
			if got, _ := p.Contact(ct.ID); got.Classification != plan.ExceptionCall {
				t.Errorf("refused correction changed the contact: %+v", got)
			}
			if s := p.Streaks(day(6, 13)); p.Status != plan.StatusCompleted || s.Current < p.TargetDays {
				t.Errorf("after the refusal: %s with streak %+v, want completed with the target reached", p.Status, s)
			}
			if evs := p.PopEvents(); len(evs) != 0 {
				t.Errorf("refused correction recorded %v", eventKinds(evs))
			}
		})
	}
}

// A short pause across midnight does not cost a day: paused time is taken
// off in whole days, as lived days are counted.
func TestHistory_ShortPauseAcrossMidnightCostsNoDay(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	at := func(n, h, m int) time.Time { return time.Date(2026, 1, 1+n, h, m, 0, 0, loc) }
	for _, tc := range []struct {
		name          string
		pause, resume time.Time
		want          int
	}{
		{"20 minutes across midnight", at(3, 23, 50), at(4, 0, 10), 6},
		{"2 hours across midnight", at(3, 23, 0), at(4, 1, 0), 6},
		{"3 days", at(3, 12, 0), at(6, 12, 0), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newActive(t, baseParams("Europe/Berlin", at(0, 10, 0)), at(0, 10, 0))
			if err := p.Pause("call", tc.pause); err != nil {
				t.Fatal(err)
			}
			if err := p.Resume(tc.resume); err != nil {
				t.Fatal(err)
			}
			if got := p.CurrentStreakDays(at(6, 12, 30)); got != tc.want {
				t.Errorf("streak = %d, want %d", got, tc.want)
			}
		})
	}
}
