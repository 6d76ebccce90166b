package fieldcrypt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const marker = "MARKER-the-letter-I-never-sent-7f3a"

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newKEK(t testing.TB) fieldcrypt.KEK {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	k, err := fieldcrypt.LocalKEK(base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKeyring(t testing.TB, db *mongo.Database, keks fieldcrypt.KEKSet, clk clock.Clock) *fieldcrypt.Keyring {
	t.Helper()
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clk, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ref(client, doc, field string) fieldcrypt.Ref {
	return fieldcrypt.Ref{Client: client, Collection: "entries", Document: doc, Field: field}
}

func mustSeal(t *testing.T, k *fieldcrypt.Keyring, r fieldcrypt.Ref, s string) []byte {
	t.Helper()
	ct, err := k.Seal(context.Background(), r, s)
	if err != nil {
		t.Fatalf("seal %s: %v", r, err)
	}
	return ct
}

func mustOpen(t *testing.T, k *fieldcrypt.Keyring, r fieldcrypt.Ref, ct []byte, want string) {
	t.Helper()
	got, err := k.Open(context.Background(), r, ct)
	if err != nil {
		t.Fatalf("open %s: %v", r, err)
	}
	if got != want {
		t.Fatalf("open %s = %q, want %q", r, got, want)
	}
}

// rawBytes reads every document of every collection of db as raw BSON.
func rawBytes(t *testing.T, db *mongo.Database) []byte {
	t.Helper()
	ctx := context.Background()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, n := range names {
		cur, err := db.Collection(n).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			all = append(all, cur.Current...)
		}
		if err := cur.Err(); err != nil {
			t.Fatal(err)
		}
		_ = cur.Close(ctx)
	}
	return all
}

func keysetDoc(t *testing.T, db *mongo.Database, client string) bson.M {
	t.Helper()
	var m bson.M
	if err := db.Collection(fieldcrypt.Collection).FindOne(context.Background(), bson.D{{Key: "_id", Value: client}}).Decode(&m); err != nil {
		t.Fatalf("keyset of %s: %v", client, err)
	}
	return m
}

func countKeysets(t *testing.T, db *mongo.Database) int64 {
	t.Helper()
	n, err := db.Collection(fieldcrypt.Collection).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSealedFieldIsStoredWithoutPlaintextAndOpens(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	r := ref("client-1", "entry-1", "body")
	ct := mustSeal(t, k, r, marker)
	if _, err := db.Collection("entries").InsertOne(ctx, bson.D{{Key: "_id", Value: "entry-1"}, {Key: "client_id", Value: "client-1"}, {Key: "body", Value: ct}}); err != nil {
		t.Fatal(err)
	}

	raw := rawBytes(t, db)
	if len(raw) == 0 {
		t.Fatal("nothing stored")
	}
	if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("letter-I-never")) {
		t.Fatal("the database holds the plaintext")
	}
	if countKeysets(t, db) != 1 {
		t.Fatalf("keysets: %d, want 1 (created on first seal)", countKeysets(t, db))
	}

	var stored struct {
		Body []byte `bson:"body"`
	}
	if err := db.Collection("entries").FindOne(ctx, bson.D{{Key: "_id", Value: "entry-1"}}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	// A fresh replica (empty cache) reads the keyset from the store.
	mustOpen(t, newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0)), r, stored.Body, marker)
	mustOpen(t, k, r, stored.Body, marker)
}

func TestCiphertextMovedOrTamperedDoesNotOpen(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: newKEK(t)}, clock.NewFake(t0))
	r := ref("client-1", "entry-1", "body")
	ct := mustSeal(t, k, r, marker)
	mustSeal(t, k, ref("client-2", "entry-9", "body"), "other client's text") // client-2 has a keyset

	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		ref  fieldcrypt.Ref
		ct   []byte
	}{
		{"other document", ref("client-1", "entry-2", "body"), ct},
		{"other field", ref("client-1", "entry-1", "title"), ct},
		{"other collection", fieldcrypt.Ref{Client: "client-1", Collection: "letters", Document: "entry-1", Field: "body"}, ct},
		{"other client", ref("client-2", "entry-1", "body"), ct},
		{"parts shifted between document and field", ref("client-1", "entry-1b", "ody"), ct},
		{"tampered", r, tampered},
		{"truncated", r, ct[:len(ct)-4]},
		{"empty", r, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := k.Open(ctx, c.ref, c.ct)
			if !errors.Is(err, fieldcrypt.ErrOpen) {
				t.Fatalf("open = %q, %v; want ErrOpen", got, err)
			}
			if got != "" {
				t.Fatalf("partial answer %q", got)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatal("error carries the plaintext")
			}
		})
	}
	mustOpen(t, k, r, ct, marker)
}

func TestAssociatedDataIsUnambiguous(t *testing.T) {
	a := fieldcrypt.AAD(fieldcrypt.Ref{Client: "c", Collection: "entries", Document: "a", Field: "bc"})
	b := fieldcrypt.AAD(fieldcrypt.Ref{Client: "c", Collection: "entries", Document: "ab", Field: "c"})
	c := fieldcrypt.AAD(fieldcrypt.Ref{Client: "c/entries", Collection: "a", Document: "b", Field: "c"})
	if bytes.Equal(a, b) || bytes.Equal(a, c) || bytes.Equal(b, c) {
		t.Fatal("different references share associated data")
	}
}

func TestInvalidRefIsRefused(t *testing.T) {
	db := testenv.Mongo(t)
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: newKEK(t)}, clock.NewFake(t0))
	if _, err := k.Seal(context.Background(), fieldcrypt.Ref{Client: "c", Collection: "entries", Field: "body"}, "x"); !errors.Is(err, fieldcrypt.ErrInvalidRef) {
		t.Fatalf("seal without document id: %v", err)
	}
}

// Two replicas create the same client's keyset at once: B inserts between
// A's read (none found) and A's insert. Both must end up with B's keyset.
func TestConcurrentCreationEndsWithOneKeyset(t *testing.T) {
	db := testenv.Mongo(t)
	kek := newKEK(t)
	a := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	b := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	var fromB []byte
	a.SetBeforeInsert(func(string) {
		a.SetBeforeInsert(nil)
		fromB = mustSeal(t, b, ref("client-1", "entry-b", "body"), "sealed by B")
	})
	fromA := mustSeal(t, a, ref("client-1", "entry-a", "body"), "sealed by A")
	if fromB == nil {
		t.Fatal("hook did not run")
	}
	if n := countKeysets(t, db); n != 1 {
		t.Fatalf("keysets: %d, want 1", n)
	}
	mustOpen(t, b, ref("client-1", "entry-a", "body"), fromA, "sealed by A")
	mustOpen(t, a, ref("client-1", "entry-b", "body"), fromB, "sealed by B")
	fresh := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	mustOpen(t, fresh, ref("client-1", "entry-a", "body"), fromA, "sealed by A")
}

func TestWrappedKeysetCopiedToAnotherClientDoesNotUnwrap(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	ct := mustSeal(t, k, ref("client-1", "e1", "body"), marker)
	doc := keysetDoc(t, db, "client-1")
	doc["_id"] = "client-2"
	if _, err := db.Collection(fieldcrypt.Collection).InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	fresh := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	// The keyset itself does not unwrap under another client's id: nothing
	// can be sealed or opened with it there.
	if _, err := fresh.Seal(ctx, ref("client-2", "e1", "body"), "x"); err == nil {
		t.Fatal("client-1's keyset copied under client-2 unwrapped")
	}
	if got, err := fresh.Open(ctx, ref("client-2", "e1", "body"), ct); err == nil {
		t.Fatalf("client-1's keyset under client-2 opened: %q", got)
	}
	mustOpen(t, fresh, ref("client-1", "e1", "body"), ct, marker)
}

func TestDestroyShredsAndRefusesLateSeals(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: newKEK(t)}, clock.NewFake(t0))
	r := ref("client-1", "e1", "body")
	ct := mustSeal(t, k, r, marker)
	if err := k.Destroy(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	if err := k.Destroy(ctx, "client-1"); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	doc := keysetDoc(t, db, "client-1")
	if _, ok := doc["wrapped"]; ok {
		t.Fatal("the wrapped keyset is still stored")
	}
	if doc["destroyed"] != true {
		t.Fatalf("no tombstone: %v", doc)
	}
	if _, err := k.Open(ctx, r, ct); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("open after destroy: %v", err)
	}
	if _, err := k.Seal(ctx, ref("client-1", "e2", "body"), "late event"); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("seal after destroy: %v", err)
	}
	if n := countKeysets(t, db); n != 1 {
		t.Fatalf("keysets: %d, want the tombstone only", n)
	}

	// A client erased before anything was sealed for them.
	if err := k.Destroy(ctx, "client-never"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Seal(ctx, ref("client-never", "e1", "body"), "late"); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("seal for a client erased before any keyset: %v", err)
	}
}

// Destroy lands between a replica's read (no keyset) and its insert: the
// insert loses to the tombstone and the seal is refused.
func TestDestroyDuringCreationWins(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	a := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	b := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	a.SetBeforeInsert(func(c string) {
		if err := b.Destroy(ctx, c); err != nil {
			t.Error(err)
		}
	})
	if _, err := a.Seal(ctx, ref("client-1", "e1", "body"), "late event"); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("seal racing a destroy: %v", err)
	}
	if _, ok := keysetDoc(t, db, "client-1")["wrapped"]; ok {
		t.Fatal("a keyset was created for an erased client")
	}
}

// Another replica holds the client's keys in its cache when the keyset is
// destroyed: it decrypts at most until its entry expires, and not at all
// after Forget.
func TestOtherReplicasStopDecryptingAfterExpiryOrForget(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	clk := clock.NewFake(t0)
	a := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clk)
	b := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clk)
	c := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clk)
	r := ref("client-1", "e1", "body")
	ct := mustSeal(t, a, r, marker)
	mustOpen(t, b, r, ct, marker)
	mustOpen(t, c, r, ct, marker)
	if err := a.Destroy(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}

	// The documented bound: B's cached keys still work within the TTL.
	clk.Advance(time.Minute - time.Second)
	mustOpen(t, b, r, ct, marker)
	clk.Advance(time.Second)
	if _, err := b.Open(ctx, r, ct); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("replica B after expiry: %v", err)
	}
	if _, err := b.Seal(ctx, ref("client-1", "e2", "body"), "x"); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("replica B seal after expiry: %v", err)
	}

	// C is told explicitly (the erasure flow) before expiry.
	clk.Set(t0)
	c.Forget("client-1")
	if _, err := c.Open(ctx, r, ct); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("replica C after Forget: %v", err)
	}
}

func TestOpenForClientWithoutKeyset(t *testing.T) {
	db := testenv.Mongo(t)
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: newKEK(t)}, clock.NewFake(t0))
	if _, err := k.Open(context.Background(), ref("nobody", "e1", "body"), []byte("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")); !errors.Is(err, fieldcrypt.ErrNoKeyset) {
		t.Fatalf("open: %v", err)
	}
	if n := countKeysets(t, db); n != 0 {
		t.Fatalf("open created %d keysets", n)
	}
}
