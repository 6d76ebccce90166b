package app_test

// The losing interleavings of read-modify-write and count-then-insert,
// forced: FerretDB runs one command at a time, so two replicas never
// interleave by themselves in a test. Replica A stops at a hook between
// its read and its write; replica B does its whole call there; then A goes
// on. What each user asked for must survive.

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	nevents "github.com/nocontact/backend/services/notify/internal/ports/events"
	"github.com/nocontact/backend/services/notify/server"
)

// once runs fn the first time the hook is reached (a retry reaches it
// again).
func once(fn func()) func(string) {
	var done atomic.Bool
	return func(string) {
		if done.CompareAndSwap(false, true) {
			fn()
		}
	}
}

func (f *fixture) webhookReplica() *app.Notify {
	return f.replica().WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true))
}

const hookSecret = "0123456789abcdef0123456789abcdef"

// A user saves their preferences on one replica while creating a webhook
// (which turns the webhook channel on) on another, in both orders, with
// and without preferences stored before: both changes survive.
func TestPreferencesAndWebhookChannelWrittenAtOnceKeepBoth(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stored    bool // preferences exist before (else both writers insert)
		saveFirst bool // A saves preferences and B creates the webhook in between (else the reverse)
	}{
		{"webhook created while preferences are saved", true, true},
		{"preferences saved while a webhook is created", true, false},
		{"first preferences and first webhook at once", false, true},
		{"first webhook and first preferences at once", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
			if tc.stored {
				f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin}, "time_zone")
			}
			a, b := f.webhookReplica(), f.webhookReplica()
			save := func(n *app.Notify) {
				if _, err := n.UpdatePreferences(ctxT(t), caller(clientID), clientID, inbox.Preferences{Discreet: true, DailyCap: 3}, []string{"discreet", "daily_cap"}); err != nil {
					t.Errorf("UpdatePreferences: %v", err)
				}
			}
			create := func(n *app.Notify) {
				if _, err := n.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", app.RequestKey{}); err != nil {
					t.Errorf("CreateWebhook: %v", err)
				}
			}
			if tc.saveFirst {
				a.SetRaceHooks(app.RaceHooks{PrefsWrite: once(func() { create(b) })})
				save(a)
			} else {
				a.SetRaceHooks(app.RaceHooks{PrefsWrite: once(func() { save(b) })})
				create(a)
			}
			p, err := f.n.Preferences(ctxT(t), caller(clientID), clientID)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Webhook || !p.Discreet || p.DailyCap != 3 {
				t.Fatalf("preferences after both writes: webhook=%v discreet=%v daily_cap=%d; want webhook=true discreet=true daily_cap=3", p.Webhook, p.Discreet, p.DailyCap)
			}
			if tc.stored && p.TimeZone != berlin {
				t.Fatalf("time zone %q after both writes, want %q kept", p.TimeZone, berlin)
			}
		})
	}
}

// The reminder job reads a due reminder, and before it writes the next due
// time the user turns the reminder off; the next day the job reads the
// (stale) due time, and before it writes, the user turns the reminder on
// again at 20:00. The job's writes, based on what it read, must not undo
// the user's: the reminder comes at 20:00 that day.
func TestReminderScheduleWrittenAfterAPreferenceChangeKeepsTheChange(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 7, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, CheckInReminderTime: "08:00"}, "time_zone", "check_in_reminder_time")
	b := f.replica()
	setReminder := func(at string) {
		if _, err := b.UpdatePreferences(ctxT(t), caller(clientID), clientID, inbox.Preferences{CheckInReminderTime: at}, []string{"check_in_reminder_time"}); err != nil {
			t.Fatalf("UpdatePreferences(check_in_reminder_time=%q): %v", at, err)
		}
	}

	f.clk.Set(time.Date(2026, 6, 10, 8, 0, 0, 0, loc))
	if _, err := f.replica().SetRaceHooks(app.RaceHooks{PrefsWrite: once(func() { setReminder("") })}).SendReminders(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	f.clk.Set(time.Date(2026, 6, 11, 8, 0, 0, 0, loc))
	var turnedOn atomic.Bool
	job := f.replica().SetRaceHooks(app.RaceHooks{PrefsWrite: once(func() { setReminder("20:00"); turnedOn.Store(true) })})
	if _, err := job.SendReminders(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if !turnedOn.Load() { // the job had nothing to write: the user acts all the same
		setReminder("20:00")
	}

	f.clk.Set(time.Date(2026, 6, 11, 20, 0, 0, 0, loc))
	if _, err := f.n.SendReminders(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := f.stored(t, bson.D{{Key: "user_id", Value: clientID}, {Key: "reminder", Value: true}, {Key: "deliver_date", Value: "2026-06-11"}})
	if len(got) != 1 {
		t.Fatalf("check-in reminders on 2026-06-11 (turned on for 20:00 that morning):%s\nwant 1", describe(got))
	}
}

// Two replicas handle two events for a user with a daily cap of 1 at the
// same moment: the second counts (or claims) while the first has counted
// and not yet stored. One is delivered today, the other the next day.
func TestDailyCapHoldsWhenTwoReplicasNotifyAtOnce(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, DailyCap: 1}, "time_zone", "daily_cap")
	for _, e := range []ev{milestone(clientID, 1), milestone(clientID, 3)} {
		f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	}
	first, second := f.next(t, "PLANS"), f.next(t, "PLANS")
	b := nevents.Handler(f.replica())
	a := nevents.Handler(f.replica().SetRaceHooks(app.RaceHooks{CapCounted: once(func() {
		if err := b(ctxT(t), second); err != nil {
			t.Errorf("replica B: %v", err)
		}
	})}))
	if err := a(ctxT(t), first); err != nil {
		t.Fatalf("replica A: %v", err)
	}
	for _, m := range []interface{ Ack() error }{first, second} {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}

	if got := f.inbox(t, clientID); len(got) != 1 {
		t.Fatalf("listed on the first day:%s\nwant 1 (the cap)", describe(got))
	}
	nextDay := time.Date(2026, 6, 11, 0, 0, 0, 0, loc)
	held := f.stored(t, bson.D{{Key: "user_id", Value: clientID}, {Key: "delivered", Value: false}})
	if len(held) != 1 || !held[0].DeliverAt.Equal(nextDay) || held[0].DeliverDate != "2026-06-11" {
		t.Fatalf("held:%s\nwant one held until %s", describe(held), nextDay)
	}
}

// A user with four webhooks creates a fifth on two replicas at once: one
// succeeds, the other is refused, and the user has five.
func TestWebhookLimitHoldsWhenTwoReplicasCreateAtOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	b := f.webhookReplica()
	for i := range 4 {
		if _, err := b.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook"+strings.Repeat("x", i), "", app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
	}
	var errB error
	a := f.webhookReplica().SetRaceHooks(app.RaceHooks{WebhookCounted: once(func() {
		_, errB = b.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/b", "", app.RequestKey{})
	})})
	_, errA := a.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/a", "", app.RequestKey{})

	list, err := b.ListWebhooks(ctxT(t), caller(clientID), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Fatalf("the user has %d webhooks (A: %v, B: %v), want 5 (the limit)", len(list), errA, errB)
	}
	refused := 0
	for _, err := range []error{errA, errB} {
		if k, _ := apperr.KindOf(err); k == apperr.KindFailedPrecondition {
			refused++
		} else if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if refused != 1 {
		t.Fatalf("A: %v, B: %v; want exactly one refused with FailedPrecondition", errA, errB)
	}
}

// An event handled twice (a redelivery after a crash before the ack)
// takes one place under the daily cap, not two: with a cap of 2, the next
// event of the day is still delivered that day.
func TestRedeliveredEventTakesOnePlaceUnderTheCap(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, DailyCap: 2}, "time_zone", "daily_cap")
	e := milestone(clientID, 1)
	f.publish(t, e.subject, e.data(t, f.clk.Now()), e.id)
	msg := f.next(t, "PLANS")
	for _, n := range []*app.Notify{f.n, f.replica()} {
		if err := nevents.Handler(n)(ctxT(t), msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	f.deliver(t, milestone(clientID, 3))
	if got := f.inbox(t, clientID); len(got) != 2 {
		t.Fatalf("listed on the day:%s\nwant both (the cap is 2)", describe(got))
	}
}

// What a busy day cannot deliver moves on one day at a time: with a cap
// of 1, three events on one day are delivered on three days, never two on
// the next.
func TestDailyCapOverflowFillsOneDayAtATime(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 9, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, DailyCap: 1}, "time_zone", "daily_cap")
	for i, day := range []int{1, 3, 7} {
		f.clk.Set(time.Date(2026, 6, 10, 10+i, 0, 0, 0, loc))
		f.deliver(t, milestone(clientID, day))
	}
	perDay := map[string]int{}
	for _, n := range f.stored(t, bson.D{{Key: "user_id", Value: clientID}}) {
		perDay[n.DeliverDate]++
	}
	if perDay["2026-06-10"] != 1 || perDay["2026-06-11"] != 1 || perDay["2026-06-12"] != 1 {
		t.Fatalf("notifications per delivery day: %v; want one on each of 2026-06-10, -11, -12", perDay)
	}
}

// Preferences stored without a version (by the previous release, e.g. a
// replica of it during a rolling update) still change, and their reminder
// is still rescheduled.
func TestPreferencesStoredWithoutAVersionStillChange(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 8, 0, 0, 0, loc))
	due := f.clk.Now().UTC()
	if _, err := f.db.Collection(server.CollPreferences).InsertOne(ctxT(t), bson.D{{Key: "_id", Value: clientID}, {Key: "user_id", Value: clientID},
		{Key: "time_zone", Value: berlin}, {Key: "check_in_reminder_time", Value: "08:00"}, {Key: "next_check_in_at", Value: due}}); err != nil {
		t.Fatal(err)
	}
	f.sendReminders(t, 1)
	p, err := f.n.Preferences(ctxT(t), caller(clientID), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCheckInAt == nil || !p.NextCheckInAt.Equal(due.Add(24*time.Hour)) {
		t.Fatalf("next check-in reminder %v after today's, want %v", p.NextCheckInAt, due.Add(24*time.Hour))
	}
	if _, err := f.db.Collection(server.CollPreferences).UpdateOne(ctxT(t), bson.D{{Key: "_id", Value: clientID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "version", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	f.setPrefs(t, clientID, inbox.Preferences{Discreet: true}, "discreet")
	if _, err := f.webhookReplica().CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	if p, err = f.n.Preferences(ctxT(t), caller(clientID), clientID); err != nil {
		t.Fatal(err)
	}
	if !p.Discreet || !p.Webhook || p.TimeZone != berlin || p.CheckInReminderTime != "08:00" {
		t.Fatalf("preferences %+v; want discreet, webhook on, the zone and reminder kept", p)
	}
}

// A webhook created on another replica while the reminder job moves a
// reminder on (a write to another field of the same document) does not
// stop the move: the reminder is next due tomorrow.
func TestReminderMovesOnWhenAnotherFieldChangedMeanwhile(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 7, 0, 0, 0, loc))
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, CheckInReminderTime: "08:00"}, "time_zone", "check_in_reminder_time")
	f.clk.Set(time.Date(2026, 6, 10, 8, 0, 0, 0, loc))
	b := f.webhookReplica()
	job := f.replica().SetRaceHooks(app.RaceHooks{PrefsWrite: once(func() {
		if _, err := b.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", app.RequestKey{}); err != nil {
			t.Errorf("CreateWebhook: %v", err)
		}
	})})
	if n, err := job.SendReminders(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("SendReminders = %d, %v; want 1", n, err)
	}
	p, err := f.n.Preferences(ctxT(t), caller(clientID), clientID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 6, 11, 8, 0, 0, 0, loc)
	if !p.Webhook || p.NextCheckInAt == nil || !p.NextCheckInAt.Equal(want) {
		t.Fatalf("webhook=%v, next check-in reminder %v; want webhook on and the reminder next due %v", p.Webhook, p.NextCheckInAt, want)
	}
}

// A client's retry of a webhook registration with the same request_id,
// reaching another replica while the first is between its check and its
// write, registers one webhook and answers it to both; the same request_id
// with another URL is refused, naming request_id.
func TestWebhookRequestIDRegistersOnceAcrossReplicas(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC))
	key := app.RequestKey{ID: "hook-1", Hash: "hash-of-the-request"}
	b := f.webhookReplica()
	var fromB app.Webhook
	var errB error
	a := f.webhookReplica().SetRaceHooks(app.RaceHooks{WebhookCounted: once(func() {
		fromB, errB = b.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", key)
	})})
	fromA, errA := a.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", key)
	if errA != nil || errB != nil {
		t.Fatalf("A: %v, B: %v; want both to succeed", errA, errB)
	}
	if fromA.ID != fromB.ID {
		t.Fatalf("A answered %s, B answered %s; want the same webhook", fromA.ID, fromB.ID)
	}
	list, err := b.ListWebhooks(ctxT(t), caller(clientID), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("the user has %d webhooks, want 1", len(list))
	}
	again, err := a.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/hook", "", key)
	if err != nil || again.ID != fromA.ID {
		t.Fatalf("a later retry = %s, %v; want %s", again.ID, err, fromA.ID)
	}
	_, err = a.CreateWebhook(ctxT(t), caller(clientID), clientID, "http://127.0.0.1:9/other", "", app.RequestKey{ID: "hook-1", Hash: "another-request"})
	var fields []string
	var ae *apperr.Error
	if errors.As(err, &ae) {
		for _, v := range ae.Violations() {
			fields = append(fields, v.Field)
		}
	}
	if k, _ := apperr.KindOf(err); k != apperr.KindInvalidArgument || strings.Join(fields, ",") != "request_id" {
		t.Fatalf("the request_id reused for another URL = %v (fields %v), want InvalidArgument naming request_id", err, fields)
	}
	if p, err := a.Preferences(ctxT(t), caller(clientID), clientID); err != nil || !p.Webhook {
		t.Fatalf("webhook channel = %v (%v), want on", p.Webhook, err)
	}
}
