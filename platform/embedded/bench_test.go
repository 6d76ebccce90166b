package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/benchx"
	"github.com/nocontact/backend/platform/testenv"
)

// planLike is a document shaped like a stored plan: a few scalar fields
// and milestones records (a plan with 10 contacts is about 3 KB; with
// milestones=0 about 0.3 KB).
func planLike(i, milestones int) bson.D {
	ms := make(bson.A, 0, milestones)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range milestones {
		ms = append(ms, bson.D{{Key: "day", Value: d + 1}, {Key: "kind", Value: "streak"}, {Key: "reached_at", Value: at.AddDate(0, 0, d)},
			{Key: "event_id", Value: fmt.Sprintf("ev-%06d-%03d", i, d)}})
	}
	return bson.D{{Key: "_id", Value: fmt.Sprintf("plan-%06d", i)}, {Key: "version", Value: 3},
		{Key: "client_id", Value: fmt.Sprintf("client-%05d", i/2)}, {Key: "status", Value: "active"},
		{Key: "time_zone", Value: "Europe/Berlin"}, {Key: "create_time", Value: at.Add(time.Duration(i) * time.Minute)},
		{Key: "reasons", Value: bson.A{"I deserve peace", "Sleep again"}}, {Key: "milestones", Value: ms}}
}

func fill(b *testing.B, coll *mongo.Collection, n, milestones int) {
	b.Helper()
	ctx := context.Background()
	for from := 0; from < n; from += 500 {
		docs := make([]any, 0, 500)
		for i := from; i < min(from+500, n); i++ {
			docs = append(docs, planLike(i, milestones))
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "client_id", Value: 1}, {Key: "create_time", Value: -1}}}); err != nil {
		b.Fatal(err)
	}
	waitForIDIndex(b, coll)
}

// waitForIDIndex waits until the embedded server's indexer has given the
// collection its _id index (idindex.go): a find by _id then searches the
// index instead of scanning. Against MONGODB_URI there is nothing to wait for.
func waitForIDIndex(b *testing.B, coll *mongo.Collection) {
	b.Helper()
	if os.Getenv("MONGODB_URI") != "" {
		return
	}
	find := bson.D{{Key: "find", Value: coll.Name()}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "plan-000000"}}}}
	deadline := time.Now().Add(time.Minute)
	for {
		// A statement first: an EXPLAIN alone may report the plan of the
		// schema its connection knew before the index (idindex_test.go).
		_ = coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: "plan-000000"}}).Err()
		plan := explain(b, coll.Database(), find)
		if strings.Contains(plan, "USING INDEX") {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no _id index a minute after the collection was filled: %s", plan)
		}
		time.Sleep(100 * time.Millisecond) // polls for the signal; the indexer runs every second
	}
}

// explain runs the explain command for a find and returns what FerretDB
// says about it: its SQLite query plan and which parts it pushed down.
func explain(b *testing.B, db *mongo.Database, find bson.D) string {
	b.Helper()
	var out bson.M
	if err := db.RunCommand(context.Background(), bson.D{{Key: "explain", Value: find}}).Decode(&out); err != nil {
		b.Fatal(err)
	}
	keep := bson.M{}
	for _, k := range []string{"queryPlanner", "filterPushdown", "sortPushdown", "limitPushdown", "unsafeFilterPushdown", "unsafeSortPushdown", "unsafeLimitPushdown"} {
		if v, ok := out[k]; ok {
			keep[k] = v
		}
	}
	js, _ := json.Marshal(keep)
	return string(js)
}

// BenchmarkFerretFindOne measures the embedded FerretDB 1.24 (SQLite) on
// the suite's hottest query shapes at growing collection sizes and two
// document sizes: FindOne by _id (GetPlan), the same with a projection,
// and a client's list (ListPlans: client_id, newest first, limit 50).
// With -v it logs FerretDB's explain of each shape (docs/performance.md).
func BenchmarkFerretFindOne(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		for _, ms := range []int{0, 30} {
			b.Run(fmt.Sprintf("docs=%d/milestones=%d", n, ms), func(b *testing.B) { findShapes(b, n, ms) })
		}
	}
}

func findShapes(b *testing.B, n, ms int) {
	ctx := context.Background()
	{
		{
			db := testenv.Mongo(b)
			coll := db.Collection("plans")
			fill(b, coll, n, ms)
			raw, err := bson.Marshal(planLike(0, ms))
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("doc=%dB", len(raw))
			id := fmt.Sprintf("plan-%06d", n/2)
			client := fmt.Sprintf("client-%05d", n/4)
			b.Logf("%s explain by _id: %s", name, explain(b, db, bson.D{{Key: "find", Value: "plans"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: id}}}, {Key: "limit", Value: 1}}))
			b.Logf("%s explain by client_id, sorted: %s", name, explain(b, db, bson.D{{Key: "find", Value: "plans"},
				{Key: "filter", Value: bson.D{{Key: "client_id", Value: client}}},
				{Key: "sort", Value: bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}}, {Key: "limit", Value: 50}}))
			b.Run(name+"/by_id", func(b *testing.B) {
				benchx.Serial(b, func() error { return coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err() })
			})
			b.Run(name+"/by_id_projected", func(b *testing.B) {
				benchx.Serial(b, func() error {
					return coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "status", Value: 1}})).Err()
				})
			})
			b.Run(name+"/by_client_sorted", func(b *testing.B) {
				if n > 5000 {
					b.Skip("a scan of every document per call: minutes at this size")
				}
				benchx.Serial(b, func() error {
					cur, err := coll.Find(ctx, bson.D{{Key: "client_id", Value: client}}, options.Find().
						SetSort(bson.D{{Key: "create_time", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(50))
					if err != nil {
						return err
					}
					var docs []bson.Raw
					return cur.All(ctx, &docs)
				})
			})
		}
	}
}
