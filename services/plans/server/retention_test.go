package server_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/server"
)

const day = 24 * time.Hour

func ids(t *testing.T, ctx context.Context, coll *mongo.Collection) []string {
	t.Helper()
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	slices.Sort(out)
	return out
}

// With the documented defaults, the ended-plans sweep deletes plans that
// stopped more than two years ago together with their contacts (and the
// milestone records inside them), and keeps every plan that is still
// counting, stopped recently, or has events to publish; the access-log
// sweep deletes entries older than six years. Two replicas run each once.
func TestRetentionSweepsRemoveWhatIsPastOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testenv.Mongo(t)
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	var r server.Retention
	if err := config.LoadFrom(&r, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	twoYears, sixYears := 731*day, 2192*day // a day past each default
	plans, contacts, accessLog := db.Collection(mongodb.CollPlans), db.Collection(mongodb.CollContacts), db.Collection(mongodb.CollAccessLog)
	putPlan := func(id, status string, ended *time.Time, pending bool, contactIDs ...string) {
		t.Helper()
		doc := bson.D{{Key: "_id", Value: id}, {Key: "client_id", Value: "c1"}, {Key: "status", Value: status},
			{Key: "version", Value: int64(3)}, {Key: "outbox_pending", Value: pending},
			{Key: "milestones", Value: bson.D{{Key: "7", Value: bson.D{{Key: "day", Value: 7}}}}},
			{Key: "create_time", Value: now.Add(-5 * twoYears)}}
		if ended != nil {
			doc = append(doc, bson.E{Key: "end_time", Value: *ended})
		}
		if _, err := plans.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
		for _, c := range contactIDs {
			if _, err := contacts.InsertOne(ctx, bson.D{{Key: "_id", Value: id + "/" + c}, {Key: "plan_id", Value: id}, {Key: "seq", Value: int64(1)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	putPlan("p-ended-old", "ended", at(twoYears), false, "k1", "k2")
	putPlan("p-cancelled-old", "cancelled", at(twoYears), false)
	putPlan("p-closed-old", "closed", at(twoYears), false, "k1")
	putPlan("p-closed-recent", "closed", at(twoYears-2*day), false, "k1")
	putPlan("p-ended-old-unpublished", "ended", at(twoYears), true, "k1")
	putPlan("p-active-old", "active", nil, false, "k1")
	putPlan("p-completed-old", "completed", nil, false, "k1")
	for id, age := range map[string]time.Duration{"e-old": sixYears, "e-recent": sixYears - 2*day} {
		if _, err := accessLog.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "client_id", Value: "c1"}, {Key: "time", Value: now.Add(-age)}}); err != nil {
			t.Fatal(err)
		}
	}

	clk := clock.NewFake(now)
	quiet := slog.New(slog.DiscardHandler)
	a := jobs.New(db, clk, quiet, jobs.Options{Holder: "a"}, server.RetentionJobs(r, db, clk, quiet)...)
	b := jobs.New(db, clk, quiet, jobs.Options{Holder: "b"}, server.RetentionJobs(r, db, clk, quiet)...)
	ranA, errA := a.RunDue(ctx)
	ranB, errB := b.RunDue(ctx)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(ranA) != 3 || len(ranB) != 0 {
		t.Errorf("a ran %v, b ran %v; want each of the 3 sweeps once", ranA, ranB)
	}

	wantPlans := []string{"p-active-old", "p-closed-recent", "p-completed-old", "p-ended-old-unpublished"}
	if got := ids(t, ctx, plans); !slices.Equal(got, wantPlans) {
		t.Errorf("plans left = %v, want %v", got, wantPlans)
	}
	wantContacts := []string{"p-active-old/k1", "p-closed-recent/k1", "p-completed-old/k1", "p-ended-old-unpublished/k1"}
	if got := ids(t, ctx, contacts); !slices.Equal(got, wantContacts) {
		t.Errorf("contacts left = %v, want %v", got, wantContacts)
	}
	if got := ids(t, ctx, accessLog); !slices.Equal(got, []string{"e-recent"}) {
		t.Errorf("access log left = %v, want only the entry within six years", got)
	}
}

func TestRetentionRefusesAnAccessLogShorterThanSixYears(t *testing.T) {
	var r server.Retention
	if err := config.LoadFrom(&r, map[string]string{"RETENTION_ACCESS_LOG": "43800h"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err == nil {
		t.Error("an access log kept five years was accepted")
	}
}
