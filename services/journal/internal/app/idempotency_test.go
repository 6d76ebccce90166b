package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/idempotency"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// A create under a request id, for each kind: two replicas given the same
// request at once store one record and answer it both (the losing
// interleaving is forced: replica B runs the whole call while replica A
// waits just before its insert); a retry answers it again; the same request
// id with another request is refused with ErrReused, and nothing is stored.
func TestRequestIDMakesCreatesIdempotentAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		coll string
		// create runs the create on j with the given note and key, and
		// answers the stored record's id.
		create func(j *app.Journal, note string, key app.RequestKey) (string, error)
	}{
		{"check-in", mongodb.CollCheckIns, func(j *app.Journal, note string, key app.RequestKey) (string, error) {
			ci, _, err := j.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: 1, Note: note, TimeZone: "Europe/Berlin"}, "DE", key)
			return ci.ID, err
		}},
		{"entry", mongodb.CollEntries, func(j *app.Journal, note string, key app.RequestKey) (string, error) {
			e, _, err := j.CreateEntry(ctx, client, client.ID, journal.Entry{Body: note, TimeZone: "Europe/Berlin"}, "DE", key)
			return e.ID, err
		}},
		{"urge", mongodb.CollUrges, func(j *app.Journal, note string, key app.RequestKey) (string, error) {
			ans, err := j.LogUrge(ctx, client, client.ID, journal.Urge{Intensity: 3, Note: note, TimeZone: "Europe/Berlin"}, "DE", key)
			return ans.Urge.ID, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC), "")
			a, b := f.replica(), f.replica()
			key := app.RequestKey{ID: "retry-1", Hash: "hash-of-request-1"}

			var bID string
			var bErr error
			a.SetBeforeCreate(func(string) {
				a.SetBeforeCreate(nil)
				bID, bErr = c.create(b, "first words", key) // B wins the insert
			})
			aID, aErr := c.create(a, "first words", key)
			if aErr != nil || bErr != nil || aID == "" || aID != bID {
				t.Fatalf("racing replicas: A = %q %v, B = %q %v; want both to answer one record", aID, aErr, bID, bErr)
			}
			again, err := c.create(a, "first words", key)
			if err != nil || again != aID {
				t.Fatalf("retry = %q %v, want %q", again, err, aID)
			}
			if _, err := c.create(b, "other words", app.RequestKey{ID: key.ID, Hash: "hash-of-request-2"}); !errors.Is(err, idempotency.ErrReused) {
				t.Fatalf("the request id with another request = %v, want ErrReused", err)
			}
			n, err := f.db.Collection(c.coll).CountDocuments(ctx, bson.D{{Key: "client_id", Value: client.ID}})
			if err != nil || n != 1 {
				t.Fatalf("%d records stored (%v), want 1", n, err)
			}
			other, err := c.create(a, "first words", app.RequestKey{ID: "retry-2", Hash: key.Hash})
			if err != nil || other == aID {
				t.Fatalf("another request id = %q %v, want a new record", other, err)
			}
		})
	}
}
