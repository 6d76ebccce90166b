// Package sealcodec seals the free-text fields of stored documents with
// platform/fieldcrypt (issue 13): a docstore.Codec that seals before every
// write and opens after every read, for top-level strings, arrays of
// strings, strings inside sub-documents and arrays of sub-documents, and
// the string values of maps.
//
// Each value is sealed with the associated data Ref{client, collection,
// document id, field path}, where the path names the array index or map
// key of the value ("reasons[1]", "boundaries[0].label",
// `hard_date_notes["h1"]`): a value copied into another document, another
// field or another element of the same array does not open.
//
// Stored form: a sealed value is BSON binary (Tink's ciphertext) under its
// own name; a string there is a value written before encryption, read as is
// until the document is next written (or re-sealed, Reseal), when it is
// sealed. A listed field absent from a document or a sub-document is
// sealed as "" too, so that a write for an erased client is always refused
// and a document does not tell which optional fields were filled in.
//
// Nothing may filter or sort on a sealed field: the database sees only
// ciphertext.
package sealcodec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
)

// Spec names the sealed fields of one collection.
type Spec struct {
	// Collection is the collection's name (part of the associated data).
	Collection string
	// ClientField is the top-level field holding the id of the keyset's
	// owner (default "client_id"): the client whose words they are, or
	// for a secret, its owner.
	ClientField string
	// Paths are the sealed fields, dot-separated; a segment ending in
	// "[]" is an array (of strings when last, else of sub-documents), one
	// ending in "{}" a map (string values when last, else sub-document
	// values): "title", "reasons[]", "boundaries[].label",
	// "hard_date_notes{}".
	Paths []string
	// Erased is the message of the FailedPrecondition answered for an
	// erased client (default: "this client's data was erased: nothing can
	// be read or written for them").
	Erased string
}

type kind int

const (
	plain kind = iota
	array
	mapping
)

type segment struct {
	name string
	kind kind
}

// Codec seals and opens the fields of one collection. It implements
// docstore.Codec and docstore.Resealer.
type Codec struct {
	keys   *fieldcrypt.Keyring
	spec   Spec
	paths  [][]segment
	tops   []string // the top-level fields the paths start with, once each
	erased string
}

// New returns the codec of spec. It panics on a malformed path (a
// programming error, caught by any test that builds the codec).
func New(keys *fieldcrypt.Keyring, spec Spec) *Codec {
	c := &Codec{keys: keys, spec: spec, erased: spec.Erased}
	if c.spec.ClientField == "" {
		c.spec.ClientField = "client_id"
	}
	if c.erased == "" {
		c.erased = "this client's data was erased: nothing can be read or written for them"
	}
	seen := map[string]bool{}
	for _, p := range spec.Paths {
		var segs []segment
		for _, s := range strings.Split(p, ".") {
			seg := segment{name: s}
			switch {
			case strings.HasSuffix(s, "[]"):
				seg = segment{name: strings.TrimSuffix(s, "[]"), kind: array}
			case strings.HasSuffix(s, "{}"):
				seg = segment{name: strings.TrimSuffix(s, "{}"), kind: mapping}
			}
			if seg.name == "" || strings.ContainsAny(seg.name, "[]{}\"") {
				panic(fmt.Sprintf("sealcodec: malformed path %q", p))
			}
			segs = append(segs, seg)
		}
		c.paths = append(c.paths, segs)
		if !seen[segs[0].name] {
			seen[segs[0].name] = true
			c.tops = append(c.tops, segs[0].name)
		}
	}
	return c
}

// Sealed returns store with the paths of its collection sealed.
func Sealed[T any](store *docstore.Store[T], keys *fieldcrypt.Keyring, spec Spec) *docstore.Store[T] {
	if spec.Collection == "" {
		spec.Collection = store.Collection().Name()
	}
	return store.WithCodec(New(keys, spec))
}

// Collection is the name of the codec's collection.
func (c *Codec) Collection() string { return c.spec.Collection }

// ClientOf is the keyset owner named by doc.
func (c *Codec) ClientOf(doc bson.D) string {
	s, _ := lookup(doc, c.spec.ClientField).(string)
	return s
}

func lookup(doc bson.D, key string) any {
	if i := index(doc, key); i >= 0 {
		return doc[i].Value
	}
	return nil
}

func index(doc bson.D, key string) int {
	for i, e := range doc {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// op is what is done to one leaf value: seal a string, or open a sealed
// value. It answers the new value.
type op func(field string, v any) (any, error)

// walk applies f to every leaf of every path in doc, in place.
func (c *Codec) walk(id string, doc bson.D, f op) (bson.D, error) {
	var err error
	for _, segs := range c.paths {
		if doc, err = c.walkIn(id, doc, segs, "", f); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func (c *Codec) walkIn(id string, doc bson.D, segs []segment, prefix string, f op) (bson.D, error) {
	seg, last := segs[0], len(segs) == 1
	name := prefix + seg.name
	i := index(doc, seg.name)
	var v any
	if i >= 0 {
		v = doc[i].Value
	}
	if seg.kind == plain && last {
		nv, err := f(name, v)
		if err != nil {
			return nil, err
		}
		if nv == nil {
			return doc, nil
		}
		if i >= 0 {
			doc[i].Value = nv
		} else {
			doc = append(doc, bson.E{Key: seg.name, Value: nv})
		}
		return doc, nil
	}
	if v == nil {
		return doc, nil // an absent or null container holds nothing
	}
	// each visits one element (a leaf, or a sub-document to descend into).
	each := func(field string, el any) (any, error) {
		if last {
			if el == nil {
				return nil, nil
			}
			return f(field, el)
		}
		sub, ok := el.(bson.D)
		if !ok {
			if el == nil {
				return nil, nil
			}
			return nil, fmt.Errorf("sealcodec: %s/%s.%s: not a document", c.spec.Collection, id, field)
		}
		return c.walkIn(id, sub, segs[1:], field+".", f)
	}
	switch seg.kind {
	case plain: // a sub-document
		sub, err := each(name, v)
		if err != nil {
			return nil, err
		}
		if sub != nil {
			doc[i].Value = sub
		}
	case array:
		arr, ok := v.(bson.A)
		if !ok {
			return nil, fmt.Errorf("sealcodec: %s/%s.%s: not an array", c.spec.Collection, id, name)
		}
		for j := range arr {
			nv, err := each(name+"["+strconv.Itoa(j)+"]", arr[j])
			if err != nil {
				return nil, err
			}
			if nv != nil {
				arr[j] = nv
			}
		}
	case mapping:
		m, ok := v.(bson.D)
		if !ok {
			return nil, fmt.Errorf("sealcodec: %s/%s.%s: not a map", c.spec.Collection, id, name)
		}
		for j := range m {
			// Quoted: a key holding brackets, quotes or dots still
			// names exactly one element.
			nv, err := each(name+"["+strconv.Quote(m[j].Key)+"]", m[j].Value)
			if err != nil {
				return nil, err
			}
			if nv != nil {
				m[j].Value = nv
			}
		}
	}
	return doc, nil
}

func (c *Codec) ref(client, id, field string) fieldcrypt.Ref {
	return fieldcrypt.Ref{Client: client, Collection: c.spec.Collection, Document: id, Field: field}
}

// Seal implements docstore.Codec: every listed value of doc is sealed (a
// listed top-level or sub-document field that is absent as ""), or the
// write is refused.
func (c *Codec) Seal(ctx context.Context, id string, doc bson.D) (bson.D, error) {
	client := c.ClientOf(doc)
	return c.walk(id, doc, func(field string, v any) (any, error) {
		var plain string
		switch s := v.(type) {
		case nil:
		case string:
			plain = s
		default:
			return nil, fmt.Errorf("sealcodec: seal %s/%s.%s: not a string", c.spec.Collection, id, field)
		}
		ct, err := c.keys.Seal(ctx, c.ref(client, id, field), plain)
		if err != nil {
			return nil, c.mapErr(err, id)
		}
		return bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: ct}, nil
	})
}

// Open implements docstore.Codec: the whole document opens or the read
// fails; a value that does not open is never passed on.
func (c *Codec) Open(ctx context.Context, id string, doc bson.D) (bson.D, error) {
	client := c.ClientOf(doc)
	return c.walk(id, doc, func(field string, v any) (any, error) {
		switch s := v.(type) {
		case nil:
			return nil, nil
		case string: // written before encryption
			return nil, nil
		case bson.Binary:
			ref := c.ref(client, id, field)
			plain, err := c.keys.Open(ctx, ref, s.Data)
			if errors.Is(err, fieldcrypt.ErrNoKeyset) {
				// A ciphertext in the record of an owner who has no
				// keys: moved from another owner's record (or the
				// keyset document is gone). It does not open here.
				err = fmt.Errorf("%w (%s): %w", fieldcrypt.ErrOpen, ref, err)
			}
			if err != nil {
				return nil, c.mapErr(err, id)
			}
			return plain, nil
		default:
			return nil, c.mapErr(fmt.Errorf("%w (%s)", fieldcrypt.ErrOpen, c.ref(client, id, field)), id)
		}
	})
}

// Decode opens raw's sealed fields and decodes it into out, for a query
// that reads the collection without the store; a nil Codec decodes raw as
// it is.
func (c *Codec) Decode(ctx context.Context, raw bson.Raw, out any) error {
	if c == nil {
		return bson.Unmarshal(raw, out)
	}
	id, _ := raw.Lookup("_id").StringValueOK()
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("decode %s/%s: %w", c.spec.Collection, id, err)
	}
	d, err := c.Open(ctx, id, d)
	if err != nil {
		return err
	}
	opened, err := bson.Marshal(d)
	if err != nil {
		return fmt.Errorf("decode %s/%s: %w", c.spec.Collection, id, err)
	}
	return bson.Unmarshal(opened, out)
}

// SealValue seals one value of the document id owned by client at path
// (a concrete path, as the associated data names it: "secret",
// "reasons[1]"), for an update that sets one field without the store.
func (c *Codec) SealValue(ctx context.Context, client, id, path, plain string) (bson.Binary, error) {
	ct, err := c.keys.Seal(ctx, c.ref(client, id, path), plain)
	if err != nil {
		return bson.Binary{}, c.mapErr(err, id)
	}
	return bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: ct}, nil
}

// Encode is v (a struct with bson tags, or a bson.D) in its stored form
// with its sealed fields sealed under _id id, for a write made without
// the store.
func (c *Codec) Encode(ctx context.Context, id string, v any) (bson.D, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", c.spec.Collection, id, err)
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", c.spec.Collection, id, err)
	}
	return c.Seal(ctx, id, d)
}

// mapErr gives the keyring's failures their status, with ids only:
//   - an erased client: FailedPrecondition (nothing more will ever open);
//   - a value that does not open for where it is (tampered, truncated,
//     copied from another document, field or element, or into the record
//     of an owner who has no keyset) or a keyset that unwraps under no
//     configured KEK: DataLoss, so that the caller sees
//     the record is damaged rather than a passing fault, and never a part
//     of it.
//
// Anything else (the keysets collection unreachable) stays as it is.
func (c *Codec) mapErr(err error, id string) error {
	switch {
	case errors.Is(err, fieldcrypt.ErrDestroyed):
		return apperr.Wrap(apperr.KindFailedPrecondition, err, "%s", c.erased)
	case errors.Is(err, fieldcrypt.ErrOpen), errors.Is(err, fieldcrypt.ErrUnwrap):
		return apperr.Wrap(apperr.KindDataLoss, err, "stored record %s/%s does not decrypt (damaged or moved); nothing of it is answered", c.spec.Collection, id)
	}
	return err
}

// Reseal implements docstore.Resealer: when any sealed value of doc is not
// under its owner's current primary key (told by the key id in its Tink
// prefix, without decrypting), or is plaintext written before encryption,
// the document is opened and sealed again, and the top-level fields of its
// paths are answered with their new values.
func (c *Codec) Reseal(ctx context.Context, id string, doc bson.D) (bson.D, error) {
	client := c.ClientOf(doc)
	primary, err := c.keys.Primary(ctx, client)
	noKeyset := errors.Is(err, fieldcrypt.ErrNoKeyset)
	switch {
	case noKeyset, err == nil:
	case errors.Is(err, fieldcrypt.ErrDestroyed), errors.Is(err, fieldcrypt.ErrUnwrap), errors.Is(err, fieldcrypt.ErrInvalidRef):
		return nil, fmt.Errorf("%w: %w", docstore.ErrResealRecord, err)
	default:
		return nil, err
	}
	stale := false
	if _, err := c.walk(id, doc, func(_ string, v any) (any, error) {
		switch s := v.(type) {
		case bson.Binary:
			if kid, ok := fieldcrypt.KeyID(s.Data); !ok || noKeyset || kid != primary {
				stale = true
			}
		case string:
			stale = true
		}
		return nil, nil
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", docstore.ErrResealRecord, err)
	}
	if !stale {
		return nil, nil
	}
	opened, err := c.Open(ctx, id, doc)
	if err != nil {
		if errors.Is(err, fieldcrypt.ErrOpen) || errors.Is(err, fieldcrypt.ErrDestroyed) || errors.Is(err, fieldcrypt.ErrUnwrap) {
			return nil, fmt.Errorf("%w: %w", docstore.ErrResealRecord, err)
		}
		return nil, err
	}
	sealed, err := c.Seal(ctx, id, opened)
	if err != nil {
		if errors.Is(err, fieldcrypt.ErrDestroyed) {
			return nil, fmt.Errorf("%w: %w", docstore.ErrResealRecord, err)
		}
		return nil, err
	}
	var set bson.D
	for _, top := range c.tops {
		if i := index(sealed, top); i >= 0 {
			set = append(set, sealed[i])
		}
	}
	return set, nil
}
