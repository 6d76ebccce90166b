package events_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	planevents "github.com/nocontact/backend/services/plans/internal/ports/events"
)

// A contacted urge of an erased client (the journal catching up, or a
// replay) is acked and dropped: no contact, no plan, and not a failure
// to redeliver or dead-letter. Before the erasure the same event records
// the slip. (Without DropErased the urge also finds no plan and records
// nothing: the wrapper says so explicitly and skips the work.)
func TestAnErasedClientsUrgeIsDropped(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	store := mongodb.NewErasureStore(f.db.Collection(mongodb.CollErasures), nil)
	data := mongodb.NewClientData(f.db)
	e := app.NewErasure(store, data, nil, f.access, f.clk)
	handle := planevents.DropErased(e, f.handle)
	f.activePlan(t, 5)
	contacts := func() int64 {
		n, err := f.db.Collection(mongodb.CollContacts).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := handle(ctx, f.deliver(t, "journal.urge.resolved", urgeResolved(t, journalv1.UrgeOutcome_CONTACTED, t0.Add(-2*time.Hour), t0.Add(-time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if contacts() != 1 {
		t.Fatal("the urge before the erasure recorded no slip")
	}
	if _, err := e.Request(ctx, client, client.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.EraseHere(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	if err := handle(ctx, f.deliver(t, "journal.urge.resolved", urgeResolved(t, journalv1.UrgeOutcome_CONTACTED, t0.Add(-30*time.Minute), t0))); err != nil {
		t.Fatalf("an erased client's urge = %v, want acked and dropped", err)
	}
	if n := contacts(); n != 0 {
		t.Fatalf("%d contacts after the erased client's urge", n)
	}
}
