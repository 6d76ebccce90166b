package testenv

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/goleak"
)

// goleak proves the reference counting: after the last test, no FerretDB,
// driver or NATS goroutine may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMongoGivesEachCallItsOwnDatabaseOnOneClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := Mongo(t), Mongo(t)
	if a.Name() == b.Name() {
		t.Fatalf("two calls returned the same database %s", a.Name())
	}
	if a.Client() != b.Client() || a.Client() != MongoClient(t) {
		t.Fatal("databases are not on the one shared client")
	}
	if _, err := a.Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	n, err := b.Collection("c").CountDocuments(ctx, bson.D{})
	if err != nil || n != 0 {
		t.Fatalf("other database sees %d documents (err %v)", n, err)
	}
}

func TestMongoDropsTheDatabaseAtTheEndOfItsTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := MongoClient(t) // keeps the shared server up across the subtest
	var name string
	t.Run("user", func(t *testing.T) {
		db := Mongo(t)
		name = db.Name()
		if _, err := db.Collection("c").InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		names, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil || !slices.Contains(names, name) {
			t.Fatalf("database %s not listed during its test (%v, err %v)", name, names, err)
		}
	})
	names, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, name) {
		t.Fatalf("database %s still exists after its test", name)
	}
}

func TestSharedServerStopsWhenItsLastUserEnds(t *testing.T) {
	t.Run("user", func(t *testing.T) { Mongo(t) })
	shared.mu.Lock()
	refs, client := shared.refs, shared.client
	shared.mu.Unlock()
	if refs != 0 || client != nil {
		t.Fatalf("after the only user ended: refs=%d client=%v; want it closed", refs, client)
	}
}

func TestDBNameIsValidAndBounded(t *testing.T) {
	t.Run(strings.Repeat("Long/Name with.Dots$and*Stars", 5), func(t *testing.T) {
		name := dbName(t)
		if len(name) > 63 {
			t.Fatalf("%q is %d bytes", name, len(name))
		}
		if strings.ContainsAny(name, `/\. "$*<>:|?`) || name != strings.ToLower(name) {
			t.Fatalf("%q has a character MongoDB or FerretDB rejects", name)
		}
		if dbName(t) == name {
			t.Fatal("two names for one test are equal")
		}
	})
}

func TestNATSGivesAJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, js := NATS(t)
	if !strings.HasPrefix(url, "nats://") {
		t.Fatalf("url %q", url)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, other := NATS(t)
	if _, err := other.Stream(ctx, "S"); err == nil {
		t.Fatal("a second call shares the first server; want a fresh one")
	}
}
