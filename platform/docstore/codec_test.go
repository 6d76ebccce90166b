package docstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
)

// reversing stores the owner field reversed as binary, and refuses to
// open a document whose owner is "bad" reversed.
type reversing struct{}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

var errBad = errors.New("does not open")

func (reversing) Seal(_ context.Context, _ string, d bson.D) (bson.D, error) {
	for i, e := range d {
		if e.Key == "owner" {
			d[i].Value = bson.Binary{Data: reverse([]byte(e.Value.(string)))}
		}
	}
	return d, nil
}

func (reversing) Open(_ context.Context, _ string, d bson.D) (bson.D, error) {
	for i, e := range d {
		if b, ok := e.Value.(bson.Binary); ok && e.Key == "owner" {
			if string(b.Data) == "dab" {
				return nil, errBad
			}
			d[i].Value = string(reverse(b.Data))
		}
	}
	return d, nil
}

// Every write goes through Seal and every read of an aggregate through
// Open: the stored form never holds the plain value, every read path
// answers it, and a document that does not open fails the read.
func TestCodecSealsEveryWriteAndOpensEveryRead(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	s := docstore.New[counter](db.Collection("counters"), nil).WithCodec(reversing{})
	if err := s.Create(ctx, "c1", counter{Owner: "alice-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateOnce(ctx, "c2", "h2", counter{Owner: "bob-secret"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMany(ctx, []docstore.Draft[counter]{{ID: "c3", Doc: counter{Owner: "carol-secret"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c1", func(c *counter) ([]outbox.Message, error) {
		if c.Owner != "alice-secret" {
			t.Errorf("update read %q", c.Owner)
		}
		c.N++
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	cur, err := db.Collection("counters").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for cur.Next(ctx) {
		if bytes.Contains(cur.Current, []byte("secret")) {
			t.Fatalf("plain value stored: %s", cur.Current)
		}
	}
	if err := cur.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, v, err := s.Get(ctx, "c1"); err != nil || got.Owner != "alice-secret" || got.N != 1 || v != 2 {
		t.Fatalf("get = %+v v%d, %v", got, v, err)
	}
	if got, created, err := s.CreateOnce(ctx, "c2", "h2", counter{Owner: "bob-secret"}); err != nil || created || got.Owner != "bob-secret" {
		t.Fatalf("retry = %+v %v, %v", got, created, err)
	}
	all, err := s.Find(ctx, bson.D{})
	if err != nil || len(all) != 3 {
		t.Fatalf("find = %+v, %v", all, err)
	}
	for _, c := range all {
		if len(c.Owner) < 6 || c.Owner[len(c.Owner)-6:] != "secret" {
			t.Fatalf("find answered %q", c.Owner)
		}
	}
	if err := s.Create(ctx, "c4", counter{Owner: "bad"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "c4"); !errors.Is(err, errBad) {
		t.Fatalf("get of a document that does not open = %v", err)
	}
	if got, err := s.Find(ctx, bson.D{}); !errors.Is(err, errBad) || got != nil {
		t.Fatalf("find with a document that does not open = %d, %v", len(got), err)
	}
	if _, err := s.Update(ctx, "c4", func(*counter) ([]outbox.Message, error) { return nil, nil }); !errors.Is(err, errBad) {
		t.Fatalf("update of a document that does not open = %v", err)
	}
}
