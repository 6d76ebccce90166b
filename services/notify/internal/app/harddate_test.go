package app_test

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
	nevents "github.com/nocontact/backend/services/notify/internal/ports/events"
)

func hardDateUpcoming(client, hardDateID, date string) ev {
	return ev{"hd-" + planID + "-" + hardDateID + "-" + date, "plans.hard_date.upcoming", client, &eventsv1.Envelope{
		Payload: &eventsv1.Envelope_HardDateUpcoming{HardDateUpcoming: &eventsv1.HardDateUpcoming{PlanId: planID, HardDateId: hardDateID, Date: date}},
	}}
}

// The day before a hard date, the client gets one gentle note (a
// redelivery adds none); their counsellor, even with every scope, gets
// nothing.
func TestHardDateAheadReachesTheClientOnly(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 9, 13, 9, 0, 0, 0, loc))
	f.careTeam(t, clientID, counsellorID, plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_MOOD_INSIGHTS,
		plansv1.ConsentScope_SHARED_JOURNAL, plansv1.ConsentScope_RISK_ALERTS)

	e := hardDateUpcoming(clientID, "met", "2026-09-14")
	f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	msg := f.next(t, "PLANS")
	for range 2 { // handled twice: the ack of the first never made it
		if err := nevents.Handler(f.n)(ctxT(t), msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}

	got := ofKind(f.inbox(t, clientID), message.HardDateAhead)
	if len(got) != 1 || got[0].Urgent || got[0].PlanID != planID || !got[0].Delivered {
		t.Fatalf("client's hard-date notes:%s\nwant one, delivered, not urgent", describe(got))
	}
	if !strings.Contains(got[0].Title+got[0].Body, "Tomorrow") {
		t.Errorf("client's note %q / %q does not say it is tomorrow", got[0].Title, got[0].Body)
	}
	if all := f.stored(t, bson.D{{Key: "event_id", Value: e.id}}); len(all) != 1 {
		t.Fatalf("stored notifications:%s\nwant only the client's note (the counsellor gets none)", describe(all))
	}
}

// Not urgent: quiet hours hold it; discreet text tells a stranger nothing.
func TestHardDateAheadKeepsQuietHoursAndDiscreetText(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 9, 13, 9, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "10:00", Discreet: true},
		"time_zone", "quiet_start", "quiet_end", "discreet")
	f.deliver(t, hardDateUpcoming(clientID, "met", "2026-09-14"))
	held := f.storedOf(t, clientID, message.HardDateAhead)
	wantAt := time.Date(2026, 9, 13, 10, 0, 0, 0, loc)
	if len(held) != 1 || held[0].Delivered || !held[0].DeliverAt.Equal(wantAt) {
		t.Fatalf("stored:%s\nwant one held until %s", describe(held), wantAt)
	}
	plain, plainBody := message.Compose(message.HardDateAhead, message.Client, false, message.Data{})
	if held[0].Title == plain || held[0].Body == plainBody || strings.Contains(strings.ToLower(held[0].Title+held[0].Body), "hard") {
		t.Errorf("discreet note = %q / %q; want the lock-screen text", held[0].Title, held[0].Body)
	}
}
