package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/benchx"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// BenchmarkInsightsOneYearOnFerretDB is a client with a year of data
// (365 check-ins, 500 urges, 200 entries) asking for 90 days of insights,
// end to end through the app layer and the database. On FerretDB every
// query scans its collection, so this is an upper bound, not MongoDB's
// figure (see docs/benchmarks.md).
func BenchmarkInsightsOneYearOnFerretDB(b *testing.B) {
	ctx := context.Background()
	db := testenv.Mongo(b)
	if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var checkins, urges, entries []any
	for i := 0; i < 365; i++ {
		at := now.Add(-time.Duration(i) * 24 * time.Hour)
		checkins = append(checkins, map[string]any{"_id": fmt.Sprintf("c%d", i), "version": 1, "client_id": "c1", "kind": "daily",
			"occurred_at": at, "time_zone": "Europe/Berlin", "local_date": at.Format(time.DateOnly), "mood": i%7 - 3,
			"self_care": []string{"nature"}, "triggers": []string{"music"}, "create_time": at})
	}
	for i := 0; i < 500; i++ {
		at := now.Add(-time.Duration(i) * 17 * time.Hour)
		urges = append(urges, map[string]any{"_id": fmt.Sprintf("u%d", i), "version": 1, "client_id": "c1", "intensity": i % 11,
			"trigger": "nighttime", "time_zone": "Europe/Berlin", "local_date": at.Format(time.DateOnly), "create_time": at})
	}
	for i := 0; i < 200; i++ {
		at := now.Add(-time.Duration(i) * 43 * time.Hour)
		entries = append(entries, map[string]any{"_id": fmt.Sprintf("e%d", i), "version": 1, "client_id": "c1", "kind": "free",
			"body": "x", "time_zone": "Europe/Berlin", "local_date": at.Format(time.DateOnly), "create_time": at})
	}
	for coll, docs := range map[string][]any{mongodb.CollCheckIns: checkins, mongodb.CollUrges: urges, mongodb.CollEntries: entries} {
		if _, err := db.Collection(coll).InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	clk := clock.NewFake(now)
	access := app.NewAccess(&careTeam{scopes: map[[2]string][]string{}}, docstore.New[app.AccessRecord](db.Collection(mongodb.CollAccess), nil), clk)
	j := app.NewJournal(app.Stores{
		CheckIns: docstore.New[journal.CheckIn](db.Collection(mongodb.CollCheckIns), nil),
		Entries:  docstore.New[journal.Entry](db.Collection(mongodb.CollEntries), nil),
		Urges:    docstore.New[journal.Urge](db.Collection(mongodb.CollUrges), nil),
		Flags:    docstore.New[journal.RiskFlag](db.Collection(mongodb.CollFlags), nil),
	}, access, nil, clk, quiet, app.Options{})
	c := app.Caller{ID: "c1", Role: auth.RoleClient}
	b.ResetTimer()
	for b.Loop() {
		sum, err := j.Insights(ctx, c, "c1", 90)
		if err != nil || len(sum.Days) != 90 || sum.MoodAverage == nil {
			b.Fatalf("insights = %d days, %v", len(sum.Days), err)
		}
	}
}

// BenchmarkRecordCheckInVsDriver is goal 3 of docs/performance.md: one
// RecordCheckIn through the app layer (access check, domain, the insert of
// the check-in with its event in the outbox, the low-mood read the answer
// needs) against the raw driver insert of a document of the same shape
// into the same collection, side by side on the same database (embedded
// FerretDB, or MONGODB_URI). The collection holds a year of the client's
// check-ins (365) before either runs.
func BenchmarkRecordCheckInVsDriver(b *testing.B) {
	ctx := context.Background()
	db := testenv.Mongo(b)
	if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var year []any
	for i := range 365 {
		at := now.Add(-time.Duration(i+1) * 24 * time.Hour)
		year = append(year, checkInDoc(fmt.Sprintf("year-%d", i), at))
	}
	coll := db.Collection(mongodb.CollCheckIns)
	if _, err := coll.InsertMany(ctx, year); err != nil {
		b.Fatal(err)
	}
	clk := clock.NewFake(now)
	access := app.NewAccess(&careTeam{scopes: map[[2]string][]string{}}, docstore.New[app.AccessRecord](db.Collection(mongodb.CollAccess), nil), clk)
	j := app.NewJournal(app.Stores{
		CheckIns: docstore.New[journal.CheckIn](coll, nil),
		Entries:  docstore.New[journal.Entry](db.Collection(mongodb.CollEntries), nil),
		Urges:    docstore.New[journal.Urge](db.Collection(mongodb.CollUrges), nil),
		Flags:    docstore.New[journal.RiskFlag](db.Collection(mongodb.CollFlags), nil),
	}, access, nil, clk, quiet, app.Options{})
	c := app.Caller{ID: "c1", Role: auth.RoleClient}
	n := 0
	b.Run("driver", func(b *testing.B) {
		benchx.Serial(b, func() error {
			n++
			_, err := coll.InsertOne(ctx, checkInDoc(fmt.Sprintf("raw-%d", n), now))
			return err
		})
	})
	b.Run("app", func(b *testing.B) {
		benchx.Serial(b, func() error {
			_, _, err := j.RecordCheckIn(ctx, c, "c1", journal.CheckIn{Mood: 1, Difficulty: 2, TimeZone: "Europe/Berlin",
				Triggers: []string{"music"}, SelfCare: []string{"nature"}}, "DE", app.RequestKey{})
			return err
		})
	})
}

// checkInDoc is a stored check-in as docstore writes it: the fields, the
// version and one pending outbox message of about the size of a
// journal.checkin.recorded envelope.
func checkInDoc(id string, at time.Time) bson.M {
	return bson.M{"_id": id, "version": 1, "client_id": "c1", "kind": "daily", "occurred_at": at, "time_zone": "Europe/Berlin",
		"local_date": at.Format(time.DateOnly), "mood": 1, "difficulty": 2, "self_care": []string{"nature"}, "triggers": []string{"music"},
		"create_time": at, "outbox": []bson.M{{"id": "ev-" + id, "subject": "journal.checkin.recorded", "data": make([]byte, 220)}}}
}
