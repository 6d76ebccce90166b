// Package fieldcrypt encrypts free-text fields at rest with a keyset per
// client (DESIGN §4, issue 13).
//
// Each client has a Tink AEAD keyset (AES256-GCM), created on the client's
// first Seal and stored, wrapped by a key-encryption key (KEK), in the
// calling service's own database (collection "keysets", _id = client id).
// Every ciphertext is bound by its associated data to the client, the
// collection, the document id and the field (Ref), so a value copied into
// another document, field or client's record does not open.
//
// Destroy crypto-shreds a client: the wrapped keyset is replaced by a
// tombstone, after which Seal and Open fail with ErrDestroyed on every
// replica once its cache entry has expired (Config.CacheTTL), or at once
// after Forget.
//
// Everything is safe with several replicas on MongoDB under any
// interleaving: creation rests on the unique _id (the loser re-reads the
// winner's keyset), rotation and rewrap write under a version check, and
// Destroy bumps the version so that no racing rewrap brings a key back.
package fieldcrypt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/mongox"
)

// Collection is the default name of the keysets collection.
const Collection = "keysets"

var (
	// ErrDestroyed: the client's keyset was destroyed (erasure). Nothing
	// can be sealed for the client any more and nothing opens.
	ErrDestroyed = errors.New("fieldcrypt: the client's keys were destroyed (erased client)")
	// ErrNoKeyset: Open for a client who never had anything sealed.
	ErrNoKeyset = errors.New("fieldcrypt: the client has no keyset")
	// ErrOpen: the ciphertext does not open for its reference: tampered,
	// truncated, copied from another document, field or client, or sealed
	// under a key that is gone.
	ErrOpen = errors.New("fieldcrypt: ciphertext does not open for this client, document and field")
	// ErrInvalidRef: a Ref with an empty part (a programming error).
	ErrInvalidRef = errors.New("fieldcrypt: reference needs client, collection, document and field")
	// ErrUnwrap: the client's stored keyset unwraps under no configured
	// KEK (a KEK removed too early, or a keyset document tampered with or
	// copied from another client). Nothing of the client opens.
	ErrUnwrap = errors.New("fieldcrypt: the client's keyset unwraps under no configured KEK")
)

// Ref names where a value lives: the associated data of its ciphertext.
type Ref struct {
	Client, Collection, Document, Field string
}

func (r Ref) validate() error {
	if r.Client == "" || r.Collection == "" || r.Document == "" || r.Field == "" {
		return ErrInvalidRef
	}
	return nil
}

// String names the reference in errors: ids only, never values.
func (r Ref) String() string {
	return r.Collection + "/" + r.Document + "." + r.Field + " of client " + r.Client
}

// aad encodes the reference unambiguously: a version label, then each part
// prefixed by its length (4 bytes, big-endian), so that no two different
// references share an encoding whatever bytes the ids hold.
func (r Ref) aad() []byte {
	return lengthPrefixed("nocontact/fieldcrypt/field/v1", r.Client, r.Collection, r.Document, r.Field)
}

// keysetAAD binds a wrapped keyset to its client: a keyset document copied
// under another client's _id does not unwrap.
func keysetAAD(client string) []byte {
	return lengthPrefixed("nocontact/fieldcrypt/keyset/v1", client)
}

func lengthPrefixed(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// Options configure a Keyring; zero values take the defaults.
type Options struct {
	// Clock tells the time of cache expiry and of the stored timestamps.
	Clock clock.Clock
	// CacheSize bounds the clients kept in memory (default 10000).
	CacheSize int
	// CacheTTL is the life of a cache entry (default 1 minute).
	CacheTTL time.Duration
	// Collection holds the wrapped keysets (default "keysets").
	Collection string
}

// Keyring seals and opens fields for every client of one service. It is
// safe for concurrent use.
type Keyring struct {
	coll  *mongo.Collection
	keks  KEKSet
	clock clock.Clock
	ttl   time.Duration
	cache *lru.Cache[string, cached]
	hooks hooks
}

// hooks let tests stop between the steps of a read-modify-write.
type hooks struct {
	beforeInsert  func(client string)
	beforeReplace func(client string)
}

type cached struct {
	aead      tink.AEAD // nil for a tombstone
	primary   uint32    // the keyset's primary key id
	destroyed bool
	loaded    time.Time
}

// keysetDoc is the stored form of a client's keyset.
type keysetDoc struct {
	Client  string `bson:"_id"`
	Version int64  `bson:"version"`
	// KEKID names the KEK that wrapped Wrapped.
	KEKID string `bson:"kek_id,omitempty"`
	// Wrapped is the Tink EncryptedKeyset (binary protobuf).
	Wrapped   []byte    `bson:"wrapped,omitempty"`
	CreatedAt time.Time `bson:"created_at,omitempty"`
	UpdatedAt time.Time `bson:"updated_at"`
	// DEKTime is when the keyset's primary data key was made (at
	// creation, then by each RotateDEK); absent on keysets written
	// before it was recorded.
	DEKTime     *time.Time `bson:"dek_time,omitempty"`
	Destroyed   bool       `bson:"destroyed,omitempty"`
	DestroyedAt *time.Time `bson:"destroyed_at,omitempty"`
}

// New returns a Keyring over db's keysets collection.
func New(db *mongo.Database, keks KEKSet, opts Options) (*Keyring, error) {
	if keks.Current.AEAD == nil || keks.Current.ID == "" {
		return nil, ErrNoKEK
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.Collection == "" {
		opts.Collection = Collection
	}
	cache, err := lru.New[string, cached](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: key cache: %w", err)
	}
	return &Keyring{coll: db.Collection(opts.Collection), keks: keks, clock: opts.Clock, ttl: opts.CacheTTL, cache: cache}, nil
}

// Indexes are the keysets collection's indexes, for mongox.EnsureIndexes
// at start-up: the Rewrap job's scan (kek_id, then _id order).
func (k *Keyring) Indexes() map[string][]mongo.IndexModel { return IndexesOf(k.coll.Name()) }

// IndexesOf are the indexes of a keysets collection named coll, for a
// service's index declaration (bootstrap.Spec) before any Keyring exists.
func IndexesOf(coll string) map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{
		coll: {{Keys: bson.D{{Key: "kek_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("kek_id_id")}},
	}
}

// Seal encrypts plaintext for ref, creating the client's keyset on first
// use. It fails with ErrDestroyed for an erased client.
func (k *Keyring) Seal(ctx context.Context, ref Ref, plaintext string) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	a, err := k.aeadFor(ctx, ref.Client, true)
	if err != nil {
		return nil, err
	}
	ct, err := a.Encrypt([]byte(plaintext), ref.aad())
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: seal %s: encryption failed", ref)
	}
	return ct, nil
}

// Open decrypts a ciphertext sealed for ref. It answers the whole
// plaintext or an error (ErrOpen, ErrDestroyed, ErrNoKeyset), never part.
func (k *Keyring) Open(ctx context.Context, ref Ref, ciphertext []byte) (string, error) {
	if err := ref.validate(); err != nil {
		return "", err
	}
	c, err := k.entry(ctx, ref.Client, false)
	if err != nil {
		return "", err
	}
	pt, err := c.aead.Decrypt(ciphertext, ref.aad())
	if err != nil && c.fromCache {
		// Another replica may have rotated the keyset (RotateDEK) and
		// sealed with the new key: read the keyset again, once.
		k.Forget(ref.Client)
		if c, err = k.entry(ctx, ref.Client, false); err != nil {
			return "", err
		}
		pt, err = c.aead.Decrypt(ciphertext, ref.aad())
	}
	if err != nil {
		return "", fmt.Errorf("%w (%s)", ErrOpen, ref)
	}
	return string(pt), nil
}

// Forget drops the client's keys from this replica's memory. The erasure
// flow calls it on every replica after Destroy, so that none keeps
// decrypting until its cache entry expires.
func (k *Keyring) Forget(client string) { k.cache.Remove(client) }

// Destroy crypto-shreds the client: the wrapped keyset is removed and a
// tombstone left in its place (also when the client never had a keyset),
// so that every later Seal fails with ErrDestroyed instead of creating a
// new keyset, and every ciphertext of the client, backups included, is
// unreadable once the backups holding the wrapped keyset are gone.
// Idempotent.
func (k *Keyring) Destroy(ctx context.Context, client string) error {
	if client == "" {
		return ErrInvalidRef
	}
	now := k.clock.Now().UTC()
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "destroyed", Value: true}, {Key: "destroyed_at", Value: now}, {Key: "updated_at", Value: now}}},
		{Key: "$unset", Value: bson.D{{Key: "wrapped", Value: ""}, {Key: "kek_id", Value: ""}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	}
	filter := bson.D{{Key: "_id", Value: client}}
	_, err := k.coll.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongox.IsDuplicateKey(err) {
		// Two upserts raced on MongoDB; the document exists now.
		_, err = k.coll.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return fmt.Errorf("fieldcrypt: destroy keyset of client %s: %w", client, err)
	}
	k.Forget(client)
	return nil
}

// Primary returns the id of the key that seals the client's new values
// (as this replica knows the keyset: a rotation on another replica shows
// after its cache entry expires). Every Tink ciphertext names its key in
// its first five bytes (KeyID), so a re-encryption job tells a value
// already under the primary from one to re-seal without decrypting it.
// It fails with ErrNoKeyset for a client who never had a value sealed.
func (k *Keyring) Primary(ctx context.Context, client string) (uint32, error) {
	if client == "" {
		return 0, ErrInvalidRef
	}
	c, err := k.entry(ctx, client, false)
	if err != nil {
		return 0, err
	}
	return c.primary, nil
}

// KeyID is the id of the key a ciphertext names in its Tink prefix (a
// version byte 0x01, then the key id, big-endian); ok is false for a
// value too short or without that prefix.
func KeyID(ciphertext []byte) (id uint32, ok bool) {
	if len(ciphertext) < 5 || ciphertext[0] != 0x01 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[1:5]), true
}

// aeadFor returns the client's AEAD; create makes the keyset when there
// is none.
func (k *Keyring) aeadFor(ctx context.Context, client string, create bool) (tink.AEAD, error) {
	c, err := k.entry(ctx, client, create)
	if err != nil {
		return nil, err
	}
	return c.aead, nil
}

// entryOf is a usable cache entry and whether it came from the cache.
type entryOf struct {
	cached
	fromCache bool
}

// entry returns the client's keys from the cache (fromCache) or the
// store; create makes the keyset when there is none.
func (k *Keyring) entry(ctx context.Context, client string, create bool) (entryOf, error) {
	now := k.clock.Now()
	if c, ok := k.cache.Get(client); ok {
		if now.Sub(c.loaded) < k.ttl {
			if c.destroyed {
				return entryOf{}, ErrDestroyed
			}
			return entryOf{cached: c, fromCache: true}, nil
		}
		k.cache.Remove(client)
	}
	doc, err := k.load(ctx, client)
	if errors.Is(err, ErrNoKeyset) && create {
		doc, err = k.create(ctx, client)
	}
	if err != nil {
		return entryOf{}, err
	}
	if doc.Destroyed {
		k.cache.Add(client, cached{destroyed: true, loaded: now})
		return entryOf{}, ErrDestroyed
	}
	h, err := k.unwrap(doc)
	if err != nil {
		return entryOf{}, err
	}
	a, err := aead.New(h)
	if err != nil {
		return entryOf{}, fmt.Errorf("fieldcrypt: keyset of client %s: %w", client, err)
	}
	c := cached{aead: a, primary: h.KeysetInfo().GetPrimaryKeyId(), loaded: now}
	k.cache.Add(client, c)
	return entryOf{cached: c}, nil
}

func (k *Keyring) load(ctx context.Context, client string) (keysetDoc, error) {
	var doc keysetDoc
	err := k.coll.FindOne(ctx, bson.D{{Key: "_id", Value: client}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return keysetDoc{}, ErrNoKeyset
	}
	if err != nil {
		return keysetDoc{}, fmt.Errorf("fieldcrypt: read keyset of client %s: %w", client, err)
	}
	return doc, nil
}

// create inserts a new keyset for client. When another replica inserted
// one (or a tombstone) first, the unique _id rejects this one and the
// winner's document is answered instead, so both use the same keys.
func (k *Keyring) create(ctx context.Context, client string) (keysetDoc, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return keysetDoc{}, fmt.Errorf("fieldcrypt: new keyset: %w", err)
	}
	wrapped, err := k.wrap(h, client)
	if err != nil {
		return keysetDoc{}, err
	}
	now := k.clock.Now().UTC()
	doc := keysetDoc{Client: client, Version: 1, KEKID: k.keks.Current.ID, Wrapped: wrapped, CreatedAt: now, UpdatedAt: now, DEKTime: &now}
	if k.hooks.beforeInsert != nil {
		k.hooks.beforeInsert(client)
	}
	_, err = k.coll.InsertOne(ctx, doc)
	if mongox.IsDuplicateKey(err) {
		return k.load(ctx, client)
	}
	if err != nil {
		return keysetDoc{}, fmt.Errorf("fieldcrypt: store keyset of client %s: %w", client, err)
	}
	return doc, nil
}

func (k *Keyring) wrap(h *keyset.Handle, client string) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), k.keks.Current.AEAD, keysetAAD(client)); err != nil {
		return nil, fmt.Errorf("fieldcrypt: wrap keyset of client %s: %w", client, err)
	}
	return buf.Bytes(), nil
}

// unwrap tries the KEK named by the document first, then every KEK (a
// local keyset whose primary changed still unwraps under its new id).
func (k *Keyring) unwrap(doc keysetDoc) (*keyset.Handle, error) {
	all := append([]KEK{k.keks.Current}, k.keks.Previous...)
	for i, kek := range all {
		if kek.ID == doc.KEKID && i > 0 {
			all[0], all[i] = all[i], all[0]
			break
		}
	}
	ad := keysetAAD(doc.Client)
	for _, kek := range all {
		h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(doc.Wrapped)), kek.AEAD, ad)
		if err == nil {
			return h, nil
		}
	}
	return nil, fmt.Errorf("%w: client %s, wrapped by %q", ErrUnwrap, doc.Client, doc.KEKID)
}
