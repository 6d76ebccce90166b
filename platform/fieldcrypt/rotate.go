package fieldcrypt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxRotateAttempts bounds RotateDEK's retries when the keyset changes
// under it.
const maxRotateAttempts = 5

// RewrapResult counts what one Rewrap run did.
type RewrapResult struct {
	// Rewrapped keysets are now wrapped by the current KEK.
	Rewrapped int
	// Skipped keysets changed while being rewrapped (another replica's
	// rewrap, a DEK rotation, a Destroy): left as the other writer left
	// them; a later run picks them up if still needed.
	Skipped int
	// Failed keysets unwrap under no configured KEK; they are left alone.
	Failed int
}

// Rewrap re-wraps, under the current KEK, every keyset wrapped by another
// one, batch documents per read, in _id order. It is idempotent and
// resumable: what is done drops out of its query, so a run that stops
// half-way is finished by the next. Each write is conditional on the
// version read, so replicas running it at once (or a RotateDEK or Destroy
// in between) never lose or resurrect a keyset: the second writer's update
// matches nothing. Old ciphertexts are untouched: the keys inside do not
// change, only their wrapping.
func (k *Keyring) Rewrap(ctx context.Context, batch int) (RewrapResult, error) {
	if batch <= 0 {
		batch = 100
	}
	var res RewrapResult
	after := ""
	for {
		filter := bson.D{
			{Key: "kek_id", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: k.keks.Current.ID}}},
			{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}},
		}
		cur, err := k.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(batch)))
		if err != nil {
			return res, fmt.Errorf("fieldcrypt: rewrap scan: %w", err)
		}
		var docs []keysetDoc
		if err := cur.All(ctx, &docs); err != nil {
			return res, fmt.Errorf("fieldcrypt: rewrap scan: %w", err)
		}
		for _, doc := range docs {
			after = doc.Client
			if doc.Destroyed || len(doc.Wrapped) == 0 {
				continue
			}
			h, err := k.unwrap(doc)
			if err != nil {
				res.Failed++
				continue
			}
			ok, err := k.replace(ctx, doc, h, false)
			if err != nil {
				return res, err
			}
			if ok {
				res.Rewrapped++
			} else {
				res.Skipped++
			}
		}
		if len(docs) < batch {
			return res, nil
		}
	}
}

// RotateDEK adds a new AES256-GCM key to the client's keyset and makes it
// the primary: new seals use it, every older ciphertext still opens. This
// replica uses the new key at once; others after their cache expiry
// (until then they seal with the previous primary, which stays valid).
func (k *Keyring) RotateDEK(ctx context.Context, client string) error {
	_, err := k.rotateDEK(ctx, client, nil)
	return err
}

// rotateDEK is RotateDEK when due(the keyset as read) holds (always when
// due is nil); it reports whether it rotated.
func (k *Keyring) rotateDEK(ctx context.Context, client string, due func(keysetDoc) bool) (bool, error) {
	for attempt := 0; attempt < maxRotateAttempts; attempt++ {
		doc, err := k.load(ctx, client)
		if err != nil {
			return false, err
		}
		if doc.Destroyed {
			return false, ErrDestroyed
		}
		if due != nil && !due(doc) {
			return false, nil
		}
		h, err := k.unwrap(doc)
		if err != nil {
			return false, err
		}
		m := keyset.NewManagerFromHandle(h)
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return false, fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		if err := m.SetPrimary(id); err != nil {
			return false, fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		if h, err = m.Handle(); err != nil {
			return false, fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		ok, err := k.replace(ctx, doc, h, true)
		if err != nil {
			return false, err
		}
		if ok {
			k.Forget(client)
			return true, nil
		}
	}
	return false, errors.New("fieldcrypt: the keyset kept changing during rotation, retry")
}

// replace writes h, wrapped by the current KEK, over doc if nobody wrote
// the document since it was read (same version, not destroyed). It
// reports whether it wrote. newDEK records that h has a new primary.
func (k *Keyring) replace(ctx context.Context, doc keysetDoc, h *keyset.Handle, newDEK bool) (bool, error) {
	wrapped, err := k.wrap(h, doc.Client)
	if err != nil {
		return false, err
	}
	if k.hooks.beforeReplace != nil {
		k.hooks.beforeReplace(doc.Client)
	}
	now := k.clock.Now().UTC()
	set := bson.D{{Key: "wrapped", Value: wrapped}, {Key: "kek_id", Value: k.keks.Current.ID}, {Key: "updated_at", Value: now}}
	if newDEK {
		set = append(set, bson.E{Key: "dek_time", Value: now})
	}
	res, err := k.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: doc.Client}, {Key: "version", Value: doc.Version}, {Key: "destroyed", Value: bson.D{{Key: "$ne", Value: true}}}},
		bson.D{
			{Key: "$set", Value: set},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
		})
	if err != nil {
		return false, fmt.Errorf("fieldcrypt: write keyset of client %s: %w", doc.Client, err)
	}
	return res.MatchedCount == 1, nil
}

// RotateDEKsBefore gives every keyset whose primary data key was made
// before cutoff (or at an unrecorded time) a new primary (RotateDEK),
// batch keysets per read, in _id order. It is idempotent and resumable: a
// rotated keyset's key time is after cutoff, so it drops out of the query,
// and a run that stops half-way is finished by the next; replicas running
// it at once rotate each keyset once (RotateDEK's version check; a keyset
// rotated meanwhile is read again and left alone). A cutoff in the future
// is refused: every keyset would be rotated again until it passed. It
// answers how many keysets it rotated.
func (k *Keyring) RotateDEKsBefore(ctx context.Context, cutoff time.Time, batch int) (int, error) {
	if cutoff.After(k.clock.Now()) {
		return 0, fmt.Errorf("fieldcrypt: rotate data keys made before %s: that is in the future", cutoff.UTC().Format(time.RFC3339))
	}
	if batch <= 0 {
		batch = 100
	}
	rotated := 0
	after := ""
	for {
		filter := bson.D{
			{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}},
			{Key: "destroyed", Value: bson.D{{Key: "$ne", Value: true}}},
			{Key: "$or", Value: bson.A{
				bson.D{{Key: "dek_time", Value: bson.D{{Key: "$lt", Value: cutoff.UTC()}}}},
				bson.D{{Key: "dek_time", Value: bson.D{{Key: "$exists", Value: false}}}},
			}},
		}
		cur, err := k.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(batch)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return rotated, fmt.Errorf("fieldcrypt: rotate data keys: %w", err)
		}
		var ids []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &ids); err != nil {
			return rotated, fmt.Errorf("fieldcrypt: rotate data keys: %w", err)
		}
		for _, d := range ids {
			after = d.ID
			ok, err := k.rotateDEK(ctx, d.ID, func(doc keysetDoc) bool {
				return doc.DEKTime == nil || doc.DEKTime.Before(cutoff)
			})
			switch {
			case errors.Is(err, ErrDestroyed) || errors.Is(err, ErrNoKeyset):
			case err != nil:
				return rotated, err
			case ok:
				rotated++
			}
		}
		if len(ids) < batch {
			return rotated, nil
		}
	}
}
