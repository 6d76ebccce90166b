package app_test

// The hooks metrics hang on: how late the timed work ran, when it last ran,
// and the outcome of every webhook attempt (against a real HTTP receiver).

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/services/notify/internal/app"
	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/webhook"
	"github.com/nocontact/backend/services/notify/server"
)

// timed records one piece of timed work's hooks.
type timed struct {
	lags []time.Duration
	runs []time.Time
}

func (w *timed) lag(d time.Duration) { w.lags = append(w.lags, d) }
func (w *timed) ran(t time.Time)     { w.runs = append(w.runs, t) }

// A notification held by quiet hours is released late by the time the
// release pass comes after 07:00; a reminder after downtime is late by the
// time since today's chosen time (the missed days are skipped, not late).
func TestReleaseAndReminderLag(t *testing.T) {
	loc := zone(t, berlin)
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, loc))
	var release, reminders timed
	f.n.WithObservers(app.Observers{ReleaseLag: release.lag, ReleaseRan: release.ran, ReminderLag: reminders.lag, ReminderRan: reminders.ran})
	f.setPrefs(t, clientID, inbox.Preferences{TimeZone: berlin, QuietStart: "22:00", QuietEnd: "07:00", CheckInReminderTime: "20:00"},
		"time_zone", "quiet_start", "quiet_end", "check_in_reminder_time")

	f.clk.Set(time.Date(2026, 6, 10, 23, 30, 0, 0, loc))
	f.deliver(t, milestone(clientID, 14))
	early := time.Date(2026, 6, 11, 6, 59, 0, 0, loc)
	f.clk.Set(early)
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("ReleaseDue at 06:59 = %d, %v", n, err)
	}
	late := time.Date(2026, 6, 11, 7, 0, 40, 0, loc)
	f.clk.Set(late)
	if n, err := f.n.ReleaseDue(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("ReleaseDue at 07:00:40 = %d, %v", n, err)
	}
	if want := []time.Duration{40 * time.Second}; !slices.Equal(release.lags, want) {
		t.Errorf("release lags = %v, want %v", release.lags, want)
	}
	if want := []time.Time{early, late}; !slices.EqualFunc(release.runs, want, time.Time.Equal) {
		t.Errorf("release runs = %v, want %v (every completed pass)", release.runs, want)
	}

	// The 20:00 reminder of the 11th goes out at 20:00:30.
	f.clk.Set(time.Date(2026, 6, 11, 20, 0, 30, 0, loc))
	f.sendReminders(t, 2) // the second pass finds nothing: no second lag
	// Down from before the 12th's reminder until the 14th at 21:15.
	f.clk.Set(time.Date(2026, 6, 14, 21, 15, 0, 0, loc))
	f.sendReminders(t, 1)
	if want := []time.Duration{30 * time.Second, 75 * time.Minute}; !slices.Equal(reminders.lags, want) {
		t.Errorf("reminder lags = %v, want %v", reminders.lags, want)
	}
	if len(reminders.runs) != 3 || !reminders.runs[2].Equal(f.clk.Now()) {
		t.Errorf("reminder runs = %v, want 3, the last at %v", reminders.runs, f.clk.Now())
	}
}

// receiver is a webhook endpoint: on each path it answers 503 to the first
// failures[path] signed requests, then 204.
type receiver struct {
	mu       sync.Mutex
	failures map[string]int
	calls    map[string]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[req.URL.Path]++
	if req.Header.Get(webhook.SignatureHeader) == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.calls[req.URL.Path] <= r.failures[req.URL.Path] {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookOutcomes records the attempts and feeds them to a real registry,
// so the strings notify reports are the ones the metrics know.
func webhookOutcomes(m *metrics.Metrics) (observe func(string, time.Duration), got func() []string) {
	var mu sync.Mutex
	var outcomes []string
	hook := m.WebhookObserver()
	return func(outcome string, elapsed time.Duration) {
			mu.Lock()
			outcomes = append(outcomes, outcome)
			mu.Unlock()
			hook(outcome, elapsed)
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(outcomes)
		}
}

func scrapeMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// sendAllWebhooks makes every due attempt, moving the clock past each
// retry's backoff, until nothing is pending.
func (f *fixture) sendAllWebhooks(t *testing.T, n *app.Notify) {
	t.Helper()
	for range 3 * webhook.MaxAttempts {
		if _, err := n.SendWebhooks(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		pending, err := f.db.Collection(server.CollDeliveries).CountDocuments(ctxT(t), map[string]any{"status": app.DeliveryPending})
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		// On to the next attempt due, whenever it is.
		var next app.Delivery
		if err := f.db.Collection(server.CollDeliveries).FindOne(ctxT(t), map[string]any{"status": app.DeliveryPending},
			options.FindOne().SetSort(map[string]int{"next_attempt_at": 1})).Decode(&next); err != nil {
			t.Fatal(err)
		}
		if next.NextAttemptAt.After(f.clk.Now()) {
			f.clk.Set(next.NextAttemptAt)
		}
	}
	t.Fatal("webhook deliveries still pending")
}

// Each attempt has one outcome: a receiver that recovers gives retry then
// delivered; one that never does gives retries then failed (given up).
// Nothing identifies the receiver or the user in the series.
func TestWebhookAttemptOutcomes(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	rcv := &receiver{failures: map[string]int{"/recovers": 1, "/broken": 1 << 30}, calls: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	m := metrics.New("notify")
	observe, outcomes := webhookOutcomes(m)
	f.n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true)).
		WithObservers(app.Observers{WebhookAttempt: observe})
	for _, path := range []string{"/recovers", "/broken"} {
		if _, err := f.n.CreateWebhook(ctxT(t), caller(clientID), clientID, srv.URL+path, "", app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
	}
	f.deliver(t, milestone(clientID, 7))
	f.sendAllWebhooks(t, f.n)

	count := func(o string) int {
		n := 0
		for _, got := range outcomes() {
			if got == o {
				n++
			}
		}
		return n
	}
	if count(app.WebhookDelivered) != 1 || count(app.WebhookFailed) != 1 ||
		count(app.WebhookRetry) != 1+(webhook.MaxAttempts-1) || count(app.WebhookRefused) != 0 {
		t.Fatalf("outcomes = %v, want 1 delivered, 1 failed, %d retry", outcomes(), webhook.MaxAttempts)
	}
	text := scrapeMetrics(t, m)
	for _, line := range []string{
		`nocontact_webhook_deliveries_total{outcome="delivered",service="notify"} 1`,
		`nocontact_webhook_deliveries_total{outcome="failed",service="notify"} 1`,
		fmt.Sprintf(`nocontact_webhook_deliveries_total{outcome="retry",service="notify"} %d`, webhook.MaxAttempts),
		`nocontact_webhook_deliveries_total{outcome="refused",service="notify"} 0`,
		fmt.Sprintf(`nocontact_webhook_delivery_seconds_count{service="notify"} %d`, webhook.MaxAttempts+2),
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	for _, leak := range []string{srv.URL, "127.0.0.1", clientID, "/broken"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics names %q", leak)
		}
	}
}

// A host that resolves to an internal address at delivery time (DNS
// rebinding; here a loopback receiver registered behind the guard's back)
// is refused by the dialer: nothing is sent, the attempt counts as
// refused, and the last attempt as failed.
func TestWebhookRefusedByTheGuard(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	rcv := &receiver{failures: map[string]int{}, calls: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	m := metrics.New("notify")
	observe, outcomes := webhookOutcomes(m)
	f.n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), false)).
		WithObservers(app.Observers{WebhookAttempt: observe})
	if _, err := f.db.Collection(server.CollWebhooks).InsertOne(ctxT(t), app.Webhook{
		ID: "wh-rebound", UserID: clientID, URL: srv.URL + "/internal", Secret: strings.Repeat("s", 32), CreateTime: f.clk.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	f.setPrefs(t, clientID, inbox.Preferences{Webhook: true}, "channels")
	f.deliver(t, milestone(clientID, 3))
	f.sendAllWebhooks(t, f.n)

	want := append(slices.Repeat([]string{app.WebhookRefused}, webhook.MaxAttempts-1), app.WebhookFailed)
	if got := outcomes(); !slices.Equal(got, want) {
		t.Fatalf("outcomes = %v, want %v", got, want)
	}
	if rcv.calls["/internal"] != 0 {
		t.Fatalf("the guarded receiver got %d requests", rcv.calls["/internal"])
	}
	ds, err := f.n.ListDeliveries(ctxT(t), caller(clientID), clientID, "wh-rebound")
	if err != nil || len(ds) != 1 || ds[0].Status != app.DeliveryFailed || !strings.Contains(ds[0].LastError, "may not reach") {
		t.Fatalf("deliveries = %+v, %v; want one failed naming the refused address", ds, err)
	}
	if text := scrapeMetrics(t, m); !strings.Contains(text, fmt.Sprintf(`nocontact_webhook_deliveries_total{outcome="refused",service="notify"} %d`, webhook.MaxAttempts-1)+"\n") {
		t.Error("/metrics does not count the refused attempts")
	}
}

// A delivery whose webhook has disappeared (removed from the database by
// hand) ends as failed at its next turn, instead of being claimed again and
// again for ever.
func TestDeliveryOfAVanishedWebhookEnds(t *testing.T) {
	f := newFixture(t, time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	m := metrics.New("notify")
	observe, outcomes := webhookOutcomes(m)
	f.n.WithWebhooks(app.NewWebhooks(f.db.Collection(server.CollWebhooks), f.db.Collection(server.CollDeliveries), f.keys(), true)).
		WithObservers(app.Observers{WebhookAttempt: observe})
	srv := httptest.NewServer(&receiver{failures: map[string]int{}, calls: map[string]int{}})
	defer srv.Close()
	wh, err := f.n.CreateWebhook(ctxT(t), caller(clientID), clientID, srv.URL+"/gone", "", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	f.deliver(t, milestone(clientID, 7))
	if _, err := f.db.Collection(server.CollWebhooks).DeleteOne(ctxT(t), map[string]any{"_id": wh.ID}); err != nil {
		t.Fatal(err)
	}
	f.sendAllWebhooks(t, f.n) // fails the test if anything stays pending

	var d app.Delivery
	if err := f.db.Collection(server.CollDeliveries).FindOne(ctxT(t), map[string]any{"webhook_id": wh.ID}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Status != app.DeliveryFailed || d.Attempts != 1 || !strings.Contains(d.LastError, "no longer exists") {
		t.Fatalf("delivery = %+v, want failed after one turn, saying why", d)
	}
	if got := outcomes(); !slices.Equal(got, []string{app.WebhookFailed}) {
		t.Fatalf("outcomes = %v, want one failed", got)
	}
}
