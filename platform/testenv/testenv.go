// Package testenv gives tests the real infrastructure, never mocks of it: a
// fresh embedded NATS server per call, and a fresh MongoDB database per call
// on either a real MongoDB (env MONGODB_URI) or an embedded FerretDB.
//
// FerretDB 1.x does not isolate read-modify-write (DESIGN §6), so every
// database handed out in a test process lives behind ONE shared client with
// maxPoolSize=1; tests that simulate several replicas of a service must share
// it (MongoClient) rather than open their own.
//
// Everything is torn down through t.Cleanup, without a TestMain: the shared
// FerretDB and client are reference-counted by the tests using them and
// stopped when the last one finishes, so goleak.VerifyTestMain sees no
// leftover goroutines. Tests running at the same time (t.Parallel) share one
// instance; sequential tests each start a new one (a few milliseconds).
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/mongox"
)

// NATS starts an embedded nats-server with JetStream (store in a temp dir)
// and returns its client URL and a JetStream context on a connection to it.
// Connection and server are closed in t.Cleanup.
func NATS(t testing.TB) (url string, js jetstream.JetStream) {
	t.Helper()
	srv, err := embedded.StartNATS(embedded.NATSOptions{Port: embedded.RandomPort, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// Registered before the connection's cleanup, so it runs after it.
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	nc, err := nats.Connect(srv.ClientURL(), nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("testenv: nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return srv.ClientURL(), js
}

// Mongo returns a database of its own for this test, dropped in t.Cleanup.
// Its client is the shared one of MongoClient.
func Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	client := MongoClient(t)
	db := client.Database(dbName(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("testenv: drop database %s: %v", db.Name(), err)
		}
	})
	return db
}

// MongoClient returns the client shared by every test of the process that
// runs at the same time: to MONGODB_URI when set, otherwise to an embedded
// FerretDB (maxPoolSize=1). The test must not disconnect it.
func MongoClient(t testing.TB) *mongo.Client {
	t.Helper()
	client, err := shared.acquire()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(shared.release)
	return client
}

var shared store

// store is the reference-counted shared client (and embedded server).
type store struct {
	mu     sync.Mutex
	refs   int
	client *mongo.Client
	stop   func() // stops the embedded FerretDB and removes its files; nil for MONGODB_URI
}

func (s *store) acquire() (*mongo.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 {
		client, stop, err := open()
		if err != nil {
			return nil, err
		}
		s.client, s.stop = client, stop
	}
	s.refs++
	return s.client, nil
}

func (s *store) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.client.Disconnect(ctx)
	if s.stop != nil {
		s.stop()
	}
	s.client, s.stop = nil, nil
}

func open() (*mongo.Client, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		client, err := mongox.Connect(ctx, uri, 0, monitored())
		if err != nil {
			return nil, nil, fmt.Errorf("MONGODB_URI: %w", err)
		}
		return client, nil, nil
	}

	dir, err := os.MkdirTemp("", "testenv-ferretdb-")
	if err != nil {
		return nil, nil, fmt.Errorf("ferretdb data dir: %w", err)
	}
	uri, stopFerret, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{
		Dir:    dir,
		Addr:   "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	stop := func() {
		stopFerret()
		_ = os.RemoveAll(dir)
	}
	client, err := mongox.Connect(ctx, uri, 1, monitored())
	if err != nil {
		stop()
		return nil, nil, err
	}
	return client, stop, nil
}

var dbSeq atomic.Int64

// dbName derives a unique, valid database name from the test name: MongoDB
// forbids /\. "$*<>:|? and caps names at 64 bytes, and names differing only
// in case collide, hence lower case and a sequence number.
func dbName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	suffix := fmt.Sprintf("_%d_%d", os.Getpid()%100000, dbSeq.Add(1))
	const maxLen = 60
	if len(name)+len(suffix)+2 > maxLen {
		name = name[:maxLen-len(suffix)-2]
	}
	return "t_" + name + suffix
}

// counters holds, per database name, the command counter of Commands.
var counters sync.Map

func monitored() *options.ClientOptions {
	return options.Client().SetMonitor(&event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if c, ok := counters.Load(e.DatabaseName); ok {
			c.(*atomic.Int64).Add(1)
		}
	}})
}

// Commands starts counting the commands (reads and writes, each round trip
// to the database) sent to db, and returns the count so far: a test that a
// batch read costs the same whatever its size compares two counts.
func Commands(db *mongo.Database) func() int64 {
	c := new(atomic.Int64)
	counters.Store(db.Name(), c)
	return c.Load
}
