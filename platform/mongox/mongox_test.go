package mongox_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureIndexesIsIdempotentAndUniqueRejectsDuplicates(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	specs := map[string][]mongo.IndexModel{
		"contacts": {
			{Keys: bson.D{{Key: "plan_id", Value: 1}, {Key: "time", Value: -1}}},
			{Keys: bson.D{{Key: "request_id", Value: 1}}, Options: options.Index().SetUnique(true).SetName("request_id_unique")},
		},
		"plans": {
			{Keys: bson.D{{Key: "client_id", Value: 1}}},
		},
	}

	// Every replica runs this at start-up: the second call must succeed and
	// change nothing.
	for i := range 2 {
		if err := mongox.EnsureIndexes(ctx, db, specs); err != nil {
			t.Fatalf("EnsureIndexes call %d: %v", i+1, err)
		}
	}

	names := indexNames(t, db.Collection("contacts"))
	want := []string{"_id_", "plan_id_1_time_-1", "request_id_unique"}
	if !slices.Equal(names, want) {
		t.Fatalf("contacts indexes = %v, want %v", names, want)
	}
	if names := indexNames(t, db.Collection("plans")); !slices.Equal(names, []string{"_id_", "client_id_1"}) {
		t.Fatalf("plans indexes = %v", names)
	}

	coll := db.Collection("contacts")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c1"}, {Key: "request_id", Value: "r1"}}); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c2"}, {Key: "request_id", Value: "r1"}})
	if !mongox.IsDuplicateKey(err) {
		t.Fatalf("insert with a taken request_id: err = %v, want a duplicate key error", err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c1"}, {Key: "request_id", Value: "r2"}})
	if !mongox.IsDuplicateKey(err) {
		t.Fatalf("insert with a taken _id: err = %v, want a duplicate key error", err)
	}
	// Inside a bulk insert, as a consumer writing several effects would.
	_, err = coll.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: "c3"}}, bson.D{{Key: "_id", Value: "c1"}}})
	if !mongox.IsDuplicateKey(err) {
		t.Fatalf("InsertMany with a taken _id: err = %v, want a duplicate key error", err)
	}
}

func TestIsDuplicateKeyIsFalseForOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("boom"), mongo.ErrNoDocuments, context.DeadlineExceeded} {
		if mongox.IsDuplicateKey(err) {
			t.Errorf("IsDuplicateKey(%v) = true", err)
		}
	}
}

func TestEnsureIndexesRejectsWhatFerretDBLacks(t *testing.T) {
	ctx := ctxT(t)
	db := testenv.Mongo(t)
	cases := map[string]mongo.IndexModel{
		"ttl": {Keys: bson.D{{Key: "t", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(60)},
		"partial": {Keys: bson.D{{Key: "p", Value: 1}}, Options: options.Index().
			SetPartialFilterExpression(bson.D{{Key: "p", Value: bson.D{{Key: "$exists", Value: true}}}})},
	}
	for name, model := range cases {
		t.Run(name, func(t *testing.T) {
			err := mongox.EnsureIndexes(ctx, db, map[string][]mongo.IndexModel{"c": {model}})
			if !errors.Is(err, mongox.ErrUnsupportedIndex) {
				t.Fatalf("err = %v, want ErrUnsupportedIndex", err)
			}
		})
	}
}

// The reason Connect forces one connection on FerretDB: with a pool, FerretDB
// loses concurrent $inc updates (DESIGN §6 measured 42 of 400). Asking for a
// pool of 10 must still count every increment.
func TestConnectToFerretDBForcesOneConnection(t *testing.T) {
	ctx := ctxT(t)
	uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{
		Dir: t.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("StartFerretDB: %v", err)
	}
	t.Cleanup(stop)

	client, err := mongox.Connect(ctx, uri, 10)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })

	if !mongox.IsFerretDB(ctx, client) {
		t.Fatal("IsFerretDB = false on FerretDB")
	}

	coll := client.Database("pool").Collection("counter")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "n"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := coll.UpdateByID(ctx, "n", bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var got struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "n"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.N != workers*each {
		t.Fatalf("counter = %d after %d concurrent increments: updates were lost", got.N, workers*each)
	}
}

func TestIsFerretDBMatchesTheServer(t *testing.T) {
	client := testenv.MongoClient(t)
	want := os.Getenv("MONGODB_URI") == ""
	if got := mongox.IsFerretDB(ctxT(t), client); got != want {
		t.Fatalf("IsFerretDB = %v, want %v", got, want)
	}
}

func TestConnectFailsWhenNothingListens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Port 1 is reserved and never a MongoDB.
	if c, err := mongox.Connect(ctx, "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500", 0); err == nil {
		_ = c.Disconnect(context.Background())
		t.Fatal("Connect succeeded without a server")
	}
}

func indexNames(t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}
