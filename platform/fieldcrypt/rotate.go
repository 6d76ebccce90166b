package fieldcrypt

import (
	"context"
	"errors"
	"fmt"

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
			ok, err := k.replace(ctx, doc, h)
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
	for attempt := 0; attempt < maxRotateAttempts; attempt++ {
		doc, err := k.load(ctx, client)
		if err != nil {
			return err
		}
		if doc.Destroyed {
			return ErrDestroyed
		}
		h, err := k.unwrap(doc)
		if err != nil {
			return err
		}
		m := keyset.NewManagerFromHandle(h)
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		if err := m.SetPrimary(id); err != nil {
			return fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		if h, err = m.Handle(); err != nil {
			return fmt.Errorf("fieldcrypt: rotate keyset of client %s: %w", client, err)
		}
		ok, err := k.replace(ctx, doc, h)
		if err != nil {
			return err
		}
		if ok {
			k.Forget(client)
			return nil
		}
	}
	return errors.New("fieldcrypt: the keyset kept changing during rotation, retry")
}

// replace writes h, wrapped by the current KEK, over doc if nobody wrote
// the document since it was read (same version, not destroyed). It
// reports whether it wrote.
func (k *Keyring) replace(ctx context.Context, doc keysetDoc, h *keyset.Handle) (bool, error) {
	wrapped, err := k.wrap(h, doc.Client)
	if err != nil {
		return false, err
	}
	if k.hooks.beforeReplace != nil {
		k.hooks.beforeReplace(doc.Client)
	}
	res, err := k.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: doc.Client}, {Key: "version", Value: doc.Version}, {Key: "destroyed", Value: bson.D{{Key: "$ne", Value: true}}}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "wrapped", Value: wrapped}, {Key: "kek_id", Value: k.keks.Current.ID}, {Key: "updated_at", Value: k.clock.Now().UTC()}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
		})
	if err != nil {
		return false, fmt.Errorf("fieldcrypt: write keyset of client %s: %w", doc.Client, err)
	}
	return res.MatchedCount == 1, nil
}
