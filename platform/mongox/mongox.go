// Package mongox connects to the suite's document store and sets up indexes,
// using only what both MongoDB (production) and FerretDB 1.24 (development
// and tests) support.
//
// The one FerretDB rule every caller must keep (DESIGN §6): FerretDB 1.x does
// not isolate read-modify-write, so a FerretDB instance is reached through a
// single client whose pool holds one connection. Connect enforces the pool
// size; sharing that one client between simulated replicas is up to the caller.
package mongox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Connect opens a client to uri and pings it. maxPoolSize 0 keeps the
// driver's default pool size.
//
// When the server turns out to be FerretDB, the client is reopened with
// maxPoolSize=1 whatever was asked: with more connections FerretDB loses
// concurrent updates and lets several version-checked writers win, which
// would silently break the outbox and every optimistic-concurrency write.
//
// extra options (a command monitor, say) are applied on top.
func Connect(ctx context.Context, uri string, maxPoolSize uint64, extra ...*options.ClientOptions) (*mongo.Client, error) {
	client, err := connect(ctx, uri, maxPoolSize, extra...)
	if err != nil {
		return nil, err
	}
	if maxPoolSize == 1 || !IsFerretDB(ctx, client) {
		return client, nil
	}
	if err := client.Disconnect(ctx); err != nil {
		return nil, fmt.Errorf("mongo disconnect before forcing pool size 1: %w", err)
	}
	return connect(ctx, uri, 1, extra...)
}

func connect(ctx context.Context, uri string, maxPoolSize uint64, extra ...*options.ClientOptions) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(uri)
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(DefaultServerSelectionTimeout)
	}
	if maxPoolSize > 0 {
		opts.SetMaxPoolSize(maxPoolSize)
	}
	client, err := mongo.Connect(append([]*options.ClientOptions{opts}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("mongo connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongo ping: %w", err)
	}
	return client, nil
}

// IsFerretDB reports whether client talks to FerretDB rather than MongoDB.
// FerretDB adds a "ferretdbVersion" field to buildInfo; any error counts as
// "not FerretDB", since MongoDB is the production default.
func IsFerretDB(ctx context.Context, client *mongo.Client) bool {
	var info bson.M
	err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	if err != nil {
		return false
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

// ErrUnsupportedIndex is returned by EnsureIndexes for an index option that
// FerretDB does not implement (TTL, partial filter). Rejecting it everywhere
// keeps the code that passes the tests the code that runs in production.
var ErrUnsupportedIndex = errors.New("index option not supported on FerretDB")

// EnsureIndexes creates the indexes in specs (collection name → models) in db.
// It is idempotent: an existing index with the same keys and options is left
// alone, so every replica can call it at start-up. An index whose keys changed
// under the same name fails (a migration is a human decision); so does one
// whose options changed, on MongoDB only: FerretDB 1.24 silently keeps the
// old index (e.g. adding unique to an existing index does nothing). Give a
// changed index a new name.
// Collections are processed in name order so that errors are reproducible.
func EnsureIndexes(ctx context.Context, db *mongo.Database, specs map[string][]mongo.IndexModel) error {
	names := make([]string, 0, len(specs))
	for name := range specs {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		models := specs[name]
		if len(models) == 0 {
			continue
		}
		for i, m := range models {
			if err := checkSupported(m); err != nil {
				return fmt.Errorf("index %d on %s.%s: %w", i, db.Name(), name, err)
			}
		}
		// One index per command: FerretDB 1.24.2 panics (and drops the
		// connection) on a createIndexes naming two or more indexes that
		// already exist, i.e. on every restart after the first.
		for _, m := range models {
			if _, err := db.Collection(name).Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("create index %v on %s.%s: %w", m.Keys, db.Name(), name, err)
			}
		}
	}
	return nil
}

func checkSupported(m mongo.IndexModel) error {
	if m.Options == nil {
		return nil
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		if err := set(&o); err != nil {
			return err
		}
	}
	var bad []string
	if o.ExpireAfterSeconds != nil {
		bad = append(bad, "TTL (expireAfterSeconds): use a cleanup job")
	}
	if o.PartialFilterExpression != nil {
		bad = append(bad, "partialFilterExpression")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrUnsupportedIndex, strings.Join(bad, ", "))
	}
	return nil
}

// IsDuplicateKey reports whether err is a unique-index violation (E11000)
// from an insert, including inside a bulk write. It is the signal that an
// idempotent effect (deterministic id) has already been applied.
//
// On FerretDB an update that violates a unique index answers InternalError,
// not E11000, so only inserts can rely on this.
func IsDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}
