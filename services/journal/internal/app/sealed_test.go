package app_test

// Field encryption at rest (issue 13): the journal's free text is sealed
// in the store adapter with the client's keyset.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

var sealedStart = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// marker is written into every free-text field; its name in each field
// follows, so a leak names the field.
const marker = "MARKER-7f3a9c"

// rawScan reads every document of every collection of the journal
// database with the driver and reports each one holding needle.
func rawScan(t *testing.T, db *mongo.Database, needle string) []string {
	t.Helper()
	ctx := context.Background()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			if bytes.Contains(cur.Current, []byte(needle)) {
				hits = append(hits, name+": "+cur.Current.String())
			}
		}
		if err := cur.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return hits
}

// writeEveryTextField writes the marker into every free-text field the
// journal stores, through the use cases the RPCs call.
func writeEveryTextField(t *testing.T, f *fixture) (entries []journal.Entry, ci journal.CheckIn, u journal.Urge) {
	t.Helper()
	ctx := context.Background()
	for i, kind := range []string{journal.EntryFree, journal.EntryUnsentLetter, journal.EntryGratitude} {
		key := app.RequestKey{}
		if i == 0 {
			key = app.RequestKey{ID: "req-entry-0", Hash: "hash-entry-0"} // the CreateOnce path
		}
		e, _, err := f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{
			Kind: kind, Title: marker + " title " + kind, Body: marker + " body " + kind, TimeZone: "Europe/Berlin",
		}, "DE", key)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	ci, _, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: 1, Note: marker + " check-in note", TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := f.journal.LogUrge(ctx, client, client.ID, journal.Urge{Intensity: 4, Note: marker + " urge note", TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the creation (Update) seal again.
	if _, err := f.journal.SetShared(ctx, client, client.ID, entries[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.journal.ResolveUrge(ctx, client, client.ID, ans.Urge.ID, journal.OutcomeResisted); err != nil {
		t.Fatal(err)
	}
	return entries, ci, ans.Urge
}

func TestNoFreeTextInTheRawDocuments(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	entries, _, u := writeEveryTextField(t, f)
	// A retry of the keyed create answers the stored (opened) entry.
	again, _, err := f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{
		Kind: journal.EntryFree, Title: marker + " title free", Body: marker + " body free", TimeZone: "Europe/Berlin",
	}, "DE", app.RequestKey{ID: "req-entry-0", Hash: "hash-entry-0"})
	if err != nil || again.Body != marker+" body free" {
		t.Fatalf("retry = %q, %v", again.Body, err)
	}
	if hits := rawScan(t, f.db, marker); len(hits) > 0 {
		t.Fatalf("plaintext in the database:\n%s", strings.Join(hits, "\n"))
	}
	// The fields are there, sealed (binary), not dropped.
	var raw bson.Raw
	if err := f.db.Collection(mongodb.CollEntries).FindOne(ctx, bson.D{{Key: "_id", Value: entries[1].ID}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"title", "body"} {
		if v := raw.Lookup(field); v.Type != bson.TypeBinary {
			t.Fatalf("%s stored as %v, want sealed binary", field, v.Type)
		}
	}

	// Reads answer the text.
	for _, e := range entries {
		got, err := f.journal.GetEntry(ctx, client, client.ID, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != marker+" title "+e.Kind || got.Body != marker+" body "+e.Kind {
			t.Fatalf("entry %s read back as %q / %q", e.Kind, got.Title, got.Body)
		}
	}
	list, _, err := f.journal.ListEntries(ctx, client, client.ID, 10, "")
	if err != nil || len(list) != 3 {
		t.Fatalf("list = %d, %v", len(list), err)
	}
	for _, e := range list {
		if !strings.HasPrefix(e.Body, marker) {
			t.Fatalf("listed body %q", e.Body)
		}
	}
	cis, _, _, err := f.journal.ListCheckIns(ctx, client, client.ID, 10, "")
	if err != nil || len(cis) != 1 || cis[0].Note != marker+" check-in note" {
		t.Fatalf("check-ins = %+v, %v", cis, err)
	}
	// The care team's detail page reads the shared entry's text, never
	// its ciphertext.
	f.careTeam(t, app.ScopeSharedJournal)
	d, err := f.journal.CareDetailOf(ctx, counsellor, client.ID, nil, false)
	if err != nil || len(d.SharedEntries) != 1 || d.SharedEntries[0].Body != marker+" body free" || d.SharedEntries[0].Title != marker+" title free" {
		t.Fatalf("care detail = %+v, %v", d.SharedEntries, err)
	}
	urges, err := f.urges.Find(ctx, bson.D{{Key: "_id", Value: u.ID}})
	if err != nil || len(urges) != 1 || urges[0].Note != marker+" urge note" || urges[0].Outcome != journal.OutcomeResisted {
		t.Fatalf("urges = %+v, %v", urges, err)
	}
}

// A ciphertext copied into another entry's field (by someone with write
// access to the database) does not open there: the read fails with an
// error that carries neither text nor ciphertext, and never answers part.
func TestCiphertextCopiedIntoAnotherEntryDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	entries, _, _ := writeEveryTextField(t, f)
	coll := f.db.Collection(mongodb.CollEntries)
	var src bson.Raw
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: entries[1].ID}}).Decode(&src); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, field string }{{"same field", "body"}, {"other field", "title"}} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: entries[2].ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: c.field, Value: src.Lookup("body")}}}}); err != nil {
				t.Fatal(err)
			}
			got, err := f.journal.GetEntry(ctx, client, client.ID, entries[2].ID)
			if !errors.Is(err, fieldcrypt.ErrOpen) {
				t.Fatalf("get = %+v, %v; want ErrOpen", got, err)
			}
			if got.Body != "" || got.Title != "" {
				t.Fatalf("partial answer %+v", got)
			}
			if st := apperr.ToStatus(err); st.Code().String() != "DataLoss" || strings.Contains(st.Message(), marker) {
				t.Fatalf("status = %v", st)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error carries text: %v", err)
			}
			// The list refuses as a whole rather than answer the others.
			if list, _, err := f.journal.ListEntries(ctx, client, client.ID, 10, ""); !errors.Is(err, fieldcrypt.ErrOpen) || len(list) != 0 {
				t.Fatalf("list = %d entries, %v", len(list), err)
			}
		})
	}
	// The source entry still opens.
	if got, err := f.journal.GetEntry(ctx, client, client.ID, entries[1].ID); err != nil || got.Body != marker+" body "+journal.EntryUnsentLetter {
		t.Fatalf("source = %q, %v", got.Body, err)
	}
}

// After the client's keyset is destroyed (erasure), their entries no
// longer open and a new write for them is refused, each with a clear
// FailedPrecondition; another client is untouched.
func TestDestroyedKeysetShredsAndRefusesWrites(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	entries, _, _ := writeEveryTextField(t, f)
	other := app.Caller{ID: "client-2", Role: client.Role, RequestID: "req-other"}
	theirs, _, err := f.journal.CreateEntry(ctx, other, other.ID, journal.Entry{Body: "someone else's words", TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Destroy(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	erased := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, fieldcrypt.ErrDestroyed) {
			t.Fatalf("%s: %v, want ErrDestroyed", what, err)
		}
		if k, _ := apperr.KindOf(err); k != apperr.KindFailedPrecondition {
			t.Fatalf("%s: kind %v, want FailedPrecondition", what, k)
		}
		if st := apperr.ToStatus(err); !strings.Contains(st.Message(), "erased") {
			t.Fatalf("%s: status %v", what, st)
		}
	}
	got, err := f.journal.GetEntry(ctx, client, client.ID, entries[0].ID)
	erased("get entry", err)
	if got.Body != "" {
		t.Fatalf("partial answer %+v", got)
	}
	_, _, err = f.journal.ListEntries(ctx, client, client.ID, 10, "")
	erased("list entries", err)
	_, _, _, err = f.journal.ListCheckIns(ctx, client, client.ID, 10, "")
	erased("list check-ins", err)
	_, _, err = f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{Body: "written after erasure", TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	erased("create entry", err)
	// A write with no text at all is refused too.
	_, _, err = f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: 0, TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	erased("check-in without a note", err)
	_, err = f.journal.SetShared(ctx, client, client.ID, entries[1].ID, true)
	erased("share", err)
	if n, err := f.db.Collection(mongodb.CollEntries).CountDocuments(ctx, bson.D{{Key: "client_id", Value: client.ID}}); err != nil || n != 3 {
		t.Fatalf("entries of the erased client = %d, %v; want the 3 old ones, nothing new", n, err)
	}
	if got, err := f.journal.GetEntry(ctx, other, other.ID, theirs.ID); err != nil || got.Body != "someone else's words" {
		t.Fatalf("other client's entry = %q, %v", got.Body, err)
	}
}

// Documents written before encryption (plain strings) still read, and are
// sealed when next written.
func TestPlaintextWrittenBeforeEncryptionStillReads(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	coll := f.db.Collection(mongodb.CollEntries)
	if _, err := coll.InsertOne(ctx, bson.D{
		{Key: "_id", Value: "legacy-1"}, {Key: "version", Value: int64(1)}, {Key: "id", Value: "legacy-1"},
		{Key: "client_id", Value: client.ID}, {Key: "kind", Value: journal.EntryFree}, {Key: "title", Value: "old title"},
		{Key: "body", Value: "old words"}, {Key: "shared", Value: false}, {Key: "time_zone", Value: "Europe/Berlin"},
		{Key: "local_date", Value: "2026-12-01"}, {Key: "create_time", Value: sealedStart.Add(-48 * time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.journal.GetEntry(ctx, client, client.ID, "legacy-1")
	if err != nil || got.Body != "old words" || got.Title != "old title" {
		t.Fatalf("legacy entry = %+v, %v", got, err)
	}
	if _, err := f.journal.SetShared(ctx, client, client.ID, "legacy-1", true); err != nil {
		t.Fatal(err)
	}
	if hits := rawScan(t, f.db, "old words"); len(hits) > 0 {
		t.Fatalf("still plaintext after a write: %v", hits)
	}
	if got, err := f.journal.GetEntry(ctx, client, client.ID, "legacy-1"); err != nil || got.Body != "old words" || !got.Shared {
		t.Fatalf("after the write = %+v, %v", got, err)
	}
}

// After a DEK rotation the re-encryption job brings every entry, check-in
// and urge under the new key, every text reads back, and a second run
// finds nothing to do.
func TestResealJournalAfterRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart, "")
	entries, ci, _ := writeEveryTextField(t, f)
	if err := f.keys.RotateDEK(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	res, err := mongodb.Reseal(ctx, f.db, f.keys, docstore.ResealOptions{Batch: 2})
	if err != nil || res[mongodb.CollEntries].Resealed != 3 || res[mongodb.CollCheckIns].Resealed != 1 || res[mongodb.CollUrges].Resealed != 1 {
		t.Fatalf("reseal = %+v, %v", res, err)
	}
	primary, err := f.keys.Primary(ctx, client.ID)
	if err != nil {
		t.Fatal(err)
	}
	for coll, id := range map[string]string{mongodb.CollEntries: entries[0].ID, mongodb.CollCheckIns: ci.ID} {
		raw, err := f.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range mongodb.SealedFields[coll] {
			_, ct := raw.Lookup(field).Binary()
			if k, _ := fieldcrypt.KeyID(ct); k != primary {
				t.Fatalf("%s/%s.%s under key %d, want %d", coll, id, field, k, primary)
			}
		}
	}
	for _, e := range entries {
		got, err := f.journal.GetEntry(ctx, client, client.ID, e.ID)
		if err != nil || got.Body != marker+" body "+e.Kind {
			t.Fatalf("entry after reseal = %q, %v", got.Body, err)
		}
	}
	res, err = mongodb.Reseal(ctx, f.db, f.keys, docstore.ResealOptions{})
	for coll, r := range res {
		r.Last = ""
		res[coll] = r
	}
	if err != nil || res[mongodb.CollEntries] != (docstore.ResealResult{Current: 3}) || res[mongodb.CollUrges] != (docstore.ResealResult{Current: 1}) {
		t.Fatalf("second run = %+v, %v", res, err)
	}
}
