package mongodb

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
)

// SealedFields are the free-text fields of each collection, sealed at rest
// with the client's keyset (issue 13). Risk flags and access records hold
// no text (a flag's category and reason are fixed values, never words).
var SealedFields = map[string][]string{
	CollEntries:  {"title", "body"},
	CollCheckIns: {"note"},
	CollUrges:    {"note"},
}

// Sealer is the docstore codec of one collection: it seals SealedFields of
// the collection with fieldcrypt before every write and opens them after
// every read, each with Ref{client_id, collection, _id, field}.
//
// Stored form: a sealed field holds BSON binary (Tink's ciphertext) under
// its own name; a string there is a value written before encryption
// (plaintext, read as is until the document is next written, when it is
// sealed). Every listed field is sealed on every write, absent or empty
// ones as "" too, so that a write for an erased client is always refused
// and a document does not tell which optional fields were filled in.
type Sealer struct {
	keys   *fieldcrypt.Keyring
	coll   string
	fields []string
}

// NewSealer returns the codec of coll (one of SealedFields' keys).
func NewSealer(keys *fieldcrypt.Keyring, coll string) *Sealer {
	return &Sealer{keys: keys, coll: coll, fields: SealedFields[coll]}
}

// Sealed returns store with its collection's text fields sealed.
func Sealed[T any](store *docstore.Store[T], keys *fieldcrypt.Keyring) *docstore.Store[T] {
	return store.WithCodec(NewSealer(keys, store.Collection().Name()))
}

func clientOf(doc bson.D) string {
	for _, e := range doc {
		if e.Key == "client_id" {
			s, _ := e.Value.(string)
			return s
		}
	}
	return ""
}

func (s *Sealer) ref(client, id, field string) fieldcrypt.Ref {
	return fieldcrypt.Ref{Client: client, Collection: s.coll, Document: id, Field: field}
}

// Seal implements docstore.Codec.
func (s *Sealer) Seal(ctx context.Context, id string, doc bson.D) (bson.D, error) {
	client := clientOf(doc)
	for _, f := range s.fields {
		i := index(doc, f)
		var plain string
		if i >= 0 {
			v, ok := doc[i].Value.(string)
			if !ok {
				return nil, fmt.Errorf("seal %s/%s.%s: not a string", s.coll, id, f)
			}
			plain = v
		}
		ct, err := s.keys.Seal(ctx, s.ref(client, id, f), plain)
		if err != nil {
			return nil, mapErr(err)
		}
		v := bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: ct}
		if i >= 0 {
			doc[i].Value = v
		} else {
			doc = append(doc, bson.E{Key: f, Value: v})
		}
	}
	return doc, nil
}

// Open implements docstore.Codec: the whole document opens or the read
// fails; a value that does not open is never passed on.
func (s *Sealer) Open(ctx context.Context, id string, doc bson.D) (bson.D, error) {
	client := clientOf(doc)
	for _, f := range s.fields {
		i := index(doc, f)
		if i < 0 {
			continue
		}
		switch v := doc[i].Value.(type) {
		case string: // written before encryption
		case bson.Binary:
			plain, err := s.keys.Open(ctx, s.ref(client, id, f), v.Data)
			if err != nil {
				return nil, mapErr(err)
			}
			doc[i].Value = plain
		default:
			return nil, fmt.Errorf("open %s/%s.%s: %w", s.coll, id, f, fieldcrypt.ErrOpen)
		}
	}
	return doc, nil
}

// mapErr gives an erased client's refusal its status; every other failure
// (a tampered or moved value, a lost keyset, the keysets collection
// unreachable) stays an internal error carrying ids only.
func mapErr(err error) error {
	if errors.Is(err, fieldcrypt.ErrDestroyed) {
		return apperr.Wrap(apperr.KindFailedPrecondition, err, "this client's journal was erased: nothing can be read or written for them")
	}
	return err
}

// decode opens raw's sealed fields and decodes it into out; a nil Sealer
// decodes raw as it is.
func (s *Sealer) decode(ctx context.Context, raw bson.Raw, out any) error {
	if s == nil {
		return bson.Unmarshal(raw, out)
	}
	id, _ := raw.Lookup("_id").StringValueOK()
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("decode %s/%s: %w", s.coll, id, err)
	}
	d, err := s.Open(ctx, id, d)
	if err != nil {
		return err
	}
	opened, err := bson.Marshal(d)
	if err != nil {
		return fmt.Errorf("decode %s/%s: %w", s.coll, id, err)
	}
	return bson.Unmarshal(opened, out)
}

func index(doc bson.D, key string) int {
	for i, e := range doc {
		if e.Key == key {
			return i
		}
	}
	return -1
}
