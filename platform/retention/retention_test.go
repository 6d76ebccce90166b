package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/retention"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var now = time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func insert(t *testing.T, ctx context.Context, coll *mongo.Collection, prefix string, n int, at time.Time) {
	t.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("%s-%02d", prefix, i)}, {Key: "time", Value: at}, {Key: "payload", Value: []byte("x")}}
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, ctx context.Context, coll *mongo.Collection, filter bson.D) int64 {
	t.Helper()
	n, err := coll.CountDocuments(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A sweep of 7 past items in batches of 3 removes all of them in one pass
// (three batches), keeps the items still within the period, and of two
// replicas only one runs it.
func TestSweepRemovesWhatIsPastInBatchesOnceAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	coll := db.Collection("items")
	const period = 30 * 24 * time.Hour
	insert(t, ctx, coll, "old", 7, now.Add(-period-time.Minute))
	insert(t, ctx, coll, "new", 2, now.Add(-period+time.Minute))

	clk := clock.NewFake(now)
	var batches []int
	removed := map[string]int{}
	kind := retention.Kind{Name: "items", Period: period, Sweep: func(ctx context.Context, cutoff time.Time, limit int) (int, error) {
		n, err := retention.DeleteBatch(ctx, coll, bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: cutoff}}}}, limit)
		batches = append(batches, n)
		return n, err
	}}
	cfg := retention.Config{Interval: time.Hour, BatchSize: 3}
	observe := func(k string, n int) { removed[k] += n }
	quiet := slog.New(slog.DiscardHandler)
	a := jobs.New(db, clk, quiet, jobs.Options{Holder: "a"}, retention.Jobs(cfg, clk, quiet, observe, kind)...)
	b := jobs.New(db, clk, quiet, jobs.Options{Holder: "b"}, retention.Jobs(cfg, clk, quiet, observe, kind)...)
	for _, r := range []*jobs.Runner{a, b} {
		if _, err := r.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(batches) != "[3 3 1]" {
		t.Errorf("batches = %v, want [3 3 1] (one pass, once)", batches)
	}
	if removed["items"] != 7 {
		t.Errorf("removed %d, want the 7 past items", removed["items"])
	}
	if n := count(t, ctx, coll, bson.D{}); n != 2 {
		t.Errorf("%d items left, want the 2 within the period", n)
	}

	// An hour later the two kept items are past too; the next pass takes them.
	clk.Advance(time.Hour)
	if _, err := b.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ctx, coll, bson.D{}); n != 0 {
		t.Errorf("%d items left after the next pass, want 0", n)
	}
}

// UpdateBatch (e.g. clearing payloads before the record goes) changes only
// the documents past the cutoff, and a second pass finds nothing to do.
func TestUpdateBatchClearsOnlyWhatIsPast(t *testing.T) {
	ctx := ctxT(t)
	coll := testenv.Mongo(t).Collection("deliveries")
	insert(t, ctx, coll, "old", 4, now.Add(-8*24*time.Hour))
	insert(t, ctx, coll, "new", 3, now.Add(-6*24*time.Hour))
	filter := bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: now.Add(-7 * 24 * time.Hour)}}}, {Key: "payload", Value: bson.D{{Key: "$exists", Value: true}}}}
	unset := bson.D{{Key: "$unset", Value: bson.D{{Key: "payload", Value: ""}}}}
	n, err := retention.UpdateBatch(ctx, coll, filter, unset, 10)
	if err != nil || n != 4 {
		t.Fatalf("UpdateBatch = %d, %v; want the 4 past ones", n, err)
	}
	if n, err := retention.UpdateBatch(ctx, coll, filter, unset, 10); err != nil || n != 0 {
		t.Errorf("second UpdateBatch = %d, %v; want nothing left to clear", n, err)
	}
	if got := count(t, ctx, coll, bson.D{{Key: "payload", Value: bson.D{{Key: "$exists", Value: true}}}}); got != 3 {
		t.Errorf("%d payloads left, want the 3 recent ones", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (retention.Config{Interval: time.Hour, BatchSize: 1}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	if err := (retention.Config{}).Validate(); err == nil {
		t.Error("zero interval and batch size accepted")
	}
}
