// Package docstore keeps aggregates as single MongoDB documents with
// optimistic concurrency and a transactional outbox: a state change and the
// events it causes are written by one document write, so a crash can never
// keep one without the other (DESIGN.md §5; FerretDB has no multi-document
// transactions).
//
// Every document carries `version` (checked and bumped by each write),
// `outbox` (events waiting for the relay, keyed by event id) and
// `outbox_pending`; the aggregate's own fields are inlined beside them.
package docstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/platform/outbox"
)

// ErrNotFound is returned when no document has the id.
var ErrNotFound = errors.New("document not found")

// ErrExists is returned by Create when the id is taken.
var ErrExists = errors.New("document already exists")

// maxAttempts bounds the read-modify-write retries of Update under
// contention before it gives up with Aborted.
const maxAttempts = 20

// backoff waits a little, randomly, before the next attempt, so that
// writers who collided do not collide again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Millisecond << min(attempt, 6) // up to 64 ms
	t := time.NewTimer(rand.N(limit) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// FieldClaimedUntil is the lease of a background job on a document (see
// Claim); Update keeps it.
const FieldClaimedUntil = "claimed_until"

// record is the stored form: the aggregate inlined beside the bookkeeping.
type record[T any] struct {
	ID            string `bson:"_id"`
	outbox.Fields `bson:",inline"`
	// ClaimedUntil is read and written back by Update so that a write
	// made while a job holds the lease does not drop it.
	ClaimedUntil *time.Time `bson:"claimed_until,omitempty"`
	// RequestHash is the fingerprint of the request that created the
	// document (CreateOnce), kept by every later write.
	RequestHash string `bson:"request_hash,omitempty"`
	Doc         T      `bson:",inline"`
}

// Store reads and writes aggregates of type T (a struct with bson tags; it
// must not use the field names _id, version, outbox, outbox_pending,
// claimed_until, request_hash).
type Store[T any] struct {
	coll  *mongo.Collection
	kick  func()
	codec Codec
}

// New returns a store over coll. kick, when not nil, is called after every
// write that queued events (the relay's Kick), so events leave at once
// instead of at the next poll.
func New[T any](coll *mongo.Collection, kick func()) *Store[T] {
	return &Store[T]{coll: coll, kick: kick}
}

// Collection is the underlying collection, for queries.
func (s *Store[T]) Collection() *mongo.Collection { return s.coll }

// Get returns the aggregate and its version.
func (s *Store[T]) Get(ctx context.Context, id string) (T, int64, error) {
	var rec record[T]
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		var zero T
		return zero, 0, ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, 0, fmt.Errorf("get %s/%s: %w", s.coll.Name(), id, err)
	}
	if err := s.decode(ctx, raw, &rec); err != nil {
		var zero T
		return zero, 0, err
	}
	return rec.Doc, rec.Version, nil
}

// Create inserts a new aggregate with its first events. An existing id
// answers ErrExists, which makes creates with deterministic ids idempotent.
func (s *Store[T]) Create(ctx context.Context, id string, doc T, events ...outbox.Message) error {
	rec := record[T]{ID: id, Doc: doc}
	rec.Version = 1
	if err := rec.Append(outbox.Traced(ctx, events)...); err != nil {
		return fmt.Errorf("create %s/%s: %w", s.coll.Name(), id, err)
	}
	w, err := s.sealed(ctx, id, rec)
	if err != nil {
		return err
	}
	if _, err := s.coll.InsertOne(ctx, w); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return ErrExists
		}
		return fmt.Errorf("create %s/%s: %w", s.coll.Name(), id, err)
	}
	s.kicked(len(events))
	return nil
}

// CreateOnce is Create for a request with an idempotency key (AIP-155,
// package idempotency): id must be derived from the key, and requestHash
// (idempotency.Hash of the request) is stored with the document. It answers
// the document and created=true when this call inserted it; when the id is
// taken, the stored document and created=false if it was created by the
// same request (a retry, or a replica that won the race for the same key:
// the unique _id decides, so exactly one insert wins under any
// interleaving), or idempotency.ErrReused if it was created by another
// request or without a hash.
func (s *Store[T]) CreateOnce(ctx context.Context, id, requestHash string, doc T, events ...outbox.Message) (T, bool, error) {
	rec := record[T]{ID: id, Doc: doc, RequestHash: requestHash}
	rec.Version = 1
	var zero T
	if err := rec.Append(outbox.Traced(ctx, events)...); err != nil {
		return zero, false, fmt.Errorf("create %s/%s: %w", s.coll.Name(), id, err)
	}
	w, err := s.sealed(ctx, id, rec)
	if err != nil {
		return zero, false, err
	}
	_, err = s.coll.InsertOne(ctx, w)
	if err == nil {
		s.kicked(len(events))
		return doc, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return zero, false, fmt.Errorf("create %s/%s: %w", s.coll.Name(), id, err)
	}
	var stored record[T]
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return zero, false, fmt.Errorf("load %s/%s after a duplicate create: %w", s.coll.Name(), id, err)
	}
	if h, _ := raw.Lookup("request_hash").StringValueOK(); requestHash == "" || h != requestHash {
		return zero, false, idempotency.ErrReused
	}
	if err := s.decode(ctx, raw, &stored); err != nil {
		return zero, false, err
	}
	return stored.Doc, false, nil
}

// Update reads the aggregate, applies fn and writes it back if nobody wrote
// in between; otherwise it reads again and re-applies fn. fn may run more
// than once, so it must only change the aggregate it is given. The events
// fn returns are stored by the same write. An error from fn aborts without
// writing and is returned as is. When fn changes nothing and returns no
// events, nothing is written (the version stays): a job that finds its
// work already done costs a read, not a write.
func (s *Store[T]) Update(ctx context.Context, id string, fn func(doc *T) ([]outbox.Message, error)) (T, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			var zero T
			return zero, ErrNotFound
		}
		if err != nil {
			var zero T
			return zero, fmt.Errorf("load %s/%s: %w", s.coll.Name(), id, err)
		}
		if raw, err = s.opened(ctx, raw); err != nil {
			var zero T
			return zero, err
		}
		// Decoded twice: the second copy is what fn's result is compared
		// with (comparing encodings would see map order, not changes).
		var rec, stored record[T]
		if err := errors.Join(bson.Unmarshal(raw, &rec), bson.Unmarshal(raw, &stored)); err != nil {
			var zero T
			return zero, fmt.Errorf("decode %s/%s: %w", s.coll.Name(), id, err)
		}
		events, err := fn(&rec.Doc)
		if err != nil {
			var zero T
			return zero, err
		}
		if len(events) == 0 && reflect.DeepEqual(rec.Doc, stored.Doc) {
			return rec.Doc, nil
		}
		read := rec.Version
		rec.Version = read + 1
		if err := rec.Append(outbox.Traced(ctx, events)...); err != nil {
			var zero T
			return zero, fmt.Errorf("update %s/%s: %w", s.coll.Name(), id, err)
		}
		w, err := s.sealed(ctx, id, rec)
		if err != nil {
			var zero T
			return zero, err
		}
		res, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: outbox.FieldVersion, Value: read}}, w)
		if err != nil {
			var zero T
			return zero, fmt.Errorf("write %s/%s: %w", s.coll.Name(), id, err)
		}
		if res.MatchedCount == 1 {
			s.kicked(len(events))
			return rec.Doc, nil
		}
		if err := backoff(ctx, attempt); err != nil {
			var zero T
			return zero, err
		}
	}
	var zero T
	return zero, apperr.Aborted("the record changed while it was being saved, please retry")
}

// Claim leases one document that matches filter and whose lease has run
// out (or that never had one), the first in sort order: it sets
// claimed_until to now+lease and bumps the version in one findOneAndUpdate,
// so that of several replicas asking at once each gets a different document
// on MongoDB under any interleaving, and a concurrent Update cannot write
// the lease away (its version check fails and it re-reads). It returns the
// claimed id, or ErrNotFound when nothing is left to claim.
//
// The lease is not released: the job's own write normally takes the
// document out of filter (e.g. moves its due time); one whose work failed
// is claimed again once the lease has run out, so a failing document
// cannot keep a job busy. Declare an index on filter's keys (then
// claimed_until) for MongoDB. Only operators FerretDB supports are used
// (no $expr; findOneAndUpdate without projection, DESIGN §6).
func (s *Store[T]) Claim(ctx context.Context, filter bson.D, sort bson.D, now time.Time, lease time.Duration) (string, error) {
	f := append(bson.D{}, filter...)
	f = append(f, bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: FieldClaimedUntil, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: FieldClaimedUntil, Value: bson.D{{Key: "$lte", Value: now}}}},
	}})
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: FieldClaimedUntil, Value: now.Add(lease)}}},
		{Key: "$inc", Value: bson.D{{Key: outbox.FieldVersion, Value: 1}}},
	}
	opts := options.FindOneAndUpdate().SetReturnDocument(options.After)
	if len(sort) > 0 {
		opts.SetSort(sort)
	}
	var got struct {
		ID string `bson:"_id"`
	}
	err := s.coll.FindOneAndUpdate(ctx, f, update, opts).Decode(&got)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("claim in %s: %w", s.coll.Name(), err)
	}
	return got.ID, nil
}

// Find decodes every aggregate matching filter, in the order opts give.
// Keep filters bounded (a limit, or a small per-client set): FerretDB scans.
func (s *Store[T]) Find(ctx context.Context, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := s.coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", s.coll.Name(), err)
	}
	if s.codec == nil {
		var recs []record[T]
		if err := cur.All(ctx, &recs); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.coll.Name(), err)
		}
		out := make([]T, len(recs))
		for i := range recs {
			out[i] = recs[i].Doc
		}
		return out, nil
	}
	defer cur.Close(ctx)
	var out []T
	for cur.Next(ctx) {
		var rec record[T]
		if err := s.decode(ctx, cur.Current, &rec); err != nil {
			return nil, err
		}
		out = append(out, rec.Doc)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.coll.Name(), err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

func (s *Store[T]) kicked(n int) {
	if n > 0 && s.kick != nil {
		s.kick()
	}
}
