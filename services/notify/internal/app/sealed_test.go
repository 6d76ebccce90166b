package app_test

// Webhook secrets are sealed at rest with the owner's keyset (issue 13).

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/server"
)

// Neither the secret nor the rotated-out one is in any stored document,
// while deliveries are still signed with them.
func TestNoWebhookSecretInTheRawDocuments(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusOK)
	h := f.webhookFor(t, f.n, counsellorID, url)
	rotated, err := f.n.RotateWebhookSecret(ctxT(t), caller(counsellorID), counsellorID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	names, err := f.db.ListCollectionNames(ctxT(t), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		cur, err := f.db.Collection(name).Find(ctxT(t), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctxT(t)) {
			for _, s := range []string{h.Secret, rotated.Secret, strings.TrimPrefix(h.Secret, "whsec_"), strings.TrimPrefix(rotated.Secret, "whsec_")} {
				if bytes.Contains(cur.Current, []byte(s)) {
					t.Fatalf("a secret in plain text in %s: %s", name, cur.Current)
				}
			}
		}
		_ = cur.Close(ctxT(t))
	}
	raw, err := f.db.Collection(server.CollWebhooks).FindOne(ctxT(t), bson.D{{Key: "_id", Value: h.ID}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"secret", "prev_secret"} {
		if v := raw.Lookup(field); v.Type != bson.TypeBinary {
			t.Fatalf("%s stored as %v, want sealed binary", field, v.Type)
		}
	}
	f.deliver(t, milestone(counsellorID, 3))
	sendPass(t, f.n)
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests", len(reqs))
	}
	for _, s := range []string{h.Secret, rotated.Secret} {
		if err := verifier(t, s).VerifyIgnoringTimestamp(reqs[0].body, reqs[0].header); err != nil {
			t.Fatalf("a delivery signed with the sealed secrets does not verify: %v", err)
		}
	}
}

// A secret copied from one webhook into another does not open there: a
// rotation of that webhook (the one call that reads the secret) fails with
// DataLoss naming ids only and answers nothing, a delivery to it is given
// up rather than signed, and the owner can still list and delete it (those
// never decrypt the secrets).
func TestWebhookSecretCopiedIntoAnotherFailsDataLoss(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	f.sender(f.n)
	rcv, url := f.receiver(t, http.StatusOK)
	a := f.webhookFor(t, f.n, counsellorID, url)
	b := f.webhookFor(t, f.n, counsellorID, url)
	coll := f.db.Collection(server.CollWebhooks)
	src, err := coll.FindOne(ctxT(t), bson.D{{Key: "_id", Value: a.ID}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(ctxT(t), bson.D{{Key: "_id", Value: b.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "secret", Value: src.Lookup("secret")}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := f.n.RotateWebhookSecret(ctxT(t), caller(counsellorID), counsellorID, b.ID)
	if !errors.Is(err, fieldcrypt.ErrOpen) || got.ID != "" || got.Secret != "" {
		t.Fatalf("rotate = %+v, %v; want nothing and ErrOpen", got, err)
	}
	st := apperr.ToStatus(err)
	if st.Code().String() != "DataLoss" || !strings.Contains(st.Message(), b.ID) || strings.Contains(st.Message()+err.Error(), strings.TrimPrefix(a.Secret, "whsec_")) {
		t.Fatalf("status %v, error %v", st, err)
	}
	f.deliver(t, milestone(counsellorID, 3))
	sendPass(t, f.n)
	if reqs := rcv.requests(); len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1 (webhook a only)", len(reqs))
	}
	ds, err := f.n.ListDeliveries(ctxT(t), caller(counsellorID), counsellorID, a.ID)
	if err != nil || len(ds) != 1 || ds[0].Status != app.DeliveryDelivered {
		t.Fatalf("deliveries of a = %+v, %v", ds, err)
	}
	var d app.Delivery
	if err := f.db.Collection(server.CollDeliveries).FindOne(ctxT(t), bson.D{{Key: "webhook_id", Value: b.ID}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Status != app.DeliveryFailed || d.LastError != "the webhook's secret cannot be read" {
		t.Fatalf("delivery to b = %s %q, want given up", d.Status, d.LastError)
	}
	list, err := f.n.ListWebhooks(ctxT(t), caller(counsellorID), counsellorID)
	if err != nil || len(list) != 2 || list[0].Secret != "" || list[1].Secret != "" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := f.n.DeleteWebhook(ctxT(t), caller(counsellorID), counsellorID, b.ID); err != nil {
		t.Fatalf("delete the damaged webhook: %v", err)
	}
}

// After a DEK rotation the re-encryption job re-seals the secrets under
// the new key; a secret rotation that lands between the job's read and
// its write is kept (the job's write matches nothing), and a second run
// finds nothing to do.
func TestResealWebhooksKeepsARotationInBetween(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	keys := f.keys()
	w := app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), keys, true)
	n := f.n.WithWebhooks(w)
	_, url := f.receiver(t, http.StatusOK)
	h := f.webhookFor(t, n, counsellorID, url)
	other := f.webhookFor(t, n, counsellorID, url)
	if err := keys.RotateDEK(ctxT(t), counsellorID); err != nil {
		t.Fatal(err)
	}
	var rotated app.Webhook
	res, err := w.Reseal(ctxT(t), docstore.ResealOptions{BeforeWrite: func(id string) {
		if id != h.ID {
			return
		}
		var err error
		if rotated, err = n.RotateWebhookSecret(ctxT(t), caller(counsellorID), counsellorID, h.ID); err != nil {
			t.Error(err)
		}
	}})
	if res.Last = ""; err != nil || res != (docstore.ResealResult{Resealed: 1, Skipped: 1}) {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	if now := f.hook(t, h.ID); now.Secret != rotated.Secret || now.PrevSecret != h.Secret {
		t.Fatal("the rotation made during the re-encryption was lost")
	}
	if now := f.hook(t, other.ID); now.Secret != other.Secret {
		t.Fatal("the re-sealed secret does not open to the same value")
	}
	primary, err := keys.Primary(ctxT(t), counsellorID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{h.ID, other.ID} {
		raw, err := f.db.Collection(server.CollWebhooks).FindOne(ctxT(t), bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		_, ct := raw.Lookup("secret").Binary()
		if k, _ := fieldcrypt.KeyID(ct); k != primary {
			t.Fatalf("%s's secret under key %d, want %d", id, k, primary)
		}
	}
	if res, err := w.Reseal(ctxT(t), docstore.ResealOptions{}); err != nil || res.Current != 2 || res.Resealed+res.Skipped+res.Failed != 0 {
		t.Fatalf("second run = %+v, %v", res, err)
	}
}
