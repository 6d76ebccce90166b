package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/embedded"
)

// startFerret starts an embedded FerretDB in a folder of the test's own and
// returns a client and the folder.
func startFerret(t *testing.T) (*mongo.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("StartFerretDB: %v", err)
	}
	t.Cleanup(stop)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client, dir
}

// sqlitePlan is the SQLite query plan FerretDB reports for a find by _id.
// A find runs first: SQLite recompiles a statement whose schema changed
// when it runs it, but an EXPLAIN on a connection that has not run a
// statement since the index was created reports the plan of the schema it
// knew.
func sqlitePlan(t *testing.T, db *mongo.Database, coll string, id any) string {
	t.Helper()
	_ = db.Collection(coll).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Err()
	var out bson.M
	err := db.RunCommand(context.Background(), bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: coll}, {Key: "filter", Value: bson.D{{Key: "_id", Value: id}}}}}}).Decode(&out)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	js, _ := json.Marshal(out["queryPlanner"])
	return string(js)
}

func TestFindByIDUsesAnIndexAndStaysCorrect(t *testing.T) {
	ctx := context.Background()
	client, dir := startFerret(t)
	db := client.Database("idindex")
	coll := db.Collection("plans")
	oid := bson.NewObjectID()
	docs := []any{bson.D{{Key: "_id", Value: oid}, {Key: "n", Value: -1}}}
	for i := range 200 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("p-%03d", i)}, {Key: "n", Value: i}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if n, err := embedded.IndexIDs(ctx, dir); err != nil || n != 1 {
		t.Fatalf("IndexIDs: created %d, %v; want 1", n, err)
	}
	plan := sqlitePlan(t, db, "plans", "p-100")
	if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_nocontact_id_expr") {
		t.Fatalf("a find by _id scans the table: SQLite plan %s", plan)
	}
	if n, err := embedded.IndexIDs(ctx, dir); err != nil || n != 0 {
		t.Fatalf("a second pass created %d indexes (err %v), want 0", n, err)
	}

	var got struct {
		N int `bson:"n"`
	}
	for _, tc := range []struct {
		id   any
		want int
	}{{"p-000", 0}, {"p-100", 100}, {"p-199", 199}, {oid, -1}} {
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: tc.id}}).Decode(&got); err != nil || got.N != tc.want {
			t.Fatalf("find %v: n=%d err=%v, want %d", tc.id, got.N, err, tc.want)
		}
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p-200"}}).Err(); err != mongo.ErrNoDocuments {
		t.Fatalf("find of a missing id: %v, want ErrNoDocuments", err)
	}
	if res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "p-050"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 5000}}}}); err != nil || res.ModifiedCount != 1 {
		t.Fatalf("update by _id: %+v %v", res, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p-050"}}).Decode(&got); err != nil || got.N != 5000 {
		t.Fatalf("after the update: n=%d err=%v, want 5000", got.N, err)
	}
	if res, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "p-051"}}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("delete by _id: %+v %v", res, err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p-051"}}).Err(); err != mongo.ErrNoDocuments {
		t.Fatalf("a deleted document is still found: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "p-001"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("a second document with an existing _id: %v, want a duplicate key error", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 200 {
		t.Fatalf("count: %d %v, want 200", n, err)
	}
	// The index is SQLite's alone: FerretDB lists only the indexes it knows.
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil || len(specs) != 1 || specs[0].Name != "_id_" {
		t.Fatalf("listIndexes: %+v %v, want only _id_", specs, err)
	}
}

// A collection created while the server runs gets its index from the
// server's own indexer, without anyone calling IndexIDs.
func TestNewCollectionsAreIndexedByTheServer(t *testing.T) {
	ctx := context.Background()
	client, _ := startFerret(t)
	db := client.Database("idindex_bg")
	if _, err := db.Collection("fresh").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		plan := sqlitePlan(t, db, "fresh", "a")
		if strings.Contains(plan, "USING INDEX") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no _id index 30 s after the collection was created: %s", plan)
		}
		time.Sleep(50 * time.Millisecond) // polls for the signal; the indexer runs every IDIndexInterval
	}
}
