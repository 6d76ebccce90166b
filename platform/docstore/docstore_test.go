package docstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counter struct {
	Owner string `bson:"owner"`
	N     int    `bson:"n"`
}

func event(id string) outbox.Message {
	return outbox.Message{ID: id, Subject: "test.counted", Data: []byte(id), CreateTime: time.Unix(0, 0).UTC()}
}

func TestCreateIsIdempotentOnID(t *testing.T) {
	ctx := context.Background()
	s := docstore.New[counter](testenv.Mongo(t).Collection("counters"), nil)
	if err := s.Create(ctx, "c1", counter{Owner: "a"}, event("e1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "c1", counter{Owner: "b"}); !errors.Is(err, docstore.ErrExists) {
		t.Fatalf("second create = %v, want ErrExists", err)
	}
	got, version, err := s.Get(ctx, "c1")
	if err != nil || got.Owner != "a" || version != 1 {
		t.Fatalf("Get = %+v v%d %v, want the first document at version 1", got, version, err)
	}
	if _, _, err := s.Get(ctx, "missing"); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
}

// Concurrent read-modify-writes through the version check lose nothing:
// every increment lands and every event is stored once.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("counters")
	s := docstore.New[counter](coll, nil)
	if err := s.Create(ctx, "c1", counter{}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				_, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) {
					c.N++
					return []outbox.Message{event(id)}, nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("update: %v", err)
	}
	got, version, err := s.Get(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.N != writers*each || version != writers*each+1 {
		t.Fatalf("n=%d version=%d, want n=%d version=%d", got.N, version, writers*each, writers*each+1)
	}
	var raw struct {
		Outbox  map[string]outbox.Message `bson:"outbox"`
		Pending bool                      `bson:"outbox_pending"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "c1"}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Outbox) != writers*each || !raw.Pending {
		t.Fatalf("pending events = %d (pending=%v), want %d", len(raw.Outbox), raw.Pending, writers*each)
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := docstore.New[counter](testenv.Mongo(t).Collection("counters"), nil)
	if err := s.Create(ctx, "c1", counter{N: 1}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	_, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) {
		c.N = 99
		return nil, refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	got, version, _ := s.Get(ctx, "c1")
	if got.N != 1 || version != 1 {
		t.Fatalf("after a refused update: n=%d v%d, want n=1 v1", got.N, version)
	}
	if _, err := s.Update(ctx, "nope", func(*counter) ([]outbox.Message, error) { return nil, nil }); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("Update(missing) = %v, want ErrNotFound", err)
	}
}

func TestKickAfterEventsOnly(t *testing.T) {
	ctx := context.Background()
	kicks := 0
	s := docstore.New[counter](testenv.Mongo(t).Collection("counters"), func() { kicks++ })
	if err := s.Create(ctx, "c1", counter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) { c.N++; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if kicks != 0 {
		t.Fatalf("kicks = %d after writes without events, want 0", kicks)
	}
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) { return []outbox.Message{event("e1")}, nil }); err != nil {
		t.Fatal(err)
	}
	if kicks != 1 {
		t.Fatalf("kicks = %d after a write with an event, want 1", kicks)
	}
}
