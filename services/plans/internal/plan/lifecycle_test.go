package plan_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nocontact/backend/services/plans/internal/plan"
)

// lifecycleFixture: a plan in Berlin with target 7, started on 2026-04-01 at
// 10:00; "now" for moves is 2026-04-03 12:00 (day 2).
type lifecycleFixture struct {
	loc        *time.Location
	start, now time.Time
}

func newLifecycleFixture(t testing.TB) lifecycleFixture {
	loc := mustLoc(t, "Europe/Berlin")
	return lifecycleFixture{loc: loc,
		start: time.Date(2026, 4, 1, 10, 0, 0, 0, loc),
		now:   time.Date(2026, 4, 3, 12, 0, 0, 0, loc)}
}

func (f lifecycleFixture) in(t testing.TB, st plan.Status) *plan.Plan {
	t.Helper()
	params := baseParams("Europe/Berlin", f.start)
	params.TargetDays = 7
	p := newDraft(t, params, f.start)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("setting up a %s plan: %v", st, err)
		}
	}
	switch st {
	case plan.StatusDraft:
	case plan.StatusCancelled:
		must(p.Cancel(f.start))
	default:
		must(p.Activate(f.start))
		switch st {
		case plan.StatusActive:
		case plan.StatusPaused:
			must(p.Pause("funeral", f.start.Add(time.Hour)))
		case plan.StatusEnded:
			must(p.End("not for me", f.start.Add(time.Hour)))
		case plan.StatusCompleted, plan.StatusClosed:
			p.Advance(f.start.AddDate(0, 0, 7))
			if p.Status != plan.StatusCompleted {
				t.Fatalf("plan did not complete on its target day: %s", p.Status)
			}
			if st == plan.StatusClosed {
				must(p.Close(f.start.AddDate(0, 0, 7)))
			}
		}
	}
	if p.Status != st {
		t.Fatalf("set-up status = %s, want %s", p.Status, st)
	}
	p.PopEvents()
	return p
}

func TestLifecycle_LegalMoves(t *testing.T) {
	f := newLifecycleFixture(t)
	target := f.start.AddDate(0, 0, 7) // local midnight is earlier; 10:00 on day 7 is surely the target day
	cases := []struct {
		name  string
		from  plan.Status
		move  func(p *plan.Plan) error
		to    plan.Status
		check func(t *testing.T, p *plan.Plan, evs []plan.Event)
	}{
		{"activate a draft", plan.StatusDraft, func(p *plan.Plan) error { return p.Activate(f.now) }, plan.StatusActive,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if p.ActivateTime == nil || !p.ActivateTime.Equal(f.now) {
					t.Errorf("ActivateTime = %v, want %v", p.ActivateTime, f.now)
				}
				if p.CurrentStreakDays(f.now) != 2 {
					t.Errorf("a back-dated plan counts from its start: got %d days, want 2", p.CurrentStreakDays(f.now))
				}
				if p.NextDueTime == nil {
					t.Errorf("active plan has no next due time")
				}
			}},
		{"cancel a draft", plan.StatusDraft, func(p *plan.Plan) error { return p.Cancel(f.now) }, plan.StatusCancelled,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if len(p.Attempts(f.now)) != 0 {
					t.Errorf("a cancelled draft has attempts")
				}
			}},
		{"pause an active plan", plan.StatusActive, func(p *plan.Plan) error { return p.Pause("funeral", f.now) }, plan.StatusPaused,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if p.PauseReason != "funeral" || len(p.Pauses) != 1 || p.Pauses[0].End != nil {
					t.Errorf("pause not recorded: reason %q pauses %+v", p.PauseReason, p.Pauses)
				}
				if p.NextDueTime != nil {
					t.Errorf("a paused plan is due at %v, want nothing due", p.NextDueTime)
				}
			}},
		{"resume a paused plan", plan.StatusPaused, func(p *plan.Plan) error { return p.Resume(f.now) }, plan.StatusActive,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if len(p.Pauses) != 1 || p.Pauses[0].End == nil || !p.Pauses[0].End.Equal(f.now) || p.PauseReason != "" {
					t.Errorf("pause not closed: %+v reason %q", p.Pauses, p.PauseReason)
				}
				if p.NextDueTime == nil {
					t.Errorf("a resumed plan has no next due time")
				}
			}},
		{"end an active plan with a reason", plan.StatusActive, func(p *plan.Plan) error { return p.End("not helping", f.now) }, plan.StatusEnded,
			func(t *testing.T, p *plan.Plan, evs []plan.Event) {
				if p.EndReason != "not helping" || p.EndTime == nil {
					t.Errorf("EndReason %q EndTime %v", p.EndReason, p.EndTime)
				}
				ended := eventsOf(evs, plan.EventAttemptEnded)
				if len(ended) != 1 || ended[0].Attempt.EndReason != plan.EndPlanEnded || ended[0].Attempt.Days != 2 {
					t.Errorf("attempt_ended = %+v, want the running attempt ended by the plan after 2 days", ended)
				}
				if p.NextDueTime != nil {
					t.Errorf("ended plan still due at %v", p.NextDueTime)
				}
			}},
		{"end a paused plan with a reason", plan.StatusPaused, func(p *plan.Plan) error { return p.End("not helping", f.now) }, plan.StatusEnded,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if n := len(p.Pauses); n != 1 || p.Pauses[0].End == nil {
					t.Errorf("ending a paused plan left the pause open: %+v", p.Pauses)
				}
			}},
		{"complete via Advance on the target day", plan.StatusActive, func(p *plan.Plan) error { p.Advance(target); return nil }, plan.StatusCompleted,
			func(t *testing.T, p *plan.Plan, evs []plan.Event) {
				if n := countKind(evs, plan.EventStatusChanged); n != 1 {
					t.Errorf("%d status_changed events, want 1", n)
				}
				if p.NextDueTime != nil {
					t.Errorf("completed plan still due at %v", p.NextDueTime)
				}
				if p.CurrentStreakDays(target.AddDate(0, 0, 3)) != 10 {
					t.Errorf("a completed plan keeps counting: got %d, want 10", p.CurrentStreakDays(target.AddDate(0, 0, 3)))
				}
			}},
		{"extend a completed plan to a larger target", plan.StatusCompleted, func(p *plan.Plan) error { return p.Extend(14, target) }, plan.StatusActive,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if p.TargetDays != 14 {
					t.Errorf("TargetDays = %d, want 14", p.TargetDays)
				}
				if as := p.Attempts(target); len(as) != 1 || as[0].End != nil {
					t.Errorf("extension must carry on the same attempt: %+v", as)
				}
			}},
		{"close a completed plan", plan.StatusCompleted, func(p *plan.Plan) error { return p.Close(target) }, plan.StatusClosed,
			func(t *testing.T, p *plan.Plan, _ []plan.Event) {
				if p.EndTime == nil || p.CurrentStreakDays(target.AddDate(0, 0, 5)) != 0 {
					t.Errorf("closed plan still counting")
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.in(t, tc.from)
			if err := tc.move(p); err != nil {
				t.Fatalf("move: %v", err)
			}
			if p.Status != tc.to {
				t.Fatalf("status = %s, want %s", p.Status, tc.to)
			}
			evs := p.PopEvents()
			sc := eventsOf(evs, plan.EventStatusChanged)
			if len(sc) == 0 || sc[len(sc)-1].From != tc.from || sc[len(sc)-1].To != tc.to {
				t.Errorf("status_changed events = %+v, want %s→%s", sc, tc.from, tc.to)
			}
			tc.check(t, p, evs)
		})
	}
}

func TestLifecycle_IllegalMoves(t *testing.T) {
	f := newLifecycleFixture(t)
	moves := map[string]func(p *plan.Plan) error{
		"activate": func(p *plan.Plan) error { return p.Activate(f.now) },
		"pause":    func(p *plan.Plan) error { return p.Pause("x", f.now) },
		"resume":   func(p *plan.Plan) error { return p.Resume(f.now) },
		"end":      func(p *plan.Plan) error { return p.End("a reason", f.now) },
		"extend":   func(p *plan.Plan) error { return p.Extend(30, f.now) },
		"close":    func(p *plan.Plan) error { return p.Close(f.now) },
		"cancel":   func(p *plan.Plan) error { return p.Cancel(f.now) },
	}
	cases := []struct {
		from plan.Status
		move string
	}{
		{plan.StatusActive, "activate"}, {plan.StatusActive, "resume"}, {plan.StatusActive, "extend"},
		{plan.StatusActive, "close"}, {plan.StatusActive, "cancel"},
		{plan.StatusDraft, "pause"}, {plan.StatusDraft, "end"}, {plan.StatusDraft, "resume"},
		{plan.StatusDraft, "extend"}, {plan.StatusDraft, "close"},
		{plan.StatusPaused, "pause"}, {plan.StatusPaused, "activate"}, {plan.StatusPaused, "extend"},
		{plan.StatusPaused, "close"}, {plan.StatusPaused, "cancel"},
		{plan.StatusCompleted, "activate"}, {plan.StatusCompleted, "pause"}, {plan.StatusCompleted, "resume"},
		{plan.StatusCompleted, "end"}, {plan.StatusCompleted, "cancel"},
		{plan.StatusEnded, "activate"}, {plan.StatusEnded, "resume"}, {plan.StatusEnded, "end"}, {plan.StatusEnded, "extend"},
		{plan.StatusCancelled, "activate"}, {plan.StatusCancelled, "cancel"},
		{plan.StatusClosed, "close"}, {plan.StatusClosed, "extend"}, {plan.StatusClosed, "activate"},
	}
	for _, tc := range cases {
		t.Run(tc.move+" a "+string(tc.from)+" plan", func(t *testing.T) {
			p := f.in(t, tc.from)
			err := moves[tc.move](p)
			if !errors.Is(err, plan.ErrIllegalTransition) {
				t.Fatalf("err = %v, want ErrIllegalTransition", err)
			}
			if p.Status != tc.from {
				t.Errorf("status changed to %s by a refused move", p.Status)
			}
			if evs := p.PopEvents(); len(evs) != 0 {
				t.Errorf("a refused move recorded %v", eventKinds(evs))
			}
		})
	}
}

func TestLifecycle_InvalidArguments(t *testing.T) {
	f := newLifecycleFixture(t)
	target := f.start.AddDate(0, 0, 7)
	cases := []struct {
		name  string
		from  plan.Status
		move  func(p *plan.Plan) error
		field string
	}{
		{"end without a reason", plan.StatusActive, func(p *plan.Plan) error { return p.End("", f.now) }, "reason"},
		{"end with a blank reason", plan.StatusPaused, func(p *plan.Plan) error { return p.End("   ", f.now) }, "reason"},
		{"extend to the same target", plan.StatusCompleted, func(p *plan.Plan) error { return p.Extend(7, target) }, "target_days"},
		{"extend to a smaller target", plan.StatusCompleted, func(p *plan.Plan) error { return p.Extend(3, target) }, "target_days"},
		{"extend beyond 365", plan.StatusCompleted, func(p *plan.Plan) error { return p.Extend(366, target) }, "target_days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.in(t, tc.from)
			err := tc.move(p)
			if !errors.Is(err, plan.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			wantFields(t, err, tc.field)
			if p.Status != tc.from || len(p.PopEvents()) != 0 {
				t.Errorf("an invalid move changed the plan: status %s", p.Status)
			}
		})
	}
}

func TestPause_FreezesTheCount(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(n, h int) time.Time { return time.Date(2026, 1, 1+n, h, 0, 0, 0, loc) }
	p := newActive(t, baseParams("Europe/Berlin", day(0, 10)), day(0, 10))
	p.Advance(day(4, 11))
	if err := p.Pause("funeral", day(4, 12)); err != nil {
		t.Fatal(err)
	}
	// A slip while paused is recorded but ends no attempt.
	ct := mustRecord(t, p, plan.ContactParams{ID: "funeral", Direction: plan.Encounter, Channel: plan.ChannelInPerson,
		Response: plan.ResponseEngaged, OccurredAt: day(5, 14)}, day(5, 15))
	if ct.Classification != plan.Slip {
		t.Errorf("classification = %s, want slip", ct.Classification)
	}
	evs := p.PopEvents()
	if rec := eventsOf(evs, plan.EventContactRecorded); len(rec) != 1 || rec[0].EndedAttempt {
		t.Errorf("contact_recorded = %+v, want EndedAttempt=false during a pause", rec)
	}
	if countKind(evs, plan.EventAttemptEnded) != 0 {
		t.Errorf("a slip during a pause ended the attempt: %v", eventKinds(evs))
	}
	for _, now := range []time.Time{day(4, 13), day(5, 15), day(6, 23), day(7, 11)} {
		if got := p.CurrentStreakDays(now); got != 4 {
			t.Errorf("paused since day 4, at %v: streak = %d, want frozen at 4", now, got)
		}
	}
	if next, ok := p.NextMilestone(day(6, 12)); !ok || next.DueTime != nil {
		t.Errorf("while paused the next milestone has no due time, got %+v", next)
	}
	if err := p.Resume(day(7, 12)); err != nil {
		t.Fatal(err)
	}
	now := day(10, 12)
	as := p.Attempts(now)
	if len(as) != 1 || as[0].End != nil {
		t.Errorf("attempts = %+v, want one running attempt", as)
	}
	if got := p.CurrentStreakDays(now); got != 10-3 {
		t.Errorf("after a 3-day pause: streak = %d, want 7 (10 calendar days − 3 paused)", got)
	}
	// Milestones move on by the 3 paused days and stay at local midnight.
	for _, want := range []struct{ day, localDay int }{{7, 1 + 7 + 3}, {14, 1 + 14 + 3}, {21, 1 + 21 + 3}} {
		m, ok := milestoneByDay(p.Milestones(day(7, 12)), want.day)
		wantDue := time.Date(2026, 1, want.localDay, 0, 0, 0, 0, loc)
		if !ok || m.DueTime == nil || !m.DueTime.Equal(wantDue) {
			t.Errorf("milestone day %d due %v, want %v", want.day, m.DueTime, wantDue)
		}
	}
	if p.NextDueTime == nil || !p.NextDueTime.Equal(time.Date(2026, 1, 11, 0, 0, 0, 0, loc)) {
		t.Errorf("NextDueTime = %v, want day 7 at 2026-01-11 00:00 local", p.NextDueTime)
	}
	// Day 7 is reached at the shifted local midnight, not before.
	p.PopEvents()
	p.Advance(time.Date(2026, 1, 10, 23, 59, 0, 0, loc))
	if n := countKind(p.PopEvents(), plan.EventMilestoneReached); n != 0 {
		t.Errorf("day 7 reached before its shifted due time")
	}
	p.Advance(time.Date(2026, 1, 11, 0, 0, 0, 0, loc))
	if r := eventsOf(p.PopEvents(), plan.EventMilestoneReached); len(r) != 1 || r[0].Milestone.Day != 7 {
		t.Errorf("at the shifted midnight: reached %+v, want day 7", r)
	}
}
