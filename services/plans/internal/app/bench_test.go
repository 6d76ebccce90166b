package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/benchx"

	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// Benchmarks of the plan use cases a client calls most, end to end through
// the app layer and the Mongo adapter, on the embedded FerretDB (or
// MONGODB_URI): what one request costs with a short and with a long contact
// log. FerretDB scans a collection for every query, so its timings are an
// upper bound, not MongoDB's (docs/benchmarks.md).

var benchSizes = []int{10, 10000}

// benchPlan stores an active Berlin plan of client-1 started 300 days
// before the fixture's clock, with n contacts spread evenly over those
// days (one in ten a slip), as the service would have stored them: the
// summary in the plan, the log in the contacts collection (loaded in bulk:
// logging 10,000 contacts one request at a time would take minutes on
// FerretDB).
func benchPlan(b *testing.B, f *fixture, r *replica, n int) string {
	b.Helper()
	ctx := context.Background()
	now := f.clk.Now()
	start := now.AddDate(0, 0, -300)
	p, err := plan.NewPlan(plan.NewPlanParams{
		ID: "pl-bench-" + uuid.NewString(), ClientID: client.ID, TimeZone: "Europe/Berlin", StartTime: start,
		TargetDays: plan.MaxTargetDays, Reasons: []string{"peace"},
	}, uuid.NewString, start)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Activate(start); err != nil {
		b.Fatal(err)
	}
	log := make([]plan.Contact, 0, n)
	step := now.Sub(start) / time.Duration(n+1)
	for i := range n {
		at := start.Add(step * time.Duration(i+1))
		c := plan.ContactParams{ID: uuid.NewString(), Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: at}
		if i%10 == 0 {
			c.Direction = plan.Outbound
		}
		ct, err := p.RecordContact(c, at)
		if err != nil {
			b.Fatalf("contact %d: %v", i, err)
		}
		log = append(log, ct)
		p.Contacts, p.PendingContacts = nil, nil
		p.PopEvents()
	}
	p.Advance(now)
	p.PopEvents()
	if err := r.store.Create(ctx, p.ID, *p); err != nil {
		b.Fatal(err)
	}
	if err := r.store.ImportContacts(ctx, p.ClientID, p.ID, log); err != nil {
		b.Fatal(err)
	}
	return p.ID
}

// BenchmarkGetPlanProgress answers GetPlanProgress as the gRPC handler
// does: the plan read with its access check, and its progress derived once.
func BenchmarkGetPlanProgress(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	for _, n := range benchSizes {
		id := benchPlan(b, f, r, n)
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := r.plans.Get(ctx, client, id, "GetPlanProgress")
				if err != nil {
					b.Fatal(err)
				}
				if pr := v.Plan.Progress(v.Now); len(pr.Attempts) == 0 {
					b.Fatal("no attempts")
				}
			}
		})
	}
}

// BenchmarkRecordContact logs one more contact (the ex texts, the client
// does not answer: the common case) on a plan with n contacts.
func BenchmarkRecordContact(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	for _, n := range benchSizes {
		id := benchPlan(b, f, r, n)
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, err := r.plans.RecordContact(ctx, client, id, plan.ContactParams{
					Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: f.clk.Now().Add(-time.Hour),
				}, app.RequestKey{})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordContactVsDriver is goal 3 of docs/performance.md for
// plans: RecordContact through the app layer (the plan read with its
// access check, the domain, the version-guarded plan write with its event,
// the copy of the contact into the contacts collection and the settling
// update) against the raw driver writes a contact needs at the least (the
// plan's update by _id with its version bumped, and the contact's insert),
// side by side on the same database and the same plan (10 contacts).
func BenchmarkRecordContactVsDriver(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	r := f.replica()
	id := benchPlan(b, f, r, 10)
	plans, contacts := f.db.Collection(mongodb.CollPlans), f.db.Collection(mongodb.CollContacts)
	n := 0
	b.Run("driver", func(b *testing.B) {
		benchx.Serial(b, func() error {
			n++
			if _, err := plans.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}, {Key: "contact_count", Value: 1}, {Key: "contact_seq", Value: 1}}},
			}); err != nil {
				return err
			}
			_, err := contacts.InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("%s/raw-%d", id, n)}, {Key: "plan_id", Value: id},
				{Key: "seq", Value: 100000 + n}, {Key: "direction", Value: "inbound"}, {Key: "channel", Value: "text"},
				{Key: "occurred_at", Value: f.clk.Now().Add(-time.Hour)}, {Key: "rev", Value: 1}})
			return err
		})
	})
	b.Run("app", func(b *testing.B) {
		benchx.Serial(b, func() error {
			_, _, err := r.plans.RecordContact(ctx, client, id, plan.ContactParams{
				Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: f.clk.Now().Add(-time.Hour),
			}, app.RequestKey{})
			return err
		})
	})
}
