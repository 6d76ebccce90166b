package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/sealcodec"
)

// SealedFields are the free-text fields of each collection, sealed at rest
// with the client's keyset (issue 13, platform/sealcodec). Risk flags and
// access records hold no text (a flag's category and reason are fixed
// values, never words).
var SealedFields = map[string][]string{
	CollEntries:  {"title", "body"},
	CollCheckIns: {"note"},
	CollUrges:    {"note"},
}

// erased is what a read or write for an erased client answers.
const erased = "this client's journal was erased: nothing can be read or written for them"

// NewSealer returns the codec of coll (one of SealedFields' keys): each
// field sealed with Ref{client_id, collection, _id, field}.
func NewSealer(keys *fieldcrypt.Keyring, coll string) *sealcodec.Codec {
	return sealcodec.New(keys, sealcodec.Spec{Collection: coll, Paths: SealedFields[coll], Erased: erased})
}

// Sealed returns store with its collection's text fields sealed.
func Sealed[T any](store *docstore.Store[T], keys *fieldcrypt.Keyring) *docstore.Store[T] {
	return store.WithCodec(NewSealer(keys, store.Collection().Name()))
}

// Reseal re-encrypts, under each client's current key, every entry,
// check-in and urge whose sealed fields are not all under it (after a
// RotateDEK; docstore.Reseal: idempotent, resumable, never losing a
// concurrent write). It answers the counts per collection.
func Reseal(ctx context.Context, db *mongo.Database, keys *fieldcrypt.Keyring, opts docstore.ResealOptions) (map[string]docstore.ResealResult, error) {
	out := map[string]docstore.ResealResult{}
	for _, coll := range []string{CollEntries, CollCheckIns, CollUrges} {
		res, err := docstore.Reseal(ctx, db.Collection(coll), NewSealer(keys, coll), opts)
		out[coll] = res
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
