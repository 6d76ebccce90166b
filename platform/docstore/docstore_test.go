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
	"github.com/nocontact/backend/platform/idempotency"
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

// An update that changes nothing writes nothing: the version stays, so a
// job that finds its work already done neither costs a write nor makes a
// concurrent writer retry.
func TestUpdateThatChangesNothingDoesNotWrite(t *testing.T) {
	ctx := context.Background()
	s := docstore.New[counter](testenv.Mongo(t).Collection("counters"), nil)
	if err := s.Create(ctx, "c1", counter{Owner: "a", N: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) {
		c.N = 1 // the value it already has
		return nil, nil
	})
	if err != nil || got.N != 1 {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if _, v, err := s.Get(ctx, "c1"); err != nil || v != 1 {
		t.Fatalf("version after a no-op update = %d, %v; want 1 (no write)", v, err)
	}
	// A change, or an event alone, is written.
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) { c.N = 2; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c1", func(*counter) ([]outbox.Message, error) { return []outbox.Message{event("e1")}, nil }); err != nil {
		t.Fatal(err)
	}
	if got, v, err := s.Get(ctx, "c1"); err != nil || v != 3 || got.N != 2 {
		t.Fatalf("after two real updates: %+v v%d %v, want n=2 at version 3", got, v, err)
	}
}

func claimFilter() bson.D { return bson.D{{Key: "owner", Value: "due"}} }

// Two replicas claiming from one collection get different documents, and
// a claimed document is offered again only once its lease has run out.
func TestClaimHandsEachDocumentToOneReplicaPerLease(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("counters")
	a, b := docstore.New[counter](coll, nil), docstore.New[counter](coll, nil)
	for i, owner := range []string{"due", "due", "other"} {
		if err := a.Create(ctx, fmt.Sprintf("c%d", i), counter{Owner: owner, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	sort := bson.D{{Key: "n", Value: 1}}
	first, err := a.Claim(ctx, claimFilter(), sort, now, time.Minute)
	if err != nil || first != "c0" {
		t.Fatalf("first claim = %q, %v; want c0", first, err)
	}
	second, err := b.Claim(ctx, claimFilter(), sort, now, time.Minute)
	if err != nil || second != "c1" {
		t.Fatalf("second claim = %q, %v; want c1 (c0 is leased)", second, err)
	}
	if id, err := a.Claim(ctx, claimFilter(), sort, now.Add(59*time.Second), time.Minute); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("claim within the lease = %q, %v; want ErrNotFound", id, err)
	}
	if id, err := b.Claim(ctx, claimFilter(), sort, now.Add(time.Minute), time.Minute); err != nil || id != "c0" {
		t.Fatalf("claim after the lease = %q, %v; want c0 again", id, err)
	}
}

// A write that read the document before a replica claimed it cannot
// write the lease away: its version check fails, it re-reads and keeps
// the lease, so no second replica is handed the same document.
func TestUpdateRacingAClaimKeepsTheLease(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("counters")
	s := docstore.New[counter](coll, nil)
	if err := s.Create(ctx, "c1", counter{Owner: "due"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	claimed := false
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) {
		if !claimed { // between this write's read and its write
			claimed = true
			if id, err := s.Claim(ctx, claimFilter(), nil, now, time.Minute); err != nil || id != "c1" {
				return nil, fmt.Errorf("claim = %q, %v", id, err)
			}
		}
		c.N++
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if id, err := s.Claim(ctx, claimFilter(), nil, now.Add(time.Second), time.Minute); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("after the racing update the document was claimable again (%q, %v): the lease was lost", id, err)
	}
	if got, _, err := s.Get(ctx, "c1"); err != nil || got.N != 1 {
		t.Fatalf("got %+v, %v; want the update applied once", got, err)
	}
}

// CreateOnce: the same request again answers the stored document (not the
// one it was given) and writes nothing; another request with the same id
// is refused; a later Update keeps the request's hash.
func TestCreateOnceTellsARetryFromAReusedKey(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("counters")
	s := docstore.New[counter](coll, nil)
	got, created, err := s.CreateOnce(ctx, "c1", "hash-a", counter{Owner: "a"}, event("e1"))
	if err != nil || !created || got.Owner != "a" {
		t.Fatalf("first CreateOnce = %+v %v %v", got, created, err)
	}
	got, created, err = s.CreateOnce(ctx, "c1", "hash-a", counter{Owner: "a", N: 7}, event("e2"))
	if err != nil || created || got.Owner != "a" || got.N != 0 {
		t.Fatalf("retry = %+v created=%v %v, want the stored document", got, created, err)
	}
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) { c.N++; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateOnce(ctx, "c1", "hash-b", counter{Owner: "b"}); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("reuse with another request = %v, want ErrReused", err)
	}
	if got, _, err := s.CreateOnce(ctx, "c1", "hash-a", counter{Owner: "a"}); err != nil || got.N != 1 {
		t.Fatalf("retry after an update = %+v %v, want the current document", got, err)
	}
	if err := s.Create(ctx, "c2", counter{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateOnce(ctx, "c2", "hash-a", counter{}); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("CreateOnce over a document created without a hash = %v, want ErrReused", err)
	}
	var raw struct {
		Outbox map[string]bson.Raw `bson:"outbox"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "c1"}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.Outbox["e1"]; !ok || len(raw.Outbox) != 1 {
		t.Fatalf("outbox = %v, want only the first create's event", raw.Outbox)
	}
}
