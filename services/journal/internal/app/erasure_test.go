package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

func (f *fixture) countOf(t *testing.T, coll, clientID string) int64 {
	t.Helper()
	n, err := f.db.Collection(coll).CountDocuments(context.Background(), bson.D{{Key: "client_id", Value: clientID}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The journal's part of an erasure: every record of the client gone, the
// keyset destroyed so that a copy of a sealed text (a backup) no longer
// opens, nothing of another client touched, one confirmation whatever the
// redeliveries, and neither a replayed event nor a new write makes
// anything for the client again.
func TestErasureShredsOneClientsJournal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	f.journal.WithErasure(erasure.NewMarks(f.db, "journal", nil), mongodb.NewClientData(f.db), f.keys)
	entries, _, _ := writeEveryTextField(t, f)
	f.urge(t, client.ID, 10, "")
	f.urge(t, "client-2", 10, "")
	f.checkIn(t, "client-2", "Europe/Berlin", 1, "")
	f.settle(t)
	if f.countOf(t, mongodb.CollFlags, client.ID) == 0 || f.countOf(t, mongodb.CollFlags, "client-2") == 0 {
		t.Fatal("the high urges raised no flags")
	}
	// A backup's copy of one sealed body.
	var backup struct {
		Body []byte `bson:"body"`
	}
	if err := f.db.Collection(mongodb.CollEntries).FindOne(ctx, bson.D{{Key: "_id", Value: entries[1].ID}}).Decode(&backup); err != nil {
		t.Fatal(err)
	}

	for range 2 { // the request, and a redelivery of it
		if err := f.journal.Erase(ctx, client.ID, "erasure-1", sealedStart); err != nil {
			t.Fatal(err)
		}
	}
	for _, coll := range []string{mongodb.CollCheckIns, mongodb.CollEntries, mongodb.CollUrges, mongodb.CollFlags} {
		if n := f.countOf(t, coll, client.ID); n != 0 {
			t.Errorf("%d %s of the erased client remain", n, coll)
		}
	}
	if f.countOf(t, mongodb.CollUrges, "client-2") != 1 || f.countOf(t, mongodb.CollCheckIns, "client-2") != 1 || f.countOf(t, mongodb.CollFlags, "client-2") == 0 {
		t.Error("the other client lost journal records")
	}
	if hits := rawScan(t, f.db, marker); len(hits) > 0 {
		t.Fatalf("after the erasure:\n%s", strings.Join(hits, "\n"))
	}
	ref := fieldcrypt.Ref{Client: client.ID, Collection: mongodb.CollEntries, Document: entries[1].ID, Field: "body"}
	if _, err := f.keys.Open(ctx, ref, backup.Body); !errors.Is(err, fieldcrypt.ErrDestroyed) {
		t.Fatalf("the backup's body opened after the erasure: %v", err)
	}
	var marked struct {
		Outbox map[string]bson.Raw `bson:"outbox"`
	}
	if err := f.db.Collection(erasure.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: client.ID}}).Decode(&marked); err != nil || len(marked.Outbox) != 1 {
		t.Fatalf("confirmations queued: %d (%v), want 1", len(marked.Outbox), err)
	}

	// A replayed urge event raises no flag; a new record is refused.
	replay := &eventsv1.Envelope{EventId: "replayed", ClientId: client.ID, Type: "journal.urge.logged",
		Payload: &eventsv1.Envelope_UrgeLogged{UrgeLogged: &eventsv1.UrgeLogged{UrgeId: "u-old", Intensity: 10}}}
	if err := f.journal.RaiseFlags(ctx, replay); err != nil {
		t.Fatal(err)
	}
	if n := f.countOf(t, mongodb.CollFlags, client.ID); n != 0 {
		t.Fatalf("the replay raised %d flags", n)
	}
	_, _, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: 1, TimeZone: "Europe/Berlin"}, "", app.RequestKey{})
	if k, _ := apperr.KindOf(err); k != apperr.KindFailedPrecondition {
		t.Fatalf("a check-in after the erasure: %v, want FailedPrecondition", err)
	}
}
