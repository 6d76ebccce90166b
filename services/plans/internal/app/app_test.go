package app_test

// Tests of the plan use cases against the real components: embedded
// FerretDB (or MONGODB_URI) and an embedded JetStream, through the Mongo
// adapters and the outbox relay.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
	"github.com/nocontact/backend/services/plans/internal/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	db  *mongo.Database
	js  jetstream.JetStream
	clk *clock.Fake
}

func newFixture(t testing.TB, start time.Time) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.Mongo(t)
	if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
		t.Fatal(err)
	}
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "PLANS", []string{"plans.>"}); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, js: js, clk: clock.NewFake(start)}
}

// testKEK is the fixed key-encryption key of the tests (the base64 of 32
// bytes).
const testKEK = "dGVzdC1rZWstb2YtdGhlLXBsYW5zLXNlcnZpY2UtISE="

// newKeyring is a replica's own keyring (its own key cache) over db.
func newKeyring(f *fixture, db *mongo.Database) *fieldcrypt.Keyring {
	keks, err := fieldcrypt.Config{KEK: testKEK}.KEKs(false)
	if err != nil {
		panic(err)
	}
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: f.clk})
	if err != nil {
		panic(err)
	}
	return k
}

// replica is one instance of the plans service's app layer, as a separate
// process would build it; replicas share only the database and JetStream.
type replica struct {
	plans     *app.Plans
	care      *app.Care
	view      *app.CareView
	reviews   *mongodb.ReviewStore
	accessApp *app.Access
	store     *mongodb.PlanStore
	relay     *outbox.Relay
	sched     *scheduler.Scheduler
	// erasureRelay publishes the erasure requests (erasure_test.go).
	erasureRelay *outbox.Relay
}

func (f *fixture) replica() *replica { return f.replicaWith(mongodb.Hooks{}) }

// replicaWith is a replica whose plan store runs the test hooks.
func (f *fixture) replicaWith(hooks mongodb.Hooks) *replica {
	planColl := f.db.Collection(mongodb.CollPlans)
	assignColl := f.db.Collection(mongodb.CollAssignments)
	consentColl := f.db.Collection(mongodb.CollConsents)
	relay := outbox.NewRelay(f.js, quiet, outbox.Options{Interval: time.Hour}, planColl, assignColl, consentColl)
	assignments := docstore.New[care.Assignment](assignColl, nil)
	consents := docstore.New[care.Consents](consentColl, nil)
	access := app.NewAccess(assignments, consents, f.db.Collection(mongodb.CollAccessLog), f.clk)
	store := mongodb.NewPlanStore(planColl, f.db.Collection(mongodb.CollContacts), newKeyring(f, f.db), nil).WithHooks(hooks)
	plans := app.NewPlans(store, assignments, access, f.clk)
	reviews := mongodb.NewReviewStore(f.db.Collection(mongodb.CollReviews))
	return &replica{plans: plans, store: store, relay: relay, sched: scheduler.New(plans, f.clk, quiet, time.Hour),
		care: app.NewCare(assignments, consents, access, f.clk), reviews: reviews, accessApp: access,
		view: app.NewCareView(store, assignments, access, reviews, f.clk)}
}

// events reads every event on the PLANS stream with the given subject.
func (f *fixture) events(t *testing.T, subject string) []*eventsv1.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := f.js.OrderedConsumer(ctx, "PLANS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	for i := uint64(0); i < info.NumPending; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		env := &eventsv1.Envelope{}
		if err := proto.Unmarshal(msg.Data(), env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

func milestoneDays(envs []*eventsv1.Envelope) map[int32]int {
	out := map[int32]int{}
	for _, e := range envs {
		out[e.GetMilestoneReached().GetDay()]++
	}
	return out
}

var client = app.Caller{ID: "client-1", Role: auth.RoleClient, RequestID: "req-1"}

func createActive(t testing.TB, r *replica, tz string, start time.Time, target int) string {
	t.Helper()
	ctx := context.Background()
	v, err := r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: tz, StartTime: start, TargetDays: target, Reasons: []string{"peace"}}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.plans.Move(ctx, client, v.Plan.ID, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	return v.Plan.ID
}

// Three replicas scan the same plans day after day: every milestone is
// recorded and announced exactly once, and the plan completes once.
func TestSchedulerThreeReplicasEmitEachMilestoneOnce(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	replicas := []*replica{f.replica(), f.replica(), f.replica()}
	id := createActive(t, replicas[0], "America/New_York", t0, 21)

	for day := 0; day < 25; day++ {
		f.clk.Advance(24 * time.Hour)
		var wg sync.WaitGroup
		changed := make([]int, len(replicas))
		for i, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := r.sched.Tick(ctx)
				if err != nil {
					t.Errorf("tick: %v", err)
				}
				changed[i] = n
			}()
		}
		wg.Wait()
		// The version check lets one replica record a day's milestone; the
		// others find nothing left to do (JetStream's de-duplication is a
		// second line, not the one this checks).
		if sum := changed[0] + changed[1] + changed[2]; sum > 1 {
			t.Fatalf("day %d: %d replicas recorded a change to the same plan, want at most 1", day+1, sum)
		}
		// Any replica's relay may publish; run them all.
		for _, r := range replicas {
			if _, err := r.relay.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	got := milestoneDays(f.events(t, "plans.milestone.reached"))
	want := map[int32]int{1: 1, 3: 1, 7: 1, 14: 1, 21: 1}
	if len(got) != len(want) {
		t.Fatalf("milestone events by day = %v, want %v", got, want)
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("milestone events by day = %v, want %v", got, want)
		}
	}
	if n := len(f.events(t, "plans.plan.completed")); n != 1 {
		t.Fatalf("plans.plan.completed events = %d, want 1", n)
	}
	v, err := replicas[1].plans.Get(ctx, client, id, "GetPlan")
	if err != nil || v.Plan.Status != plan.StatusCompleted {
		t.Fatalf("plan after its target day: %v %v, want completed", v.Plan.Status, err)
	}
}

// After downtime, one scan catches up every milestone that fell due.
func TestSchedulerCatchesUpAfterDowntime(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 10, 20, 22, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	createActive(t, r, "Europe/London", t0, 30)

	f.clk.Advance(10 * 24 * time.Hour) // every replica was down meanwhile
	changed, err := r.sched.Tick(ctx)
	if err != nil || changed != 1 {
		t.Fatalf("Tick = %d, %v; want 1 plan advanced", changed, err)
	}
	if changed, _ := r.sched.Tick(ctx); changed != 0 {
		t.Fatalf("a second scan changed %d plans, want 0", changed)
	}
	if _, err := r.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := milestoneDays(f.events(t, "plans.milestone.reached"))
	if len(got) != 3 || got[1] != 1 || got[3] != 1 || got[7] != 1 {
		t.Fatalf("milestone events after catch-up = %v, want one each for days 1, 3 and 7", got)
	}
}

// The scheduler reports how late each milestone it records was (now minus
// the local midnight it fell due) and the time of every completed scan;
// a replica that finds the work already done reports no lag.
func TestSchedulerReportsLagAndLastRun(t *testing.T) {
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, berlin)
	f := newFixture(t, t0)
	type observed struct {
		lags []time.Duration
		runs []time.Time
	}
	watch := func(r *replica) *observed {
		o := &observed{}
		r.sched.WithHooks(scheduler.Hooks{
			Lag: func(d time.Duration) { o.lags = append(o.lags, d) },
			Ran: func(now time.Time) { o.runs = append(o.runs, now) },
		})
		return o
	}
	r, other := f.replica(), f.replica()
	seen, otherSeen := watch(r), watch(other)
	createActive(t, r, "Europe/Berlin", t0, 30)

	steps := []struct {
		now     time.Time
		wantLag []time.Duration
	}{
		// Day 1 begins at the next local midnight; the scan comes 20 s later.
		{time.Date(2026, 3, 3, 0, 0, 20, 0, berlin), []time.Duration{20 * time.Second}},
		{time.Date(2026, 3, 4, 12, 0, 0, 0, berlin), nil}, // nothing due
		{time.Date(2026, 3, 5, 0, 5, 0, 0, berlin), []time.Duration{5 * time.Minute}},
		// Down from before day 7 (the 9th) to the 13th at 06:00.
		{time.Date(2026, 3, 13, 6, 0, 0, 0, berlin), []time.Duration{4*24*time.Hour + 6*time.Hour}},
	}
	for _, step := range steps {
		f.clk.Set(step.now)
		seen.lags, otherSeen.lags = nil, nil
		if _, err := r.sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := other.sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen.lags, step.wantLag) {
			t.Errorf("at %s: lags = %v, want %v", step.now, seen.lags, step.wantLag)
		}
		if len(otherSeen.lags) != 0 {
			t.Errorf("at %s: the replica that found nothing left reported lags %v", step.now, otherSeen.lags)
		}
		if n := len(seen.runs); n == 0 || !seen.runs[n-1].Equal(step.now) {
			t.Errorf("at %s: last run = %v, want the scan's now", step.now, seen.runs)
		}
	}
	if len(seen.runs) != len(steps) || len(otherSeen.runs) != len(steps) {
		t.Errorf("runs reported = %d and %d, want %d each", len(seen.runs), len(otherSeen.runs), len(steps))
	}
}

// A crash between the state write and the publish loses nothing: the
// events wait in the document and leave with the next relay; publishing
// again doubles nothing.
func TestOutboxSurvivesACrashBeforePublish(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	crashed := f.replica() // writes, then "dies" before its relay runs
	id := createActive(t, crashed, "Asia/Kolkata", t0.Add(-8*24*time.Hour), 30)
	if _, _, err := crashed.plans.RecordContact(ctx, client, id, plan.ContactParams{
		Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-time.Hour),
	}, app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t, "plans.>")); n != 0 {
		t.Fatalf("%d events published before any relay ran", n)
	}

	restarted := f.replica()
	if _, err := restarted.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A second relay pass and a republish of every event change nothing.
	if _, err := restarted.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	all := f.events(t, "plans.>")
	for _, e := range all {
		data, _ := proto.Marshal(e)
		if _, err := f.js.Publish(ctx, e.GetType(), data, jetstream.WithMsgID(e.GetEventId())); err != nil {
			t.Fatal(err)
		}
	}
	again := f.events(t, "plans.>")
	if len(again) != len(all) {
		t.Fatalf("republishing doubled events: %d then %d", len(all), len(again))
	}

	types := map[string]int{}
	for _, e := range all {
		types[e.GetType()]++
	}
	want := map[string]int{
		"plans.plan.created": 1, "plans.plan.activated": 1, "plans.milestone.reached": 3,
		"plans.contact.recorded": 1, "plans.attempt.ended": 1, "plans.attempt.started": 1,
	}
	for typ, n := range want {
		if types[typ] != n {
			t.Errorf("%s events = %d, want %d (all: %v)", typ, types[typ], n, types)
		}
	}
	for _, e := range all {
		if e.GetClientId() != "client-1" || e.GetTimeZone() != "Asia/Kolkata" || e.GetLocalDate() == "" || e.GetProducer() != "plans" {
			t.Errorf("envelope %s lacks its context: %v", e.GetType(), e)
		}
	}
}

// The contact event carries ids and enums, never the client's note.
func TestEventsNeverCarryNotes(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	id := createActive(t, r, "Europe/Berlin", t0.Add(-2*24*time.Hour), 30)
	secret := "they said they miss me and I cried"
	if _, _, err := r.plans.RecordContact(ctx, client, id, plan.ContactParams{
		Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-time.Hour), Note: secret,
	}, app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.events(t, "plans.>") {
		data, _ := proto.Marshal(e)
		if containsBytes(data, []byte("miss me")) {
			t.Fatalf("event %s carries the note", e.GetType())
		}
	}
}

func containsBytes(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

// The repository keeps everything a plan is: read back after a restart
// (a new store over the same collection) it derives the same progress.
func TestPlanStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	v, err := r.plans.Create(ctx, client, plan.NewPlanParams{
		TimeZone: "Pacific/Auckland", StartTime: t0.Add(-5 * 24 * time.Hour), TargetDays: 45, Mode: plan.ModeWithExceptions,
		Reasons:         []string{"sleep", "self-respect"},
		Exceptions:      []plan.Exception{{Kind: "co_parenting", Channel: plan.ChannelText, Topic: "school pick-ups"}},
		SupportContacts: []plan.SupportContact{{Name: "Ana", Relationship: "friend"}},
		Boundaries:      []plan.Boundary{{Kind: "block_number"}},
		Goals:           []plan.Goal{{Text: "run 5 km"}}, CustomMilestoneDays: []int{10},
	}, app.RequestKey{ID: "rt-1", Hash: "h-round-trip"})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Plan.ID
	if _, err := r.plans.Move(ctx, client, id, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	exc := v.Plan.Exceptions[0].ID
	ct, _, err := r.plans.RecordContact(ctx, client, id, plan.ContactParams{Direction: plan.Outbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-time.Hour), ExceptionID: exc}, app.RequestKey{})
	if err != nil || ct.Classification != plan.ExceptionCall {
		t.Fatalf("exception contact = %v, %v", ct.Classification, err)
	}

	fresh := f.replica()
	got, err := fresh.plans.Get(ctx, client, id, "GetPlan")
	if err != nil {
		t.Fatal(err)
	}
	p := got.Plan
	if p.TargetDays != 45 || p.TimeZone != "Pacific/Auckland" || len(p.Reasons) != 2 || len(p.Exceptions) != 1 ||
		len(p.SupportContacts) != 1 || len(p.Boundaries) != 1 || len(p.Goals) != 1 || p.ContactCount != 1 || p.Mode != plan.ModeWithExceptions {
		t.Fatalf("plan read back = %+v", p)
	}
	if log, _, _, err := fresh.plans.ListContacts(ctx, client, id, 0, ""); err != nil || len(log) != 1 || log[0].ID != ct.ID || log[0].Classification != plan.ExceptionCall {
		t.Fatalf("contact log read back = %+v, %v; want the exception contact", log, err)
	}
	if s := p.Streaks(f.clk.Now()); s.Current != 5 {
		t.Fatalf("streak read back = %d, want 5 (an exception contact is not a slip)", s.Current)
	}
	if len(p.MilestonesByID()) != 2 {
		t.Fatalf("stored milestones = %d, want 2 (days 1 and 3)", len(p.MilestonesByID()))
	}
	// The same request under the same request id answers the stored plan;
	// another request under it is refused, never answered with this plan.
	again, err := fresh.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "UTC"}, app.RequestKey{ID: "rt-1", Hash: "h-round-trip"})
	if err != nil || again.Plan.ID != id || again.Plan.TimeZone != "Pacific/Auckland" {
		t.Fatalf("retried create = %v, %v; want plan %s", again.Plan.ID, err, id)
	}
	if _, err := fresh.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "UTC"}, app.RequestKey{ID: "rt-1", Hash: "h-other"}); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("create reusing request id rt-1 with another request = %v, want ErrReused", err)
	}
	list, _, err := fresh.plans.List(ctx, client, "", 10, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %d plans, %v; want 1", len(list), err)
	}
}
