package fieldcrypt_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/testing/fakekms"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/testenv"
)

// A new KEK (a new key in the environment, the old one kept as previous)
// wraps new keysets; old ones still unwrap; Rewrap moves them all to the
// new KEK, after which the old KEK can be retired. Ciphertexts never change.
func TestKEKRotationThenRewrap(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	old, cur := newKEK(t), newKEK(t)
	before := newKeyring(t, db, fieldcrypt.KEKSet{Current: old}, clock.NewFake(t0))
	ct1 := mustSeal(t, before, ref("client-1", "e1", "body"), "one")
	ct2 := mustSeal(t, before, ref("client-2", "e1", "body"), "two")

	rotated := newKeyring(t, db, fieldcrypt.KEKSet{Current: cur, Previous: []fieldcrypt.KEK{old}}, clock.NewFake(t0))
	mustOpen(t, rotated, ref("client-1", "e1", "body"), ct1, "one")
	ct3 := mustSeal(t, rotated, ref("client-3", "e1", "body"), "three")
	if got := keysetDoc(t, db, "client-3")["kek_id"]; got != cur.ID {
		t.Fatalf("new keyset wrapped by %v, want the current KEK %s", got, cur.ID)
	}
	if got := keysetDoc(t, db, "client-1")["kek_id"]; got != old.ID {
		t.Fatalf("old keyset: kek_id %v, want %s", got, old.ID)
	}
	if err := rotated.Destroy(ctx, "client-2"); err != nil {
		t.Fatal(err)
	}

	res, err := rotated.Rewrap(ctx, 1) // batch 1: the scan pages
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewrapped != 1 || res.Skipped != 0 || res.Failed != 0 {
		t.Fatalf("rewrap: %+v, want client-1 rewrapped", res)
	}
	if res, err := rotated.Rewrap(ctx, 10); err != nil || res != (fieldcrypt.RewrapResult{}) {
		t.Fatalf("second rewrap: %+v, %v; want nothing left", res, err)
	}

	onlyNew := newKeyring(t, db, fieldcrypt.KEKSet{Current: cur}, clock.NewFake(t0))
	mustOpen(t, onlyNew, ref("client-1", "e1", "body"), ct1, "one")
	mustOpen(t, onlyNew, ref("client-3", "e1", "body"), ct3, "three")
	if _, err := onlyNew.Open(ctx, ref("client-2", "e1", "body"), ct2); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("rewrap brought back a destroyed keyset: %v", err)
	}
}

// Rotation inside one KEK keyset (a new primary): old wrapped keysets
// unwrap with the old key still in the keyset; Rewrap moves them.
func TestKEKKeysetNewPrimaryThenRewrap(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	kek1 := localFromHandle(t, h)
	k1 := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek1}, clock.NewFake(t0))
	ct := mustSeal(t, k1, ref("client-1", "e1", "body"), "one")

	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	h2, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	kek2 := localFromHandle(t, h2)
	if kek2.ID == kek1.ID {
		t.Fatal("a new primary must change the KEK id")
	}
	k2 := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek2}, clock.NewFake(t0))
	mustOpen(t, k2, ref("client-1", "e1", "body"), ct, "one")
	if res, err := k2.Rewrap(ctx, 10); err != nil || res.Rewrapped != 1 {
		t.Fatalf("rewrap: %+v, %v", res, err)
	}
	if got := keysetDoc(t, db, "client-1")["kek_id"]; got != kek2.ID {
		t.Fatalf("kek_id after rewrap: %v", got)
	}
}

func localFromHandle(t *testing.T, h *keyset.Handle) fieldcrypt.KEK {
	t.Helper()
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	k, err := fieldcrypt.LocalKEK(buf.String())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Two replicas rewrap the same keyset at once: B's whole run lands between
// A's read and A's write. A's write must match nothing.
func TestRewrapRacingRewrapKeepsOneResult(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	old, cur := newKEK(t), newKEK(t)
	ct := mustSeal(t, newKeyring(t, db, fieldcrypt.KEKSet{Current: old}, clock.NewFake(t0)), ref("client-1", "e1", "body"), "one")
	keks := fieldcrypt.KEKSet{Current: cur, Previous: []fieldcrypt.KEK{old}}
	a := newKeyring(t, db, keks, clock.NewFake(t0))
	b := newKeyring(t, db, keks, clock.NewFake(t0))
	var resB fieldcrypt.RewrapResult
	a.SetBeforeReplace(func(string) {
		a.SetBeforeReplace(nil)
		var err error
		if resB, err = b.Rewrap(ctx, 10); err != nil {
			t.Error(err)
		}
	})
	resA, err := a.Rewrap(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if resA.Rewrapped+resB.Rewrapped != 1 || resA.Skipped != 1 {
		t.Fatalf("A %+v, B %+v: want exactly one write, A skipped", resA, resB)
	}
	mustOpen(t, newKeyring(t, db, fieldcrypt.KEKSet{Current: cur}, clock.NewFake(t0)), ref("client-1", "e1", "body"), ct, "one")
	if v := keysetDoc(t, db, "client-1")["version"]; v != int64(2) && v != int32(2) {
		t.Fatalf("version %v, want 2 (one write)", v)
	}
}

// A DEK rotation lands between a rewrap's read and write: the rewrap must
// not write back the keyset without the new key (ciphertexts sealed with
// it would be lost), and a Destroy in between must not be undone.
func TestRewrapNeverLosesAConcurrentChange(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	old, cur := newKEK(t), newKEK(t)
	seed := newKeyring(t, db, fieldcrypt.KEKSet{Current: old}, clock.NewFake(t0))
	mustSeal(t, seed, ref("client-1", "e1", "body"), "one")
	mustSeal(t, seed, ref("client-2", "e1", "body"), "two")
	keks := fieldcrypt.KEKSet{Current: cur, Previous: []fieldcrypt.KEK{old}}
	job := newKeyring(t, db, keks, clock.NewFake(t0))
	other := newKeyring(t, db, keks, clock.NewFake(t0))

	var sealedWithNewKey []byte
	job.SetBeforeReplace(func(client string) {
		switch client {
		case "client-1":
			if err := other.RotateDEK(ctx, client); err != nil {
				t.Error(err)
			}
			sealedWithNewKey = mustSeal(t, other, ref(client, "e2", "body"), "after rotation")
		case "client-2":
			if err := other.Destroy(ctx, client); err != nil {
				t.Error(err)
			}
		}
	})
	res, err := job.Rewrap(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 2 || res.Rewrapped != 0 {
		t.Fatalf("rewrap %+v: want both writes skipped", res)
	}
	fresh := newKeyring(t, db, fieldcrypt.KEKSet{Current: cur}, clock.NewFake(t0))
	mustOpen(t, fresh, ref("client-1", "e2", "body"), sealedWithNewKey, "after rotation")
	if _, ok := keysetDoc(t, db, "client-2")["wrapped"]; ok {
		t.Fatal("rewrap resurrected a destroyed keyset")
	}
}

func TestRotateDEKKeepsOldCiphertextsOpen(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	k := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	r := ref("client-1", "e1", "body")
	before := mustSeal(t, k, r, "before")
	if err := k.RotateDEK(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	after := mustSeal(t, k, r, "after")
	// Tink's output prefix names the key: a new primary, a new prefix.
	if bytes.Equal(before[:5], after[:5]) {
		t.Fatal("the rotated keyset still seals with the old key")
	}
	fresh := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	mustOpen(t, fresh, r, before, "before")
	mustOpen(t, fresh, r, after, "after")
	if err := k.Destroy(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	if err := k.RotateDEK(ctx, "client-1"); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("rotate after destroy: %v", err)
	}
}

func TestKEKConfig(t *testing.T) {
	const rawKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=" // 32 bytes
	cases := []struct {
		name       string
		env        map[string]string
		production bool
		wantErr    string
		noKEK      bool
	}{
		{name: "development, none", env: nil, wantErr: "NOCONTACT_KEK", noKEK: true},
		{name: "production, none", env: nil, production: true, wantErr: "NOCONTACT_KEK_URI", noKEK: true},
		{name: "production refuses a local key", env: map[string]string{"NOCONTACT_KEK": rawKey}, production: true, wantErr: "refused in production"},
		{name: "both", env: map[string]string{"NOCONTACT_KEK": rawKey, "NOCONTACT_KEK_URI": "fake-kms://x"}, wantErr: "both set"},
		{name: "short key", env: map[string]string{"NOCONTACT_KEK": "c2VjcmV0LXZhbHVlLTEyMw=="}, wantErr: "32 bytes"},
		{name: "not base64", env: map[string]string{"NOCONTACT_KEK": "secret-value-123!"}, wantErr: "32 bytes"},
		{name: "bad previous", env: map[string]string{"NOCONTACT_KEK": rawKey, "NOCONTACT_KEK_PREVIOUS": "secret-value-123!"}, wantErr: "NOCONTACT_KEK_PREVIOUS"},
		{name: "unwired KMS", env: map[string]string{"NOCONTACT_KEK_URI": "aws-kms://arn:aws:kms:eu-west-1:111122223333:key/k"}, wantErr: "no KMS client is wired"},
		{name: "local key", env: map[string]string{"NOCONTACT_KEK": rawKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg fieldcrypt.Config
			if err := config.LoadFrom(&cfg, c.env); err != nil {
				t.Fatal(err)
			}
			set, err := cfg.KEKs(c.production)
			if c.wantErr == "" {
				if err != nil || set.Current.AEAD == nil || !strings.HasPrefix(set.Current.ID, "local:") {
					t.Fatalf("KEKs: %+v, %v", set, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("KEKs error %v, want one mentioning %q", err, c.wantErr)
			}
			if strings.Contains(err.Error(), "secret-value") || strings.Contains(err.Error(), rawKey) {
				t.Fatalf("error quotes the key: %v", err)
			}
			if c.noKEK != errors.Is(err, fieldcrypt.ErrNoKEK) {
				t.Fatalf("errors.Is(ErrNoKEK) = %v", !c.noKEK)
			}
		})
	}
	if cfg := (fieldcrypt.Config{}); true {
		if err := config.LoadFrom(&cfg, nil); err != nil || cfg.CacheSize != 10000 || cfg.CacheTTL.Seconds() != 60 {
			t.Fatalf("defaults: %+v, %v", cfg, err)
		}
	}
}

// A KMS key URI goes through Tink's registry: with a KMS client registered
// (Tink's fake KMS here, standing in for GCP or AWS KMS), keysets are
// wrapped by the remote key and the URI is what the store records.
func TestKEKFromKMSURI(t *testing.T) {
	uri, err := fakekms.NewKeyURI()
	if err != nil {
		t.Fatal(err)
	}
	client, err := fakekms.NewClient(uri)
	if err != nil {
		t.Fatal(err)
	}
	registry.RegisterKMSClient(client)
	t.Cleanup(registry.ClearKMSClients)

	var cfg fieldcrypt.Config
	if err := config.LoadFrom(&cfg, map[string]string{"NOCONTACT_KEK_URI": uri}); err != nil {
		t.Fatal(err)
	}
	set, err := cfg.KEKs(true)
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.Mongo(t)
	k := newKeyring(t, db, set, clock.NewFake(t0))
	ct := mustSeal(t, k, ref("client-1", "e1", "body"), marker)
	if got := keysetDoc(t, db, "client-1")["kek_id"]; got != uri {
		t.Fatalf("kek_id %v, want the URI", got)
	}
	mustOpen(t, newKeyring(t, db, set, clock.NewFake(t0)), ref("client-1", "e1", "body"), ct, marker)
}

// Replica B holds the keyset in its cache when replica A rotates it and
// seals with the new key: B opens that value at once (it reads the keyset
// again when its cached one does not open it).
func TestRotatedKeyOpensOnAReplicaWithACachedKeyset(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	a := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	b := newKeyring(t, db, fieldcrypt.KEKSet{Current: kek}, clock.NewFake(t0))
	r := ref("client-1", "e1", "body")
	mustOpen(t, b, r, mustSeal(t, a, r, "before"), "before") // B's cache is warm
	if err := a.RotateDEK(ctx, "client-1"); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, b, r, mustSeal(t, a, r, "after"), "after")
}

// RotateDEKsBefore gives every keyset whose data key is older than the
// cutoff a new primary, once: a second run, or a second replica that read
// the keyset before the first one rotated it, rotates nothing more; a
// destroyed keyset stays a tombstone; a cutoff in the future is refused.
func TestRotateDEKsBeforeRotatesEachOldKeysetOnce(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	kek := newKEK(t)
	keks := fieldcrypt.KEKSet{Current: kek}
	clk := clock.NewFake(t0)
	seed := newKeyring(t, db, keks, clk)
	old1 := mustSeal(t, seed, ref("client-1", "e1", "body"), "one")
	mustSeal(t, seed, ref("client-2", "e1", "body"), "two")
	mustSeal(t, seed, ref("client-3", "e1", "body"), "three")
	if err := seed.Destroy(ctx, "client-3"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	cutoff := clk.Now()
	mustSeal(t, seed, ref("client-4", "e1", "body"), "four") // made at the cutoff: not before it
	clk.Advance(time.Minute)

	a := newKeyring(t, db, keks, clk)
	b := newKeyring(t, db, keks, clk)
	var nB int
	a.SetBeforeReplace(func(client string) {
		if client != "client-1" {
			return
		}
		a.SetBeforeReplace(nil)
		// b runs the whole job between a's read of client-1 and its write.
		var err error
		if nB, err = b.RotateDEKsBefore(ctx, cutoff, 10); err != nil {
			t.Error(err)
		}
	})
	nA, err := a.RotateDEKsBefore(ctx, cutoff, 1)
	if err != nil {
		t.Fatal(err)
	}
	if nA+nB != 2 {
		t.Fatalf("a rotated %d, b %d: want clients 1 and 2 rotated once in all", nA, nB)
	}
	for client, want := range map[string]int64{"client-1": 2, "client-2": 2, "client-4": 1} {
		if v := keysetDoc(t, db, client)["version"]; v != want && v != int32(want) {
			t.Errorf("%s keyset version %v, want %d", client, v, want)
		}
	}
	if _, ok := keysetDoc(t, db, "client-3")["wrapped"]; ok {
		t.Fatal("the rotation resurrected a destroyed keyset")
	}
	if n, err := a.RotateDEKsBefore(ctx, cutoff, 10); err != nil || n != 0 {
		t.Fatalf("a second run rotated %d (%v), want 0", n, err)
	}
	// Old values still open; new ones are sealed with the new primary.
	fresh := newKeyring(t, db, keks, clk)
	mustOpen(t, fresh, ref("client-1", "e1", "body"), old1, "one")
	if after := mustSeal(t, fresh, ref("client-1", "e2", "body"), "after"); bytes.Equal(after[:5], old1[:5]) {
		t.Fatal("client-1 still seals with its old data key")
	}
	if _, err := a.RotateDEKsBefore(ctx, clk.Now().Add(time.Hour), 10); err == nil {
		t.Fatal("a cutoff in the future was accepted")
	}
}
