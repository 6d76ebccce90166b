package sealcodec_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/sealcodec"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	kekA   = "dGVzdC1rZWstb2YtdGhlLXNlYWxjb2RlYy10ZXN0cyE="
	kekB   = "YW5vdGhlci1rZWstb2Ytc2VhbGNvZGVjLXRlc3RzISE="
	marker = "MARKER-5eal"
)

type item struct {
	ID    string `bson:"id"`
	Label string `bson:"label"`
	Note  string `bson:"note,omitempty"`
	Rank  int    `bson:"rank"`
}

type inner struct {
	Text string `bson:"text"`
}

// doc has every shape the codec seals.
type doc struct {
	ClientID string            `bson:"client_id"`
	Title    string            `bson:"title"`
	Optional string            `bson:"optional,omitempty"`
	Reasons  []string          `bson:"reasons"`
	Items    []item            `bson:"items"`
	Notes    map[string]string `bson:"notes,omitempty"`
	Inner    inner             `bson:"inner"`
	Kept     string            `bson:"kept"` // not sealed
}

var spec = sealcodec.Spec{Paths: []string{"title", "optional", "reasons[]", "items[].label", "items[].note", "notes{}", "inner.text"}}

func sample(client string) doc {
	return doc{
		ClientID: client,
		Title:    marker + " title",
		Reasons:  []string{marker + " reason 0", marker + " reason 1"},
		Items:    []item{{ID: "i0", Label: marker + " label 0", Note: marker + " note 0", Rank: 1}, {ID: "i1", Label: marker + " label 1", Rank: 2}},
		Notes:    map[string]string{"k0": marker + " note a", `k"1]`: marker + " note b"},
		Inner:    inner{Text: marker + " inner"},
		Kept:     "kept plain",
	}
}

func keyring(t testing.TB, db *mongo.Database, clk clock.Clock, cfg fieldcrypt.Config) *fieldcrypt.Keyring {
	t.Helper()
	keks, err := cfg.KEKs(false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type fixture struct {
	db    *mongo.Database
	clk   *clock.Fake
	keys  *fieldcrypt.Keyring
	store *docstore.Store[doc]
	coll  *mongo.Collection
}

func newFixture(t testing.TB) *fixture {
	db := testenv.Mongo(t)
	clk := clock.NewFake(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	keys := keyring(t, db, clk, fieldcrypt.Config{KEK: kekA})
	coll := db.Collection("docs")
	return &fixture{db: db, clk: clk, keys: keys, coll: coll, store: sealcodec.Sealed(docstore.New[doc](coll, nil), keys, spec)}
}

func (f *fixture) raw(t testing.TB, id string) bson.Raw {
	t.Helper()
	raw, err := f.coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Every shape of field is sealed (no marker in the stored bytes), the
// plain fields stay queryable, and every read path answers the text.
func TestEveryShapeIsSealedAndOpens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	want := sample("client-1")
	if err := f.store.Create(ctx, "d1", want); err != nil {
		t.Fatal(err)
	}
	raw := f.raw(t, "d1")
	if bytes.Contains(raw, []byte(marker)) {
		t.Fatalf("plaintext stored: %s", raw)
	}
	for _, path := range []string{"title", "optional", "reasons.0", "items.1.label", "items.1.note", "notes.k0", "inner.text"} {
		var v bson.RawValue
		var err error
		if path == "notes.k0" {
			v, err = raw.LookupErr("notes", "k0")
		} else {
			v, err = raw.LookupErr(strings.Split(path, ".")...)
		}
		if err != nil || v.Type != bson.TypeBinary {
			t.Fatalf("%s stored as %v (%v), want sealed binary", path, v.Type, err)
		}
	}
	if n, err := f.coll.CountDocuments(ctx, bson.D{{Key: "kept", Value: "kept plain"}, {Key: "items.rank", Value: 2}}); err != nil || n != 1 {
		t.Fatalf("plain fields not queryable: %d, %v", n, err)
	}
	got, _, err := f.store.Get(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != want.Title || got.Reasons[1] != want.Reasons[1] || got.Items[0].Label != want.Items[0].Label ||
		got.Items[0].Note != want.Items[0].Note || got.Items[1].Note != "" || got.Notes[`k"1]`] != want.Notes[`k"1]`] ||
		got.Inner.Text != want.Inner.Text || got.Kept != want.Kept || got.Optional != "" {
		t.Fatalf("read back %+v", got)
	}
	list, err := f.store.Find(ctx, bson.D{{Key: "client_id", Value: "client-1"}})
	if err != nil || len(list) != 1 || list[0].Notes["k0"] != want.Notes["k0"] {
		t.Fatalf("find = %+v, %v", list, err)
	}
}

// A value moved to another element of the same array, another map key,
// another field or another document does not open: the read fails as a
// whole with DataLoss, whose message names ids only.
func TestMovedOrTamperedValueFailsTheWholeRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, id := range []string{"d1", "d2"} {
		if err := f.store.Create(ctx, id, sample("client-1")); err != nil {
			t.Fatal(err)
		}
	}
	// d3 is a document of a client with no keyset (as if written before
	// sealing: plain strings).
	if _, err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "d3"}, {Key: "version", Value: int64(1)}, {Key: "client_id", Value: "client-9"}, {Key: "title", Value: "plain"}}); err != nil {
		t.Fatal(err)
	}
	src := f.raw(t, "d1")
	tampered := func() bson.Binary {
		_, data := src.Lookup("title").Binary()
		b := append([]byte{}, data...)
		b[len(b)-1] ^= 1
		return bson.Binary{Data: b}
	}
	cases := []struct {
		name, target string
		set          bson.D
	}{
		{"array element swapped", "d1", bson.D{{Key: "reasons.0", Value: src.Lookup("reasons", "1")}}},
		{"sub-document of another element", "d1", bson.D{{Key: "items.1.label", Value: src.Lookup("items", "0", "label")}}},
		{"map value under another key", "d1", bson.D{{Key: "notes", Value: bson.D{{Key: "k0", Value: src.Lookup("notes", `k"1]`)}}}}},
		{"another field", "d1", bson.D{{Key: "inner.text", Value: src.Lookup("title")}}},
		{"another document", "d2", bson.D{{Key: "title", Value: src.Lookup("title")}}},
		{"tampered", "d1", bson.D{{Key: "title", Value: tampered()}}},
		{"another client's document, that client without keys", "d3", bson.D{{Key: "title", Value: src.Lookup("title")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.raw(t, c.target)
			if _, err := f.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.target}}, bson.D{{Key: "$set", Value: c.set}}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := f.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.target}}, before); err != nil {
					t.Fatal(err)
				}
			})
			got, _, err := f.store.Get(ctx, c.target)
			if !errors.Is(err, fieldcrypt.ErrOpen) {
				t.Fatalf("get = %+v, %v; want ErrOpen", got, err)
			}
			if k, _ := apperr.KindOf(err); k != apperr.KindDataLoss {
				t.Fatalf("kind %v, want DataLoss", k)
			}
			if got.Title != "" || got.Kept != "" || len(got.Reasons) != 0 {
				t.Fatalf("partial answer %+v", got)
			}
			st := apperr.ToStatus(err)
			if st.Code().String() != "DataLoss" || !strings.Contains(st.Message(), "docs/"+c.target) || strings.Contains(st.Message()+err.Error(), marker) {
				t.Fatalf("status %v / error %v", st, err)
			}
			if list, err := f.store.Find(ctx, bson.D{}); !errors.Is(err, fieldcrypt.ErrOpen) || len(list) != 0 {
				t.Fatalf("find answered %d documents, %v", len(list), err)
			}
		})
	}
	if _, _, err := f.store.Get(ctx, "d1"); err != nil {
		t.Fatalf("restored document: %v", err)
	}
}

// An erased client's documents answer FailedPrecondition, and nothing can
// be written for them, not even a document with no text.
func TestErasedClientIsRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.store.Create(ctx, "d1", sample("client-1")); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Destroy(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.store.Get(ctx, "d1")
	if k, _ := apperr.KindOf(err); !errors.Is(err, fieldcrypt.ErrDestroyed) || k != apperr.KindFailedPrecondition {
		t.Fatalf("get = %v", err)
	}
	err = f.store.Create(ctx, "d2", doc{ClientID: "client-1"})
	if k, _ := apperr.KindOf(err); k != apperr.KindFailedPrecondition {
		t.Fatalf("create = %v", err)
	}
}

func primaryOf(t testing.TB, raw bson.Raw, path ...string) uint32 {
	t.Helper()
	_, data := raw.Lookup(path...).Binary()
	id, ok := fieldcrypt.KeyID(data)
	if !ok {
		t.Fatalf("%v: no Tink prefix", path)
	}
	return id
}

// After a DEK rotation, Reseal brings every sealed value under the new
// primary, answers the same text, and a second run finds nothing to do.
func TestResealAfterRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, id := range []string{"d1", "d2", "d3"} {
		if err := f.store.Create(ctx, id, sample("client-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	old := primaryOf(t, f.raw(t, "d1"), "title")
	if err := f.keys.RotateDEK(ctx, "client-d1"); err != nil {
		t.Fatal(err)
	}
	// A run resumed after d1 (a previous run's Last) does not see it.
	res, err := f.store.Reseal(ctx, docstore.ResealOptions{Batch: 2, After: "d1"})
	if err != nil || res != (docstore.ResealResult{Current: 2, Last: "d3"}) {
		t.Fatalf("resumed reseal = %+v, %v", res, err)
	}
	res, err = f.store.Reseal(ctx, docstore.ResealOptions{Batch: 2})
	if err != nil || res != (docstore.ResealResult{Resealed: 1, Current: 2, Last: "d3"}) {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	raw := f.raw(t, "d1")
	primary, err := f.keys.Primary(ctx, "client-d1")
	if err != nil || primary == old {
		t.Fatalf("primary %d (old %d), %v", primary, old, err)
	}
	for _, p := range [][]string{{"title"}, {"optional"}, {"reasons", "1"}, {"items", "0", "note"}, {"notes", "k0"}, {"inner", "text"}} {
		if got := primaryOf(t, raw, p...); got != primary {
			t.Fatalf("%v under key %d, want %d", p, got, primary)
		}
	}
	if v := raw.Lookup("version").AsInt64(); v != 1 {
		t.Fatalf("version %d: a re-encryption must not bump it", v)
	}
	got, _, err := f.store.Get(ctx, "d1")
	if err != nil || got.Items[1].Label != marker+" label 1" {
		t.Fatalf("after reseal %+v, %v", got, err)
	}
	if res, err := f.store.Reseal(ctx, docstore.ResealOptions{}); err != nil || res != (docstore.ResealResult{Current: 3, Last: "d3"}) {
		t.Fatalf("second run = %+v, %v", res, err)
	}
}

// An update that lands between Reseal's read and its write is never lost:
// the re-seal's write matches nothing, and the updated document (sealed
// anew by its own write) reads back with the update.
func TestResealNeverLosesAConcurrentUpdate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.store.Create(ctx, "d1", sample("client-1")); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.RotateDEK(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	res, err := docstore.Reseal(ctx, f.coll, sealcodec.New(f.keys, sealcodec.Spec{Collection: "docs", Paths: spec.Paths}), docstore.ResealOptions{
		BeforeWrite: func(id string) {
			if _, err := f.store.Update(ctx, id, func(d *doc) ([]outbox.Message, error) {
				d.Reasons = append(d.Reasons, "written meanwhile")
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
		},
	})
	if err != nil || res != (docstore.ResealResult{Skipped: 1, Last: "d1"}) {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	got, v, err := f.store.Get(ctx, "d1")
	if err != nil || len(got.Reasons) != 3 || got.Reasons[2] != "written meanwhile" || v != 2 {
		t.Fatalf("after the race %+v v%d, %v", got.Reasons, v, err)
	}
	// The update sealed under the current key: nothing left to do.
	if res, err := f.store.Reseal(ctx, docstore.ResealOptions{}); err != nil || res != (docstore.ResealResult{Current: 1, Last: "d1"}) {
		t.Fatalf("next run = %+v, %v", res, err)
	}
}

// Plaintext written before encryption is sealed by Reseal; a damaged
// document is counted and left alone, and the run goes on.
func TestResealSealsLegacyPlaintextAndSkipsDamage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a-legacy"}, {Key: "version", Value: int64(1)}, {Key: "client_id", Value: "client-1"},
		{Key: "title", Value: "old words"}, {Key: "reasons", Value: bson.A{"old reason"}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Create(ctx, "b-damaged", sample("client-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "b-damaged"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: f.raw(t, "b-damaged").Lookup("inner", "text")}}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.RotateDEK(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	res, err := f.store.Reseal(ctx, docstore.ResealOptions{})
	if err != nil || res != (docstore.ResealResult{Resealed: 1, Failed: 1, Last: "b-damaged"}) {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	if raw := f.raw(t, "a-legacy"); bytes.Contains(raw, []byte("old words")) || bytes.Contains(raw, []byte("old reason")) {
		t.Fatalf("still plaintext: %s", raw)
	}
	got, _, err := f.store.Get(ctx, "a-legacy")
	if err != nil || got.Title != "old words" || got.Reasons[0] != "old reason" {
		t.Fatalf("legacy after reseal %+v, %v", got, err)
	}
}

// The whole rotation: a new DEK, a new KEK (the old one kept as previous)
// with Rewrap, then Reseal; after that a service configured with the new
// KEK alone reads every document, and every value is under the new DEK.
func TestRotationThenReencryptionLetsTheOldKEKGo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clients := []string{"client-1", "client-2", "client-3"}
	for i, c := range clients {
		if err := f.store.Create(ctx, "d"+c, sample(c)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		if err := f.store.Create(ctx, "e"+c, sample(c)); err != nil {
			t.Fatal(err)
		}
	}
	// New DEKs for two clients under the old KEK; then the new KEK
	// (the old one kept as previous), Rewrap, and a new DEK for the third.
	for _, c := range clients[:2] {
		if err := f.keys.RotateDEK(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	rotated := keyring(t, f.db, f.clk, fieldcrypt.Config{KEK: kekB, KEKPrevious: kekA})
	if r, err := rotated.Rewrap(ctx, 2); err != nil || r.Rewrapped != 3 {
		t.Fatalf("rewrap = %+v, %v", r, err)
	}
	if err := rotated.RotateDEK(ctx, clients[2]); err != nil {
		t.Fatal(err)
	}
	store := sealcodec.Sealed(docstore.New[doc](f.coll, nil), rotated, spec)
	if res, err := store.Reseal(ctx, docstore.ResealOptions{Batch: 2}); err != nil || res.Resealed != 5 {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	// The old KEK removed from the configuration.
	newOnly := keyring(t, f.db, f.clk, fieldcrypt.Config{KEK: kekB})
	store = sealcodec.Sealed(docstore.New[doc](f.coll, nil), newOnly, spec)
	all, err := store.Find(ctx, bson.D{})
	if err != nil || len(all) != 5 {
		t.Fatalf("read with the new KEK only: %d, %v", len(all), err)
	}
	for _, d := range all {
		if d.Notes["k0"] != marker+" note a" {
			t.Fatalf("%+v", d)
		}
	}
	cur, err := f.coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var raws []bson.Raw
	if err := cur.All(ctx, &raws); err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		primary, err := newOnly.Primary(ctx, raw.Lookup("client_id").StringValue())
		if err != nil || primaryOf(t, raw, "title") != primary || primaryOf(t, raw, "items", "1", "label") != primary {
			t.Fatalf("%s not under the new primary (%v)", raw.Lookup("_id"), err)
		}
	}
}

// A keyset that unwraps under no configured KEK (the old KEK removed
// before Rewrap ran) fails reads with DataLoss naming ids only, like a
// damaged value: the record cannot be read, and the caller is told so.
func TestKeysetThatDoesNotUnwrapIsDataLoss(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.store.Create(ctx, "d1", sample("client-1")); err != nil {
		t.Fatal(err)
	}
	wrongKEK := keyring(t, f.db, f.clk, fieldcrypt.Config{KEK: kekB})
	store := sealcodec.Sealed(docstore.New[doc](f.coll, nil), wrongKEK, spec)
	got, _, err := store.Get(ctx, "d1")
	if !errors.Is(err, fieldcrypt.ErrUnwrap) || got.Title != "" {
		t.Fatalf("get = %+v, %v; want ErrUnwrap", got, err)
	}
	if st := apperr.ToStatus(err); st.Code().String() != "DataLoss" || !strings.Contains(st.Message(), "docs/d1") {
		t.Fatalf("status %v", st)
	}
	// The keyset is not replaced by a new one: a write is refused too.
	if err := store.Create(ctx, "d2", sample("client-1")); !errors.Is(err, fieldcrypt.ErrUnwrap) {
		t.Fatalf("create = %v", err)
	}
}

// A ciphertext names its key in its Tink prefix: the client's primary
// before a rotation, the new one after.
func TestKeyIDNamesThePrimary(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ref := fieldcrypt.Ref{Client: "client-1", Collection: "docs", Document: "d1", Field: "title"}
	ct, err := f.keys.Seal(ctx, ref, "x")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := f.keys.Primary(ctx, "client-1")
	if id, ok := fieldcrypt.KeyID(ct); err != nil || !ok || id != p1 {
		t.Fatalf("key id %d, primary %d, %v", id, p1, err)
	}
	if err := f.keys.RotateDEK(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	ct2, err := f.keys.Seal(ctx, ref, "x")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := f.keys.Primary(ctx, "client-1")
	if id, _ := fieldcrypt.KeyID(ct2); p2 == p1 || id != p2 {
		t.Fatalf("after rotation key id %d, primary %d (was %d)", id, p2, p1)
	}
	if _, ok := fieldcrypt.KeyID([]byte{0x00, 1, 2, 3, 4, 5}); ok {
		t.Fatal("a value without the Tink prefix named a key")
	}
	if _, err := f.keys.Primary(ctx, "nobody"); !errors.Is(err, fieldcrypt.ErrNoKeyset) {
		t.Fatalf("primary of a client without a keyset = %v", err)
	}
}
