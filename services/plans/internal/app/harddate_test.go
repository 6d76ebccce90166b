package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

const hardLabel = "the day we met"

// rawEvents reads the raw bytes of every event on the PLANS stream.
func (f *fixture) rawEvents(t *testing.T) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := f.js.OrderedConsumer(ctx, "PLANS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := uint64(0); i < info.NumPending; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg.Data())
	}
	return out
}

func flushAll(t *testing.T, rs ...*replica) {
	t.Helper()
	for _, r := range rs {
		if _, err := r.relay.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// The note about a hard date is due at 09:00 local the day before: not a
// minute earlier, once even when two replicas advance the plan in the
// losing interleaving (the second writes between the first's read and its
// write), never with the client's label, and again the next year.
func TestHardDateUpcomingOnceWithTwoReplicasAndAgainNextYear(t *testing.T) {
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	t0 := time.Date(2026, 9, 10, 12, 0, 0, 0, berlin)
	f := newFixture(t, t0)

	var other *replica
	interleave, otherChanged := false, false
	first := f.replicaWith(mongodb.Hooks{BeforePlanWrite: func() {
		if interleave {
			interleave = false
			changed, _, err := other.plans.AdvancePlan(ctx, planIDForHook)
			if err != nil {
				t.Errorf("the other replica's advance: %v", err)
			}
			otherChanged = changed
		}
	}})
	other = f.replica()

	v, err := first.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin", StartTime: t0, TargetDays: 365,
		Reasons: []string{"peace"}, HardDates: []plan.HardDate{{ID: "met", Label: hardLabel, Month: 9, Day: 14}}}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Plan.ID
	planIDForHook = id
	if _, err := first.plans.Move(ctx, client, id, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}

	noteAt := time.Date(2026, 9, 13, 9, 0, 0, 0, berlin)
	f.clk.Set(noteAt.Add(-time.Minute))
	for _, r := range []*replica{first, other} {
		if _, err := r.sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flushAll(t, first, other)
	if n := len(f.events(t, "plans.hard_date.upcoming")); n != 0 {
		t.Fatalf("hard date events at 08:59 the day before = %d, want 0", n)
	}
	stored, _, err := first.store.Get(ctx, id)
	if err != nil || stored.NextDueTime == nil || !stored.NextDueTime.Equal(noteAt) {
		t.Fatalf("next due time = %v (%v), want %v: the scheduler must claim the plan for the note", stored.NextDueTime, err, noteAt)
	}

	f.clk.Set(noteAt)
	claimed, ok, err := first.plans.ClaimDue(ctx, f.clk.Now(), time.Minute)
	if err != nil || !ok || claimed != id {
		t.Fatalf("claim at 09:00 = %q %v %v, want the plan", claimed, ok, err)
	}
	interleave = true
	firstChanged, _, err := first.plans.AdvancePlan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if interleave {
		t.Fatal("the hook did not run: the interleaving was not tested")
	}
	// The other replica's write landed first; the first, retried on the
	// fresh plan, finds the note recorded (JetStream's de-duplication of
	// the event id is a second line, not the one this checks).
	if !otherChanged || firstChanged {
		t.Fatalf("changed: other %v, first %v; want only the other replica to record the note", otherChanged, firstChanged)
	}
	for _, r := range []*replica{first, other} {
		if _, err := r.sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flushAll(t, first, other)
	got := f.events(t, "plans.hard_date.upcoming")
	if len(got) != 1 {
		t.Fatalf("hard date events = %d, want exactly 1", len(got))
	}
	e := got[0]
	hd := e.GetHardDateUpcoming()
	if hd.GetPlanId() != id || hd.GetHardDateId() != "met" || hd.GetDate() != "2026-09-14" ||
		e.GetEventId() != plan.HardDateNoteID(id, "met", mustDate(t, first, id, "2026-09-14")) ||
		e.GetLocalDate() != "2026-09-13" || e.GetTimeZone() != "Europe/Berlin" || e.GetClientId() != client.ID {
		t.Fatalf("event = %v", e)
	}
	for _, raw := range f.rawEvents(t) {
		if strings.Contains(string(raw), hardLabel) {
			t.Fatalf("an event carries the client's label: %q", raw)
		}
	}

	// A slip in the spring starts a new attempt: the plan is still active
	// a year on, and the note comes again.
	f.clk.Set(time.Date(2027, 3, 1, 12, 0, 0, 0, berlin))
	if _, _, err := first.plans.RecordContact(ctx, client, id, plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText,
		Response: plan.ResponseEngaged, OccurredAt: f.clk.Now().Add(-time.Hour)}, app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(time.Date(2027, 9, 13, 9, 0, 0, 0, berlin))
	for _, r := range []*replica{other, first} {
		if _, err := r.sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flushAll(t, first, other)
	got = f.events(t, "plans.hard_date.upcoming")
	if len(got) != 2 || got[1].GetHardDateUpcoming().GetDate() != "2027-09-14" {
		t.Fatalf("hard date events after a year = %v, want a second one for 2027-09-14", got)
	}
}

// planIDForHook is the plan the interleaving hook advances.
var planIDForHook string

func mustDate(t *testing.T, r *replica, id, want string) plan.Date {
	t.Helper()
	p, _, err := r.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	d, _, ok := plan.NextHardDate(&p, time.Date(2026, 9, 13, 12, 0, 0, 0, time.UTC))
	if !ok || d.String() != want {
		t.Fatalf("next hard date = %s %v, want %s", d, ok, want)
	}
	return d
}

// An invalid hard date is refused with the field named as the request
// names it; an update through the mask changes the list.
func TestHardDatesThroughCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 9, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	_, err := r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin", HardDates: []plan.HardDate{
		{Label: "ok", Month: 1, Day: 1}, {Label: "no such day", Month: 2, Day: 30}}}, app.RequestKey{})
	if got := violated(err); len(got) != 1 || got[0] != "plan.hard_dates[1].day" {
		t.Fatalf("create with Feb 30 = %v (%v), want plan.hard_dates[1].day", got, err)
	}
	v, err := r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin"}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := r.plans.Update(ctx, client, v.Plan.ID, plan.Patch{Fields: []string{"hard_dates"}, NewPlanParams: plan.NewPlanParams{
		HardDates: []plan.HardDate{{Label: "leap day", Month: 2, Day: 29}}}})
	if err != nil || len(u.Plan.HardDates) != 1 || u.Plan.HardDates[0].Label != "leap day" || u.Plan.HardDates[0].ID == "" {
		t.Fatalf("update = %+v, %v", u.Plan.HardDates, err)
	}
}

func violated(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, v := range ae.Violations() {
		out = append(out, v.Field)
	}
	return out
}
