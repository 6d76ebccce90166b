package events_test

// Tests of the plans service's consumer of journal events, with real
// JetStream messages and the real plans app over the test database.

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
	planevents "github.com/nocontact/backend/services/plans/internal/ports/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

var client = app.Caller{ID: "client-1", Role: auth.RoleClient, RequestID: "req-1"}

type fixture struct {
	db     *mongo.Database
	js     jetstream.JetStream
	clk    *clock.Fake
	plans  *app.Plans
	access *app.Access
	relay  *outbox.Relay
	handle natsx.Handler
	seq    int
}

// newFixture wires the plans app as the plans app tests do, with the
// JOURNAL stream the journal service publishes to.
func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.Mongo(t)
	if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
		t.Fatal(err)
	}
	_, js := testenv.NATS(t)
	for name, subjects := range map[string][]string{"PLANS": {"plans.>"}, "JOURNAL": {"journal.>"}} {
		if _, err := natsx.EnsureStream(ctx, js, name, subjects); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewFake(now)
	planColl := db.Collection(mongodb.CollPlans)
	assignColl := db.Collection(mongodb.CollAssignments)
	consentColl := db.Collection(mongodb.CollConsents)
	relay := outbox.NewRelay(js, quiet, outbox.Options{Interval: time.Hour}, planColl, assignColl, consentColl)
	assignments := docstore.New[care.Assignment](assignColl, nil)
	consents := docstore.New[care.Consents](consentColl, nil)
	access := app.NewAccess(assignments, consents, db.Collection(mongodb.CollAccessLog), clk)
	keks, err := fieldcrypt.Config{KEK: "dGVzdC1rZWstb2YtdGhlLXBsYW5zLXNlcnZpY2UtISE="}.KEKs(false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	plans := app.NewPlans(mongodb.NewPlanStore(planColl, db.Collection(mongodb.CollContacts), keys, nil), assignments, access, clk)
	return &fixture{db: db, js: js, clk: clk, plans: plans, access: access, relay: relay, handle: planevents.JournalHandler(plans, access)}
}

// activePlan creates and activates the client's plan, started daysAgo.
func (f *fixture) activePlan(t *testing.T, daysAgo int) string {
	t.Helper()
	ctx := context.Background()
	v, err := f.plans.Create(ctx, client, plan.NewPlanParams{
		TimeZone: "Europe/Berlin", StartTime: f.clk.Now().Add(-time.Duration(daysAgo) * 24 * time.Hour), TargetDays: 30, Reasons: []string{"peace"},
	}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.plans.Move(ctx, client, v.Plan.ID, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	return v.Plan.ID
}

func (f *fixture) plan(t *testing.T, id string) *plan.Plan {
	t.Helper()
	v, err := f.plans.Get(context.Background(), client, id, "GetPlan")
	if err != nil {
		t.Fatal(err)
	}
	// The log lives in its own collection: the test reads it into the
	// working set, oldest first.
	list, _, _, err := f.plans.ListContacts(context.Background(), client, id, app.MaxContactsPage, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := len(list) - 1; i >= 0; i-- {
		v.Plan.Contacts = append(v.Plan.Contacts, list[i])
	}
	return &v.Plan
}

// deliver publishes data on subject to the JOURNAL stream and returns the
// message as a durable consumer receives it.
func (f *fixture) deliver(t *testing.T, subject string, data []byte) jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.js.Publish(ctx, subject, data); err != nil {
		t.Fatal(err)
	}
	stream, err := f.js.Stream(ctx, "JOURNAL")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: planevents.JournalSpec.Durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: planevents.JournalSpec.FilterSubjects,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = msg.Ack() })
	return msg
}

// journalEvent packs a journal event as the journal service does.
func journalEvent(t *testing.T, subject string, at time.Time, env *eventsv1.Envelope) []byte {
	t.Helper()
	m, err := events.New(events.Meta{Subject: subject, Producer: "journal", ClientID: client.ID, OccurredAt: at, TimeZone: "Europe/Berlin"}, env)
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

func urgeResolved(t *testing.T, outcome journalv1.UrgeOutcome, urgeTime, resolveTime time.Time) []byte {
	return journalEvent(t, "journal.urge.resolved", resolveTime, &eventsv1.Envelope{Payload: &eventsv1.Envelope_UrgeResolved{UrgeResolved: &eventsv1.UrgeResolved{
		UrgeId: "urge-1", Outcome: outcome, Intensity: 8, UrgeTime: timestamppb.New(urgeTime), ResolveTime: timestamppb.New(resolveTime),
	}}})
}

// published flushes the plans outbox and counts the events on subject.
func (f *fixture) published(t *testing.T, subject string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := f.js.OrderedConsumer(ctx, "PLANS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.NumPending)
}

// An urge the client resolved as CONTACTED is a slip on their plan: exactly
// one outbound contact, whatever redelivery happens; RESISTED is not.
func TestUrgeResolvedBecomesOneSlip(t *testing.T) {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name         string
		outcome      journalv1.UrgeOutcome
		wantContacts int
	}{
		{"contacted", journalv1.UrgeOutcome_CONTACTED, 1},
		{"resisted", journalv1.UrgeOutcome_RESISTED, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, now)
			id := f.activePlan(t, 10)
			if s := f.plan(t, id).Streaks(now); s.Current != 10 {
				t.Fatalf("streak before = %d, want 10", s.Current)
			}
			resolved := now.Add(-time.Hour)
			msg := f.deliver(t, "journal.urge.resolved", urgeResolved(t, tc.outcome, resolved.Add(-20*time.Minute), resolved))
			for delivery := 1; delivery <= 3; delivery++ { // the first delivery and two redeliveries
				if err := f.handle(ctx, msg); err != nil {
					t.Fatalf("delivery %d: %v", delivery, err)
				}
				p := f.plan(t, id)
				if len(p.Contacts) != tc.wantContacts {
					t.Fatalf("delivery %d: %d contacts on the plan, want %d", delivery, len(p.Contacts), tc.wantContacts)
				}
				if tc.wantContacts == 0 {
					continue
				}
				c := p.Contacts[0]
				if c.Direction != plan.Outbound || c.Classification != plan.Slip || !c.OccurredAt.Equal(resolved) {
					t.Fatalf("contact = %+v, want an outbound slip at %v", c, resolved)
				}
				if s := p.Streaks(now); s.Current != 0 || s.Longest != 10 {
					t.Fatalf("streaks after the slip = %+v, want current 0 and the 10 days before it kept", s)
				}
			}
			if n := f.published(t, "plans.contact.recorded"); n != tc.wantContacts {
				t.Fatalf("plans.contact.recorded events = %d, want %d", n, tc.wantContacts)
			}
		})
	}
}

// Events the plan can never accept fail permanently (dead-lettered at
// once); a client without a plan has nothing to record.
func TestUrgeResolvedTheClientsPlanCannotTake(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)

	t.Run("no plan", func(t *testing.T) {
		f := newFixture(t, now)
		msg := f.deliver(t, "journal.urge.resolved", urgeResolved(t, journalv1.UrgeOutcome_CONTACTED, now.Add(-time.Hour), now.Add(-time.Minute)))
		if err := f.handle(ctx, msg); err != nil {
			t.Fatalf("handle = %v, want nil (nothing to record)", err)
		}
	})
	t.Run("contact before the plan started", func(t *testing.T) {
		f := newFixture(t, now)
		id := f.activePlan(t, 2)
		before := now.Add(-5 * 24 * time.Hour)
		msg := f.deliver(t, "journal.urge.resolved", urgeResolved(t, journalv1.UrgeOutcome_CONTACTED, before, before))
		if err := f.handle(ctx, msg); !errors.Is(err, natsx.ErrPermanent) {
			t.Fatalf("handle = %v, want a permanent failure", err)
		}
		if p := f.plan(t, id); len(p.Contacts) != 0 {
			t.Fatalf("%d contacts recorded, want 0", len(p.Contacts))
		}
	})
}

// A journal access record joins the client's one access log, once.
func TestAccessRecordedJoinsTheAccessLogOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	at := now.Add(-time.Minute)
	msg := f.deliver(t, "journal.access.recorded", journalEvent(t, "journal.access.recorded", at, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_AccessRecorded{AccessRecorded: &eventsv1.AccessRecorded{
			ActorId: "counsellor-1", ActorRole: string(auth.RoleCounsellor), Resource: "entries", Action: "ListEntries", Allowed: true, RequestId: "req-9",
		}},
	}))
	for range 2 {
		if err := f.handle(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	page, err := f.access.ListAccessLog(ctx, client, client.ID, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 {
		t.Fatalf("access log = %d entries, want 1: %+v", len(page.Entries), page.Entries)
	}
	e := page.Entries[0]
	if e.ActorID != "counsellor-1" || e.ActorRole != auth.RoleCounsellor || e.Resource != "journal/entries" ||
		e.Action != "ListEntries" || e.Outcome != care.OutcomeAllowed || !e.Time.Equal(at) || e.RequestID != "req-9" {
		t.Fatalf("access log entry = %+v", e)
	}
	// Nobody else reads the client's access log.
	other := app.Caller{ID: "counsellor-1", Role: auth.RoleCounsellor}
	if _, err := f.access.ListAccessLog(ctx, other, client.ID, 50, ""); err == nil {
		t.Fatal("a counsellor listed the client's access log")
	}
}

// A payload that is not an event can never be handled: it fails
// permanently (dead-lettered, not retried).
func TestUndecodablePayloadIsPermanent(t *testing.T) {
	ctx := context.Background()
	noID, err := proto.Marshal(&eventsv1.Envelope{Type: "journal.urge.resolved"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"not protobuf", []byte{0xff, 0xff, 0xff, 0xff}},
		{"JSON", []byte(`{"event_id":"e1","type":"journal.urge.resolved"}`)},
		{"envelope without an event id", noID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
			msg := f.deliver(t, "journal.urge.resolved", tc.data)
			if err := f.handle(ctx, msg); !errors.Is(err, natsx.ErrPermanent) {
				t.Fatalf("handle = %v, want an error wrapping natsx.ErrPermanent", err)
			}
		})
	}
}
