package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// BenchmarkEntryReads is the cost of field encryption per read: GetEntry
// (one entry) and ListEntries (a page of 20) of entries with a 1 KiB body
// and a title, through the app layer on FerretDB, without ("plain", the
// stores before issue 13) and with the sealed stores (the client's keys
// warm in the cache, as on every read but the first per minute).
func BenchmarkEntryReads(b *testing.B) {
	body := strings.TrimSpace(strings.Repeat("I wanted to write to them today. ", 32))
	for _, mode := range []string{"plain", "sealed"} {
		ctx := context.Background()
		db := testenv.Mongo(b)
		if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
			b.Fatal(err)
		}
		now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
		clk := clock.NewFake(now)
		entries := docstore.New[journal.Entry](db.Collection(mongodb.CollEntries), nil)
		if mode == "sealed" {
			entries = mongodb.Sealed(entries, newKeyring(b, db, clk))
		}
		access := app.NewAccess(&careTeam{scopes: map[[2]string][]string{}}, docstore.New[app.AccessRecord](db.Collection(mongodb.CollAccess), nil), clk)
		j := app.NewJournal(app.Stores{
			CheckIns: docstore.New[journal.CheckIn](db.Collection(mongodb.CollCheckIns), nil),
			Entries:  entries,
			Urges:    docstore.New[journal.Urge](db.Collection(mongodb.CollUrges), nil),
			Flags:    docstore.New[journal.RiskFlag](db.Collection(mongodb.CollFlags), nil),
		}, access, nil, clk, quiet, app.Options{})
		c := app.Caller{ID: "c1", Role: auth.RoleClient}
		var first string
		for i := range 20 {
			e, _, err := j.CreateEntry(ctx, c, "c1", journal.Entry{Title: fmt.Sprintf("day %d", i), Body: body, TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
			if err != nil {
				b.Fatal(err)
			}
			if first == "" {
				first = e.ID
			}
		}
		b.Run("GetEntry/"+mode, func(b *testing.B) {
			for b.Loop() {
				if e, err := j.GetEntry(ctx, c, "c1", first); err != nil || e.Body != body {
					b.Fatalf("get = %d bytes, %v", len(e.Body), err)
				}
			}
		})
		b.Run("ListEntries20/"+mode, func(b *testing.B) {
			for b.Loop() {
				if list, _, err := j.ListEntries(ctx, c, "c1", 20, ""); err != nil || len(list) != 20 {
					b.Fatalf("list = %d, %v", len(list), err)
				}
			}
		})
	}
}
