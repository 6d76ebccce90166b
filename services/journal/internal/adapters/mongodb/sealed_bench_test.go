package mongodb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
)

// BenchmarkSealerOpenEntry is the CPU cost field encryption adds to each
// entry read, without the database round trip: the stored document is
// decoded to bson.D, its title and 1 KiB body opened (keys warm) and it is
// encoded again for the aggregate's decoder (what docstore does per
// document with a codec).
func BenchmarkSealerOpenEntry(b *testing.B) {
	ctx := context.Background()
	db := testenv.Mongo(b)
	keks, err := fieldcrypt.Config{KEK: "dGVzdC1rZWstb2YtdGhlLWpvdXJuYWwtdGVzdHMtMzI="}.KEKs(false)
	if err != nil {
		b.Fatal(err)
	}
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clock.NewFake(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	s := mongodb.NewSealer(k, mongodb.CollEntries)
	body := strings.Repeat("I wanted to write to them today. ", 32)
	doc := bson.D{{Key: "_id", Value: "e1"}, {Key: "version", Value: int64(1)}, {Key: "id", Value: "e1"}, {Key: "client_id", Value: "c1"},
		{Key: "kind", Value: "free"}, {Key: "title", Value: "a title"}, {Key: "body", Value: body}, {Key: "shared", Value: false},
		{Key: "time_zone", Value: "Europe/Berlin"}, {Key: "local_date", Value: "2026-12-03"}, {Key: "create_time", Value: time.Now()}}
	sealed, err := s.Seal(ctx, "e1", doc)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := bson.Marshal(sealed)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		var d bson.D
		if err := bson.Unmarshal(raw, &d); err != nil {
			b.Fatal(err)
		}
		d, err := s.Open(ctx, "e1", d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bson.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
}
