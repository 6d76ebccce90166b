package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

// secondReplica builds another journal app over the fixture's database,
// as a second process would.
func (f *fixture) secondReplica() *app.Journal {
	coll := f.db.Collection
	access := app.NewAccess(&careTeam{scopes: map[[2]string][]string{}}, docstore.New[app.AccessRecord](coll(mongodb.CollAccess), nil), f.clk)
	return app.NewJournal(app.Stores{
		CheckIns: docstore.New[journal.CheckIn](coll(mongodb.CollCheckIns), nil),
		Entries:  docstore.New[journal.Entry](coll(mongodb.CollEntries), nil),
		Urges:    docstore.New[journal.Urge](coll(mongodb.CollUrges), nil),
		Flags:    docstore.New[journal.RiskFlag](coll(mongodb.CollFlags), nil),
	}, access, nil, f.clk, quiet, app.Options{EscalateAfter: escalateAfter})
}

// Two replicas of the escalation job, the second running while the first
// sits between its claim and its write (the interleaving in which, without
// a lease, both take the same oldest flag): they take different flags,
// both get work, and every flag escalates exactly once.
func TestTwoEscalationJobsShareTheFlags(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	f := newFixture(t, t0, "")
	flags := docstore.New[journal.RiskFlag](f.db.Collection(mongodb.CollFlags), nil)
	const n = 6
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("flag-%d", i)
		if err := flags.Create(ctx, id, journal.RiskFlag{ID: id, ClientID: fmt.Sprintf("client-%d", i), Reason: "crisis_language",
			Status: journal.FlagRaised, RaiseTime: t0, EscalateAt: &at}); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Set(t0.Add(time.Hour))
	a, b := f.journal, f.secondReplica()
	work := map[string]int{}

	a.SetAfterClaim(func(string) {
		_, escalated, err := b.EscalateNext(ctx)
		if err != nil {
			t.Error(err)
		}
		if escalated {
			work["b"]++
		}
	})
	for round := 0; ; round++ {
		claimed, escalated, err := a.EscalateNext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !claimed {
			break
		}
		if !escalated {
			t.Fatalf("round %d: the flag replica a claimed was escalated under it by replica b (claimed twice)", round)
		}
		work["a"]++
	}
	if work["a"]+work["b"] != n || work["a"] == 0 || work["b"] == 0 {
		t.Fatalf("escalations per replica = %v, want %d in all, shared by both", work, n)
	}
	updates := f.published(t, "journal.risk.flag_updated")
	if len(updates) != n {
		t.Fatalf("%d flag_updated events, want one per flag (%d)", len(updates), n)
	}
}
