package docstore_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
)

// CreateMany stores each document with its own events, readable and
// relayed like a Create's, and kicks the relay once.
func TestCreateManyKeepsEachDocumentWithItsEvents(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("counters")
	kicks := 0
	s := docstore.New[counter](coll, func() { kicks++ })
	var drafts []docstore.Draft[counter]
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		drafts = append(drafts, docstore.Draft[counter]{ID: id, Doc: counter{Owner: id, N: i}, Events: []outbox.Message{event("e-" + id)}})
	}
	if err := s.CreateMany(ctx, drafts); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		got, version, err := s.Get(ctx, id)
		if err != nil || got.Owner != id || got.N != i || version != 1 {
			t.Fatalf("Get(%s) = %+v v%d %v", id, got, version, err)
		}
		var raw struct {
			outbox.Fields `bson:",inline"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.Outbox["e-"+id]; !ok || !raw.Pending || len(raw.Outbox) != 1 {
			t.Fatalf("%s outbox = %v (pending %v), want its own event pending", id, raw.Outbox, raw.Pending)
		}
	}
	if kicks != 1 {
		t.Fatalf("relay kicked %d times, want 1", kicks)
	}
	if err := s.CreateMany(ctx, nil); err != nil || kicks != 1 {
		t.Fatalf("empty CreateMany = %v, kicks %d; want nothing", err, kicks)
	}
}
