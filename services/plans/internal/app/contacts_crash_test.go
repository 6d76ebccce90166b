package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// A write of the plan that logs a contact commits it (pending) with the
// plan, then copies it into the contacts collection. These tests stop a
// replica between the two, as a crash would, and check that whoever comes
// next, on another replica, sees the contact exactly once.

var errCrash = errors.New("the process died before copying the contacts")

// crashing is a replica whose plan writes stop after the plan is stored,
// before its contacts are copied.
func (f *fixture) crashing() *replica {
	return f.replicaWith(mongodb.Hooks{AfterPlanWrite: func() error { return errCrash }})
}

// crashAfterSlip logs a slip two days ago on a crashing replica and returns
// the id of the contact it left pending in the plan.
func crashAfterSlip(t *testing.T, f *fixture, id string, key app.RequestKey) string {
	t.Helper()
	slip := plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: f.clk.Now().Add(-48 * time.Hour)}
	if _, _, err := f.crashing().plans.RecordContact(context.Background(), client, id, slip, key); !errors.Is(err, errCrash) {
		t.Fatalf("record on the crashing replica = %v, want the crash", err)
	}
	pending, copied := f.contactState(t, id)
	if len(pending) != 1 || copied != 0 {
		t.Fatalf("after the crash: %d contacts pending in the plan, %d in the contacts collection; want 1 and 0", len(pending), copied)
	}
	return pending[0].ID
}

// contactState is what the database holds of a plan's log: the contacts
// pending in the plan document and the number in the contacts collection.
func (f *fixture) contactState(t *testing.T, id string) ([]plan.Contact, int64) {
	t.Helper()
	ctx := context.Background()
	raw, _, err := docstore.New[plan.Plan](f.db.Collection(mongodb.CollPlans), nil).Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.db.Collection(mongodb.CollContacts).CountDocuments(ctx, bson.D{{Key: "plan_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return raw.PendingContacts, n
}

// seenOnce checks what a client sees of the plan: its log holds exactly the
// contact want, its progress counts it once, as a slip that ended the first
// attempt.
func seenOnce(t *testing.T, r *replica, id, want string) {
	t.Helper()
	ctx := context.Background()
	list, _, _, err := r.plans.ListContacts(ctx, client, id, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != want || list[0].Seq != 1 {
		t.Fatalf("contact log = %+v, want only contact %s (seq 1)", list, want)
	}
	v, err := r.plans.Get(ctx, client, id, "GetPlanProgress")
	if err != nil {
		t.Fatal(err)
	}
	pr := v.Plan.Progress(v.Now)
	if v.Plan.ContactCount != 1 || len(pr.Attempts) != 2 || pr.Attempts[0].SlipContactID != want || pr.Streaks.Current != 2 {
		t.Fatalf("progress: %d contacts, attempts %+v, streak %d; want 1 contact, 2 attempts (the first ended by %s), streak 2",
			v.Plan.ContactCount, pr.Attempts, pr.Streaks.Current, want)
	}
}

// The next read after the crash, whichever it is, copies the contact and
// shows it once; afterwards nothing is pending.
func TestContactLeftPendingByACrashIsReadOnce(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	for _, first := range []string{"ListContacts", "GetPlanProgress"} {
		t.Run(first, func(t *testing.T) {
			other := f.replica()
			id := createActive(t, other, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30)
			ct := crashAfterSlip(t, f, id, app.RequestKey{})
			var err error
			if first == "ListContacts" {
				_, _, _, err = other.plans.ListContacts(ctx, client, id, 0, "")
			} else {
				_, err = other.plans.Get(ctx, client, id, "GetPlanProgress")
			}
			if err != nil {
				t.Fatal(err)
			}
			if pending, copied := f.contactState(t, id); len(pending) != 0 || copied != 1 {
				t.Fatalf("after %s: %d pending, %d copied; want 0 and 1", first, len(pending), copied)
			}
			seenOnce(t, other, id, ct)
		})
	}
}

// The client's retry of the request that crashed reaches another replica:
// it answers the contact the crashed write committed, logs nothing more,
// and another request under the same request_id is refused.
func TestRetryAfterACrashAnswersTheCommittedContact(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	other := f.replica()
	id := createActive(t, other, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30)
	key := app.RequestKey{ID: "slip-1", Hash: "h-slip"}
	ct := crashAfterSlip(t, f, id, key)

	slip := plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-48 * time.Hour)}
	got, v, err := other.plans.RecordContact(ctx, client, id, slip, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ct || got.Seq != 1 || v.Plan.ContactCount != 1 {
		t.Fatalf("retry answered contact %s (seq %d), plan counts %d; want %s (seq 1), 1", got.ID, got.Seq, v.Plan.ContactCount, ct)
	}
	if _, _, err := other.plans.RecordContact(ctx, client, id, plan.ContactParams{Direction: plan.Inbound, OccurredAt: t0.Add(-time.Hour)}, app.RequestKey{ID: "slip-1", Hash: "h-other"}); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("another request under request_id slip-1 = %v, want ErrReused", err)
	}
	seenOnce(t, other, id, ct)
}

// The next write of the plan, without any read before it, copies what the
// crashed write left pending before it runs: a correction of that contact
// finds it, and the log holds it once, corrected.
func TestContactLeftPendingByACrashIsCopiedByTheNextWrite(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	other := f.replica()
	id := createActive(t, other, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30)
	ct := crashAfterSlip(t, f, id, app.RequestKey{})

	// The store's write, as a correction makes it (the app reads the plan
	// first, which would heal it already).
	_, err := other.store.Update(ctx, id, func(p *plan.Plan) ([]outbox.Message, error) {
		c, ok, err := other.store.Contact(ctx, id, ct)
		if err != nil || !ok {
			return nil, errors.Join(err, errors.New("the pending contact is not in the log when the next write runs"))
		}
		p.Contacts = append(p.Contacts, c)
		_, err = p.CorrectContact(ct, plan.ContactPatch{Fields: []string{"note"}, ContactParams: plan.ContactParams{Note: "it was me"}}, t0)
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pending, copied := f.contactState(t, id); len(pending) != 0 || copied != 1 {
		t.Fatalf("after the write: %d pending, %d copied; want 0 and 1", len(pending), copied)
	}
	got, ok, err := other.store.Contact(ctx, id, ct)
	if err != nil || !ok || got.Note != "it was me" || got.Rev != 2 {
		t.Fatalf("stored contact = %+v, %v, %v; want the correction (rev 2)", got, ok, err)
	}
	seenOnce(t, other, id, ct)
}

// Two replicas heal the same plan at once: replica A reads the pending slip
// and stops before copying it; replica B copies it, then the client voids
// it (a newer revision); then A copies its older revision and clears what
// it read. A changes nothing: the slip stays voided, in the log once, and
// the plan counts no slip.
func TestTwoReplicasHealingAtOnceKeepTheNewest(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	b := f.replica()
	id := createActive(t, b, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30)
	ct := crashAfterSlip(t, f, id, app.RequestKey{})

	reached, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	a := f.replicaWith(mongodb.Hooks{BeforeHeal: func() {
		if armed.CompareAndSwap(true, false) {
			close(reached)
			<-release
		}
	}})
	type answer struct {
		list []plan.Contact
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		list, _, _, err := a.plans.ListContacts(ctx, client, id, 0, "")
		done <- answer{list, err}
	}()
	select {
	case <-reached:
	case ans := <-done:
		t.Fatalf("replica A answered %+v, %v without healing the plan", ans.list, ans.err)
	}

	seenOnce(t, b, id, ct) // B heals
	if _, _, err := b.plans.VoidContact(ctx, client, id, ct); err != nil {
		t.Fatal(err)
	}
	close(release)
	ans := <-done
	if ans.err != nil {
		t.Fatal(ans.err)
	}
	if len(ans.list) != 1 || !ans.list[0].Voided || ans.list[0].Rev != 2 {
		t.Fatalf("A's contact log = %+v, want the slip once, voided (rev 2)", ans.list)
	}
	if pending, copied := f.contactState(t, id); len(pending) != 0 || copied != 1 {
		t.Fatalf("after both healed: %d pending, %d copied; want 0 and 1", len(pending), copied)
	}
	for name, r := range map[string]*replica{"A": a, "B": b} {
		v, err := r.plans.Get(ctx, client, id, "GetPlanProgress")
		if err != nil {
			t.Fatal(err)
		}
		pr := v.Plan.Progress(v.Now)
		if v.Plan.ContactCount != 0 || len(v.Plan.Slips) != 0 || len(pr.Attempts) != 1 || pr.Streaks.Current != 10 {
			t.Fatalf("progress on %s: %d contacts, %d slips, %d attempts, streak %d; want the voided slip gone (0, 0, 1, 10)",
				name, v.Plan.ContactCount, len(v.Plan.Slips), len(pr.Attempts), pr.Streaks.Current)
		}
		list, _, _, err := r.plans.ListContacts(ctx, client, id, 0, "")
		if err != nil || len(list) != 1 || !list[0].Voided {
			t.Fatalf("contact log on %s = %+v, %v; want the slip once, voided", name, list, err)
		}
	}
}

// Two replicas get the same RecordContact request (the client retried on a
// flaky network): replica A has made the contact and stops before writing
// the plan; replica B logs it meanwhile. A's write loses on the version, A
// reads again, finds B's contact and answers it: one contact, not two.
func TestSameRequestOnTwoReplicasLogsOneContact(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	b := f.replica()
	id := createActive(t, b, "Europe/Berlin", t0.Add(-10*24*time.Hour), 30)

	reached, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	a := f.replicaWith(mongodb.Hooks{BeforePlanWrite: func() {
		if armed.CompareAndSwap(true, false) {
			close(reached)
			<-release
		}
	}})
	key := app.RequestKey{ID: "slip-1", Hash: "h-slip"}
	slip := plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-48 * time.Hour)}
	type answer struct {
		ct  plan.Contact
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ct, _, err := a.plans.RecordContact(ctx, client, id, slip, key)
		done <- answer{ct, err}
	}()
	select {
	case <-reached:
	case ans := <-done:
		t.Fatalf("replica A answered %+v, %v without stopping before its write", ans.ct, ans.err)
	}
	fromB, _, err := b.plans.RecordContact(ctx, client, id, slip, key)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	fromA := <-done
	if fromA.err != nil {
		t.Fatal(fromA.err)
	}
	if fromA.ct.ID != fromB.ID || fromA.ct.Seq != 1 || fromB.Seq != 1 {
		t.Fatalf("A answered %s (seq %d), B %s (seq %d); want the same contact, seq 1", fromA.ct.ID, fromA.ct.Seq, fromB.ID, fromB.Seq)
	}
	seenOnce(t, a, id, fromB.ID)
}
