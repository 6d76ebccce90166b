package server_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/server"
)

// The sent access records sweep, with its documented default of 30 days,
// deletes records that are older and sent, keeps those still pending (not
// yet in the plans service's access log) and the recent ones; of two
// replicas one runs it.
func TestSentAccessRecordsSweepRemovesWhatIsPastOnce(t *testing.T) {
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
	const day = 24 * time.Hour
	for _, d := range []struct {
		id      string
		pending bool
		age     time.Duration
	}{{"a-31-sent", false, 31 * day}, {"a-31-pending", true, 31 * day}, {"a-29-sent", false, 29 * day}} {
		if _, err := db.Collection(mongodb.CollAccess).InsertOne(ctx, bson.D{
			{Key: "_id", Value: d.id}, {Key: "client_id", Value: "c1"}, {Key: "time", Value: now.Add(-d.age)},
			{Key: "outbox_pending", Value: d.pending}, {Key: "version", Value: int64(1)},
		}); err != nil {
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
	if len(ranA) != 2 || len(ranB) != 0 {
		t.Errorf("a ran %v, b ran %v; want both sweeps once (the access records, the expired exports)", ranA, ranB)
	}
	cur, err := db.Collection(mongodb.CollAccess).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var left []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &left); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range left {
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a-29-sent", "a-31-pending"}) {
		t.Errorf("records left = %v, want the pending and the recent one", ids)
	}
}
