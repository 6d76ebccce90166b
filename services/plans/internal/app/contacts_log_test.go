package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// The log pages newest first by sequence number: a contact logged while the
// client pages through does not repeat or hide one on the next page.
func TestContactLogPagesBySeq(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	r := f.replica()
	id := createActive(t, r, "Europe/Berlin", t0.Add(-30*24*time.Hour), 60)
	inbound := func(i int) {
		t.Helper()
		c := plan.ContactParams{Direction: plan.Inbound, Channel: plan.ChannelText, OccurredAt: t0.Add(-time.Duration(100-i) * time.Hour)}
		if _, _, err := r.plans.RecordContact(ctx, client, id, c, app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 25 {
		inbound(i)
	}
	var seqs []int64
	token := ""
	for page := 0; ; page++ {
		list, _, next, err := r.plans.ListContacts(ctx, client, id, 10, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			seqs = append(seqs, c.Seq)
		}
		if page == 0 {
			inbound(25) // logged while the client reads page 1
		}
		if next == "" {
			break
		}
		token = next
	}
	want := []int64{}
	for s := int64(25); s >= 1; s-- {
		want = append(want, s)
	}
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Fatalf("pages gave seqs %v, want %v (each once, newest first)", seqs, want)
	}
	if list, _, _, err := r.plans.ListContacts(ctx, client, id, 0, ""); err != nil || len(list) != 20 || list[0].Seq != 26 {
		t.Fatalf("first page at the default size = %d contacts from seq %v, %v; want 20 from 26", len(list), list, err)
	}
}

// A plan document written before the move holds its log as an array. The
// first read moves it into the contacts collection (in the order logged)
// and the summary into the plan; a second replica reading it then sees the
// same log, and a correction of an old contact works.
func TestLegacyContactLogMovesOnFirstRead(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	start := t0.Add(-10 * 24 * time.Hour)
	p, err := plan.NewPlan(plan.NewPlanParams{ID: "pl-legacy", ClientID: client.ID, TimeZone: "Europe/Berlin", StartTime: start, TargetDays: 30, Reasons: []string{"peace"}}, uuid.NewString, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Activate(start); err != nil {
		t.Fatal(err)
	}
	for i, d := range []plan.Direction{plan.Inbound, plan.Outbound, plan.Inbound} {
		at := t0.Add(-time.Duration(3-i) * 24 * time.Hour)
		if _, err := p.RecordContact(plan.ContactParams{ID: fmt.Sprintf("old-%d", i), Direction: d, OccurredAt: at}, at); err != nil {
			t.Fatal(err)
		}
	}
	p.Advance(t0)
	p.PopEvents()
	// As the document was stored before the move: the log in `contacts`,
	// no summary, no sequence numbers or revisions.
	for _, c := range p.PendingContacts {
		c.Seq, c.Rev = 0, 0
		p.LegacyContacts = append(p.LegacyContacts, c)
	}
	p.PendingContacts, p.Contacts, p.Slips, p.ContactCount, p.ContactSeq = nil, nil, nil, 0, 0
	if err := docstore.New[plan.Plan](f.db.Collection(mongodb.CollPlans), nil).Create(ctx, p.ID, *p); err != nil {
		t.Fatal(err)
	}

	a, b := f.replica(), f.replica()
	v, err := a.plans.Get(ctx, client, p.ID, "GetPlanProgress")
	if err != nil {
		t.Fatal(err)
	}
	if pr := v.Plan.Progress(v.Now); v.Plan.ContactCount != 3 || len(pr.Attempts) != 2 || pr.Attempts[0].SlipContactID != "old-1" {
		t.Fatalf("moved plan: %d contacts, attempts %+v; want 3 contacts, the first attempt ended by old-1", v.Plan.ContactCount, pr.Attempts)
	}
	n, err := f.db.Collection(mongodb.CollPlans).CountDocuments(ctx, bson.D{{Key: "_id", Value: p.ID}, {Key: "contacts", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != 0 {
		t.Fatalf("plan documents still holding the log array = %d, %v; want 0", n, err)
	}
	list, _, _, err := b.plans.ListContacts(ctx, client, p.ID, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != "old-2" || list[0].Seq != 3 || list[2].ID != "old-0" || list[2].Seq != 1 {
		t.Fatalf("moved log = %+v, want old-2, old-1, old-0 (seq 3..1)", list)
	}
	if _, _, err := b.plans.VoidContact(ctx, client, p.ID, "old-1"); err != nil {
		t.Fatalf("void an old contact: %v", err)
	}
	v, err = a.plans.Get(ctx, client, p.ID, "GetPlanProgress")
	if err != nil {
		t.Fatal(err)
	}
	if pr := v.Plan.Progress(v.Now); v.Plan.ContactCount != 2 || len(pr.Attempts) != 1 {
		t.Fatalf("after voiding the old slip: %d contacts, %d attempts; want 2, 1", v.Plan.ContactCount, len(pr.Attempts))
	}
}
