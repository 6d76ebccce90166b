package plan_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

func TestMilestones_BackdatedActivationReachesDueOnesOnce(t *testing.T) {
	loc := mustLoc(t, "America/Chicago")
	start := time.Date(2026, 5, 1, 9, 30, 0, 0, loc)
	now := time.Date(2026, 5, 9, 8, 0, 0, 0, loc) // 8 local days later
	p := newDraft(t, baseParams("America/Chicago", start), now)
	if err := p.Activate(now); err != nil {
		t.Fatal(err)
	}
	evs := p.PopEvents()
	reached := eventsOf(evs, plan.EventMilestoneReached)
	var got []int
	for _, e := range reached {
		got = append(got, e.Milestone.Day)
		if e.Milestone.Status != plan.MilestoneReached || e.Milestone.AttemptNumber != 1 {
			t.Errorf("reached event milestone = %+v", e.Milestone)
		}
		wantID := plan.MilestoneID("p1", start, e.Milestone.Day)
		if e.Milestone.ID != wantID {
			t.Errorf("milestone id = %s, want %s", e.Milestone.ID, wantID)
		}
		wantDue := time.Date(2026, 5, 1+e.Milestone.Day, 0, 0, 0, 0, loc)
		if e.Milestone.DueTime == nil || !e.Milestone.DueTime.Equal(wantDue) {
			t.Errorf("day %d due %v, want local midnight %v", e.Milestone.Day, e.Milestone.DueTime, wantDue)
		}
		if e.Milestone.ReachTime == nil || !e.Milestone.ReachTime.Equal(now) {
			t.Errorf("day %d reach time %v, want the activation time", e.Milestone.Day, e.Milestone.ReachTime)
		}
	}
	if !slices.Equal(got, []int{1, 3, 7}) {
		t.Fatalf("reached in the activation: %v, want exactly [1 3 7]", got)
	}
	// Same instant, later the same day, and the last instant of the day:
	// nothing new.
	for _, at := range []time.Time{now, now.Add(5 * time.Hour), time.Date(2026, 5, 9, 23, 59, 59, 0, loc)} {
		p.Advance(at)
		if evs := p.PopEvents(); len(evs) != 0 {
			t.Errorf("Advance(%v) recorded %v, want nothing", at, eventKinds(evs))
		}
	}
	// Day 14 pending, due local midnight 14 days after the start date.
	ms := p.Milestones(now)
	if !slices.Equal(days(ms), []int{1, 3, 7, 14, 21, 30, 45, 60, 90, 180, 365}) {
		t.Errorf("milestone days = %v", days(ms))
	}
	for _, m := range ms {
		wantStatus := plan.MilestonePending
		if m.Day <= 7 {
			wantStatus = plan.MilestoneReached
		}
		if m.Status != wantStatus {
			t.Errorf("day %d status %s, want %s", m.Day, m.Status, wantStatus)
		}
		wantKind := plan.KindLadder
		if m.Day == 365 {
			wantKind = plan.KindTarget
		}
		if m.Kind != wantKind {
			t.Errorf("day %d kind %s, want %s", m.Day, m.Kind, wantKind)
		}
	}
	m14, _ := milestoneByDay(ms, 14)
	if want := time.Date(2026, 5, 15, 0, 0, 0, 0, loc); m14.DueTime == nil || !m14.DueTime.Equal(want) {
		t.Errorf("day 14 due %v, want %v", m14.DueTime, want)
	}
	if next, ok := p.NextMilestone(now); !ok || next.Day != 14 {
		t.Errorf("next milestone = %+v, want day 14", next)
	}
	if p.NextDueTime == nil || !p.NextDueTime.Equal(*m14.DueTime) {
		t.Errorf("NextDueTime = %v, want day 14's due time", p.NextDueTime)
	}
	// Day 8 is not a milestone; day 14 comes at its midnight, once.
	p.Advance(m14.DueTime.Add(-time.Nanosecond))
	if n := len(p.PopEvents()); n != 0 {
		t.Errorf("a nanosecond before day 14: %d events", n)
	}
	p.Advance(*m14.DueTime)
	p.Advance(m14.DueTime.Add(time.Hour))
	if r := eventsOf(p.PopEvents(), plan.EventMilestoneReached); len(r) != 1 || r[0].Milestone.Day != 14 {
		t.Errorf("at day 14: %+v, want one milestone_reached for day 14", r)
	}
}

func TestMilestones_TargetCompletesAndExtendAddsMore(t *testing.T) {
	loc := mustLoc(t, "Europe/Paris")
	start := time.Date(2026, 2, 1, 20, 0, 0, 0, loc)
	params := baseParams("Europe/Paris", start)
	params.TargetDays = 21
	params.CustomMilestoneDays = []int{10, 7, 10, 50}
	p := newActive(t, params, start)

	ms := p.Milestones(start)
	// Custom day 50 lies past the target: it joins when an extension
	// reaches it, never while a completed plan records nothing.
	if !slices.Equal(days(ms), []int{1, 3, 7, 10, 14, 21}) {
		t.Fatalf("days = %v, want ladder below 21, custom 10, target 21", days(ms))
	}
	kinds := map[int]plan.MilestoneKind{1: plan.KindLadder, 3: plan.KindLadder, 7: plan.KindLadder, 10: plan.KindCustom,
		14: plan.KindLadder, 21: plan.KindTarget, 50: plan.KindCustom}
	for _, m := range ms {
		if m.Kind != kinds[m.Day] {
			t.Errorf("day %d kind %s, want %s", m.Day, m.Kind, kinds[m.Day])
		}
	}

	targetDay := time.Date(2026, 2, 22, 0, 0, 0, 0, loc)
	p.Advance(targetDay.Add(-time.Minute))
	if p.Status != plan.StatusActive {
		t.Fatalf("completed before the target day: %s", p.Status)
	}
	p.PopEvents()
	p.Advance(targetDay)
	evs := p.PopEvents()
	if p.Status != plan.StatusCompleted {
		t.Fatalf("status on the target day = %s, want completed", p.Status)
	}
	sc := eventsOf(evs, plan.EventStatusChanged)
	if len(sc) != 1 || sc[0].From != plan.StatusActive || sc[0].To != plan.StatusCompleted {
		t.Errorf("status_changed = %+v, want exactly one active→completed", sc)
	}
	if r := eventsOf(evs, plan.EventMilestoneReached); len(r) != 1 || r[0].Milestone.Day != 21 || r[0].Milestone.Kind != plan.KindTarget {
		t.Errorf("reached on the target day: %+v, want the target day 21", r)
	}
	p.Advance(targetDay.Add(time.Hour))
	if n := len(p.PopEvents()); n != 0 {
		t.Errorf("a second Advance on a completed plan recorded %d events", n)
	}

	// Extend to 60: 30, 45 (ladder), 50 (custom) and the 60 target appear.
	extendAt := targetDay.Add(10 * time.Hour)
	if err := p.Extend(60, extendAt); err != nil {
		t.Fatal(err)
	}
	ms = p.Milestones(extendAt)
	if !slices.Equal(days(ms), []int{1, 3, 7, 10, 14, 21, 30, 45, 50, 60}) {
		t.Errorf("after extend days = %v", days(ms))
	}
	for _, m := range ms {
		pending := m.Day > 21
		if pending != (m.Status == plan.MilestonePending) {
			t.Errorf("after extend day %d status %s", m.Day, m.Status)
		}
	}
	if m, _ := milestoneByDay(ms, 60); m.Kind != plan.KindTarget {
		t.Errorf("day 60 kind %s, want target", m.Kind)
	}
	if m, _ := milestoneByDay(ms, 21); m.Status != plan.MilestoneReached {
		t.Errorf("the old target stays reached: %+v", m)
	}
	if m, _ := milestoneByDay(ms, 50); m.Kind != plan.KindCustom {
		t.Errorf("day 50 kind %s, want custom", m.Kind)
	}
	if p.NextDueTime == nil || !p.NextDueTime.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, loc)) {
		t.Errorf("NextDueTime after extend = %v, want day 30 at 2026-03-03 00:00 local", p.NextDueTime)
	}
	if evs := p.PopEvents(); countKind(evs, plan.EventMilestoneReached) != 0 {
		t.Errorf("extend re-emitted milestones: %v", eventKinds(evs))
	}
}

func TestAcknowledgeMilestone(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, loc)
	now := time.Date(2026, 5, 5, 9, 0, 0, 0, loc)
	p := newActive(t, baseParams("Europe/Berlin", start), now)
	id3 := plan.MilestoneID("p1", start, 3)
	id7 := plan.MilestoneID("p1", start, 7)

	m, err := p.AcknowledgeMilestone(id3, now)
	if err != nil {
		t.Fatalf("ack a reached milestone: %v", err)
	}
	if m.Status != plan.MilestoneAcknowledged || m.AckTime == nil || !m.AckTime.Equal(now) || m.AttemptNumber != 1 {
		t.Errorf("acknowledged = %+v", m)
	}
	if a := eventsOf(p.PopEvents(), plan.EventMilestoneAcknowledged); len(a) != 1 || a[0].Milestone.ID != id3 {
		t.Errorf("acknowledged events = %+v, want one for day 3", a)
	}
	// A second acknowledgement changes nothing and sends nothing.
	later := now.Add(time.Hour)
	m, err = p.AcknowledgeMilestone(id3, later)
	if err != nil || m.AckTime == nil || !m.AckTime.Equal(now) {
		t.Errorf("second ack: %+v %v, want the first ack time kept", m, err)
	}
	if n := countKind(p.PopEvents(), plan.EventMilestoneAcknowledged); n != 0 {
		t.Errorf("second ack sent %d events", n)
	}
	if m3, _ := milestoneByDay(p.Milestones(later), 3); m3.Status != plan.MilestoneAcknowledged {
		t.Errorf("day 3 shows %s, want acknowledged", m3.Status)
	}

	if _, err := p.AcknowledgeMilestone(id7, now); !errors.Is(err, plan.ErrIllegalTransition) {
		t.Errorf("ack a pending milestone: err = %v, want ErrIllegalTransition", err)
	}
	if _, err := p.AcknowledgeMilestone("ms-p1-0-d3", now); !errors.Is(err, plan.ErrNotFound) {
		t.Errorf("ack an unknown milestone: err = %v, want ErrNotFound", err)
	}
	// Reached but not yet recorded by the scheduler: ack records it.
	at7 := time.Date(2026, 5, 8, 0, 30, 0, 0, loc)
	if _, err := p.AcknowledgeMilestone(id7, at7); err != nil {
		t.Errorf("ack day 7 after its midnight: %v", err)
	}
	evs := p.PopEvents()
	if countKind(evs, plan.EventMilestoneReached) != 1 || countKind(evs, plan.EventMilestoneAcknowledged) != 1 {
		t.Errorf("ack of a just-due milestone: events %v, want reached then acknowledged", eventKinds(evs))
	}
}

func TestMilestones_LateSlipSupersedesReachedOnes(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 5, 1+n, h, 0, 0, 0, loc) }
	start := day(0, 10)
	now := day(10, 12)
	p := newActive(t, baseParams("Europe/Berlin", start), now) // reaches 1, 3, 7

	// The client logs, late, a slip on day 5 (after day 3, before day 7).
	mustRecord(t, p, plan.ContactParams{ID: "slip", Direction: plan.Outbound, OccurredAt: day(5, 12)}, now)
	evs := p.PopEvents()
	sup := eventsOf(evs, plan.EventMilestoneSuperseded)
	if len(sup) != 1 || sup[0].Milestone.Day != 7 || sup[0].Milestone.ID != plan.MilestoneID("p1", start, 7) ||
		sup[0].Milestone.Status != plan.MilestoneSuperseded {
		t.Fatalf("superseded events = %+v, want exactly day 7 of the first attempt", sup)
	}
	// The new attempt (5 days) reaches its own days 1 and 3.
	var newDays []int
	for _, e := range eventsOf(evs, plan.EventMilestoneReached) {
		newDays = append(newDays, e.Milestone.Day)
		if e.Milestone.AttemptNumber != 2 || e.Milestone.ID != plan.MilestoneID("p1", day(5, 12), e.Milestone.Day) {
			t.Errorf("reached %+v, want a milestone of attempt 2", e.Milestone)
		}
	}
	if !slices.Equal(newDays, []int{1, 3}) {
		t.Errorf("new attempt reached %v, want [1 3]", newDays)
	}
	if countKind(evs, plan.EventAttemptEnded) != 1 || countKind(evs, plan.EventAttemptStarted) != 1 {
		t.Errorf("events %v, want one attempt_ended and one attempt_started", eventKinds(evs))
	}

	// History: 1 and 3 of attempt 1 still reached, 7 superseded.
	hist := p.MilestoneHistory(now)
	want := map[int]plan.MilestoneStatus{1: plan.MilestoneReached, 3: plan.MilestoneReached, 7: plan.MilestoneSuperseded}
	if len(hist) != 3 {
		t.Errorf("history = %+v, want days 1, 3, 7 of attempt 1", hist)
	}
	for _, m := range hist {
		if m.AttemptNumber != 1 || want[m.Day] != m.Status {
			t.Errorf("history entry %+v", m)
		}
	}
	// Never re-emitted: later calls record nothing about attempt 1's day 7.
	for _, at := range []time.Time{now, now.Add(time.Hour), day(12, 0), day(12, 1)} {
		p.Advance(at)
		for _, e := range p.PopEvents() {
			if e.Milestone != nil && e.Milestone.ID == plan.MilestoneID("p1", start, 7) {
				t.Errorf("Advance(%v) re-emitted %s for the superseded day 7", at, e.Kind)
			}
		}
	}
	if _, err := p.AcknowledgeMilestone(plan.MilestoneID("p1", start, 7), now); !errors.Is(err, plan.ErrIllegalTransition) {
		t.Errorf("ack a superseded milestone: err = %v, want ErrIllegalTransition", err)
	}
}

func TestMilestones_SlipOnTheDueInstantKeepsTheMilestone(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, loc)
	now := time.Date(2026, 5, 11, 12, 0, 0, 0, loc)
	p := newActive(t, baseParams("Europe/Berlin", start), now)
	due7 := time.Date(2026, 5, 8, 0, 0, 0, 0, loc)
	mustRecord(t, p, plan.ContactParams{ID: "slip", Direction: plan.Outbound, OccurredAt: due7}, now)
	if n := countKind(p.PopEvents(), plan.EventMilestoneSuperseded); n != 0 {
		t.Errorf("a slip at day 7's first instant superseded %d milestones; 7 full days were done", n)
	}
	if as := p.Attempts(now); as[0].Days != 7 {
		t.Errorf("first attempt days = %d, want 7", as[0].Days)
	}
}

// A slip logged late and then voided: the attempt is whole again and the
// milestones it had reached stand again (superseded is derived, not a
// verdict), without a second milestone_reached.
func TestMilestones_VoidedLateSlipRestoresMilestones(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 5, 1+n, h, 0, 0, 0, loc) }
	start, now := day(0, 10), day(10, 12)
	p := newActive(t, baseParams("Europe/Berlin", start), now)
	mustRecord(t, p, plan.ContactParams{ID: "oops", Direction: plan.Outbound, OccurredAt: day(5, 12)}, now)
	p.PopEvents()
	if _, err := p.VoidContact("oops", now); err != nil {
		t.Fatal(err)
	}
	evs := p.PopEvents()
	if n := countKind(evs, plan.EventMilestoneReached); n != 0 {
		t.Errorf("void re-emitted %d milestone_reached", n)
	}
	// The second attempt's milestones no longer stand.
	for _, e := range eventsOf(evs, plan.EventMilestoneSuperseded) {
		if e.Milestone.ID != plan.MilestoneID("p1", day(5, 12), e.Milestone.Day) {
			t.Errorf("void superseded %+v, want only milestones of the voided attempt", e.Milestone)
		}
	}
	if s := p.Streaks(now); s.Current != 10 {
		t.Fatalf("streak = %+v, want 10", s)
	}
	for _, m := range p.Milestones(now) {
		want := plan.MilestonePending
		if m.Day <= 7 {
			want = plan.MilestoneReached
		}
		if m.Status != want {
			t.Errorf("after void: day %d is %s on day 10 of an unbroken attempt, want %s", m.Day, m.Status, want)
		}
	}
	if _, err := p.AcknowledgeMilestone(plan.MilestoneID("p1", start, 7), now); err != nil {
		t.Errorf("ack day 7 after the void: %v", err)
	}
}
