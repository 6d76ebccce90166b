package app_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/erasure"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// erasureOf builds the erasure use cases over the replica's database and
// makes the replica's plan creation check them.
func (f *fixture) erasureOf(r *replica) *app.Erasure {
	e, _ := f.erasureAndStore(r)
	return e
}

func (f *fixture) erasureAndStore(r *replica) (*app.Erasure, *mongodb.ErasureStore) {
	r.erasureRelay = outbox.NewRelay(f.js, quiet, outbox.Options{Interval: time.Hour}, f.db.Collection(mongodb.CollErasures))
	store := mongodb.NewErasureStore(f.db.Collection(mongodb.CollErasures), nil)
	data := mongodb.NewClientData(f.db)
	r.plans.WithErasures(store, data)
	r.care.WithErasures(store, data)
	return app.NewErasure(store, data, nil, r.accessApp, f.clk), store
}

func (f *fixture) count(t *testing.T, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := f.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func kindOf(err error) apperr.Kind { k, _ := apperr.KindOf(err); return k }

// Who may ask: the client about themself, an admin with the client's
// recorded request (its support ticket); an admin without one, a
// counsellor and another client are refused, and each refusal is in the
// client's access log.
func TestErasureWhoMayAsk(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC))
	e := f.erasureOf(f.replica())
	refused := []app.Caller{
		{ID: "admin-1", Role: auth.RoleAdmin},
		{ID: "counsellor-1", Role: auth.RoleCounsellor},
		{ID: "client-2", Role: auth.RoleClient},
	}
	for _, c := range refused {
		if _, err := e.Request(ctx, c, client.ID, ""); kindOf(err) != apperr.KindPermissionDenied {
			t.Fatalf("%s (%s) asked: %v, want PermissionDenied", c.ID, c.Role, err)
		}
	}
	if _, err := e.Request(ctx, app.Caller{ID: "counsellor-1", Role: auth.RoleCounsellor}, client.ID, "ZD-7"); kindOf(err) != apperr.KindPermissionDenied {
		t.Fatalf("a counsellor with a ticket: %v, want PermissionDenied", err)
	}
	if _, err := e.Get(ctx, app.Caller{ID: "counsellor-1", Role: auth.RoleCounsellor}, client.ID); kindOf(err) != apperr.KindPermissionDenied {
		t.Fatalf("a counsellor read the erasure: %v", err)
	}
	if n := f.count(t, mongodb.CollErasures, bson.D{}); n != 0 {
		t.Fatalf("refused requests stored %d erasures", n)
	}
	admin := app.Caller{ID: "admin-1", Role: auth.RoleAdmin}
	r, err := e.Request(ctx, admin, client.ID, "ZD-7")
	if err != nil || r.SupportTicket != "ZD-7" || r.RequestedBy != "admin-1" {
		t.Fatalf("an admin with the ticket: %+v, %v", r, err)
	}
	denied := f.count(t, mongodb.CollAccessLog, bson.D{{Key: "client_id", Value: client.ID}, {Key: "outcome", Value: care.OutcomeDenied}})
	allowed := f.count(t, mongodb.CollAccessLog, bson.D{{Key: "client_id", Value: client.ID}, {Key: "action", Value: "RequestErasure"}, {Key: "outcome", Value: care.OutcomeAllowed}})
	if denied != 5 || allowed != 1 {
		t.Fatalf("access log: %d denied, %d allowed erasure requests; want 5 and 1", denied, allowed)
	}
}

// The plans part of an erasure deletes every plan, contact, assignment,
// consent and review of the client and nothing of another; two requests
// give one erasure and one event; confirmations are kept once, in any
// order; the erasure completes when all three services have confirmed.
func TestErasureDeletesOneClientsPlansData(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	e := f.erasureOf(r)
	other := app.Caller{ID: "client-2", Role: auth.RoleClient}
	admin := app.Caller{ID: "admin-1", Role: auth.RoleAdmin}
	for _, c := range []app.Caller{client, other} {
		v, err := r.plans.Create(ctx, c, plan.NewPlanParams{TimeZone: "Europe/Berlin", StartTime: t0.Add(-72 * time.Hour), Reasons: []string{"peace"}}, app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.plans.Move(ctx, c, v.Plan.ID, app.Activate, "", 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.plans.RecordContact(ctx, c, v.Plan.ID, plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-time.Hour)}, app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.care.CreateAssignment(ctx, admin, c.ID, "counsellor-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.care.SetConsent(ctx, c, c.ID, care.ScopePlanProgress, true); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.Request(ctx, client, client.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	second, err := e.Request(ctx, client, client.ID, "")
	if err != nil || second.ID != first.ID || !second.RequestTime.Equal(first.RequestTime) {
		t.Fatalf("second request = %+v, %v; want the first", second, err)
	}
	if _, err := r.erasureRelay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t, app.SubjectErasureRequested)); n != 1 {
		t.Fatalf("%d erasure events, want 1", n)
	}
	if err := e.EraseHere(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.EraseHere(ctx, client.ID); err != nil { // a redelivery
		t.Fatal(err)
	}
	for _, coll := range []string{mongodb.CollPlans, mongodb.CollAssignments, mongodb.CollReviews} {
		if n := f.count(t, coll, bson.D{{Key: "client_id", Value: client.ID}}); n != 0 {
			t.Errorf("%d %s of the erased client remain", n, coll)
		}
		if coll != mongodb.CollReviews && f.count(t, coll, bson.D{{Key: "client_id", Value: other.ID}}) == 0 {
			t.Errorf("the other client lost their %s", coll)
		}
	}
	if n := f.count(t, mongodb.CollConsents, bson.D{{Key: "_id", Value: client.ID}}); n != 0 {
		t.Errorf("the erased client's consents remain")
	}
	if f.count(t, mongodb.CollContacts, bson.D{}) != 1 {
		t.Errorf("contacts: want only the other client's one left")
	}

	got, err := e.Get(ctx, client, client.ID)
	if err != nil || !got.Confirmed[erasure.ServicePlans].Equal(t0.Add(time.Minute)) || got.Complete() {
		t.Fatalf("after the plans part: %+v, %v", got, err)
	}
	t1 := t0.Add(time.Hour)
	for _, c := range []struct {
		service string
		at      time.Time
	}{{erasure.ServiceNotify, t1}, {erasure.ServiceJournal, t1.Add(time.Minute)}, {erasure.ServiceNotify, t1.Add(time.Hour)}} {
		if err := e.Confirm(ctx, client.ID, c.service, c.at); err != nil {
			t.Fatal(err)
		}
	}
	got, err = e.Get(ctx, admin, client.ID)
	if err != nil || !got.Complete() || !got.Confirmed[erasure.ServiceNotify].Equal(t1) || !got.CompleteTime().Equal(t1.Add(time.Minute)) {
		t.Fatalf("after every confirmation (notify's twice): %+v, %v", got, err)
	}

	// The id is retired: a new plan is refused.
	_, err = r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin"}, app.RequestKey{})
	if kindOf(err) != apperr.KindFailedPrecondition {
		t.Fatalf("a plan for the erased client: %v, want FailedPrecondition", err)
	}
	if _, err := r.care.CreateAssignment(ctx, admin, client.ID, "counsellor-2"); kindOf(err) != apperr.KindFailedPrecondition {
		t.Fatalf("an assignment to the erased client: %v, want FailedPrecondition", err)
	}
	if _, err := r.care.SetConsent(ctx, client, client.ID, care.ScopeRiskAlerts, true); kindOf(err) != apperr.KindFailedPrecondition {
		t.Fatalf("a consent of the erased client: %v, want FailedPrecondition", err)
	}
	if n := f.count(t, mongodb.CollAssignments, bson.D{{Key: "client_id", Value: client.ID}}) + f.count(t, mongodb.CollConsents, bson.D{{Key: "_id", Value: client.ID}}); n != 0 {
		t.Fatalf("%d care documents were created for the erased client", n)
	}
}

// A plan whose creation checked for an erasure before the client asked,
// and inserted after the plans part had already deleted everything, is
// deleted again: the losing interleaving, forced with a hook between the
// check and the insert.
func TestPlanCreatedDuringTheErasureIsUndone(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	e := f.erasureOf(r)
	r.plans.WithHooks(app.PlanHooks{AfterCheck: func() {
		if _, err := e.Request(ctx, client, client.ID, ""); err != nil {
			t.Error(err)
		}
		if err := e.EraseHere(ctx, client.ID); err != nil {
			t.Error(err)
		}
	}})
	_, err := r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin", Reasons: []string{"peace"}}, app.RequestKey{})
	if kindOf(err) != apperr.KindFailedPrecondition {
		t.Fatalf("the racing create answered %v, want FailedPrecondition", err)
	}
	if n := f.count(t, mongodb.CollPlans, bson.D{{Key: "client_id", Value: client.ID}}); n != 0 {
		t.Fatalf("%d plans of the erased client survived the race", n)
	}
	if _, err := e.Get(ctx, client, "nobody"); kindOf(err) != apperr.KindPermissionDenied {
		t.Fatalf("another id's erasure: %v", err)
	}
}

// A request that a service has not confirmed within the resend period is
// published again (a new message id, the same erasure), until every
// service has confirmed; the confirmations already made are kept.
func TestAnUnconfirmedErasureIsSentAgain(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	e := f.erasureOf(r)
	if _, err := e.Request(ctx, client, client.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.EraseHere(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Confirm(ctx, client.ID, erasure.ServiceNotify, t0); err != nil {
		t.Fatal(err)
	}
	resend := func(want int) {
		t.Helper()
		n, err := e.ResendUnconfirmed(ctx, time.Hour)
		if err != nil || n != want {
			t.Fatalf("resent %d (%v), want %d", n, err, want)
		}
		if _, err := r.erasureRelay.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	resend(0) // not due yet
	f.clk.Advance(2 * time.Hour)
	resend(1) // the journal never confirmed
	resend(0) // sent just now
	sent := f.events(t, app.SubjectErasureRequested)
	if len(sent) != 2 || sent[0].GetEventId() == sent[1].GetEventId() || sent[1].GetErasureRequested().GetErasureId() != sent[0].GetErasureRequested().GetErasureId() {
		t.Fatalf("published %v, want the request twice under two message ids", sent)
	}
	if err := e.Confirm(ctx, client.ID, erasure.ServiceJournal, f.clk.Now()); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Hour)
	resend(0) // complete
	got, err := e.Get(ctx, client, client.ID)
	if err != nil || !got.Complete() || !got.Confirmed[erasure.ServiceNotify].Equal(t0) || got.Sends != 2 {
		t.Fatalf("after the resend: %+v, %v", got, err)
	}
}

// A confirmation that lands between a resend's read and its write is not
// written away: the confirmation bumps the version, the resend reads
// again, finds the erasure complete and sends nothing. The interleaving is
// forced from inside the resend's read-modify-write.
func TestAConfirmationDuringAResendIsKept(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	e, store := f.erasureAndStore(f.replica())
	if _, err := e.Request(ctx, client, client.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{erasure.ServicePlans, erasure.ServiceNotify} {
		if err := e.Confirm(ctx, client.ID, svc, t0); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	sent, err := store.Resend(ctx, client.ID, t0.Add(time.Hour), func(r erasure.Request) (outbox.Message, error) {
		calls++
		if calls == 1 { // between the read and the write
			if err := store.Confirm(ctx, client.ID, erasure.ServiceJournal, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		return outbox.Message{ID: r.EventID(r.Sends), Subject: app.SubjectErasureRequested, Data: []byte{1}, CreateTime: t0}, nil
	})
	if err != nil || sent {
		t.Fatalf("resend = %v, %v; want nothing sent once complete", sent, err)
	}
	got, err := store.Get(ctx, client.ID)
	if err != nil || !got.Complete() || !got.Confirmed[erasure.ServiceJournal].Equal(t0.Add(time.Minute)) {
		t.Fatalf("after the race: %+v, %v; want the journal's confirmation kept", got, err)
	}
}
