package app_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/careview"
	"github.com/nocontact/backend/platform/erasure"
	"github.com/nocontact/backend/services/notify/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/server"
)

func erasureRequest(id, client string, at time.Time) ev {
	return ev{id, erasure.RequestedSubject, client, &eventsv1.Envelope{Payload: &eventsv1.Envelope_ErasureRequested{
		ErasureRequested: &eventsv1.ErasureRequested{ErasureId: "erasure-of-" + client, RequestTime: timestamppb.New(at)},
	}}}
}

func (f *fixture) countIn(t *testing.T, coll string, filter bson.D) int64 {
	t.Helper()
	n, err := f.db.Collection(coll).CountDocuments(ctxT(t), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Notify's part of an erasure: the client's notifications, their care
// team's notifications about them, their preferences and their care
// projection are deleted, another client's kept; a redelivered request
// confirms once; a late event makes nothing for the client and their
// preferences cannot be written again.
func TestErasureClearsOneClientsNotifications(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0)
	db := f.db
	f.n.WithErasure(erasure.NewMarks(db, "notify", nil), mongodb.NewClientData(mongodb.Collections{
		Notifications: db.Collection(server.CollNotifications), Preferences: db.Collection(server.CollPreferences),
		Webhooks: db.Collection(server.CollWebhooks), Deliveries: db.Collection(server.CollDeliveries), DailyCaps: db.Collection(server.CollDailyCaps),
	}), nil)
	for _, c := range []string{"client-1", "client-2"} {
		f.careTeam(t, c, "counsellor-1", plansv1.ConsentScope_PLAN_PROGRESS)
		f.deliver(t, milestone(c, 3))
	}
	f.setPrefs(t, "client-1", inbox.Preferences{Discreet: true}, "discreet")
	if f.countIn(t, server.CollNotifications, bson.D{{Key: "client_id", Value: "client-1"}, {Key: "user_id", Value: "counsellor-1"}}) == 0 {
		t.Fatal("the counsellor was not told of the client's milestone")
	}

	f.deliver(t, erasureRequest("er-1", "client-1", t0))
	f.deliver(t, erasureRequest("er-1-again", "client-1", t0)) // a redelivery
	about := func(c string) bson.D {
		return bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "user_id", Value: c}}, bson.D{{Key: "client_id", Value: c}}}}}
	}
	if n := f.countIn(t, server.CollNotifications, about("client-1")); n != 0 {
		t.Fatalf("%d notifications of or about the erased client remain", n)
	}
	if f.countIn(t, server.CollNotifications, about("client-2")) == 0 || f.countIn(t, careview.CollLinks, bson.D{{Key: "client_id", Value: "client-2"}}) == 0 {
		t.Fatal("the other client's notifications or care links are gone")
	}
	for _, c := range []struct {
		coll   string
		filter bson.D
	}{
		{server.CollPreferences, bson.D{{Key: "_id", Value: "client-1"}}},
		{careview.CollLinks, bson.D{{Key: "client_id", Value: "client-1"}}},
		{careview.CollConsents, bson.D{{Key: "client_id", Value: "client-1"}}},
	} {
		if n := f.countIn(t, c.coll, c.filter); n != 0 {
			t.Errorf("%d %s of the erased client remain", n, c.coll)
		}
	}
	var marked struct {
		Outbox map[string]bson.Raw `bson:"outbox"`
	}
	if err := db.Collection(erasure.Collection).FindOne(ctxT(t), bson.D{{Key: "_id", Value: "client-1"}}).Decode(&marked); err != nil || len(marked.Outbox) != 1 {
		t.Fatalf("confirmations queued: %d (%v), want 1", len(marked.Outbox), err)
	}

	// Late events: a replay of the old milestone (new message id), a new
	// one, a care change. Nothing is made for the client or about them.
	old := milestone("client-1", 3)
	old.id = "replayed-" + old.id
	f.deliver(t, old)
	f.deliver(t, milestone("client-1", 7))
	f.deliver(t, assignment("client-1", "counsellor-2", plansv1.CareAssignmentStatus_CARE_ASSIGNMENT_STATUS_ACTIVE))
	if n := f.countIn(t, server.CollNotifications, about("client-1")); n != 0 {
		t.Fatalf("late events made %d notifications for the erased client", n)
	}
	if n := f.countIn(t, careview.CollLinks, bson.D{{Key: "client_id", Value: "client-1"}}); n != 0 {
		t.Fatal("a late care event re-created the erased client's care link")
	}
	_, err := f.n.UpdatePreferences(ctxT(t), caller("client-1"), "client-1", inbox.Preferences{Discreet: false}, []string{"discreet"})
	if k, _ := apperr.KindOf(err); k != apperr.KindFailedPrecondition {
		t.Fatalf("preferences of the erased client: %v, want FailedPrecondition", err)
	}
	if n := f.countIn(t, server.CollPreferences, bson.D{{Key: "_id", Value: "client-1"}}); n != 0 {
		t.Fatal("the erased client's preferences were written again")
	}
}
