package docstore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/outbox"
)

// Resealer is a Codec that re-encrypts a stored document under the
// current keys (package sealcodec).
type Resealer interface {
	Codec
	// Reseal answers the top-level fields of doc (as stored) to set so
	// that every sealed value in it is under its owner's current key, with
	// the new values; none when it is already. An error that is the
	// record's own (it does not decrypt, its owner was erased) is
	// answered as ErrResealRecord, so the job counts it and goes on.
	Reseal(ctx context.Context, id string, doc bson.D) (bson.D, error)
}

// ErrResealRecord marks an error of one record in Reseal (it does not open,
// its owner was erased): the job counts it as failed and goes on.
var ErrResealRecord = errors.New("record cannot be re-sealed")

// ResealResult counts what one Reseal run did.
type ResealResult struct {
	// Resealed documents were written with every sealed value under the
	// current key.
	Resealed int
	// Current documents needed nothing.
	Current int
	// Skipped documents changed while being re-sealed (a write in between
	// seals them anew under the current key anyway); a later run checks
	// them again.
	Skipped int
	// Failed documents do not open (damaged, or their owner was erased);
	// they are left as they are.
	Failed int
	// Last is the _id of the last document examined: a job stopped
	// half-way (by its lease or an error) can pass it as After to go on
	// from there instead of reading the done part again.
	Last string
}

// ResealOptions tune Reseal; zero values take the defaults.
type ResealOptions struct {
	// Batch is the documents read per query (default 100).
	Batch int
	// After starts the scan after this _id (a previous run's Last); ""
	// starts at the beginning.
	After string
	// BeforeWrite, when set, runs between a document's read and its
	// write (tests use it to interleave a concurrent update).
	BeforeWrite func(id string)
}

// Reseal re-encrypts every document of the store's collection whose sealed
// values are not all under their owner's current key (Resealer). The store
// must have a codec that is a Resealer.
func (s *Store[T]) Reseal(ctx context.Context, opts ResealOptions) (ResealResult, error) {
	r, ok := s.codec.(Resealer)
	if !ok {
		return ResealResult{}, fmt.Errorf("reseal %s: the store has no re-sealing codec", s.coll.Name())
	}
	return Reseal(ctx, s.coll, r, opts)
}

// Reseal re-encrypts the documents of coll under their owners' current
// keys, batch by batch in _id order. It is idempotent and resumable: a
// document already under the current key costs one read and is left alone
// (its ciphertexts name their key), so a run that stops half-way is
// finished by the next, and two replicas running it at once write each
// document at most once between them.
//
// Each write sets only the sealed top-level fields, on condition that the
// document still holds exactly the values read (and the same version, when
// it has one): any write in between (an Update seals every field anew, a
// relay or a heal $unsets) makes it match nothing, so nothing written
// meanwhile is ever lost; the document is counted Skipped. The version is
// not bumped: the plain content is unchanged, so no reader's version (an
// ETag) goes stale because of a re-encryption.
func Reseal(ctx context.Context, coll *mongo.Collection, r Resealer, opts ResealOptions) (ResealResult, error) {
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	res := ResealResult{Last: opts.After}
	var after any
	if opts.After != "" {
		after = opts.After
	}
	for {
		filter := bson.D{}
		if after != nil {
			filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
		}
		cur, err := coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(opts.Batch)))
		if err != nil {
			return res, fmt.Errorf("reseal %s: scan: %w", coll.Name(), err)
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			return res, fmt.Errorf("reseal %s: scan: %w", coll.Name(), err)
		}
		for _, raw := range docs {
			after = raw.Lookup("_id")
			if err := resealOne(ctx, coll, r, raw, opts, &res); err != nil {
				return res, err
			}
			if id, ok := after.(bson.RawValue).StringValueOK(); ok {
				res.Last = id
			}
		}
		if len(docs) < opts.Batch {
			return res, nil
		}
	}
}

// resealOne re-seals one document; the write's condition holds the values
// as read (raw), which the codec's in-place changes to doc do not touch.
func resealOne(ctx context.Context, coll *mongo.Collection, r Resealer, raw bson.Raw, opts ResealOptions, res *ResealResult) error {
	rawID := raw.Lookup("_id")
	id, ok := rawID.StringValueOK()
	if !ok {
		id = rawID.String()
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("reseal %s/%s: decode: %w", coll.Name(), id, err)
	}
	set, err := r.Reseal(ctx, id, doc)
	if errors.Is(err, ErrResealRecord) {
		res.Failed++
		return nil
	}
	if err != nil {
		return fmt.Errorf("reseal %s/%s: %w", coll.Name(), id, err)
	}
	if len(set) == 0 {
		res.Current++
		return nil
	}
	cond := bson.D{{Key: "_id", Value: rawID}}
	if v, err := raw.LookupErr(outbox.FieldVersion); err == nil {
		cond = append(cond, bson.E{Key: outbox.FieldVersion, Value: v})
	}
	for _, e := range set {
		if v, err := raw.LookupErr(e.Key); err == nil {
			cond = append(cond, bson.E{Key: e.Key, Value: v})
		} else {
			cond = append(cond, bson.E{Key: e.Key, Value: bson.D{{Key: "$exists", Value: false}}})
		}
	}
	if opts.BeforeWrite != nil {
		opts.BeforeWrite(id)
	}
	u, err := coll.UpdateOne(ctx, cond, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("reseal %s/%s: write: %w", coll.Name(), id, err)
	}
	if u.MatchedCount == 1 {
		res.Resealed++
	} else {
		res.Skipped++
	}
	return nil
}
