package mongodb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// fullPlan is a plan with every free-text field filled in, at sizes a
// person would type: 5 reasons, 6 boundaries (label and platform), 3
// exceptions, 3 support contacts, 5 goals, 3 hard dates and a pause
// reason: 40 sealed values.
func fullPlan() plan.Plan {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	p := plan.Plan{ID: "p1", ClientID: "c1", Status: plan.StatusActive, TargetDays: 90, TimeZone: "Europe/Berlin",
		StartTime: now.AddDate(0, 0, -20), Mode: "strict", PauseReason: "a week away with my family, I asked my counsellor first",
		CreateTime: now, UpdateTime: now, MilestoneRecords: map[string]plan.MilestoneRecord{}}
	for i := range 5 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("reason %d: I deserve peace and a life that is my own again", i))
		p.Goals = append(p.Goals, plan.Goal{ID: fmt.Sprintf("g%d", i), Text: fmt.Sprintf("goal %d: sleep before midnight and call a friend", i)})
	}
	for i := range 6 {
		p.Boundaries = append(p.Boundaries, plan.Boundary{ID: fmt.Sprintf("b%d", i), Kind: "other", State: "todo",
			Label: fmt.Sprintf("boundary %d: do not look at the old photos", i), Platform: "the photo app"})
	}
	for i := range 3 {
		p.Exceptions = append(p.Exceptions, plan.Exception{ID: fmt.Sprintf("x%d", i), Kind: "logistics", Channel: plan.ChannelEmail, Topic: "handing back the keys and the books"})
		p.SupportContacts = append(p.SupportContacts, plan.SupportContact{ID: fmt.Sprintf("s%d", i), Name: "Alex Example", Relationship: "sister", Contact: "+49 30 1234567"})
		p.HardDates = append(p.HardDates, plan.HardDate{ID: fmt.Sprintf("h%d", i), Label: "the day we met", Month: 9, Day: 14 + i})
	}
	return p
}

// BenchmarkPlanRead is what sealing every free-text field costs one plan
// read, warm keys (every read but a client's first per
// NOCONTACT_KEY_CACHE_TTL):
//   - decode: the CPU alone, from the stored bytes to a plan.Plan (plain:
//     one bson.Unmarshal; sealed: decode to bson.D, open 40 values, encode,
//     unmarshal, which is what docstore does per document with a codec);
//   - get: docstore's Get on the embedded FerretDB, round trip included.
func BenchmarkPlanRead(b *testing.B) {
	ctx := context.Background()
	db := testenv.Mongo(b)
	keks, err := fieldcrypt.Config{KEK: "dGVzdC1rZWstb2YtdGhlLXBsYW5zLXNlcnZpY2UtISE="}.KEKs(false)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clock.NewFake(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	spec := sealcodec.Spec{Collection: mongodb.CollPlans, Paths: mongodb.SealedPaths[mongodb.CollPlans]}
	codec := sealcodec.New(keys, spec)
	p := fullPlan()
	plainRaw, err := bson.Marshal(struct {
		ID        string `bson:"_id"`
		plan.Plan `bson:",inline"`
	}{"p1", p})
	if err != nil {
		b.Fatal(err)
	}
	sealedDoc, err := codec.Encode(ctx, "p1", p)
	if err != nil {
		b.Fatal(err)
	}
	// As stored: the _id names the document the values are bound to.
	sealedRaw, err := bson.Marshal(append(bson.D{{Key: "_id", Value: "p1"}}, sealedDoc...))
	if err != nil {
		b.Fatal(err)
	}
	plainStore := docstore.New[plan.Plan](db.Collection("plain_plans"), nil)
	sealedStore := sealcodec.Sealed(docstore.New[plan.Plan](db.Collection(mongodb.CollPlans), nil), keys, spec)
	for _, s := range []*docstore.Store[plan.Plan]{plainStore, sealedStore} {
		if err := s.Create(ctx, "p1", p); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("decode/plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got plan.Plan
			if err := bson.Unmarshal(plainRaw, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/sealed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got plan.Plan
			if err := codec.Decode(ctx, sealedRaw, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, s := range map[string]*docstore.Store[plan.Plan]{"get/plain": plainStore, "get/sealed": sealedStore} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, _, err := s.Get(ctx, "p1")
				if err != nil || len(got.Reasons) != 5 {
					b.Fatal(err)
				}
			}
		})
	}
}
