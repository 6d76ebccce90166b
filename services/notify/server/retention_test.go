package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/notify/server"
)

const day = 24 * time.Hour

// Each of notify's sweeps, with the documented defaults, removes what is
// past its period and keeps the rest (and whatever is still in use: a
// pending delivery, an unsent access record, a notification whose webhooks
// are still to be enqueued); two replicas run each sweep once.
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

	put := func(coll string, docs ...bson.D) {
		t.Helper()
		for _, d := range docs {
			if _, err := db.Collection(coll).InsertOne(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	put(server.CollNotifications,
		bson.D{{Key: "_id", Value: "n-old"}, {Key: "create_time", Value: ago(366 * day)}, {Key: "delivered", Value: true}},
		bson.D{{Key: "_id", Value: "n-old-webhooks-due"}, {Key: "create_time", Value: ago(366 * day)}, {Key: "webhooks_due", Value: true}},
		bson.D{{Key: "_id", Value: "n-new"}, {Key: "create_time", Value: ago(364 * day)}, {Key: "delivered", Value: true}},
	)
	delivery := func(id, status string, age time.Duration) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "status", Value: status}, {Key: "create_time", Value: ago(age)}, {Key: "payload", Value: []byte(`{"marker":"x"}`)}}
	}
	put(server.CollDeliveries,
		delivery("d-91-delivered", "delivered", 91*day),
		delivery("d-91-pending", "pending", 91*day),
		delivery("d-8-failed", "failed", 8*day),
		delivery("d-8-pending", "pending", 8*day),
		delivery("d-6-delivered", "delivered", 6*day),
	)
	record := func(id string, pending bool, age time.Duration) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "time", Value: ago(age)}, {Key: "outbox_pending", Value: pending}, {Key: "version", Value: int64(1)}}
	}
	put(server.CollAccess, record("a-31-sent", false, 31*day), record("a-31-pending", true, 31*day), record("a-29-sent", false, 29*day))
	// Streams keep 30 days: counters of days up to 32 days back stay.
	capOf := func(id string, age time.Duration) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: "u1"}, {Key: "date", Value: ago(age).Format(time.DateOnly)}, {Key: "count", Value: 1}}
	}
	put(server.CollDailyCaps, capOf("cap-34d", 34*day), capOf("cap-31d", 31*day), capOf("cap-today", 0))

	clk := clock.NewFake(now)
	quiet := slog.New(slog.DiscardHandler)
	a := jobs.New(db, clk, quiet, jobs.Options{Holder: "a"}, server.RetentionJobs(r, 720*time.Hour, db, clk, quiet)...)
	b := jobs.New(db, clk, quiet, jobs.Options{Holder: "b"}, server.RetentionJobs(r, 720*time.Hour, db, clk, quiet)...)
	ranA, errA := a.RunDue(ctx)
	ranB, errB := b.RunDue(ctx)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(ranA) != 6 || len(ranB) != 0 {
		t.Errorf("a ran %v, b ran %v; want each of the 6 sweeps once", ranA, ranB)
	}

	ids := func(coll string, filter bson.D) []string {
		t.Helper()
		cur, err := db.Collection(coll).Find(ctx, filter)
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
		return out
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		set := map[string]bool{}
		for _, g := range got {
			set[g] = true
		}
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
		for _, w := range want {
			if !set[w] {
				t.Errorf("%s = %v, want %v", what, got, want)
				return
			}
		}
	}
	check("notifications", ids(server.CollNotifications, bson.D{}), "n-old-webhooks-due", "n-new")
	check("deliveries", ids(server.CollDeliveries, bson.D{}), "d-91-pending", "d-8-failed", "d-8-pending", "d-6-delivered")
	check("deliveries with a payload", ids(server.CollDeliveries, bson.D{{Key: "payload", Value: bson.D{{Key: "$exists", Value: true}}}}),
		"d-91-pending", "d-8-pending", "d-6-delivered")
	check("access records", ids(server.CollAccess, bson.D{}), "a-31-pending", "a-29-sent")
	check("daily caps", ids(server.CollDailyCaps, bson.D{}), "cap-31d", "cap-today")
}

func TestRetentionRefusesPayloadsKeptLongerThanDeliveries(t *testing.T) {
	var r server.Retention
	if err := config.LoadFrom(&r, map[string]string{"RETENTION_WEBHOOK_PAYLOADS": "2400h"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err == nil {
		t.Error("payloads kept 100 days with deliveries kept 90 were accepted")
	}
}
