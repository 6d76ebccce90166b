package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/message"
	"github.com/nocontact/backend/services/notify/server"
)

// accessRecords are the stored attempts on user's data, as "actor action".
func (f *fixture) accessRecords(t *testing.T, user string) []string {
	t.Helper()
	cur, err := f.db.Collection(server.CollAccess).Find(ctxT(t), bson.D{{Key: "user_id", Value: user}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []app.AccessRecord
	if err := cur.All(ctxT(t), &recs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Allowed {
			t.Errorf("record %+v is ALLOWED; notify lets no one else in", r)
		}
		out = append(out, r.ActorID+" "+r.Action)
	}
	return out
}

// An attempt on someone else's notification or webhook that does not name
// them in the route (the caller names themself, or only an id) still lands
// in the owner's access log, and is answered NotFound.
func TestAttemptsOnAnotherUsersDataAreRecordedForTheOwner(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	n := f.n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true)).
		WithAccessLog(docstore.New[app.AccessRecord](f.db.Collection(server.CollAccess), nil))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS)
	f.deliver(t, milestone(clientID, 3))
	notes := ofKind(f.inbox(t, clientID), message.MilestoneReached)
	if len(notes) != 1 {
		t.Fatalf("client has %d milestone notifications, want 1", len(notes))
	}
	hook, err := n.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}

	notFound := func(what string, err error) {
		t.Helper()
		if k, _ := apperr.KindOf(err); k != apperr.KindNotFound {
			t.Errorf("%s = %v, want NotFound", what, err)
		}
	}
	_, err = n.MarkRead(ctxT(t), caller(counsellorID), notes[0].ID)
	notFound("the counsellor marking the client's notification read", err)
	_, err = n.ListDeliveries(ctxT(t), caller(counsellorID), counsellorID, hook.ID)
	notFound("the counsellor listing the client's webhook deliveries on their own route", err)
	_, err = n.Preferences(ctxT(t), caller(counsellorID), clientID)
	notFound("the counsellor reading the client's preferences", err)
	// The client's own calls are not attempts by someone else.
	if _, err := n.MarkRead(ctxT(t), caller(clientID), notes[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.ListDeliveries(ctxT(t), caller(clientID), clientID, hook.ID); err != nil {
		t.Fatal(err)
	}

	// A notification that does not exist belongs to no one: nothing to log.
	_, err = n.MarkRead(ctxT(t), caller(counsellorID), "no-such-notification")
	notFound("marking a notification that does not exist", err)

	recs := f.accessRecords(t, clientID)
	slices.Sort(recs)
	got := strings.Join(recs, ", ")
	want := strings.Join([]string{
		counsellorID + " GetNotificationPreferences",
		counsellorID + " ListWebhookDeliveries",
		counsellorID + " MarkNotificationRead",
	}, ", ")
	if got != want {
		t.Errorf("the client's access records = [%s], want [%s]", got, want)
	}
	if mine := f.accessRecords(t, counsellorID); len(mine) != 0 {
		t.Errorf("the counsellor's own route logged %v under the counsellor", mine)
	}
}
