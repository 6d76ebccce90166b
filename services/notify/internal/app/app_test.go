package app_test

// Tests of the notify use cases against the real components: an embedded
// FerretDB database per test (or MONGODB_URI) and an embedded JetStream,
// with events packed as their producers pack them and consumed through the
// real handler (internal/ports/events). Time comes from a fake clock.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
	nevents "github.com/nocontact/backend/services/notify/internal/ports/events"
	"github.com/nocontact/backend/services/notify/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

const (
	clientID     = "client-1"
	counsellorID = "counsellor-1"
	planID       = "plan-1"
	berlin       = "Europe/Berlin"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

type fixture struct {
	db   *mongo.Database
	js   jetstream.JetStream
	nc   *nats.Conn
	clk  *clock.Fake
	n    *app.Notify
	pull map[string]jetstream.Consumer
}

// newFixture wires the notify app as server.Run does: its indexes, the
// PLANS and JOURNAL streams, a NATS connection for the live-feed signals.
func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.Mongo(t)
	if err := mongox.EnsureIndexes(ctx, db, server.Indexes()); err != nil {
		t.Fatal(err)
	}
	url, js := testenv.NATS(t)
	for name, subjects := range map[string][]string{"PLANS": {"plans.>"}, "JOURNAL": {"journal.>"}} {
		if _, err := natsx.EnsureStream(ctx, js, name, subjects); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(url, nats.Name(t.Name()+"-notify"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f := &fixture{db: db, js: js, nc: nc, clk: clock.NewFake(now), pull: map[string]jetstream.Consumer{}}
	f.n = f.replica()
	return f
}

// testKEK is the fixed key-encryption key of the tests (the base64 of 32
// bytes).
const testKEK = "dGVzdC1rZWstb2YtdGhlLW5vdGlmeS1zZXJ2aWNlLSE="

// keys is a replica's own keyring (its own key cache) over the database.
func (f *fixture) keys() *fieldcrypt.Keyring {
	keks, err := fieldcrypt.Config{KEK: testKEK}.KEKs(false)
	if err != nil {
		panic(err)
	}
	k, err := fieldcrypt.New(f.db, keks, fieldcrypt.Options{Clock: f.clk})
	if err != nil {
		panic(err)
	}
	return k
}

// replica is one instance of the notify app, as another process would
// build it: it shares only the database, NATS and the clock.
func (f *fixture) replica() *app.Notify {
	return app.New(f.db.Collection(server.CollNotifications), f.db.Collection(server.CollPreferences),
		careview.New(f.db), f.nc, f.clk, quiet, nil)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func caller(user string) app.Caller {
	role := auth.RoleClient
	if strings.HasPrefix(user, "counsellor") {
		role = auth.RoleCounsellor
	}
	return app.Caller{ID: user, Role: role, RequestID: "req-test"}
}

// ---- events, packed as their producers pack them ----

type ev struct {
	id, subject, client string
	env                 *eventsv1.Envelope
}

func (e ev) data(t *testing.T, at time.Time) []byte {
	t.Helper()
	producer := "plans"
	if strings.HasPrefix(e.subject, "journal.") {
		producer = "journal"
	}
	m, err := events.New(events.Meta{
		ID: e.id, Subject: e.subject, Producer: producer, ClientID: e.client, OccurredAt: at,
		TimeZone: berlin, LocalDate: at.In(zone(t, berlin)).Format(time.DateOnly), CorrelationID: "corr-" + e.id,
	}, e.env)
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

func milestone(client string, day int) ev {
	id := fmt.Sprintf("ms-%s-%s-1767225600000-d%d", planID, client, day)
	return ev{id, "plans.milestone.reached", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_MilestoneReached{
		MilestoneReached: &eventsv1.MilestoneReached{PlanId: planID, MilestoneId: id, AttemptNumber: 1, Day: int32(day), TargetDays: 30},
	}}}
}

func assignment(client, counsellor string, status plansv1.CareAssignmentStatus) ev {
	subject := "plans.care.assigned"
	if status == plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ENDED {
		subject = "plans.care.ended"
	}
	return ev{fmt.Sprintf("care-%s-%s-%d", client, counsellor, status), subject, client, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_CareAssignmentChanged{CareAssignmentChanged: &eventsv1.CareAssignmentChanged{
			AssignmentId: client + "|" + counsellor, CounsellorId: counsellor, Status: status, ActorId: "admin-1",
		}},
	}}
}

var consentSeq int

// consent is a consent change of scope; granted lists every scope granted
// after it.
func consent(client string, scope plansv1.ConsentScope, on bool, granted ...plansv1.ConsentScope) ev {
	consentSeq++
	return ev{fmt.Sprintf("consent-%s-%d", client, consentSeq), "plans.consent.changed", client, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_ConsentChanged{ConsentChanged: &eventsv1.ConsentChanged{Scope: scope, Granted: on, GrantedScopes: granted}},
	}}
}

func riskFlag(client, flagID string) ev {
	return ev{"risk-" + flagID, "journal.risk.flag_raised", client, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_RiskFlagRaised{RiskFlagRaised: &eventsv1.RiskFlagRaised{
			FlagId: flagID, Reason: journalv1.RiskReason_RISK_REASON_LOW_MOOD_STREAK, SourceKind: "checkin", SourceId: "ci-1",
		}},
	}}
}

func streamOf(subject string) string {
	if strings.HasPrefix(subject, "journal.") {
		return "JOURNAL"
	}
	return "PLANS"
}

// publish puts an event on its stream with the given Nats-Msg-Id.
func (f *fixture) publish(t *testing.T, subject string, data []byte, msgID string) *jetstream.PubAck {
	t.Helper()
	ack, err := f.js.Publish(ctxT(t), subject, data, jetstream.WithMsgID(msgID))
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

// next returns the next message of stream as a durable pull consumer
// receives it, not yet acknowledged.
func (f *fixture) next(t *testing.T, stream string) jetstream.Msg {
	t.Helper()
	ctx := ctxT(t)
	cons, ok := f.pull[stream]
	if !ok {
		var err error
		cons, err = f.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: "test-" + strings.ToLower(stream), AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		f.pull[stream] = cons
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("fetch from %s: %v", stream, err)
	}
	return msg
}

// deliver publishes e (Nats-Msg-Id = event id) at the clock's time and
// hands the delivered message to the real handler of replica n (f.n when
// nil), then acknowledges it.
func (f *fixture) deliver(t *testing.T, e ev) {
	t.Helper()
	f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	msg := f.next(t, streamOf(e.subject))
	if err := nevents.Handler(f.n)(ctxT(t), msg); err != nil {
		t.Fatalf("handle %s %s: %v", e.subject, e.id, err)
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
}

// careTeam assigns the counsellor to the client and grants scopes, through
// the handler, as the plans service announces them.
func (f *fixture) careTeam(t *testing.T, client, counsellor string, scopes ...plansv1.ConsentScope) {
	t.Helper()
	f.deliver(t, assignment(client, counsellor, plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE))
	for i, s := range scopes {
		f.deliver(t, consent(client, s, true, scopes[:i+1]...))
	}
}

// ---- what the users see ----

// stored reads the notifications collection itself (held ones included).
func (f *fixture) stored(t *testing.T, filter bson.D) []inbox.Notification {
	t.Helper()
	cur, err := f.db.Collection(server.CollNotifications).Find(ctxT(t), filter, options.Find().SetSort(bson.D{{Key: "create_time", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var out []inbox.Notification
	if err := cur.All(ctxT(t), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) storedOf(t *testing.T, user string, kind message.Kind) []inbox.Notification {
	t.Helper()
	return f.stored(t, bson.D{{Key: "user_id", Value: user}, {Key: "kind", Value: string(kind)}})
}

// inbox is what the user lists (delivered notifications only).
func (f *fixture) inbox(t *testing.T, user string) []inbox.Notification {
	t.Helper()
	page, err := f.n.List(ctxT(t), caller(user), false, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	return page.Notifications
}

func ofKind(notes []inbox.Notification, kind message.Kind) []inbox.Notification {
	var out []inbox.Notification
	for _, n := range notes {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

func describe(notes []inbox.Notification) string {
	var b strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&b, "\n  %s %s event=%s deliver_at=%s delivered=%v %q", n.UserID, n.Kind, n.EventID, n.DeliverAt.Format(time.RFC3339), n.Delivered, n.Title)
	}
	return b.String()
}

// waitFor polls cond until it holds (the consumer runs on its own).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHandled waits until the durable consumer has answered every message
// up to stream sequence seq (acknowledged or dead-lettered).
func (f *fixture) waitHandled(t *testing.T, stream, durable string, seq uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s on %s to answer up to seq %d", durable, stream, seq), func() bool {
		cons, err := f.js.Consumer(ctxT(t), stream, durable)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctxT(t))
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
	})
}

func (f *fixture) setPrefs(t *testing.T, user string, p inbox.Preferences, fields ...string) inbox.Preferences {
	t.Helper()
	got, err := f.n.UpdatePreferences(ctxT(t), caller(user), user, p, fields)
	if err != nil {
		t.Fatalf("UpdatePreferences(%s, %v): %v", user, fields, err)
	}
	return got
}

// ---- 1. exactly once ----

// A milestone event delivered again (the first delivery was handled but
// not acknowledged, as after a crash) gives the client and their counsellor
// one notification each.
func TestRedeliveredMilestoneNotifiesOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS)
	handle := nevents.Handler(f.n)

	e := milestone(clientID, 3)
	f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	first := f.next(t, "PLANS")
	if err := handle(ctxT(t), first); err != nil {
		t.Fatal(err)
	}
	if err := first.Nak(); err != nil { // the ack never made it
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	again := f.next(t, "PLANS")
	meta, err := again.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	firstMeta, _ := first.Metadata()
	if meta.NumDelivered != 2 || meta.Sequence.Stream != firstMeta.Sequence.Stream {
		t.Fatalf("second fetch: delivery %d of seq %d, want the redelivery of seq %d", meta.NumDelivered, meta.Sequence.Stream, firstMeta.Sequence.Stream)
	}
	for range 2 {
		if err := handle(ctxT(t), again); err != nil {
			t.Fatal(err)
		}
	}
	if err := again.Ack(); err != nil {
		t.Fatal(err)
	}

	for _, user := range []string{clientID, counsellorID} {
		got := ofKind(f.inbox(t, user), message.MilestoneReached)
		if len(got) != 1 {
			t.Fatalf("%s sees %d milestone notifications, want 1:%s", user, len(got), describe(got))
		}
		if got[0].EventID != e.id || got[0].MilestoneDay != 3 || got[0].PlanID != planID || got[0].ClientID != clientID {
			t.Fatalf("%s's notification = %+v", user, got[0])
		}
	}
	if all := f.stored(t, bson.D{{Key: "event_id", Value: e.id}}); len(all) != 2 {
		t.Fatalf("%d notifications stored for the event, want 2 (client and counsellor):%s", len(all), describe(all))
	}
}

// Two replicas handling the same event at the same moment store one
// notification per recipient.
func TestTwoReplicasHandlingTheSameEventNotifyOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS)
	handlers := []natsx.Handler{nevents.Handler(f.replica()), nevents.Handler(f.replica())}

	days := []int{1, 3, 7, 14, 21}
	for _, day := range days {
		e := milestone(clientID, day)
		f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
		msg := f.next(t, "PLANS")
		start := make(chan struct{})
		errs := make([]error, len(handlers))
		var wg sync.WaitGroup
		for i, h := range handlers {
			wg.Go(func() {
				<-start
				errs[i] = h(context.Background(), msg)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("day %d: replica %d: %v", day, i+1, err)
			}
		}
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Hour)
	}

	for _, user := range []string{clientID, counsellorID} {
		got := ofKind(f.inbox(t, user), message.MilestoneReached)
		var gotDays []int
		for _, n := range got {
			gotDays = append(gotDays, n.MilestoneDay)
		}
		slices.Sort(gotDays)
		if !slices.Equal(gotDays, days) {
			t.Fatalf("%s sees milestone days %v, want each of %v once:%s", user, gotDays, days, describe(got))
		}
	}
}

// Through JetStream: the consumer handles the event; the service restarts
// (a new consumer instance on the same durable, a new app instance); the
// producer retries past the duplicate window (same event, another
// Nats-Msg-Id, so JetStream keeps both). Still one notification per
// (event, recipient, kind).
func TestRestartAndProducerRetryNotifyOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	ctx := ctxT(t)
	spec := nevents.PlansSpec

	stop, err := natsx.Consume(ctx, f.js, spec, nevents.Handler(f.n), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop() }()
	for _, e := range []ev{
		assignment(clientID, counsellorID, plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE),
		consent(clientID, plansv1.ConsentScope_PLAN_PROGRESS, true, plansv1.ConsentScope_PLAN_PROGRESS),
	} {
		f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	}
	e := milestone(clientID, 7)
	data := e.data(t, f.clk.Now())
	first := f.publish(t, e.subject, data, e.id)
	f.waitHandled(t, "PLANS", spec.Durable, first.Sequence)

	stop() // the service stops
	f.clk.Advance(2 * time.Hour)

	// Within the window JetStream drops a republish itself...
	if dup := f.publish(t, e.subject, data, e.id); !dup.Duplicate {
		t.Fatalf("republish with the same Nats-Msg-Id was stored again (seq %d)", dup.Sequence)
	}
	// ...past it (modelled by another Nats-Msg-Id) the stream holds the event twice.
	retry := f.publish(t, e.subject, data, e.id+"-retry")
	if retry.Duplicate || retry.Sequence != first.Sequence+1 {
		t.Fatalf("retry: %+v, want a new stream message after seq %d", retry, first.Sequence)
	}

	stop, err = natsx.Consume(ctx, f.js, spec, nevents.Handler(f.replica()), quiet) // the restarted service
	if err != nil {
		t.Fatal(err)
	}
	f.waitHandled(t, "PLANS", spec.Durable, retry.Sequence)

	for _, user := range []string{clientID, counsellorID} {
		got := ofKind(f.inbox(t, user), message.MilestoneReached)
		if len(got) != 1 || got[0].EventID != e.id || got[0].MilestoneDay != 7 {
			t.Fatalf("%s sees %d milestone notifications, want 1 for day 7:%s", user, len(got), describe(got))
		}
	}
	if got := ofKind(f.inbox(t, clientID), message.CareAssignmentChanged); len(got) != 1 {
		t.Fatalf("client sees %d care-team notifications, want 1:%s", len(got), describe(got))
	}
	dl, err := f.js.Stream(ctx, natsx.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dl.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("dead-letter stream: %v messages (err %v), want none: the retry is a duplicate, not a failure", info.State.Msgs, err)
	}
}

// ---- 2. poison messages ----

// Bytes that are not an event envelope go to the dead-letter stream, and
// the events behind them still become notifications.
func TestPoisonMessageIsDeadLetteredAndConsumptionGoesOn(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	ctx := ctxT(t)
	spec := nevents.PlansSpec
	stop, err := natsx.Consume(ctx, f.js, spec, nevents.Handler(f.n), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	poison := map[string][]byte{
		"poison-text": []byte("this is not an event envelope"),
		"poison-json": []byte(`{"event_id":"e-1","type":"plans.milestone.reached"}`),
	}
	for _, id := range []string{"poison-text", "poison-json"} {
		f.publish(t, "plans.milestone.reached", poison[id], id)
	}
	var last uint64
	clients := []string{"client-a", "client-b"}
	for _, c := range clients {
		e := milestone(c, 14)
		last = f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id).Sequence
	}
	f.waitHandled(t, "PLANS", spec.Durable, last)

	for _, c := range clients {
		got := f.inbox(t, c)
		if len(got) != 1 || got[0].Kind != message.MilestoneReached || got[0].MilestoneDay != 14 {
			t.Fatalf("%s's inbox after the poison messages:%s\nwant the day-14 milestone", c, describe(got))
		}
	}

	dl, err := f.js.Stream(ctx, natsx.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("dead-letter stream holds %d messages, want the 2 poison ones", info.State.Msgs)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dl.GetMsg(ctx, info.State.FirstSeq+seq-1)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(natsx.HeaderDLMsgID)
		want, ok := poison[id]
		if !ok || string(m.Data) != string(want) {
			t.Fatalf("dead letter %d: msg id %q, data %q; want one of the poison messages", seq, id, m.Data)
		}
		if m.Header.Get(natsx.HeaderDLStream) != "PLANS" || m.Header.Get(natsx.HeaderDLSubject) != "plans.milestone.reached" ||
			m.Header.Get(natsx.HeaderDLConsumer) != spec.Durable {
			t.Fatalf("dead letter %d headers: %v", seq, m.Header)
		}
		delete(poison, id)
	}
}

// ---- 3. who hears about what ----

// A counsellor hears about a client's milestones only under an active
// assignment with PLAN_PROGRESS; a revocation stops the next one; risk
// flags reach a counsellor with RISK_ALERTS, urgent.
func TestCounsellorsHearOnlyUnderAssignmentAndConsent(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	const former = "counsellor-2"
	f.deliver(t, assignment(clientID, counsellorID, plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE))
	f.deliver(t, assignment(clientID, former, plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE))
	f.deliver(t, assignment(clientID, former, plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ENDED))

	// Assigned, but no consent yet: nothing about progress.
	f.deliver(t, milestone(clientID, 1))
	if got := ofKind(f.inbox(t, counsellorID), message.MilestoneReached); len(got) != 0 {
		t.Fatalf("counsellor heard of a milestone before any consent:%s", describe(got))
	}

	f.deliver(t, consent(clientID, plansv1.ConsentScope_PLAN_PROGRESS, true, plansv1.ConsentScope_PLAN_PROGRESS))
	f.deliver(t, consent(clientID, plansv1.ConsentScope_RISK_ALERTS, true, plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_RISK_ALERTS))
	f.deliver(t, milestone(clientID, 3))
	got := ofKind(f.inbox(t, counsellorID), message.MilestoneReached)
	if len(got) != 1 || got[0].MilestoneDay != 3 || got[0].ClientID != clientID || got[0].Urgent {
		t.Fatalf("counsellor's milestone notifications:%s\nwant day 3, not urgent", describe(got))
	}
	if !strings.Contains(got[0].Title, clientID) || !strings.Contains(got[0].Title, "day 3") {
		t.Fatalf("counsellor's title %q does not say who reached which day", got[0].Title)
	}

	// Revoked: the next milestone reaches the client only, and the earlier
	// one is no longer shown to the counsellor (the scope's data, old or
	// new, is out of their sight while the consent is withdrawn).
	f.clk.Advance(4 * 24 * time.Hour)
	f.deliver(t, consent(clientID, plansv1.ConsentScope_PLAN_PROGRESS, false, plansv1.ConsentScope_RISK_ALERTS))
	f.deliver(t, milestone(clientID, 7))
	if got := ofKind(f.inbox(t, counsellorID), message.MilestoneReached); len(got) != 0 {
		t.Fatalf("counsellor's milestone notifications after the revocation:%s\nwant none shown", describe(got))
	}
	if made, err := f.db.Collection(server.CollNotifications).CountDocuments(ctxT(t), bson.D{{Key: "user_id", Value: counsellorID}, {Key: "kind", Value: string(message.MilestoneReached)}}); err != nil || made != 1 {
		t.Fatalf("counsellor's stored milestone notifications = %d, %v; want 1 (day 3; none made for day 7)", made, err)
	}
	var clientDays []int
	for _, n := range ofKind(f.inbox(t, clientID), message.MilestoneReached) {
		clientDays = append(clientDays, n.MilestoneDay)
	}
	slices.Sort(clientDays)
	if !slices.Equal(clientDays, []int{1, 3, 7}) {
		t.Fatalf("client's milestone days = %v, want [1 3 7]", clientDays)
	}

	// A risk flag: urgent, for the counsellor with RISK_ALERTS.
	f.deliver(t, riskFlag(clientID, "flag-1"))
	flags := ofKind(f.inbox(t, counsellorID), message.RiskFlagRaised)
	if len(flags) != 1 || !flags[0].Urgent || flags[0].RiskFlagID != "flag-1" || flags[0].ClientID != clientID || !flags[0].Delivered {
		t.Fatalf("counsellor's risk-flag notifications:%s\nwant one urgent, delivered, for flag-1", describe(flags))
	}

	// The ended assignment hears nothing after it ended.
	for _, n := range f.stored(t, bson.D{{Key: "user_id", Value: former}}) {
		if n.Kind != message.CareAssignmentChanged {
			t.Fatalf("former counsellor got %s", describe([]inbox.Notification{n}))
		}
	}
	// The client is not told about their own risk flag by notify (the
	// journal answer carries the resources).
	if got := ofKind(f.inbox(t, clientID), message.RiskFlagRaised); len(got) != 0 {
		t.Fatalf("client got risk-flag notifications:%s", describe(got))
	}
}

// ---- 4. quiet hours and the daily cap ----

// A milestone at 23:30 Berlin time waits for the end of quiet hours (07:00)
// and is released then, not a minute earlier.
func TestQuietHoursHoldAndRelease(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "07:00"}, "time_zone", "quiet_start", "quiet_end")

	f.clk.Set(time.Date(2026, 6, 10, 23, 30, 0, 0, loc))
	f.deliver(t, milestone(clientID, 14))

	held := f.storedOf(t, clientID, message.MilestoneReached)
	wantAt := time.Date(2026, 6, 11, 7, 0, 0, 0, loc)
	if len(held) != 1 || held[0].Delivered || !held[0].DeliverAt.Equal(wantAt) || held[0].DeliverDate != "2026-06-11" {
		t.Fatalf("stored:%s\nwant one held until %s", describe(held), wantAt)
	}
	if got := f.inbox(t, clientID); len(got) != 0 {
		t.Fatalf("listed during quiet hours:%s", describe(got))
	}

	f.clk.Set(time.Date(2026, 6, 11, 6, 59, 0, 0, loc))
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("ReleaseDue at 06:59 = %d, %v; want 0", n, err)
	}
	if got := f.inbox(t, clientID); len(got) != 0 {
		t.Fatalf("listed at 06:59:%s", describe(got))
	}

	f.clk.Set(wantAt)
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue at 07:00 = %d, %v; want 1", n, err)
	}
	got := f.inbox(t, clientID)
	if len(got) != 1 || got[0].MilestoneDay != 14 || !got[0].DeliverAt.Equal(wantAt) {
		t.Fatalf("listed at 07:00:%s\nwant the day-14 milestone", describe(got))
	}
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("ReleaseDue again = %d, %v; want 0", n, err)
	}
}

// A risk flag is urgent: the counsellor sees it at once, quiet hours or not.
func TestUrgentRiskFlagPassesQuietHours(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_RISK_ALERTS)
	f.setPrefs(t, counsellorID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "07:00", DailyCap: 1},
		"time_zone", "quiet_start", "quiet_end", "daily_cap")

	f.clk.Set(time.Date(2026, 6, 10, 23, 30, 0, 0, loc))
	f.deliver(t, milestone(clientID, 21)) // not urgent: held
	f.deliver(t, riskFlag(clientID, "flag-night"))

	got := f.inbox(t, counsellorID)
	flags := ofKind(got, message.RiskFlagRaised)
	if len(flags) != 1 || !flags[0].Urgent || !flags[0].DeliverAt.Equal(f.clk.Now()) {
		t.Fatalf("counsellor's inbox at 23:30:%s\nwant the urgent risk flag at once", describe(got))
	}
	if ms := ofKind(got, message.MilestoneReached); len(ms) != 0 {
		t.Fatalf("the milestone was listed during quiet hours:%s", describe(ms))
	}
}

// With a cap of 2, the third non-urgent notification of the local day is
// held until the next local day begins.
func TestDailyCapHoldsTheThirdUntilTheNextLocalDay(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 9, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, DailyCap: 2}, "time_zone", "daily_cap")

	for i, day := range []int{1, 3, 7} {
		f.clk.Set(time.Date(2026, 6, 10, 10+i, 0, 0, 0, loc))
		f.deliver(t, milestone(clientID, day))
	}
	got := f.inbox(t, clientID)
	if len(got) != 2 {
		t.Fatalf("listed on the first day:%s\nwant 2 (the cap)", describe(got))
	}
	nextDay := time.Date(2026, 6, 11, 0, 0, 0, 0, loc)
	third := f.stored(t, bson.D{{Key: "user_id", Value: clientID}, {Key: "milestone_day", Value: 7}})
	if len(third) != 1 || third[0].Delivered || !third[0].DeliverAt.Equal(nextDay) || third[0].DeliverDate != "2026-06-11" {
		t.Fatalf("third notification:%s\nwant held until %s", describe(third), nextDay)
	}

	f.clk.Set(nextDay.Add(-time.Minute))
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("ReleaseDue at 23:59 = %d, %v; want 0", n, err)
	}
	f.clk.Set(nextDay)
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue at midnight = %d, %v; want 1", n, err)
	}
	if got := f.inbox(t, clientID); len(got) != 3 {
		t.Fatalf("listed on the next day:%s\nwant all 3", describe(got))
	}
}

// ---- 5. daily reminders ----

type reminderUser struct {
	id, tz, at string
	loc        *time.Location
}

// reminderAt is the instant of the user's reminder on local date d
// (20:00 and 08:30 are never in a DST gap or overlap).
func (u reminderUser) reminderAt(d time.Time) time.Time {
	var h, m int
	fmt.Sscanf(u.at, "%d:%d", &h, &m)
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, u.loc)
}

// sendReminders calls SendReminders as the ticker of several replicas
// would: more than once at the same instant.
func (f *fixture) sendReminders(t *testing.T, calls int) {
	t.Helper()
	for i := range calls {
		n, err := f.n.SendReminders(ctxT(t))
		if err != nil {
			t.Fatalf("SendReminders at %s: %v", f.clk.Now().Format(time.RFC3339), err)
		}
		if i > 0 && n != 0 {
			t.Fatalf("SendReminders called again at %s sent %d more", f.clk.Now().Format(time.RFC3339), n)
		}
	}
}

// byDate indexes a user's reminders by their local date, failing on a
// second one for a date.
func byDate(t *testing.T, notes []inbox.Notification, loc *time.Location) map[string]inbox.Notification {
	t.Helper()
	out := map[string]inbox.Notification{}
	for _, n := range notes {
		d := n.CreateTime.In(loc).Format(time.DateOnly)
		if prev, dup := out[d]; dup {
			t.Fatalf("two reminders on %s: %s and %s", d, prev.CreateTime.In(loc), n.CreateTime.In(loc))
		}
		if n.DeliverDate != d {
			t.Fatalf("reminder created %s has deliver_date %s", n.CreateTime.In(loc), n.DeliverDate)
		}
		out[d] = n
	}
	return out
}

// Daily check-in reminders follow each user's wall clock through the US
// (2026-03-08) and EU (2026-03-29) DST changes: one per local day, at the
// chosen time, never twice; after a downtime of three days, one for the
// current day, not three, and not before the chosen time.
func TestCheckInRemindersFollowTheLocalWallClockAcrossDST(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	users := []reminderUser{
		{id: "client-ny", tz: "America/New_York", at: "20:00"},
		{id: "client-ldn", tz: "Europe/London", at: "08:30"},
	}
	for i := range users {
		users[i].loc = zone(t, users[i].tz)
		u := users[i]
		f.setPrefs(t, u.id, inbox.Preferences{TimeZone: u.tz, CheckInReminderTime: u.at}, "time_zone", "check_in_reminder_time")
	}

	// The ticks: four a day on the UTC clock, plus each reminder time and
	// the minutes after it.
	end := time.Date(2026, 4, 4, 13, 0, 0, 0, time.UTC)
	var ticks []time.Time
	for d := start.Truncate(24 * time.Hour); !d.After(end); d = d.AddDate(0, 0, 1) {
		for h := 0; h < 24; h += 6 {
			ticks = append(ticks, d.Add(time.Duration(h)*time.Hour))
		}
		for _, u := range users {
			at := u.reminderAt(d)
			ticks = append(ticks, at, at.Add(time.Minute), at.Add(7*time.Minute))
		}
	}
	slices.SortFunc(ticks, func(a, b time.Time) int { return a.Compare(b) })
	ticks = slices.CompactFunc(ticks, func(a, b time.Time) bool { return a.Equal(b) })
	for _, tick := range ticks {
		if !tick.After(start) || tick.After(end) {
			continue
		}
		f.clk.Set(tick)
		f.sendReminders(t, 2)
	}

	for _, u := range users {
		days := byDate(t, f.storedOf(t, u.id, message.CheckInReminder), u.loc)
		want := 0
		for d := start.AddDate(0, 0, -1); !d.After(end); d = d.AddDate(0, 0, 1) {
			at := u.reminderAt(d)
			date := at.Format(time.DateOnly)
			if !at.After(start) || at.After(end) {
				if _, ok := days[date]; ok {
					t.Errorf("%s: a reminder on %s, outside the run", u.id, date)
				}
				continue
			}
			want++
			n, ok := days[date]
			switch {
			case !ok:
				t.Errorf("%s: no reminder on %s", u.id, date)
			case !n.CreateTime.Equal(at) || !n.DeliverAt.Equal(at) || !n.Delivered:
				t.Errorf("%s on %s: created %s, deliver at %s (delivered %v); want both at %s local",
					u.id, date, n.CreateTime.In(u.loc).Format(time.RFC3339), n.DeliverAt.In(u.loc).Format(time.RFC3339), n.Delivered, u.at)
			}
		}
		if len(days) != want {
			t.Errorf("%s: %d reminders, want %d (one per local day)", u.id, len(days), want)
		}
		if got := ofKind(f.inbox(t, u.id), message.CheckInReminder); len(got) != want {
			t.Errorf("%s lists %d reminders, want %d", u.id, len(got), want)
		}
	}
	// The DST days themselves, as UTC instants: the wall clock moved, the
	// reminder moved with it.
	ny, ldn := users[0], users[1]
	for _, c := range []struct {
		u    reminderUser
		date string
		utc  time.Time
	}{
		{ny, "2026-03-07", time.Date(2026, 3, 8, 1, 0, 0, 0, time.UTC)},    // EST
		{ny, "2026-03-08", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},    // EDT from that day
		{ldn, "2026-03-28", time.Date(2026, 3, 28, 8, 30, 0, 0, time.UTC)}, // GMT
		{ldn, "2026-03-29", time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC)}, // BST from that day
	} {
		n, ok := byDate(t, f.storedOf(t, c.u.id, message.CheckInReminder), c.u.loc)[c.date]
		if !ok || !n.CreateTime.Equal(c.utc) {
			t.Errorf("%s on %s: reminder at %v, want %s", c.u.id, c.date, n.CreateTime, c.utc.Format(time.RFC3339))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Downtime: the service is down for three days and comes back at 13:00
	// UTC on 2026-04-07, 09:00 in New York and 14:00 in London.
	before := map[string]int{}
	for _, u := range users {
		before[u.id] = len(f.storedOf(t, u.id, message.CheckInReminder))
	}
	back := end.Add(72 * time.Hour)
	f.clk.Set(back)
	f.sendReminders(t, 3)
	newSince := func(u reminderUser) []inbox.Notification {
		return f.storedOf(t, u.id, message.CheckInReminder)[before[u.id]:]
	}
	// London's 08:30 has passed today: one reminder, late, for today only.
	if got := newSince(ldn); len(got) != 1 || got[0].DeliverDate != "2026-04-07" || !got[0].CreateTime.Equal(back) {
		t.Fatalf("London after the downtime:%s\nwant one reminder for 2026-04-07, sent on return", describe(got))
	}
	// New York's 20:00 has not come yet: nothing now, and the missed days
	// are not made up in the morning.
	if got := newSince(ny); len(got) != 0 {
		t.Fatalf("New York at 09:00 after the downtime:%s\nwant none before 20:00", describe(got))
	}
	f.clk.Set(ny.reminderAt(time.Date(2026, 4, 7, 0, 0, 0, 0, time.UTC)))
	f.sendReminders(t, 2)
	if got := newSince(ny); len(got) != 1 || got[0].DeliverDate != "2026-04-07" || !got[0].CreateTime.Equal(f.clk.Now()) {
		t.Fatalf("New York at 20:00 after the downtime:%s\nwant one reminder for 2026-04-07 at 20:00", describe(got))
	}
	if got := newSince(ldn); len(got) != 1 {
		t.Fatalf("London got another reminder on the same day:%s", describe(got))
	}
}

// A user who wants the check-in reminder and the prompt of the day at the
// same time gets both, every day.
func TestPromptOfTheDayAndCheckInAtTheSameTime(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 8, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, CheckInReminderTime: "09:00", PromptOfTheDayTime: "09:00"},
		"time_zone", "check_in_reminder_time", "prompt_of_the_day_time")
	for day := 10; day <= 12; day++ {
		for _, hm := range [][2]int{{9, 0}, {9, 1}, {21, 0}} {
			f.clk.Set(time.Date(2026, 6, day, hm[0], hm[1], 0, 0, loc))
			f.sendReminders(t, 2)
		}
	}
	for _, kind := range []message.Kind{message.CheckInReminder, message.PromptOfTheDay} {
		days := byDate(t, f.storedOf(t, clientID, kind), loc)
		for day := 10; day <= 12; day++ {
			want := time.Date(2026, 6, day, 9, 0, 0, 0, loc)
			if n, ok := days[want.Format(time.DateOnly)]; !ok || !n.CreateTime.Equal(want) {
				t.Errorf("%s on 2026-06-%d: %v, want one at 09:00", kind, day, n.CreateTime.In(loc))
			}
		}
		if len(days) != 3 {
			t.Errorf("%d %s notifications, want 3", len(days), kind)
		}
	}
}

// ---- 6. discreet text ----

// Everything composed for a user who chose discreet text is safe on a lock
// screen: no numbers, no names or labels, no word about slips or milestones.
func TestDiscreetPreferencesHideTheDetails(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 9, 0, 0, 0, zone(t, berlin)))
	const client, counsellor, plain = "client-42", "counsellor-7", "client-99"
	for _, u := range []string{client, counsellor} {
		f.setPrefs(t, u, inbox.Preferences{TimeZone: berlin, Discreet: true, CheckInReminderTime: "10:00", PromptOfTheDayTime: "10:30"},
			"time_zone", "discreet", "check_in_reminder_time", "prompt_of_the_day_time")
	}
	all := []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_MOOD_INSIGHTS, plansv1.ConsentScope_RISK_ALERTS}
	f.careTeam(t, client, counsellor, all...)

	for _, e := range []ev{
		milestone(client, 7),
		milestone(client, 30),
		{"status-1", "plans.plan.status_changed", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_PlanStatusChanged{PlanStatusChanged: &eventsv1.PlanStatusChanged{
			PlanId: planID, From: plansv1.PlanStatus_PLAN_STATUS_ACTIVE, To: plansv1.PlanStatus_PLAN_STATUS_COMPLETED, TargetDays: 30, CurrentStreakDays: 30,
		}}}},
		{"contact-slip", "plans.contact.recorded", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_ContactRecorded{ContactRecorded: &eventsv1.ContactRecorded{
			PlanId: planID, ContactId: "c-1", Classification: plansv1.Classification_SLIP, EndedAttempt: true,
		}}}},
		{"contact-inbound", "plans.contact.recorded", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_ContactRecorded{ContactRecorded: &eventsv1.ContactRecorded{
			PlanId: planID, ContactId: "c-2", Classification: plansv1.Classification_INBOUND_HANDLED,
		}}}},
		{"urge-1", "journal.urge.logged", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_UrgeLogged{UrgeLogged: &eventsv1.UrgeLogged{UrgeId: "u-1", Intensity: 9}}}},
		riskFlag(client, "flag-1"),
		{"risk-esc-1", "journal.risk.flag_updated", client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_RiskFlagUpdated{RiskFlagUpdated: &eventsv1.RiskFlagUpdated{
			FlagId: "flag-1", Status: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED,
		}}}},
		consent(client, plansv1.ConsentScope_MOOD_INSIGHTS, false, plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_RISK_ALERTS),
		milestone(plain, 30),
	} {
		f.deliver(t, e)
	}
	for _, hm := range [][2]int{{10, 0}, {10, 30}} {
		f.clk.Set(time.Date(2026, 6, 10, hm[0], hm[1], 0, 0, zone(t, berlin)))
		f.sendReminders(t, 1)
	}

	wantKinds := map[string][]message.Kind{
		client: {message.MilestoneReached, message.PlanCompleted, message.SlipRecorded, message.ExContacted,
			message.CareAssignmentChanged, message.CheckInReminder, message.PromptOfTheDay},
		counsellor: {message.MilestoneReached, message.PlanCompleted, message.SlipRecorded, message.HighUrge,
			message.RiskFlagRaised, message.RiskFlagEscalated, message.ConsentChanged, message.CareAssignmentChanged},
	}
	for user, kinds := range wantKinds {
		notes := f.stored(t, bson.D{{Key: "user_id", Value: user}})
		for _, k := range kinds {
			if len(ofKind(notes, k)) == 0 {
				t.Errorf("%s got no %s notification (the check would prove nothing)", user, k)
			}
		}
		for _, n := range notes {
			text := n.Title + " " + n.Body
			lower := strings.ToLower(text)
			if strings.IndexFunc(text, unicode.IsDigit) >= 0 || strings.Contains(lower, "slip") || strings.Contains(lower, "milestone") ||
				strings.Contains(lower, "client") || strings.Contains(lower, "risk") {
				t.Errorf("discreet %s notification for %s says too much: %q / %q", n.Kind, user, n.Title, n.Body)
			}
		}
	}
	// The same event for a user without discreet text names the day: the
	// check above would have caught it.
	if got := f.inbox(t, plain); len(got) != 1 || !strings.Contains(got[0].Title, "30") {
		t.Fatalf("plain milestone:%s\nwant a title with the day", describe(got))
	}
}

// The user's own daily reminders do not use up the daily cap.
func TestRemindersDoNotCountTowardTheCap(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 8, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, DailyCap: 2, CheckInReminderTime: "08:30", PromptOfTheDayTime: "08:30"},
		"time_zone", "daily_cap", "check_in_reminder_time", "prompt_of_the_day_time")
	f.clk.Set(time.Date(2026, 6, 10, 8, 30, 0, 0, loc))
	f.sendReminders(t, 1)
	for i, day := range []int{1, 3} {
		f.clk.Set(time.Date(2026, 6, 10, 10+i, 0, 0, 0, loc))
		f.deliver(t, milestone(clientID, day))
	}
	if got := ofKind(f.inbox(t, clientID), message.MilestoneReached); len(got) != 2 {
		t.Fatalf("milestones listed after two reminders:%s\nwant both (reminders are outside the cap)", describe(got))
	}
}

// ---- 7. the suite's one high-urge threshold ----

// notify calls an urge high exactly where the journal does
// (events.HighUrgeIntensity): one below it tells the care team nothing, at
// it the counsellor hears of a strong urge. On main notify used 8 while the
// journal used 9.
func TestHighUrgeThresholdIsTheJournals(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_MOOD_INSIGHTS)
	for _, in := range []int{events.HighUrgeIntensity - 1, events.HighUrgeIntensity, 10} {
		f.deliver(t, ev{fmt.Sprintf("urge-%d", in), "journal.urge.logged", clientID, &eventsv1.Envelope{Payload: &eventsv1.Envelope_UrgeLogged{
			UrgeLogged: &eventsv1.UrgeLogged{UrgeId: fmt.Sprintf("u-%d", in), Intensity: int32(in)},
		}}})
	}
	got := ofKind(f.inbox(t, counsellorID), message.HighUrge)
	var seen []string
	for _, n := range got {
		seen = append(seen, n.Title)
	}
	slices.Sort(seen)
	want := []string{fmt.Sprintf("client-1 logged a strong urge (%d/10)", events.HighUrgeIntensity), "client-1 logged a strong urge (10/10)"}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("high-urge notifications = %q, want %q (threshold %d)", seen, want, events.HighUrgeIntensity)
	}
}

// The counsellor's risk-flag notifications say how severe the flag is
// (never what was written), and an imminent one says it was escalated at
// once rather than "not acknowledged in time".
func TestRiskFlagNotificationsNameTheSeverity(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_RISK_ALERTS)
	raised := func(id string, sev journalv1.RiskSeverity) ev {
		return ev{"raised-" + id, "journal.risk.flag_raised", clientID, &eventsv1.Envelope{Payload: &eventsv1.Envelope_RiskFlagRaised{RiskFlagRaised: &eventsv1.RiskFlagRaised{
			FlagId: id, Reason: journalv1.RiskReason_RISK_REASON_CRISIS_LANGUAGE, Category: journalv1.RiskCategory_RISK_CATEGORY_IDEATION, Severity: sev, SourceKind: "entry", SourceId: "e-" + id,
		}}}}
	}
	f.deliver(t, raised("f-high", journalv1.RiskSeverity_RISK_SEVERITY_HIGH))
	f.deliver(t, raised("f-imm", journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT))
	f.deliver(t, ev{"esc-f-imm", "journal.risk.flag_updated", clientID, &eventsv1.Envelope{Payload: &eventsv1.Envelope_RiskFlagUpdated{RiskFlagUpdated: &eventsv1.RiskFlagUpdated{
		FlagId: "f-imm", Status: journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED, Severity: journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT, ActorId: "screening",
	}}}})
	byFlag := map[string][]string{}
	for _, n := range f.inbox(t, counsellorID) {
		if n.RiskFlagID != "" {
			byFlag[n.RiskFlagID] = append(byFlag[n.RiskFlagID], n.Title+" / "+n.Body)
		}
	}
	if h := byFlag["f-high"]; len(h) != 1 || !strings.Contains(h[0], "high severity") {
		t.Errorf("high flag notifications = %q, want one naming the high severity", h)
	}
	imm := strings.Join(byFlag["f-imm"], "\n")
	if len(byFlag["f-imm"]) != 2 || !strings.Contains(imm, "imminent") || !strings.Contains(imm, "escalated at once") || strings.Contains(imm, "not acknowledged in time") {
		t.Errorf("imminent flag notifications =\n%s\nwant raised and escalated, both imminent, escalated at once", imm)
	}
}
