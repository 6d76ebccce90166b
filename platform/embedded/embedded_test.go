package embedded_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/embedded"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFerretDBStoresAndFindsThenStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{
		Dir:    t.TempDir(),
		Addr:   "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("StartFerretDB: %v", err)
	}
	defer stop()

	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	coll := client.Database("embedded_test").Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 7}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.ID != "a" || got.N != 7 {
		t.Fatalf("found %+v, want {a 7}", got)
	}
	if err := client.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}

	stop()
	stop() // a second stop must be harmless: Cleanup and defer both call it

	// After stop the port no longer answers.
	c2, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatalf("connect after stop: %v", err)
	}
	defer func() { _ = c2.Disconnect(context.Background()) }()
	if err := c2.Ping(ctx, nil); err == nil {
		t.Fatal("ping after stop succeeded; want the server gone")
	}
}

func TestFerretDBRequiresExistingDir(t *testing.T) {
	_, _, err := embedded.StartFerretDB(context.Background(), embedded.FerretOptions{Dir: t.TempDir() + "/missing"})
	if err == nil {
		t.Fatal("StartFerretDB with a missing folder succeeded; want an error")
	}
}

func TestNATSStartsWithJetStream(t *testing.T) {
	srv, err := embedded.StartNATS(embedded.NATSOptions{Port: embedded.RandomPort, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("StartNATS: %v", err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	// Account info only answers when JetStream is enabled.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}
}
