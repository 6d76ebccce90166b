package app_test

// Field encryption at rest (issue 13): every free-text field of a plan and
// every contact note is sealed in the store adapter with the client's
// keyset (platform/sealcodec).

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
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/app"
	"github.com/nocontact/backend/services/plans/internal/care"
	"github.com/nocontact/backend/services/plans/internal/plan"
)

// newKEK is the key-encryption key a rotation moves to.
const newKEK = "bmV3LWtlay1vZi10aGUtcGxhbnMtc2VydmljZS10ZXM="

// keyringWith is a keyring over the fixture's database with cfg's KEKs.
func keyringWith(f *fixture, cfg fieldcrypt.Config) *fieldcrypt.Keyring {
	keks, err := cfg.KEKs(false)
	if err != nil {
		panic(err)
	}
	k, err := fieldcrypt.New(f.db, keks, fieldcrypt.Options{Clock: f.clk})
	if err != nil {
		panic(err)
	}
	return k
}

// marker is written into every free-text field, followed by the field's
// name, so a leak names the field.
const marker = "MARKER-91c4e"

var sealedStart = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// rawScan reads every document of every collection of db with the driver
// and reports each one holding needle.
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

// writeEveryPlanField writes a marker into every free-text field of a plan
// through the use cases the RPCs call, leaves one contact pending in the
// plan document (a crash before the copy) and returns the plan's id.
func writeEveryPlanField(t *testing.T, f *fixture, r *replica) (string, []string) {
	t.Helper()
	ctx := context.Background()
	m := func(field string) string { return marker + " " + field }
	v, err := r.plans.Create(ctx, client, plan.NewPlanParams{
		TimeZone: "Europe/Berlin", StartTime: sealedStart.Add(-72 * time.Hour), TargetDays: 30,
		Reasons:         []string{m("reasons[0]"), m("reasons[1]")},
		Boundaries:      []plan.Boundary{{Kind: "other", Label: m("boundaries.label"), Platform: m("boundaries.platform")}},
		Exceptions:      []plan.Exception{{Kind: "co_parenting", Channel: plan.ChannelText, Topic: m("exceptions.topic")}},
		SupportContacts: []plan.SupportContact{{Name: m("support.name"), Relationship: m("support.relationship"), Contact: m("support.contact")}},
		Goals:           []plan.Goal{{Text: m("goals.text")}},
		HardDates:       []plan.HardDate{{Label: m("hard_dates.label"), Month: 9, Day: 14}},
	}, app.RequestKey{ID: "req-plan", Hash: "hash-plan"})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Plan.ID
	if _, err := r.plans.Move(ctx, client, id, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	var contacts []string
	for i, note := range []string{m("contact.note 0"), m("contact.note 1")} {
		c, _, err := r.plans.RecordContact(ctx, client, id, plan.ContactParams{
			Direction: plan.Inbound, Channel: plan.ChannelText, Response: plan.ResponseNone,
			OccurredAt: sealedStart.Add(-time.Duration(48-i) * time.Hour), Note: note,
		}, app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		contacts = append(contacts, c.ID)
	}
	if _, err := r.plans.Move(ctx, client, id, app.Pause, m("pause_reason"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.plans.Move(ctx, client, id, app.Resume, "", 0); err != nil {
		t.Fatal(err)
	}
	// A contact whose copy into the contacts collection never happened:
	// its note waits in the plan document (pending_contacts).
	if _, _, err := f.crashing().plans.RecordContact(ctx, client, id, plan.ContactParams{
		Direction: plan.Inbound, Channel: plan.ChannelCall, Response: plan.ResponseNone,
		OccurredAt: sealedStart.Add(-time.Hour), Note: m("pending_contacts.note"),
	}, app.RequestKey{}); !errors.Is(err, errCrash) {
		t.Fatalf("crashing record = %v", err)
	}
	return id, contacts
}

func TestNoPlanTextInTheRawDocuments(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart)
	r := f.replica()
	id, _ := writeEveryPlanField(t, f, r)
	// A second plan, ended with a reason.
	v, err := r.plans.Create(ctx, client, plan.NewPlanParams{TimeZone: "Europe/Berlin", Reasons: []string{marker + " second"}}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.plans.Move(ctx, client, v.Plan.ID, app.Activate, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.plans.Move(ctx, client, v.Plan.ID, app.End, marker+" end_reason", 0); err != nil {
		t.Fatal(err)
	}
	if hits := rawScan(t, f.db, marker); len(hits) > 0 {
		t.Fatalf("plaintext in the database:\n%s", strings.Join(hits, "\n"))
	}
	// A retry of the keyed create answers the stored plan, opened.
	again, err := r.plans.Create(ctx, client, plan.NewPlanParams{
		TimeZone: "Europe/Berlin", StartTime: sealedStart.Add(-72 * time.Hour), TargetDays: 30,
		Reasons:         []string{marker + " reasons[0]", marker + " reasons[1]"},
		Boundaries:      []plan.Boundary{{Kind: "other", Label: marker + " boundaries.label", Platform: marker + " boundaries.platform"}},
		Exceptions:      []plan.Exception{{Kind: "co_parenting", Channel: plan.ChannelText, Topic: marker + " exceptions.topic"}},
		SupportContacts: []plan.SupportContact{{Name: marker + " support.name", Relationship: marker + " support.relationship", Contact: marker + " support.contact"}},
		Goals:           []plan.Goal{{Text: marker + " goals.text"}},
		HardDates:       []plan.HardDate{{Label: marker + " hard_dates.label", Month: 9, Day: 14}},
	}, app.RequestKey{ID: "req-plan", Hash: "hash-plan"})
	if err != nil || again.Plan.Reasons[1] != marker+" reasons[1]" {
		t.Fatalf("retry = %+v, %v", again.Plan.Reasons, err)
	}

	// Reads (which also heal the pending contact) answer every text.
	got, err := r.plans.Get(ctx, client, id, "GetPlan")
	if err != nil {
		t.Fatal(err)
	}
	p := got.Plan
	if p.Reasons[0] != marker+" reasons[0]" || p.Boundaries[0].Label != marker+" boundaries.label" || p.Boundaries[0].Platform != marker+" boundaries.platform" ||
		p.Exceptions[0].Topic != marker+" exceptions.topic" || p.SupportContacts[0].Name != marker+" support.name" ||
		p.SupportContacts[0].Relationship != marker+" support.relationship" || p.SupportContacts[0].Contact != marker+" support.contact" ||
		p.Goals[0].Text != marker+" goals.text" || p.HardDates[0].Label != marker+" hard_dates.label" {
		t.Fatalf("plan read back as %+v", p)
	}
	list, _, _, err := r.plans.ListContacts(ctx, client, id, 10, "")
	if err != nil || len(list) != 3 {
		t.Fatalf("contacts = %d, %v", len(list), err)
	}
	notes := map[string]bool{}
	for _, c := range list {
		notes[c.Note] = true
	}
	for _, n := range []string{"contact.note 0", "contact.note 1", "pending_contacts.note"} {
		if !notes[marker+" "+n] {
			t.Fatalf("contact notes %v lack %q", notes, n)
		}
	}
	ended, err := r.plans.Get(ctx, client, v.Plan.ID, "GetPlan")
	if err != nil || ended.Plan.EndReason != marker+" end_reason" {
		t.Fatalf("ended plan = %q, %v", ended.Plan.EndReason, err)
	}
	if hits := rawScan(t, f.db, marker); len(hits) > 0 {
		t.Fatalf("plaintext in the database after the heal:\n%s", strings.Join(hits, "\n"))
	}
}

// A tampered value, or one copied from another element, field or
// document, fails the whole read with DataLoss naming ids only: no part of
// the plan or the log is answered.
func TestTamperedOrMovedPlanTextFailsTheRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart)
	r := f.replica()
	id, contacts := writeEveryPlanField(t, f, r)
	if _, err := r.plans.Get(ctx, client, id, "GetPlan"); err != nil { // heals the pending contact
		t.Fatal(err)
	}
	plans, cs := f.db.Collection(mongodb.CollPlans), f.db.Collection(mongodb.CollContacts)
	var src bson.Raw
	if err := plans.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&src); err != nil {
		t.Fatal(err)
	}
	var contactSrc bson.Raw
	if err := cs.FindOne(ctx, bson.D{{Key: "_id", Value: id + "/" + contacts[0]}}).Decode(&contactSrc); err != nil {
		t.Fatal(err)
	}
	_, ct := src.Lookup("goals", "0", "text").Binary()
	flipped := append([]byte{}, ct...)
	flipped[len(flipped)-3] ^= 0x40
	cases := []struct {
		name string
		coll *mongo.Collection
		doc  string
		set  bson.D
	}{
		{"reasons swapped", plans, id, bson.D{{Key: "reasons", Value: bson.A{src.Lookup("reasons", "1"), src.Lookup("reasons", "0")}}}},
		{"support name copied into relationship", plans, id, bson.D{{Key: "support_contacts.0.relationship", Value: src.Lookup("support_contacts", "0", "name")}}},
		{"goal tampered", plans, id, bson.D{{Key: "goals.0.text", Value: bson.Binary{Data: flipped}}}},
		{"note copied into another contact", cs, id + "/" + contacts[1], bson.D{{Key: "note", Value: contactSrc.Lookup("note")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before bson.Raw
			if err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: c.doc}}).Decode(&before); err != nil {
				t.Fatal(err)
			}
			if _, err := c.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.doc}}, bson.D{{Key: "$set", Value: c.set}}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.doc}}, before); err != nil {
					t.Fatal(err)
				}
			})
			var err error
			var answered int
			if c.coll == plans {
				var v app.View
				v, err = r.plans.Get(ctx, client, id, "GetPlan")
				answered = len(v.Plan.Reasons) + len(v.Plan.Goals)
			} else {
				var list []plan.Contact
				list, _, _, err = r.plans.ListContacts(ctx, client, id, 10, "")
				answered = len(list)
			}
			if !errors.Is(err, fieldcrypt.ErrOpen) || answered != 0 {
				t.Fatalf("read answered %d items, %v; want ErrOpen and nothing", answered, err)
			}
			st := apperr.ToStatus(err)
			if st.Code().String() != "DataLoss" || !strings.Contains(st.Message(), c.doc) || strings.Contains(st.Message()+err.Error(), marker) {
				t.Fatalf("status %v, error %v", st, err)
			}
		})
	}
	if _, err := r.plans.Get(ctx, client, id, "GetPlan"); err != nil {
		t.Fatalf("restored plan: %v", err)
	}
}

// The whole rotation on plans: a new KEK (the old one previous), a new DEK
// for one client and Rewrap for the other, then the re-encryption job
// brings every plan and contact under the new DEK; a replica configured
// with the new KEK alone reads everything, and a second run does nothing.
func TestResealPlansAndContactsAfterRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart)
	r := f.replica()
	id, _ := writeEveryPlanField(t, f, r)
	// A second client, whose keyset only gets re-wrapped.
	other := app.Caller{ID: "client-2", Role: client.Role, RequestID: "req-2"}
	theirs, err := r.plans.Create(ctx, other, plan.NewPlanParams{TimeZone: "Europe/Berlin", Reasons: []string{marker + " theirs"}}, app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	// A new KEK, the old one kept as previous: a new DEK for client-1,
	// Rewrap for the rest.
	keys := keyringWith(f, fieldcrypt.Config{KEK: newKEK, KEKPrevious: testKEK})
	if err := keys.RotateDEK(ctx, client.ID); err != nil {
		t.Fatal(err)
	}
	if rw, err := keys.Rewrap(ctx, 10); err != nil || rw.Rewrapped != 1 {
		t.Fatalf("rewrap = %+v, %v", rw, err)
	}
	store := mongodb.NewPlanStore(f.db.Collection(mongodb.CollPlans), f.db.Collection(mongodb.CollContacts), keys, nil)
	ps, cs, err := store.Reseal(ctx, docstore.ResealOptions{Batch: 1})
	if err != nil || ps.Resealed != 1 || ps.Current != 1 || cs.Resealed != 2 {
		t.Fatalf("reseal = %+v %+v, %v", ps, cs, err)
	}
	primary, err := keys.Primary(ctx, client.ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := f.db.Collection(mongodb.CollPlans).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]string{{"reasons", "1"}, {"support_contacts", "0", "contact"}, {"pending_contacts", "0", "note"}, {"end_reason"}} {
		_, ct := raw.Lookup(p...).Binary()
		if k, ok := fieldcrypt.KeyID(ct); !ok || k != primary {
			t.Fatalf("%v under key %d, want %d", p, k, primary)
		}
	}
	// The old KEK removed: a replica with the new one alone reads it all.
	newOnly := keyringWith(f, fieldcrypt.Config{KEK: newKEK})
	reader := app.NewPlans(mongodb.NewPlanStore(f.db.Collection(mongodb.CollPlans), f.db.Collection(mongodb.CollContacts), newOnly, nil),
		docstore.New[care.Assignment](f.db.Collection(mongodb.CollAssignments), nil), r.accessApp, f.clk)
	got, err := reader.Get(ctx, client, id, "GetPlan")
	if err != nil || got.Plan.Goals[0].Text != marker+" goals.text" {
		t.Fatalf("after reseal %+v, %v", got.Plan.Goals, err)
	}
	if list, _, _, err := reader.ListContacts(ctx, client, id, 10, ""); err != nil || len(list) != 3 {
		t.Fatalf("contacts with the new KEK only = %d, %v", len(list), err)
	}
	if got, err := reader.Get(ctx, other, theirs.Plan.ID, "GetPlan"); err != nil || got.Plan.Reasons[0] != marker+" theirs" {
		t.Fatalf("the re-wrapped client's plan = %+v, %v", got.Plan.Reasons, err)
	}
	ps, cs, err = store.Reseal(ctx, docstore.ResealOptions{})
	if err != nil || ps.Resealed+cs.Resealed != 0 || ps.Current != 2 || cs.Current != 3 {
		t.Fatalf("second run = %+v %+v, %v", ps, cs, err)
	}
}

// A contact stored before notes were sealed (no client id, a plaintext
// note) still reads, and the re-encryption job gives it its plan's client
// and seals its note.
func TestResealSealsContactsFromBeforeSealing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sealedStart)
	r := f.replica()
	id, _ := writeEveryPlanField(t, f, r)
	if _, err := f.db.Collection(mongodb.CollContacts).InsertOne(ctx, bson.D{
		{Key: "_id", Value: id + "/legacy-1"}, {Key: "plan_id", Value: id}, {Key: "id", Value: "legacy-1"}, {Key: "direction", Value: "inbound"},
		{Key: "channel", Value: "text"}, {Key: "occurred_at", Value: sealedStart.Add(-50 * time.Hour)}, {Key: "response", Value: "none"},
		{Key: "note", Value: "old words"}, {Key: "classification", Value: "not_counted"}, {Key: "time_zone", Value: "Europe/Berlin"},
		{Key: "local_date", Value: "2026-12-02"}, {Key: "voided", Value: false}, {Key: "create_time", Value: sealedStart}, {Key: "update_time", Value: sealedStart},
		{Key: "seq", Value: int64(0)}, {Key: "rev", Value: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := r.store.Contact(ctx, id, "legacy-1"); err != nil || !ok || c.Note != "old words" {
		t.Fatalf("legacy contact = %+v, %v, %v", c, ok, err)
	}
	_, cs, err := r.store.Reseal(ctx, docstore.ResealOptions{})
	if err != nil || cs.Resealed != 1 || cs.Failed != 0 {
		t.Fatalf("contacts reseal = %+v, %v", cs, err)
	}
	if hits := rawScan(t, f.db, "old words"); len(hits) > 0 {
		t.Fatalf("still plaintext: %v", hits)
	}
	if c, _, err := r.store.Contact(ctx, id, "legacy-1"); err != nil || c.Note != "old words" {
		t.Fatalf("after the reseal = %+v, %v", c, err)
	}
}
