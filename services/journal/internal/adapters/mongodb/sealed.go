package mongodb

import (
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
