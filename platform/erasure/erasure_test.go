package erasure_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// A create that checked before the erasure was marked, and whose insert
// landed after the eraser's delete, is deleted again by the check after
// it: the losing interleaving, forced by the hook between the insert and
// the second check. Without that second check the document would survive.
func TestGuardUndoesACreateThatRacedTheErasure(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	marks := erasure.NewMarks(db, "journal", nil)
	data := db.Collection("things")
	deleteAll := func(ctx context.Context, client string) error {
		_, err := data.DeleteMany(ctx, bson.D{{Key: "client_id", Value: client}})
		return err
	}
	create := func() error {
		_, err := data.InsertOne(ctx, bson.D{{Key: "client_id", Value: "c1"}})
		return err
	}
	marks.SetAfterCreate(func(client string) {
		// The erasure runs now: marker, then delete (which, in the bad
		// order, already ran before the insert; here it runs on the
		// marker's side of the insert, so only the second check can see
		// the marker).
		if err := marks.Mark(ctx, client, "e1", t0); err != nil {
			t.Error(err)
		}
	})
	if err := marks.Guard(ctx, "c1", create, deleteAll); !errors.Is(err, erasure.ErrErased) {
		t.Fatalf("Guard = %v, want ErrErased", err)
	}
	if n, _ := data.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d documents of the erased client survived", n)
	}
	marks.SetAfterCreate(nil)
	// From now on nothing is created at all.
	if err := marks.Guard(ctx, "c1", create, deleteAll); !errors.Is(err, erasure.ErrErased) {
		t.Fatalf("Guard after the erasure = %v", err)
	}
	if n, _ := data.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("a create after the erasure stored %d documents", n)
	}
	// Another client is untouched.
	if err := marks.Guard(ctx, "c2", func() error {
		_, err := data.InsertOne(ctx, bson.D{{Key: "client_id", Value: "c2"}})
		return err
	}, deleteAll); err != nil {
		t.Fatal(err)
	}
}

// Confirm queues one confirmation, whatever the redeliveries.
func TestConfirmOnce(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	marks := erasure.NewMarks(db, "notify", nil)
	if err := marks.Mark(ctx, "c1", "e1", t0); err != nil {
		t.Fatal(err)
	}
	if err := marks.Mark(ctx, "c1", "e1", t0.Add(time.Hour)); err != nil { // redelivered
		t.Fatal(err)
	}
	for i := range 2 {
		if err := marks.Confirm(ctx, "c1", t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Outbox      map[string]bson.Raw `bson:"outbox"`
		ConfirmTime *time.Time          `bson:"confirm_time"`
	}
	if err := db.Collection(erasure.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: "c1"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Outbox) != 1 || doc.ConfirmTime == nil || !doc.ConfirmTime.Equal(t0) {
		t.Fatalf("marker after two confirmations: %d events, confirmed %v", len(doc.Outbox), doc.ConfirmTime)
	}
	if ok, err := marks.Erased(ctx, "c2"); err != nil || ok {
		t.Fatalf("an unmarked client is erased: %v %v", ok, err)
	}
}
